"""Admin: checks and their states (read-only; no deposit code is ever shown).

A check changes only through ``payments.services.checks`` (write, deposit, void, the stale
task). Staff see who wrote it, to whom, the amount and status, and the ledger transfers
that moved its money (the write, and the deposit or the return to the writer).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin
from core.money import format_money

from ..models import Check


@admin.register(Check)
class CheckAdmin(ReadOnlyAdmin):
    list_display = ["number", "writer", "payee_name", "amount_display", "status", "created_at", "settled_at"]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["=number", "writer__handle", "payee__handle", "payee_name", "deposited_by__handle"]
    list_select_related = ["writer"]
    date_hierarchy = "created_at"
    # Never the deposit code (not even encrypted), nor the idempotency fingerprint.
    fields = [
        "number",
        "writer",
        "payee_name",
        "payee",
        "amount_display",
        "memo",
        "status",
        "deposited_by",
        "created_at",
        "stale_at",
        "settled_at",
        "write_transfer_link",
        "settle_transfer_link",
    ]
    readonly_fields = fields
    exclude = ["deposit_code_encrypted", "request_hash", "idempotency_key"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("writer", "payee", "deposited_by")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    def _transfer(self, transfer_id):
        if not transfer_id:
            return "—"
        url = reverse("admin:ledger_transfer_change", args=[transfer_id])
        return format_html('<a href="{}">Transfer #{}</a>', url, transfer_id)

    @admin.display(description="Write transfer (wallet → checks outstanding)")
    def write_transfer_link(self, obj):
        return self._transfer(obj.write_transfer_id)

    @admin.display(description="Settle transfer (deposit, void or stale return)")
    def settle_transfer_link(self, obj):
        return self._transfer(obj.settle_transfer_id)
