"""Admin: payments (read-only, with a staff reversal), wallets, FX rates and wallet settings.

Nothing here edits a payment or a balance: a payment is corrected by
``payments.services.staff.payment_reverse_by_staff`` (compensating ledger
transfers, a required reason, an audit entry); FX rates are never edited, a new
rate is a new row (``fx_rate_set``), one at a time or from a CSV upload. Every
staff action that changes something is written to the audit trail.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from compliance.services import audit_record
from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from core.money import format_money

from ..models import FxRate, Payment, PaymentEvent, PaymentStatus, Wallet, WalletSettings
from ..services.fx import fx_rate_set, fx_rates_load_csv
from ..services.staff import REASON_MAX_LENGTH, payment_reverse_by_staff, staff_may_reverse
from .base import SafeLookupsMixin

CSV_MAX_BYTES = 1024 * 1024


# --- Payments -----------------------------------------------------------------------------------


class PaymentEventInline(admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "status", "actor", "message"]
    readonly_fields = fields
    ordering = ["id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReverseForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "maxlength": REASON_MAX_LENGTH}),
        help_text=f"Required, at most {REASON_MAX_LENGTH} characters. Both people see that staff reversed it; "
        "the reason goes to the audit trail and the payment's history.",
    )


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "sender", "recipient", "amount_display", "status", "kind", "created_at"]
    list_filter = ["status", "kind", "currency", "created_at"]
    search_fields = ["=id", "sender__handle", "recipient__handle", "note"]
    list_select_related = ["sender", "recipient"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Payment._meta.fields] + ["received_display"]
    inlines = [PaymentEventInline]
    actions = ["reverse_selected"]
    change_form_template = "admin/payments/payment/change_form.html"

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        text = format_money(obj.amount, obj.currency)
        if obj.is_fx:
            text += f" → {format_money(obj.received_amount, obj.received_currency)}"
        return text

    @admin.display(description="What arrived")
    def received_display(self, obj):
        return format_money(obj.received_amount, obj.received_currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sender", "recipient")

    # Reversal ------------------------------------------------------------------------------------

    def has_reverse_permission(self, request, obj=None) -> bool:
        return staff_may_reverse(request.user)

    @admin.action(description="Reverse payment… (one at a time, with a reason)", permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, "Choose exactly one payment to reverse.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:payments_payment_reverse", args=[ids[0]]))

    def get_urls(self):
        return [
            path(
                "<int:payment_id>/reverse/",
                self.admin_site.admin_view(self.reverse_view),
                name="payments_payment_reverse",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_reverse": self.has_reverse_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def reverse_view(self, request, payment_id: int):
        """The intermediate page: what will move back, and a required reason."""
        if not self.has_reverse_permission(request):
            raise PermissionDenied
        payment = Payment.objects.select_related("sender", "recipient").filter(pk=payment_id).first()
        if payment is None:
            raise Http404("No such payment.")
        change_url = reverse("admin:payments_payment_change", args=[payment.pk])
        form = ReverseForm(request.POST or None)
        error = ""
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    payment_reverse_by_staff(request.user, payment=payment.pk, reason=form.cleaned_data["reason"])
                except DomainError as exc:
                    error, status = exc.message, exc.status
                    payment.refresh_from_db()
                else:
                    self.message_user(
                        request,
                        f"Payment #{payment.pk} was reversed: "
                        f"{format_money(payment.received_amount, payment.received_currency)} went back from "
                        f"@{payment.recipient.handle} to @{payment.sender.handle}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(change_url)
        elif payment.status != PaymentStatus.COMPLETED:
            error = (
                f"This payment is {payment.get_status_display().lower()}: only a completed payment can be "
                "reversed, and only once."
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Reverse payment #{payment.pk}",
            "payment": payment,
            "form": form,
            "error": error,
            "reversible": payment.status == PaymentStatus.COMPLETED,
            "change_url": change_url,
            "sent": format_money(payment.amount, payment.currency),
            "received": format_money(payment.received_amount, payment.received_currency),
            "rate": _plain(payment.fx_rate) if payment.fx_rate else "",
        }
        return TemplateResponse(request, "admin/payments/payment/reverse.html", context, status=status)


# --- Wallets (ledger wallet accounts) ------------------------------------------------------------


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "owner_handle",
        "currency",
        "balance_display",
        "available_display",
        "pending_in_display",
        "pending_out_display",
        "created_at",
    ]
    list_filter = ["currency"]
    search_fields = ["owner__handle", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [
        "owner",
        "currency",
        "balance_display",
        "available_display",
        "pending_in_display",
        "pending_out_display",
        "debits_posted",
        "credits_posted",
        "debits_pending",
        "credits_pending",
        "created_at",
        "transfers_link",
    ]
    fields = readonly_fields

    @admin.display(description="Owner", ordering="owner__handle")
    def owner_handle(self, obj):
        return f"@{obj.owner.handle}" if obj.owner_id else "—"

    @admin.display(description="Balance", ordering=F("credits_posted") - F("debits_posted"))
    def balance_display(self, obj):
        return format_money(obj.balance, obj.currency)

    @admin.display(description="Available")
    def available_display(self, obj):
        return format_money(obj.available, obj.currency)

    @admin.display(description="Pending in")
    def pending_in_display(self, obj):
        return format_money(obj.credits_pending, obj.currency)

    @admin.display(description="Pending out (held)")
    def pending_out_display(self, obj):
        return format_money(obj.debits_pending, obj.currency)

    @admin.display(description="Ledger")
    def transfers_link(self, obj):
        if not obj.owner_id:
            return "—"
        url = reverse("admin:ledger_transfer_changelist") + f"?q={obj.owner.handle}"
        return format_html('<a href="{}">Transfers of @{}</a>', url, obj.owner.handle)


# --- FX rates -----------------------------------------------------------------------------------


class FxRateAddForm(forms.ModelForm):
    class Meta:
        model = FxRate
        fields = ["base", "quote", "rate", "as_of", "source"]
        help_texts = {
            "rate": "Mid-market: 1 base = rate quote (at most 12 decimal places). The spread is added on top.",
            "source": "Where the rate comes from (optional).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "as_of" in self.fields:  # not on the read-only view of an existing rate
            self.fields["as_of"].required = False
            self.fields["as_of"].help_text = "When the source published it; empty means now. The newest rate wins."

    def clean_rate(self):
        rate = self.cleaned_data["rate"]
        if rate is not None and (rate <= 0 or rate > 10**9):
            raise forms.ValidationError("A rate is greater than 0 and at most 1,000,000,000.")
        return rate

    def clean(self):
        data = super().clean()
        if data.get("base") and data.get("base") == data.get("quote"):
            self.add_error("quote", "Choose a currency different from the base.")
        return data


class FxRateUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header line base,quote,rate[,as_of] (as_of in ISO 8601, e.g. 2026-11-21T09:00:00Z). "
        "At most 1 MB. Every row is recorded, or none."
    )
    source = forms.CharField(max_length=64, required=False, help_text="Default: the file name.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB; split it.")
        try:
            self.cleaned_data["text"] = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        return upload


def _newest_per_pair():
    newest = FxRate.objects.filter(base=OuterRef("base"), quote=OuterRef("quote")).order_by("-as_of", "-id")
    return (
        FxRate.objects.annotate(newest_id=Subquery(newest.values("pk")[:1]))
        .filter(pk=F("newest_id"))
        .select_related("created_by")
        .order_by("base", "quote")
    )


def _plain(value: Decimal) -> str:
    normal = value.normalize()
    return f"{normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal:f}"


def _rate_row(rate: FxRate) -> dict:
    inverse = (Decimal(1) / rate.rate).quantize(Decimal("1e-8")) if rate.rate else None
    return {
        "base": rate.base,
        "quote": rate.quote,
        "rate": _plain(rate.rate),
        "inverse": _plain(inverse) if inverse else "—",
        "as_of": rate.as_of,
        "source": rate.source,
        "created_by": rate.created_by,
    }


@admin.register(FxRate)
class FxRateAdmin(SafeLookupsMixin, admin.ModelAdmin):
    form = FxRateAddForm
    list_display = ["pair", "rate", "as_of", "source", "created_by", "created_at"]
    list_filter = ["base", "quote", "source"]
    list_select_related = ["created_by"]
    search_fields = ["source"]
    date_hierarchy = "as_of"
    change_list_template = "admin/payments/fxrate/change_list.html"

    @admin.display(description="Pair", ordering="base")
    def pair(self, obj):
        return f"{obj.base} → {obj.quote}"

    def has_change_permission(self, request, obj=None):
        return False  # rates are never edited: add a newer one

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ["base", "quote", "rate", "as_of", "source", "created_by", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        """Record through the service (never edit), attribute it to the staff member, audit it."""
        created = fx_rate_set(
            base=obj.base, quote=obj.quote, rate=obj.rate, as_of=obj.as_of, source=obj.source, user=request.user
        )
        for name in ("pk", "rate", "as_of", "source", "created_at", "created_by_id"):
            setattr(obj, name, getattr(created, name))
        audit_record(
            actor=request.user,
            action="fx_rate.set",
            target=created,
            data={"base": created.base, "quote": created.quote, "rate": str(created.rate), "as_of": created.as_of},
        )

    def get_urls(self):
        return [
            path("upload-csv/", self.admin_site.admin_view(self.upload_csv_view), name="payments_fxrate_upload_csv"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "current_rates": [_rate_row(rate) for rate in _newest_per_pair()],
            "can_upload": self.has_add_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def upload_csv_view(self, request):
        """Upload a CSV of rates (≤ 1 MB): all rows are recorded or none, errors name the line."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = FxRateUploadForm(request.POST or None, request.FILES or None)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                name = form.cleaned_data["file"].name or "upload.csv"
                source = form.cleaned_data["source"] or f"csv:{name}"
                try:
                    with transaction.atomic():
                        count = fx_rates_load_csv(form.cleaned_data["text"], source=source, user=request.user)
                        audit_record(
                            actor=request.user,
                            action="fx_rates.load",
                            target=None,
                            data={"count": count, "file": name[:200], "source": source},
                        )
                except DomainError as exc:
                    form.add_error("file", f"{exc.message} Nothing was recorded.")
                    self.message_user(request, f"{name}: {exc.message} Nothing was recorded.", messages.ERROR)
                else:
                    self.message_user(
                        request, f"Recorded {count} rate{'s' if count != 1 else ''} from {name}.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(reverse("admin:payments_fxrate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload FX rates (CSV)",
            "form": form,
            "max_mb": CSV_MAX_BYTES // (1024 * 1024),
        }
        return TemplateResponse(request, "admin/payments/fxrate/upload_csv.html", context, status=status)


# --- Wallet settings ----------------------------------------------------------------------------


@admin.register(WalletSettings)
class WalletSettingsAdmin(ReadOnlyAdmin):
    """View only: the safety delay is the user's own choice (Settings → Wallet)."""

    list_display = ["user", "safety_delay_seconds"]
    list_filter = ["safety_delay_seconds"]
    search_fields = ["user__handle", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "safety_delay_seconds"]
