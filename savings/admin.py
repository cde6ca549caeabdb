"""Staff screens of savings.

- Products: name and "open to new accounts" are editable (audited); the rate history is an inline,
  read-only. A new rate is added on the "Savings rates" screen (add only; never edited or deleted),
  through ``savings_rate_add`` (today or later only) and audited.
- Accounts, accruals and payouts: read-only (money rows); accounts show their ledger balance.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import transaction

from compliance.services import audit_record
from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from core.money import format_money

from .models import InterestAccrual, InterestPayout, SavingsAccount, SavingsGoal, SavingsProduct, SavingsRate
from .selectors import account_balance, apy_percent
from .services import rate_check, savings_rate_add


class RateInline(admin.TabularInline):
    model = SavingsRate
    fields = ["effective_from", "apy", "percent", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-effective_from"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="APY %")
    def percent(self, obj):
        return f"{apy_percent(obj.apy)}%"


@admin.register(SavingsProduct)
class SavingsProductAdmin(admin.ModelAdmin):
    list_display = ["currency", "name", "is_active", "created_at"]
    inlines = [RateInline]

    def get_readonly_fields(self, request, obj=None):
        return ["currency", "created_at"] if obj else ["created_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="savings.product_change" if change else "savings.product_add",
                target=obj,
                data={"currency": obj.currency, "name": obj.name, "is_active": obj.is_active},
            )


class RateForm(forms.ModelForm):
    class Meta:
        model = SavingsRate
        fields = ["product", "apy", "effective_from"]
        help_texts = {"effective_from": "Today (UTC) or later: past days are never rewritten."}

    def clean(self):
        data = super().clean()
        apy, day, product = data.get("apy"), data.get("effective_from"), data.get("product")
        if apy is not None and day:
            try:
                rate_check(apy=apy, effective_from=day)
            except DomainError as exc:
                for field, errors in (exc.fields or {}).items():
                    for error in errors:
                        self.add_error(field if field in self.fields else None, error)
                if not exc.fields:
                    raise forms.ValidationError(exc.message) from None
            if product and SavingsRate.objects.filter(product=product, effective_from=day).exists():
                self.add_error("effective_from", "A rate already starts on that day; choose another day.")
        return data


@admin.register(SavingsRate)
class SavingsRateAdmin(admin.ModelAdmin):
    """Add a rate (audited). Rates are never edited or deleted."""

    form = RateForm
    list_display = ["product", "effective_from", "apy", "percent", "created_by", "created_at"]
    list_filter = ["product"]
    ordering = ["product", "-effective_from"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="APY %")
    def percent(self, obj):
        return f"{apy_percent(obj.apy)}%"

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            created = savings_rate_add(obj.product, apy=obj.apy, effective_from=obj.effective_from, actor=request.user)
            audit_record(
                actor=request.user,
                action="savings.rate_add",
                target=created.product,
                data={"apy": str(created.apy), "effective_from": created.effective_from, "rate": created.pk},
            )
        obj.pk, obj.created_at, obj.created_by = created.pk, created.created_at, created.created_by


@admin.register(SavingsAccount)
class SavingsAccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "currency", "balance", "roundups_enabled", "accrued_through", "opened_at"]
    list_filter = ["currency", "roundups_enabled"]
    search_fields = ["user__handle", "user__email"]
    list_select_related = ["user", "ledger_account"]
    readonly_fields = ["user", "currency", "ledger_account", "balance", "roundups_enabled", "accrued_through"]

    @admin.display(description="Balance")
    def balance(self, obj):
        return format_money(account_balance(obj), obj.currency)


@admin.register(InterestAccrual)
class InterestAccrualAdmin(ReadOnlyAdmin):
    list_display = ["account", "day", "balance", "daily_rate", "amount"]
    list_filter = ["day"]
    search_fields = ["account__user__handle"]
    list_select_related = ["account"]
    date_hierarchy = "day"


@admin.register(InterestPayout)
class InterestPayoutAdmin(ReadOnlyAdmin):
    list_display = ["account", "month", "accrued", "amount", "carried", "transfer", "created_at"]
    list_filter = ["month"]
    search_fields = ["account__user__handle"]
    list_select_related = ["account"]


@admin.register(SavingsGoal)
class SavingsGoalAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "account", "target", "target_date", "achieved_at"]
    list_select_related = ["user", "account"]
