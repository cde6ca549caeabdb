"""Admin: payments with protection (escrow) and the dispute queue.

Read-only: an escrow changes only through ``payments.services.escrow``. The list
opens on the dispute queue (status "disputed", oldest dispute first is one click
away); the change page of a disputed escrow offers "Refund buyer" and "Release to
seller", each leading to a confirmation page with a required note that calls
``escrow_resolve`` (which locks the row, moves the money once and writes the audit
entry). Only active staff with ``payments.change_escrow`` may resolve.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import DomainError
from core.money import format_money

from ..models import Escrow, EscrowStatus
from ..services.escrow import NOTE_MAX_LENGTH, escrow_resolve, staff_may_resolve
from .payments import ReadOnlyAdmin

OUTCOME_LABELS = {"refund": "Refund buyer", "release": "Release to seller"}


class EscrowStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to "disputed": the list opens on the dispute queue."""

    title = "status"
    parameter_name = "status"
    default = EscrowStatus.DISPUTED

    def lookups(self, request, model_admin):
        return [
            (EscrowStatus.DISPUTED, "Disputed (queue)"),
            (EscrowStatus.HELD, "Held"),
            (EscrowStatus.RELEASED, "Released"),
            (EscrowStatus.REFUNDED, "Refunded"),
            ("all", "All"),
        ]

    def current(self) -> str:
        value = self.value()
        return value if value in {key for key, _ in self.lookup_choices} else self.default

    def queryset(self, request, queryset):
        value = self.current()
        if value == "all":
            return queryset
        return queryset.filter(status=value)

    def choices(self, changelist):
        current = self.current()
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class ResolveForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "maxlength": NOTE_MAX_LENGTH}),
        help_text=f"Required, at most {NOTE_MAX_LENGTH} characters: why you decided this way. "
        "It is written to the audit trail and kept on the escrow.",
    )


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "status",
        "buyer",
        "seller",
        "amount_display",
        "description_short",
        "created_at",
        "disputed_at",
        "auto_release_display",
    ]
    list_filter = [EscrowStatusFilter, "currency", "created_at"]
    search_fields = ["=id", "buyer__handle", "seller__handle", "description", "context"]
    list_select_related = ["buyer", "seller"]
    ordering = ["disputed_at", "-id"]
    readonly_fields = [
        "id",
        "status",
        "buyer",
        "seller",
        "amount_display",
        "description",
        "context",
        "created_at",
        "auto_release_display",
        "disputed_by",
        "disputed_at",
        "dispute_reason",
        "resolved_by",
        "resolved_at",
        "resolution_note",
        "hold_link",
    ]
    fields = readonly_fields
    change_form_template = "admin/payments/escrow/change_form.html"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Description")
    def description_short(self, obj):
        text = obj.description or ""
        return text if len(text) <= 60 else f"{text[:59]}…"

    @admin.display(description="Auto-release", ordering="auto_release_at")
    def auto_release_display(self, obj):
        if obj.status == EscrowStatus.HELD:
            return obj.auto_release_at
        if obj.status == EscrowStatus.DISPUTED:
            return "Stopped (dispute)"
        return "—"

    @admin.display(description="Ledger hold")
    def hold_link(self, obj):
        if not obj.hold_id:
            return "—"
        url = reverse("admin:ledger_transfer_change", args=[obj.hold_id])
        return format_html('<a href="{}">Transfer #{}</a>', url, obj.hold_id)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("buyer", "seller", "disputed_by", "resolved_by")

    # Resolution ----------------------------------------------------------------------------------

    def has_resolve_permission(self, request, obj=None) -> bool:
        return staff_may_resolve(request.user)

    def get_urls(self):
        return [
            path(
                "<int:escrow_id>/resolve/<str:outcome>/",
                self.admin_site.admin_view(self.resolve_view),
                name="payments_escrow_resolve",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_resolve": self.has_resolve_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def resolve_view(self, request, escrow_id: int, outcome: str):
        """The confirmation page: who gets what, and a required note; POST resolves the dispute."""
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        if outcome not in OUTCOME_LABELS:
            raise Http404("No such outcome.")
        escrow = Escrow.objects.select_related("buyer", "seller", "disputed_by").filter(pk=escrow_id).first()
        if escrow is None:
            raise Http404("No such escrow.")
        change_url = reverse("admin:payments_escrow_change", args=[escrow.pk])
        form = ResolveForm(request.POST or None)
        error = ""
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    result = escrow_resolve(
                        request.user, escrow=escrow.pk, outcome=outcome, note=form.cleaned_data["note"]
                    )
                except DomainError as exc:
                    error, status = exc.message, exc.status
                    escrow.refresh_from_db()
                else:
                    amount = format_money(result.amount, result.currency)
                    if result.status == EscrowStatus.RELEASED:
                        self.message_user(
                            request,
                            f"Escrow #{result.pk}: {amount} released to @{result.seller.handle}.",
                            messages.SUCCESS,
                        )
                    elif outcome == "refund":
                        self.message_user(
                            request,
                            f"Escrow #{result.pk}: {amount} refunded to @{result.buyer.handle}.",
                            messages.SUCCESS,
                        )
                    else:
                        self.message_user(
                            request,
                            f"Escrow #{result.pk}: the ledger hold had already lapsed, so the {amount} went back to "
                            f"@{result.buyer.handle}; it is marked refunded (recorded in the audit trail).",
                            messages.WARNING,
                        )
                    return HttpResponseRedirect(change_url)
        elif escrow.status != EscrowStatus.DISPUTED:
            error = (
                f"This escrow is {escrow.get_status_display().lower()}: only a disputed escrow can be resolved, "
                "and only once."
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{OUTCOME_LABELS[outcome]} — escrow #{escrow.pk}",
            "escrow": escrow,
            "outcome": outcome,
            "outcome_label": OUTCOME_LABELS[outcome],
            "form": form,
            "error": error,
            "resolvable": escrow.status == EscrowStatus.DISPUTED,
            "change_url": change_url,
            "amount": format_money(escrow.amount, escrow.currency),
        }
        return TemplateResponse(request, "admin/payments/escrow/resolve.html", context, status=status)
