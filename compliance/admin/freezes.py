"""Freezes (add = freeze through ``freeze_account``; lift with a reason) and appeals."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path

from core.errors import DomainError

from .. import services
from ..forms import FreezeForm, ReasonForm
from ..models import AccountFreeze, FreezeAppeal
from .base import DecisionPagesMixin, ReadOnlyAdmin, short_text

# --- Freezes ------------------------------------------------------------------------------


class ActiveFreezeFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Lifted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(lifted_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


class FreezeAppealInline(admin.TabularInline):
    model = FreezeAppeal
    extra = 0
    can_delete = False
    fields = ["created_at", "text", "resolved", "resolved_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccountFreeze)
class AccountFreezeAdmin(DecisionPagesMixin, ReadOnlyAdmin):
    """Freezing is "Add account freeze" (a form calling ``freeze_account``); lifting is an action or a button."""

    change_form_template = "compliance/admin/freeze_change_form.html"
    list_display = ["user", "active", "short_reason", "created_by", "created_at", "lifted_by", "lifted_at"]
    list_filter = [ActiveFreezeFilter, "created_at"]
    search_fields = ["user__handle", "user__email", "reason"]
    list_select_related = ["user", "created_by", "lifted_by"]
    ordering = ["-created_at", "-id"]
    actions = ["lift_freezes"]
    inlines = [FreezeAppealInline]
    readonly_fields = ["user", "reason", "created_by", "created_at", "lifted_by", "lifted_at", "lift_reason"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return (
            request.user.is_active and request.user.is_staff and request.user.has_perm("compliance.add_accountfreeze")
        )

    def has_lift_permission(self, request) -> bool:
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm("compliance.change_accountfreeze")
        )

    @admin.display(description="Active", boolean=True, ordering=F("lifted_at").asc(nulls_first=True))
    def active(self, obj):
        return obj.is_active

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return short_text(obj.reason)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = FreezeForm(request.POST)
            if form.is_valid():
                try:
                    freeze = services.freeze_account(
                        request.user, user=form.cleaned_data["user"], reason=form.cleaned_data["reason"]
                    )
                except DomainError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(
                        request, f"{freeze.user} is frozen and was told why and how to appeal.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(self.changelist_url())
        else:
            form = FreezeForm(initial={"user": request.GET.get("user", "")})
        return self.reason_page(
            request,
            title="Freeze an account",
            intro="A frozen person cannot send money until the freeze is lifted. They see your reason and can appeal.",
            objects=[],
            form=form,
            submit_label="Freeze account",
            danger=True,
        )

    def _lift(self, request, freezes, reason: str) -> int:
        done = 0
        for freeze in freezes:
            try:
                services.freeze_lift(request.user, user=freeze.user, reason=reason)
            except DomainError as exc:
                self.message_user(request, f"{freeze.user}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} freeze(s) lifted; the people were notified.", messages.SUCCESS)
        return done

    @admin.action(description="Lift freeze (asks for a reason)", permissions=["lift"])
    def lift_freezes(self, request, queryset):
        queryset = queryset.filter(lifted_at__isnull=True).select_related("user")
        if request.POST.get("apply"):
            form = ReasonForm(request.POST, label="Why the freeze is lifted")
            if form.is_valid():
                self._lift(request, queryset, form.cleaned_data["reason"])
                return None
        else:
            form = ReasonForm(label="Why the freeze is lifted")
        return self.reason_page(
            request,
            title="Lift freezes",
            intro="These people will be able to send money again.",
            objects=queryset,
            form=form,
            submit_label="Lift freeze",
            action="lift_freezes",
        )

    def lift_view(self, request, object_id):
        freeze = get_object_or_404(AccountFreeze.objects.select_related("user"), pk=object_id)
        if not self.has_lift_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ReasonForm(request.POST, label="Why the freeze is lifted")
            if form.is_valid():
                self._lift(request, [freeze], form.cleaned_data["reason"])
                return HttpResponseRedirect(self.change_url(freeze))
        else:
            form = ReasonForm(label="Why the freeze is lifted")
        return self.reason_page(
            request,
            title=f"Lift the freeze of {freeze.user}",
            intro=f"Frozen since {freeze.created_at:%Y-%m-%d %H:%M} UTC because: {freeze.reason}",
            objects=[],
            form=form,
            submit_label="Lift freeze",
            cancel_url=self.change_url(freeze),
        )

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<int:object_id>/lift/",
                self.admin_site.admin_view(self.lift_view),
                name="compliance_accountfreeze_lift",
            ),
            *urls,
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_lift"] = obj is not None and obj.is_active and self.has_lift_permission(request)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(FreezeAppeal)
class FreezeAppealAdmin(ReadOnlyAdmin):
    list_display = ["id", "frozen_user", "created_at", "resolved", "short_text"]
    list_filter = ["resolved", "created_at"]
    search_fields = ["freeze__user__handle", "freeze__user__email", "text"]
    list_select_related = ["freeze__user"]
    ordering = ["resolved", "-created_at"]
    actions = ["resolve_appeals"]
    readonly_fields = ["freeze", "text", "created_at", "resolved", "resolved_at"]
    fields = readonly_fields

    def has_resolve_permission(self, request) -> bool:
        return (
            request.user.is_active and request.user.is_staff and request.user.has_perm("compliance.change_freezeappeal")
        )

    @admin.display(description="User", ordering="freeze__user__handle")
    def frozen_user(self, obj):
        return obj.freeze.user

    @admin.display(description="Appeal")
    def short_text(self, obj):
        return short_text(obj.text, 100)

    @admin.action(description="Mark answered (the freeze stays; lift it from the freeze)", permissions=["resolve"])
    def resolve_appeals(self, request, queryset):
        done = 0
        for appeal in queryset:
            try:
                services.freeze_appeal_resolve(request.user, appeal=appeal)
            except DomainError as exc:
                self.message_user(request, f"Appeal #{appeal.pk}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} appeal(s) marked answered.", messages.SUCCESS)
