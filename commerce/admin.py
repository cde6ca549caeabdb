"""Staff screens of commerce.

- Settings: the platform fee (basis points) — the one editable row; every change is audited
  (``commerce.fee_change``). Paid orders keep the fee in force when they were paid.
- Shops: read-only; "Suspend" (with the reason typed in the action bar) and "Unsuspend" actions
  go through ``commerce.services.shops`` (which audit them).
- Listings: read-only, filters by status / kind / category; "Archive" calls
  ``listing_archive`` for the seller and is audited as the staff member's action.
- Orders: read-only (money rows), filters by status; items, timeline and refunds inline.
- Disputes: the queue opens on open disputes, oldest first. An open dispute's page is the
  resolution form (outcome, refund amount for a split, a required note) that calls
  ``dispute_resolve`` (locks, moves money once, audits); the service's refusal is shown on the
  form. Evidence files are streamed only through an access-checked admin view (staff who may
  view disputes), each view audited.
- Shop debts and refunds: read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from compliance.services.common import audit_record
from core.admin import ReadOnlyAdmin, ReadOnlyMixin, SafeLookupsMixin
from core.errors import DomainError
from core.money import Money, format_money

from .models import (
    CommerceSettings,
    Dispute,
    DisputeEvidence,
    DisputeOutcome,
    DisputeStatus,
    Listing,
    ListingStatus,
    Order,
    OrderEvent,
    OrderItem,
    Refund,
    Shop,
    ShopDebt,
    evidence_storage,
)

NOTE_MAX_LENGTH = 1000


def _money(amount, currency) -> str:
    return "—" if amount is None else format_money(amount, currency)


def _order_link(order_id) -> str:
    url = reverse("admin:commerce_order_change", args=[order_id])
    return format_html('<a href="{}">Order #{}</a>', url, order_id)


# --- Settings ----------------------------------------------------------------------------------


@admin.register(CommerceSettings)
class CommerceSettingsAdmin(SafeLookupsMixin, admin.ModelAdmin):
    """One row (pk=1): the list opens straight on it; changes are audited."""

    fields = ["fee_bps", "fee_percent", "updated_at"]
    readonly_fields = ["fee_percent", "updated_at"]

    @admin.display(description="Fee")
    def fee_percent(self, obj):
        return f"{obj.fee_bps / 100:.2f}%" if obj and obj.pk else "—"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row, _ = CommerceSettings.objects.get_or_create(pk=1)
        return HttpResponseRedirect(reverse("admin:commerce_commercesettings_change", args=[row.pk]))

    def save_model(self, request, obj, form, change):
        before = CommerceSettings.objects.filter(pk=obj.pk).values_list("fee_bps", flat=True).first()
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="commerce.fee_change",
                target=obj,
                data={"fee_bps_before": before, "fee_bps": obj.fee_bps},
            )


# --- Shops ---------------------------------------------------------------------------------------


class ShopActionForm(ActionForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason",
        help_text="Required to suspend: shown to the seller and kept in the audit trail.",
    )


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspended"
    parameter_name = "suspended"

    def lookups(self, request, model_admin):
        return [("yes", "Suspended"), ("no", "Open")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(suspended_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(suspended_at__isnull=True)
        return queryset


@admin.register(Shop)
class ShopAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "owner_handle", "is_open", "suspended_at", "created_at"]
    list_filter = [SuspendedFilter]
    list_select_related = ["owner"]
    search_fields = ["name", "slug", "owner__handle"]
    fields = [
        "name",
        "slug",
        "owner",
        "description",
        "return_policy",
        "logo_link",
        "suspended_at",
        "suspension_reason",
        "created_at",
    ]
    readonly_fields = fields
    action_form = ShopActionForm
    actions = ["suspend_shops", "unsuspend_shops"]

    @admin.display(description="Owner", ordering="owner__handle")
    def owner_handle(self, obj):
        return f"@{obj.owner.handle}"

    @admin.display(description="Logo")
    def logo_link(self, obj):
        # A private file has no URL: link to its access-checked view on the site.
        if not obj.logo:
            return "—"
        from .social import _url

        url = _url("commerce:shop_logo", [obj.pk], f"/shop/media/logo/{obj.pk}")
        return format_html('<a href="{}" target="_blank" rel="noopener">Logo</a>', url)

    @admin.display(description="Open", boolean=True)
    def is_open(self, obj):
        return obj.suspended_at is None

    def has_suspend_permission(self, request) -> bool:
        return request.user.has_perm("commerce.change_shop")

    @admin.action(description="Suspend selected shops (type the reason in the box next to Go)", permissions=["suspend"])
    def suspend_shops(self, request, queryset):
        from .services.shops import shop_suspend

        reason = (request.POST.get("reason") or "").strip()
        if not reason:
            self.message_user(request, "Type the reason for the suspension first.", messages.ERROR)
            return
        self._act(request, queryset, lambda shop: shop_suspend(request.user, shop=shop, reason=reason), "suspended")

    @admin.action(description="Unsuspend selected shops", permissions=["suspend"])
    def unsuspend_shops(self, request, queryset):
        from .services.shops import shop_unsuspend

        self._act(request, queryset, lambda shop: shop_unsuspend(request.user, shop=shop), "unsuspended")

    def _act(self, request, queryset, act, done: str) -> None:
        count = 0
        for shop in queryset.select_related("owner"):
            try:
                act(shop)
            except DomainError as exc:
                self.message_user(request, f"{shop}: {exc.message}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} shop(s) {done}.", messages.SUCCESS)


# --- Listings ------------------------------------------------------------------------------------


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "shop", "kind", "category", "price_display", "stock_display", "status", "created_at"]
    list_filter = ["status", "kind", "category", "currency"]
    list_select_related = ["shop"]
    search_fields = ["=id", "title", "shop__name", "shop__slug"]
    fields = [
        "shop",
        "title",
        "description",
        "category",
        "kind",
        "price_display",
        "stock_display",
        "shipping_display",
        "ships_to",
        "digital_file_name",
        "status",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    actions = ["archive_listings"]

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj):
        return format_money(obj.price, obj.currency)

    @admin.display(description="Stock", ordering="stock")
    def stock_display(self, obj):
        return "Unlimited" if obj.stock is None else obj.stock

    @admin.display(description="Shipping")
    def shipping_display(self, obj):
        return format_money(obj.shipping_price, obj.currency)

    def has_archive_permission(self, request) -> bool:
        return request.user.has_perm("commerce.change_listing")

    @admin.action(description="Archive selected listings", permissions=["archive"])
    def archive_listings(self, request, queryset):
        from .services.listings import listing_archive

        count = 0
        for listing in queryset.select_related("shop__owner"):
            if listing.status == ListingStatus.ARCHIVED:
                continue
            try:
                with transaction.atomic():
                    listing_archive(listing.shop.owner, listing=listing)
                    audit_record(
                        actor=request.user,
                        action="commerce.listing_archive",
                        target=listing,
                        data={"listing_id": listing.pk, "shop_id": listing.shop_id},
                    )
            except DomainError as exc:
                self.message_user(request, f"{listing.title}: {exc.message}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} listing(s) archived.", messages.SUCCESS)


# --- Orders --------------------------------------------------------------------------------------


class OrderItemInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["listing", "title", "kind", "unit_price_display", "quantity", "shipping_display", "downloaded_at"]
    readonly_fields = fields

    @admin.display(description="Unit price")
    def unit_price_display(self, obj):
        return format_money(obj.unit_price, obj.order.currency)

    @admin.display(description="Shipping")
    def shipping_display(self, obj):
        return format_money(obj.shipping, obj.order.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "listing")


class OrderEventInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderEvent
    extra = 0
    fields = ["created_at", "status", "actor", "note", "amount"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class RefundInline(ReadOnlyMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = ["created_at", "amount_display", "after_release", "advanced_display", "by", "reason"]
    readonly_fields = fields

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.order.currency)

    @admin.display(description="Advanced by the platform")
    def advanced_display(self, obj):
        return format_money(obj.advanced, obj.order.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "by")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "buyer_handle", "shop", "total_display", "status", "is_digital"]
    list_filter = ["status", "is_digital", "currency", "created_at"]
    list_select_related = ["buyer", "shop"]
    search_fields = ["=id", "buyer__handle", "shop__name", "shop__slug", "tracking_number"]
    date_hierarchy = "created_at"
    fields = [
        "checkout",
        "buyer",
        "shop",
        "status",
        "total_display",
        "subtotal_display",
        "shipping_display",
        "paid_display",
        "fee_bps",
        "fee_display",
        "refunded_display",
        "released_display",
        "is_digital",
        "address",
        "carrier",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "released_at",
        "auto_release_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [OrderItemInline, OrderEventInline, RefundInline]

    @admin.display(description="Buyer", ordering="buyer__handle")
    def buyer_handle(self, obj):
        return f"@{obj.buyer.handle}"

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Subtotal")
    def subtotal_display(self, obj):
        return format_money(obj.subtotal, obj.currency)

    @admin.display(description="Shipping")
    def shipping_display(self, obj):
        return format_money(obj.shipping, obj.currency)

    @admin.display(description="Paid (buyer's wallet)")
    def paid_display(self, obj):
        return format_money(obj.paid_amount, obj.paid_currency)

    @admin.display(description="Fee taken")
    def fee_display(self, obj):
        return format_money(obj.fee, obj.currency)

    @admin.display(description="Refunded")
    def refunded_display(self, obj):
        return format_money(obj.refunded, obj.currency)

    @admin.display(description="Released to the seller")
    def released_display(self, obj):
        return format_money(obj.released, obj.currency)

    @admin.display(description="Ship to")
    def address(self, obj):
        if not obj.ship_name:
            return "—"
        parts = [obj.ship_name, obj.ship_line1, obj.ship_line2, obj.ship_city, obj.ship_postcode, str(obj.ship_country)]
        return ", ".join(part for part in parts if part)


# --- Disputes ------------------------------------------------------------------------------------


class DisputeStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to "open": the list opens on the queue."""

    title = "status"
    parameter_name = "status"
    default = DisputeStatus.OPEN

    def lookups(self, request, model_admin):
        return [(DisputeStatus.OPEN, "Open (queue)"), (DisputeStatus.RESOLVED, "Resolved"), ("all", "All")]

    def current(self) -> str:
        value = self.value()
        return value if value in {key for key, _ in self.lookup_choices} else self.default

    def queryset(self, request, queryset):
        value = self.current()
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.current()
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class DisputeResolveForm(forms.ModelForm):
    """The resolution of an open dispute; ``clean`` calls ``dispute_resolve`` (errors on the form)."""

    decision = forms.ChoiceField(
        choices=DisputeOutcome.choices,
        widget=forms.RadioSelect,
        help_text="Refund: all that is left goes back to the buyer. Release: the seller is paid (less the fee). "
        "Split: the refund amount to the buyer, the rest released with the fee.",
    )
    refund = forms.CharField(
        required=False,
        max_length=40,
        label="Refund amount (split)",
        help_text="In the order's currency, like 5.00. Only for a split.",
    )
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "maxlength": NOTE_MAX_LENGTH}),
        help_text="Required: why you decided this way. Kept on the dispute and in the audit trail.",
    )

    class Meta:
        model = Dispute
        fields: list[str] = []

    def clean(self):
        """Check the input; the service runs in ``DisputeAdmin.save_model`` once everything is valid."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        cleaned["refund_minor"] = None
        if cleaned["decision"] == DisputeOutcome.SPLIT:
            text = (cleaned.get("refund") or "").strip()
            if not text:
                raise forms.ValidationError({"refund": "A split needs the amount refunded to the buyer."})
            try:
                cleaned["refund_minor"] = Money.parse(text, self.instance.order.currency).amount
            except DomainError as exc:
                raise forms.ValidationError({"refund": exc.message}) from None
        return cleaned


class DisputeEvidenceInline(ReadOnlyMixin, admin.TabularInline):
    model = DisputeEvidence
    extra = 0
    fields = ["file_link", "content_type", "uploaded_by", "created_at"]
    readonly_fields = fields

    @admin.display(description="File")
    def file_link(self, obj):
        url = reverse("admin:commerce_dispute_evidence", args=[obj.dispute_id, obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">Evidence #{}</a>', url, obj.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")


@admin.register(Dispute)
class DisputeAdmin(SafeLookupsMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "order_link", "buyer_handle", "shop_name", "amount", "status", "outcome"]
    list_filter = [DisputeStatusFilter, "outcome"]
    list_select_related = ["order__buyer", "order__shop"]
    search_fields = ["=id", "=order__id", "order__buyer__handle", "order__shop__name", "reason"]
    ordering = ["id"]  # oldest first
    info_fields = [
        "order_link",
        "buyer_handle",
        "shop_name",
        "amount",
        "order_status",
        "reason",
        "opened_by",
        "created_at",
        "status",
        "outcome_display",
        "refund_display",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    ]
    inlines = [DisputeEvidenceInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order__buyer", "order__shop", "opened_by", "resolved_by")

    # Permissions: nobody adds or deletes a dispute; "change" is resolving an open one.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != DisputeStatus.OPEN:
            return False
        return super().has_change_permission(request, obj)

    RESOLVE_FIELDS = ["decision", "refund", "note"]
    RESOLUTION_INFO = {"status", "outcome_display", "refund_display", "resolved_by", "resolved_at", "resolution_note"}

    def _resolvable(self, request, obj) -> bool:
        return obj is not None and obj.status == DisputeStatus.OPEN and self.has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._resolvable(request, obj):
            kwargs["form"] = DisputeResolveForm
            kwargs["fields"] = self.RESOLVE_FIELDS
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if self._resolvable(request, obj):
            info = [name for name in self.info_fields if name not in self.RESOLUTION_INFO]
            return [(None, {"fields": info}), ("Resolve", {"fields": self.RESOLVE_FIELDS})]
        return [(None, {"fields": self.info_fields})]

    def get_readonly_fields(self, request, obj=None):
        return self.info_fields

    def save_model(self, request, obj, form, change):
        """Resolve through ``dispute_resolve`` (which locks, moves money once, audits and saves the row).

        A refusal (already resolved by someone else, a split out of range...) moved nothing: it is
        shown as an error message on the dispute's page (``response_change``)."""
        from .services.disputes import dispute_resolve

        form.resolved = None
        try:
            form.resolved = dispute_resolve(
                request.user,
                dispute=obj.pk,
                outcome=form.cleaned_data["decision"],
                refund_amount=form.cleaned_data.get("refund_minor"),
                note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            request.commerce_dispute_refused = exc  # per request: the admin instance is shared

    def save_related(self, request, form, formsets, change):
        """Nothing to save: evidence is read-only."""

    def construct_change_message(self, request, form, formsets, add=False):
        resolved = getattr(form, "resolved", None)
        return f"Resolved: {resolved.get_outcome_display()}" if resolved is not None else ""

    def log_change(self, request, obj, message):
        if message:  # only a resolution is logged (a refusal changed nothing)
            return super().log_change(request, obj, message)
        return None

    def response_change(self, request, obj):
        refused = getattr(request, "commerce_dispute_refused", None)
        if refused is not None:
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(request.path)
        self.message_user(request, f"Dispute #{obj.pk} resolved.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:commerce_dispute_changelist"))

    @admin.display(description="Order")
    def order_link(self, obj):
        return _order_link(obj.order_id)

    @admin.display(description="Buyer", ordering="order__buyer__handle")
    def buyer_handle(self, obj):
        return f"@{obj.order.buyer.handle}"

    @admin.display(description="Shop", ordering="order__shop__name")
    def shop_name(self, obj):
        return obj.order.shop.name

    @admin.display(description="Order total")
    def amount(self, obj):
        order = obj.order
        text = format_money(order.total, order.currency)
        if order.refunded:
            text += f" (refunded {format_money(order.refunded, order.currency)})"
        return text

    @admin.display(description="Order status")
    def order_status(self, obj):
        return obj.order.get_status_display()

    @admin.display(description="Outcome")
    def outcome_display(self, obj):
        return obj.get_outcome_display() if obj.outcome else "—"

    @admin.display(description="Refunded on resolution")
    def refund_display(self, obj):
        return _money(obj.refund_amount, obj.order.currency)

    # Evidence: streamed to staff who may see disputes, never from a public URL.
    def get_urls(self):
        return [
            path(
                "<int:dispute_id>/evidence/<int:evidence_id>/",
                self.admin_site.admin_view(self.evidence_view),
                name="commerce_dispute_evidence",
            ),
            *super().get_urls(),
        ]

    def evidence_view(self, request, dispute_id: int, evidence_id: int):
        if not self.has_view_or_change_permission(request):
            raise Http404("No such file.")
        evidence = DisputeEvidence.objects.filter(pk=evidence_id, dispute_id=dispute_id).first()
        if evidence is None:
            raise Http404("No such file.")
        try:
            handle = evidence_storage().open(evidence.file.name, "rb")
        except (FileNotFoundError, OSError, ValueError):
            raise Http404("No such file.") from None
        audit_record(
            actor=request.user,
            action="commerce.evidence_view",
            target=evidence,
            data={"dispute_id": dispute_id, "evidence_id": evidence.pk},
        )
        content_type = evidence.content_type or "application/octet-stream"
        response = FileResponse(handle, content_type=content_type)
        is_image = content_type.startswith("image/")
        response["Content-Disposition"] = "inline" if is_image else f'attachment; filename="evidence-{evidence.pk}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


# --- Money rows ---------------------------------------------------------------------------------


@admin.register(ShopDebt)
class ShopDebtAdmin(ReadOnlyAdmin):
    list_display = ["shop", "currency", "amount_display", "updated_at"]
    list_filter = ["currency"]
    list_select_related = ["shop"]
    search_fields = ["shop__name", "shop__slug"]
    fields = ["shop", "currency", "amount_display", "updated_at"]
    readonly_fields = fields

    @admin.display(description="Owed", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "order_link", "amount_display", "after_release", "advanced_display", "by"]
    list_filter = ["after_release"]
    list_select_related = ["order", "by"]
    search_fields = ["=order__id"]
    fields = ["order_link", "amount_display", "reason", "by", "after_release", "advanced_display", "created_at"]
    readonly_fields = fields

    @admin.display(description="Order")
    def order_link(self, obj):
        return _order_link(obj.order_id)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.order.currency)

    @admin.display(description="Advanced by the platform")
    def advanced_display(self, obj):
        return format_money(obj.advanced, obj.order.currency)
