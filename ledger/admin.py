"""Read-only admin: support staff can look at every ledger row and change none."""

from django.contrib import admin
from django.db.models import F

from core.admin import ReadOnlyAdmin
from core.money import format_money

from .models import Account, Batch, Transfer


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "kind", "currency", "balance_display", "available_display", "must_not_go_negative"]
    list_filter = ["kind", "currency", "must_not_go_negative"]
    search_fields = ["owner__handle", "owner__email", "=id"]
    list_select_related = ["owner"]
    readonly_fields = [f.name for f in Account._meta.fields]

    @admin.display(description="Balance", ordering=F("credits_posted") - F("debits_posted"))
    def balance_display(self, obj):
        return format_money(obj.balance, obj.currency)

    @admin.display(description="Available")
    def available_display(self, obj):
        return format_money(obj.available, obj.currency)


class TransferInline(admin.TabularInline):
    model = Transfer
    fk_name = "batch"
    extra = 0
    can_delete = False
    fields = ["id", "debit_account", "credit_account", "amount", "currency", "kind", "state", "pending", "reverses"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "kind",
        "state",
        "amount_display",
        "debit_account",
        "credit_account",
        "initiator",
    ]
    list_filter = ["state", "kind", "currency"]
    search_fields = ["=id", "debit_account__owner__handle", "credit_account__owner__handle", "batch__idempotency_key"]
    list_select_related = ["debit_account__owner", "credit_account__owner", "initiator"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Transfer._meta.fields]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "operation", "initiator", "idempotency_key"]
    list_filter = ["operation"]
    search_fields = ["=id", "idempotency_key", "initiator__handle"]
    list_select_related = ["initiator"]
    readonly_fields = [f.name for f in Batch._meta.fields]
    inlines = [TransferInline]
