"""Admin: money requests and bill splits, read-only.

Support staff can find any request or split (by handle, note, title, status,
currency) and see who owes what; they change nothing here. Requests change only
through ``payments.services.requests`` (paid, declined, cancelled by the people
involved, or expired by the hourly task).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin import ReadOnlyMixin as _ReadOnly
from core.money import format_money

from ..models import PaymentRequest, Split
from ..services.requests import effective_status
from .base import SafeLookupsMixin


@admin.register(PaymentRequest)
class PaymentRequestAdmin(_ReadOnly, SafeLookupsMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "requester",
        "payer",
        "amount_display",
        "status_display",
        "split_link",
        "created_at",
        "expires_at",
        "last_reminded_at",
    ]
    list_filter = ["status", "currency", "created_at"]
    search_fields = ["=id", "requester__handle", "payer__handle", "note"]
    list_select_related = ["requester", "payer", "split"]
    readonly_fields = [field.name for field in PaymentRequest._meta.fields] + ["amount_display", "payments_list"]
    date_hierarchy = "created_at"
    ordering = ["-id"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        shown = effective_status(obj, timezone.now())
        return f"{shown} (not yet marked)" if shown != obj.status else shown

    @admin.display(description="Split")
    def split_link(self, obj):
        if not obj.split_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:payments_split_change", args=[obj.split_id]), obj.split_id
        )

    @admin.display(description="Payments")
    def payments_list(self, obj):
        rows = list(obj.payments.order_by("id"))
        if not rows:
            return "—"
        return format_html(
            "<br>".join(['<a href="{}">#{} {} ({})</a>'] * len(rows)),
            *[
                part
                for payment in rows
                for part in (
                    reverse("admin:payments_payment_change", args=[payment.pk]),
                    payment.pk,
                    format_money(payment.amount, payment.currency),
                    payment.get_status_display(),
                )
            ],
        )


class SplitRequestInline(_ReadOnly, admin.TabularInline):
    model = PaymentRequest
    fk_name = "split"
    extra = 0
    can_delete = False
    fields = ["id", "payer", "amount_display", "status", "resolved_at"]
    readonly_fields = fields
    ordering = ["id"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payer")

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(Split)
class SplitAdmin(_ReadOnly, SafeLookupsMixin, admin.ModelAdmin):
    list_display = ["id", "title", "creator", "total_display", "method", "creator_share_display", "created_at"]
    list_filter = ["method", "currency", "created_at"]
    search_fields = ["=id", "title", "creator__handle"]
    list_select_related = ["creator"]
    readonly_fields = [field.name for field in Split._meta.fields] + ["total_display", "creator_share_display"]
    inlines = [SplitRequestInline]
    ordering = ["-id"]

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Creator's share")
    def creator_share_display(self, obj):
        return format_money(obj.creator_share, obj.currency)
