"""The audit trail and limit usage: read-only."""

from __future__ import annotations

from django.contrib import admin

from core.money import format_money

from ..models import AuditEntry, LimitUsage
from .base import ReadOnlyAdmin, short_text

# --- Audit trail and limit usage (read-only) ---------------------------------------------------


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id", "target_repr", "short_reason"]
    list_filter = ["action", "target_type"]
    search_fields = ["action", "target_repr", "=target_id", "reason", "actor__handle"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "actor", "action", "target_type", "target_id", "target_repr", "reason", "data"]
    fields = readonly_fields

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return short_text(obj.reason)


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
