"""Staff screens of cards.

- Cards: masked only (last 4, expiry) — never the encrypted number/CVV columns or the fingerprint;
  read-only, with "Freeze" / "Unfreeze" actions that go through ``cards.services`` and are audited.
- Authorisations and card events: read-only (money rows), the hold's ledger transfer linked.
- Merchants: the add form takes a name and an MCC; saving makes the API key with
  ``cards.network.merchant_create`` and shows it ONCE (a message); lists show the key's prefix only.
  "Deactivate" stops a key working (audited). Merchants are never deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from compliance.services import audit_record
from core.admin import ReadOnlyAdmin, SafeLookupsMixin
from core.errors import DomainError
from core.money import format_money

from . import network, services
from .models import Authorization, Card, CardEvent, Merchant


def _transfer_link(transfer_id):
    if not transfer_id:
        return "—"
    url = reverse("admin:ledger_transfer_change", args=[transfer_id])
    return format_html('<a href="{}">Transfer #{}</a>', url, transfer_id)


@admin.register(Card)
class CardAdmin(ReadOnlyAdmin):
    list_display = ["id", "holder", "masked_number", "expiry", "status", "purchase_limit", "daily", "created_at"]
    list_filter = ["status", "issue_reason"]
    list_select_related = ["user"]
    search_fields = ["user__handle", "user__email", "last4"]
    # Never the encrypted columns or the fingerprint.
    fields = [
        "user",
        "masked_number",
        "expiry",
        "status",
        "purchase_limit",
        "daily",
        "issue_reason",
        "replaces",
        "account",
        "created_at",
        "frozen_at",
        "cancelled_at",
    ]
    readonly_fields = fields
    actions = ["freeze_cards", "unfreeze_cards"]

    @admin.display(description="Holder", ordering="user__handle")
    def holder(self, obj):
        return f"@{obj.user.handle}"

    @admin.display(description="Number")
    def masked_number(self, obj):
        return obj.masked

    @admin.display(description="Per purchase")
    def purchase_limit(self, obj):
        return format_money(obj.per_purchase_limit, "USD")

    @admin.display(description="Daily limit")
    def daily(self, obj):
        return format_money(obj.daily_limit, "USD")

    def _act(self, request, queryset, service, action: str, done: str):
        count = 0
        for card in queryset.select_related("user"):
            try:
                with transaction.atomic():
                    service(card.user, card=card.pk)
                    audit_record(actor=request.user, action=action, target=card, data={"card_id": card.pk})
            except DomainError as exc:
                self.message_user(request, f"{card}: {exc.message}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} card(s) {done}.", messages.SUCCESS)

    @admin.action(description="Freeze selected cards")
    def freeze_cards(self, request, queryset):
        self._act(request, queryset, services.card_freeze, "card.staff_freeze", "frozen")

    @admin.action(description="Unfreeze selected cards")
    def unfreeze_cards(self, request, queryset):
        self._act(request, queryset, services.card_unfreeze, "card.staff_unfreeze", "unfrozen")


@admin.register(Authorization)
class AuthorizationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "merchant_name",
        "holder",
        "card_masked",
        "amount_display",
        "status",
        "decline_reason",
        "captured",
        "refunded",
        "created_at",
    ]
    list_filter = ["status", "decline_reason", "merchant"]
    list_select_related = ["card__user", "merchant"]
    search_fields = ["merchant_name", "network_transaction_id", "card__last4", "card__user__handle"]
    date_hierarchy = "created_at"
    fields = [
        "merchant",
        "merchant_name",
        "category_code",
        "network_transaction_id",
        "card_masked",
        "holder",
        "amount_display",
        "status",
        "decline_reason",
        "hold_link",
        "held",
        "captured",
        "refunded",
        "released",
        "expires_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="Holder")
    def holder(self, obj):
        return f"@{obj.card.user.handle}" if obj.card_id else "—"

    @admin.display(description="Card")
    def card_masked(self, obj):
        return obj.card.masked if obj.card_id else "— (unknown card)"

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Hold")
    def hold_link(self, obj):
        return _transfer_link(obj.hold_id)

    @admin.display(description="Still held")
    def held(self, obj):
        return format_money(obj.held_amount, obj.currency)

    @admin.display(description="Captured")
    def captured(self, obj):
        return format_money(obj.captured_amount, obj.currency)

    @admin.display(description="Refunded")
    def refunded(self, obj):
        return format_money(obj.refunded_amount, obj.currency)

    @admin.display(description="Released")
    def released(self, obj):
        return format_money(obj.released_amount, obj.currency)


@admin.register(CardEvent)
class CardEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "merchant",
        "network_transaction_id",
        "authorization",
        "amount",
        "approved",
        "created_at",
    ]
    list_filter = ["kind", "approved"]
    list_select_related = ["merchant", "authorization"]
    search_fields = ["network_transaction_id"]
    fields = [
        "kind",
        "merchant",
        "network_transaction_id",
        "authorization",
        "amount",
        "approved",
        "decline_reason",
        "transfer_link",
        "response",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="Transfer")
    def transfer_link(self, obj):
        return _transfer_link(obj.transfer_id)


class MerchantAddForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = ["name", "category_code"]
        help_texts = {"category_code": "ISO 18245 merchant category code, 4 digits (5999: miscellaneous retail)."}


@admin.register(Merchant)
class MerchantAdmin(SafeLookupsMixin, admin.ModelAdmin):
    list_display = ["name", "category_code", "api_key_prefix", "is_active", "is_demo", "created_at"]
    list_filter = ["is_active", "is_demo"]
    search_fields = ["name", "api_key_prefix"]
    actions = ["deactivate"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MerchantAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "category_code"]
        return ["name", "category_code", "is_active", "api_key_prefix", "is_demo", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["api_key_prefix", "is_demo", "created_at"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change:
                super().save_model(request, obj, form, change)
                audit_record(
                    actor=request.user,
                    action="cards.merchant_change",
                    target=obj,
                    data={"name": obj.name, "category_code": obj.category_code, "is_active": obj.is_active},
                )
                return
            merchant, key = network.merchant_create(name=obj.name, category_code=obj.category_code)
            audit_record(
                actor=request.user,
                action="cards.merchant_add",
                target=merchant,
                data={
                    "name": merchant.name,
                    "category_code": merchant.category_code,
                    "prefix": merchant.api_key_prefix,
                },
            )
        # The admin goes on with ``obj`` (log entry, redirect): make it the saved merchant.
        for field in Merchant._meta.concrete_fields:
            setattr(obj, field.attname, getattr(merchant, field.attname))
        obj._state.adding = False
        obj._state.db = merchant._state.db
        messages.warning(
            request,
            f"API key for {merchant.name}: {key} — copy it now, it is not shown again. "
            f"Merchants send it in the X-Merchant-Key header.",
        )

    @admin.action(description="Deactivate (their API key stops working)")
    def deactivate(self, request, queryset):
        with transaction.atomic():
            rows = list(queryset.filter(is_active=True).select_for_update())
            for merchant in rows:
                merchant.is_active = False
                merchant.save(update_fields=["is_active"])
                audit_record(actor=request.user, action="cards.merchant_deactivate", target=merchant)
        self.message_user(request, f"{len(rows)} merchant(s) deactivated.", messages.SUCCESS)
