"""The audit trail and limit usage: read-only; and the audited "Delete selected" action.

The audit trail can be listed, filtered (actor, action, target type, date), searched and
opened by any active staff member; nobody can add, change or delete an entry (no bulk
delete either). Django's own "Delete selected" action is replaced on the admin site by
one that also records each deletion (``admin.delete``): its bulk LogEntry insert sends no
signal, so the generic LogEntry mirror (``compliance.services.common``) would miss it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.db import router, transaction
from django.utils.translation import gettext_lazy

from core.money import format_money

from ..models import AuditEntry, LimitUsage
from ..services.common import audit_record_admin_deletions
from .base import ReadOnlyAdmin, short_text


@admin.action(permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s"))
def delete_selected(modeladmin, request, queryset):
    """Django's "Delete selected", plus one ``admin.delete`` audit entry per object it removed
    (in the same transaction as the deletion)."""
    if not request.POST.get("post"):  # the confirmation page: nothing is deleted yet
        return django_delete_selected(modeladmin, request, queryset)
    model = queryset.model
    with transaction.atomic(using=router.db_for_write(model)):
        before = {str(obj.pk): str(obj) for obj in queryset}
        response = django_delete_selected(modeladmin, request, queryset)
        remaining = {str(pk) for pk in model._base_manager.filter(pk__in=list(before)).values_list("pk", flat=True)}
        deleted = {pk: text for pk, text in before.items() if pk not in remaining}
        if deleted:
            audit_record_admin_deletions(actor=request.user, model=model, deleted=deleted)
    return response


admin.site.add_action(delete_selected)  # replaces Django's action of the same name on every model admin

# --- Audit trail and limit usage (read-only) ---------------------------------------------------


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id", "target_repr", "short_reason"]
    list_filter = [
        ("actor", admin.RelatedOnlyFieldListFilter),
        "action",
        "target_type",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["action", "target_type", "target_repr", "=target_id", "reason", "actor__handle"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "actor", "action", "target_type", "target_id", "target_repr", "reason", "data"]
    fields = readonly_fields

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return short_text(obj.reason)

    def has_view_permission(self, request, obj=None):
        # Every active staff member may read the trail (never write it: see ReadOnlyAdmin).
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request):
        return bool(request.user.is_active and request.user.is_staff)


@admin.register(LimitUsage)
class LimitUsageAdmin(ReadOnlyAdmin):
    list_display = ["reference", "user", "amount", "new_recipient", "created_at", "released_at"]
    list_filter = ["new_recipient", "created_at"]
    search_fields = ["=reference", "user__handle"]
    list_select_related = ["user"]
    ordering = ["-created_at", "-id"]
    readonly_fields = ["user", "reference", "usd_minor", "new_recipient", "created_at", "released_at"]
    fields = readonly_fields

    @admin.display(description="Amount (USD)", ordering="usd_minor")
    def amount(self, obj):
        return format_money(obj.usd_minor, "USD")
