"""KYC profiles: document review (approve / reject with a reason) and limit overrides."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import DomainError
from core.money import format_money

from .. import services
from ..forms import KycProfileAdminForm, ReasonForm
from ..models import DocumentStatus, KycProfile
from ..selectors import weekly_limit_of
from .base import DecisionPagesMixin, SafeLookupsMixin

# --- KYC ------------------------------------------------------------------------------------


@admin.register(KycProfile)
class KycProfileAdmin(DecisionPagesMixin, SafeLookupsMixin, admin.ModelAdmin):
    form = KycProfileAdminForm
    change_form_template = "compliance/admin/kyc_change_form.html"
    list_display = [
        "user",
        "legal_name",
        "tier",
        "document_status",
        "document_submitted_at",
        "country",
        "limit_display",
    ]
    list_filter = ["tier", "document_status"]
    search_fields = ["user__handle", "user__email", "legal_name"]
    list_select_related = ["user"]
    ordering = ["-document_submitted_at", "-id"]
    actions = ["approve_documents", "reject_documents"]
    readonly_fields = [
        "user",
        "tier",
        "legal_name",
        "date_of_birth",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "national_id_display",
        "document_preview",
        "document_status",
        "document_submitted_at",
        "document_reviewed_by",
        "document_reviewed_at",
        "review_note",
        "limit_display",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["user", "tier", "legal_name", "date_of_birth"]}),
        ("Address", {"fields": ["address_line1", "address_line2", "city", "region", "postal_code", "country"]}),
        ("National ID", {"fields": ["national_id_display"]}),
        (
            "Identity document",
            {
                "fields": [
                    "document_preview",
                    "document_status",
                    "document_submitted_at",
                    "document_reviewed_by",
                    "document_reviewed_at",
                    "review_note",
                ]
            },
        ),
        ("Sending limit", {"fields": ["limit_display", "new_limit_usd", "clear_override", "override_reason"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def has_add_permission(self, request):
        return False  # a profile belongs to a person: they create it by verifying

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="National ID")
    def national_id_display(self, obj):
        return f"•••• {obj.national_id_last4} (only the last 4 digits are stored)" if obj.national_id_last4 else "—"

    @admin.display(description="7-day limit")
    def limit_display(self, obj):
        text = format_money(weekly_limit_of(obj), "USD")
        return f"{text} (override)" if obj.weekly_limit_override is not None and obj.tier else text

    @admin.display(description="Document")
    def document_preview(self, obj):
        if not obj.document:
            return "No document uploaded."
        url = reverse("compliance:document", args=[obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open the document</a> (each viewing is audited)<br>'
            '<img src="{}" alt="Identity document of {}" style="max-width:480px;max-height:360px;margin-top:.5rem">',
            url,
            url,
            obj.user,
        )

    def save_model(self, request, obj, form, change):
        """Only the limit override can change, through the service (audited); nothing else is saved."""
        data = form.cleaned_data
        if not (data.get("override_usd_minor") is not None or data.get("clear_override")):
            return
        try:
            services.kyc_limit_override_set(
                request.user,
                profile=obj,
                usd_minor=None if data.get("clear_override") else data["override_usd_minor"],
                reason=data.get("override_reason", ""),
            )
        except DomainError as exc:
            request._compliance_error = exc.message
        else:
            obj.refresh_from_db()

    def response_change(self, request, obj):
        error = getattr(request, "_compliance_error", None)
        if error:
            self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def get_urls(self):
        urls = super().get_urls()
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/approve-document/",
                view(self.approve_document_view),
                name="compliance_kycprofile_approve_document",
            ),
            path(
                "<int:object_id>/reject-document/",
                view(self.reject_document_view),
                name="compliance_kycprofile_reject_document",
            ),
            *urls,
        ]

    def _review_documents(self, request, profiles, *, approve: bool, note: str) -> int:
        done = 0
        for profile in profiles:
            try:
                services.kyc_document_review(request.user, profile=profile, approve=approve, note=note)
            except DomainError as exc:
                self.message_user(request, f"{profile}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            verb = "approved (now tier 2)" if approve else "rejected"
            self.message_user(request, f"{done} document(s) {verb}; the people were notified.", messages.SUCCESS)
        return done

    @admin.action(description="Approve document", permissions=["change"])
    def approve_documents(self, request, queryset):
        self._review_documents(request, queryset, approve=True, note="")

    @admin.action(description="Reject document (asks for a reason)", permissions=["change"])
    def reject_documents(self, request, queryset):
        queryset = queryset.select_related("user")
        if request.POST.get("apply"):
            form = ReasonForm(request.POST, label="Why it was not accepted (shown to the person)")
            if form.is_valid():
                self._review_documents(request, queryset, approve=False, note=form.cleaned_data["reason"])
                return None
        else:
            form = ReasonForm(label="Why it was not accepted (shown to the person)")
        return self.reason_page(
            request,
            title="Reject identity documents",
            intro="These people will be told their document was not accepted, with your reason, and can upload another.",
            objects=queryset,
            form=form,
            submit_label="Reject",
            action="reject_documents",
            danger=True,
        )

    def _document_decide_view(self, request, object_id, *, approve: bool):
        profile = get_object_or_404(KycProfile.objects.select_related("user"), pk=object_id)
        if not self.has_change_permission(request, profile):
            raise PermissionDenied
        label = "Note (optional, shown to the person)" if approve else "Why it was not accepted (shown to the person)"
        if request.method == "POST":
            form = ReasonForm(request.POST, label=label, required=not approve)
            if form.is_valid():
                if self._review_documents(request, [profile], approve=approve, note=form.cleaned_data["reason"]):
                    return HttpResponseRedirect(self.changelist_url())
                return HttpResponseRedirect(self.change_url(profile))
        else:
            form = ReasonForm(label=label, required=not approve)
        return self.reason_page(
            request,
            title=("Approve" if approve else "Reject") + f" the identity document of {profile.user}",
            intro=(
                f"Approving raises {profile.user} to tier 2 (sending up to "
                f"{format_money(services.TIER_WEEKLY_LIMITS[2], 'USD')} every 7 days)."
                if approve
                else "The person is told, with your reason, and can upload another document."
            ),
            objects=[profile],
            form=form,
            submit_label="Approve" if approve else "Reject",
            danger=not approve,
            cancel_url=self.change_url(profile),
        )

    def approve_document_view(self, request, object_id):
        return self._document_decide_view(request, object_id, approve=True)

    def reject_document_view(self, request, object_id):
        return self._document_decide_view(request, object_id, approve=False)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["document_pending"] = obj is not None and obj.document_status == DocumentStatus.PENDING
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)
