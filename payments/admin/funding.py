"""Admin: linked cards, top-ups and cash-outs. Read-only: money only moves through services.

A linked card shows its brand, last 4 and expiry, never the number: the encrypted
token and the fingerprint are not among the fields, so no admin page renders them.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin as _ReadOnly
from core.money import format_money

from ..models import CashOut, FundingCard, TopUp
from ..services.funding import card_label


@admin.register(FundingCard)
class FundingCardAdmin(_ReadOnly):
    list_display = ["id", "user", "masked", "expiry", "created_at", "removed_at"]
    list_filter = ["brand", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__handle", "user__email", "=last4", "=id"]
    list_select_related = ["user"]
    # Never "number_encrypted" (nor the fingerprint): staff see the card as a person does.
    fields = ["id", "user", "masked", "brand", "last4", "exp_month", "exp_year", "created_at", "removed_at"]
    readonly_fields = fields

    @admin.display(description="Card")
    def masked(self, obj: FundingCard) -> str:
        return card_label(obj)

    @admin.display(description="Expires")
    def expiry(self, obj: FundingCard) -> str:
        return f"{obj.exp_month:02d}/{obj.exp_year}"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("number_encrypted")


@admin.register(TopUp)
class TopUpAdmin(_ReadOnly):
    list_display = ["id", "created_at", "user", "card_display", "amount_display", "status", "decline_code"]
    list_filter = ["status", "currency"]
    search_fields = ["user__handle", "user__email", "=id", "processor_reference"]
    list_select_related = ["user", "card"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "user",
        "card_display",
        "amount",
        "currency",
        "amount_display",
        "status",
        "decline_code",
        "processor_reference",
        "transfer",
        "idempotency_key",
        "created_at",
        "completed_at",
    ]
    readonly_fields = fields

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: TopUp) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Card")
    def card_display(self, obj: TopUp) -> str:
        return card_label(obj.card)


@admin.register(CashOut)
class CashOutAdmin(_ReadOnly):
    list_display = [
        "id",
        "created_at",
        "user",
        "card_display",
        "speed",
        "amount_display",
        "fee_display",
        "status",
        "settle_after",
    ]
    list_filter = ["status", "speed", "currency"]
    search_fields = ["user__handle", "user__email", "=id"]
    list_select_related = ["user", "card"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "user",
        "card_display",
        "speed",
        "amount",
        "fee",
        "currency",
        "amount_display",
        "fee_display",
        "status",
        "decline_code",
        "hold",
        "transfer",
        "settle_after",
        "idempotency_key",
        "created_at",
        "completed_at",
    ]
    readonly_fields = fields

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: CashOut) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Fee", ordering="fee")
    def fee_display(self, obj: CashOut) -> str:
        return format_money(obj.fee, obj.currency)

    @admin.display(description="Card")
    def card_display(self, obj: CashOut) -> str:
        return card_label(obj.card)
