"""Staff screens: products (editable), the loan book and delinquencies (read-only), restructure and
write-off actions — each a ledger transfer with a reason, audited (lending.services)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse

from core.admin import ReadOnlyMixin as ReadOnly
from core.errors import DomainError
from core.money import format_money

from .models import Instalment, InstalmentStatus, Loan, LoanAdjustment, LoanProduct
from .services import loan_restructure, loan_write_off


@admin.register(LoanProduct)
class LoanProductAdmin(admin.ModelAdmin):
    list_display = ("currency", "name", "apr", "late_fee", "min_amount", "max_amount", "terms", "is_active")


class InstalmentInline(ReadOnly, admin.TabularInline):
    model = Instalment
    fields = ("number", "due_date", "amount", "principal", "interest", "status", "late_fee_charged", "paid_at")
    readonly_fields = fields
    extra = 0


class AdjustmentInline(ReadOnly, admin.TabularInline):
    model = LoanAdjustment
    fields = ("created_at", "kind", "actor", "reason", "data", "batch")
    readonly_fields = fields
    extra = 0


class DelinquentFilter(admin.SimpleListFilter):
    title = "delinquency"
    parameter_name = "delinquent"

    def lookups(self, request, model_admin):
        return [("yes", "Has a late instalment")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(instalments__status=InstalmentStatus.LATE).distinct()
        return queryset


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)
    term_months = forms.IntegerField(min_value=1, max_value=60, required=False)
    waive_fees = forms.BooleanField(required=False)


@admin.register(Loan)
class LoanAdmin(ReadOnly, admin.ModelAdmin):
    """The loan book. Filter "delinquency" lists loans with a late instalment."""

    list_display = (
        "id",
        "user",
        "currency",
        "principal_text",
        "outstanding_text",
        "term_months",
        "status",
        "disbursed_at",
    )
    list_filter = ("status", "currency", DelinquentFilter)
    search_fields = ("user__handle", "user__email")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Loan._meta.fields]
    inlines = [InstalmentInline, AdjustmentInline]
    change_form_template = "admin/lending/loan/change_form.html"

    @admin.display(description="principal")
    def principal_text(self, loan):
        return format_money(loan.principal, loan.currency)

    @admin.display(description="owed")
    def outstanding_text(self, loan):
        return format_money(loan.owed_now, loan.currency)

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff

    def get_urls(self):
        return [
            path("<int:pk>/write-off/", self.admin_site.admin_view(self.write_off_view), name="lending_loan_write_off"),
            path(
                "<int:pk>/restructure/",
                self.admin_site.admin_view(self.restructure_view),
                name="lending_loan_restructure",
            ),
            *super().get_urls(),
        ]

    def _action(self, request, pk, *, title, run, restructure=False):
        loan = Loan.objects.filter(pk=pk).first()
        if loan is None or not request.user.is_staff:
            messages.error(request, "Not allowed, or no such loan.")
            return redirect("admin:lending_loan_changelist")
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run(loan, form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"{title}: done.")
                return redirect(reverse("admin:lending_loan_change", args=[loan.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "loan": loan,
            "form": form,
            "restructure": restructure,
        }
        return render(request, "admin/lending/loan/action.html", context)

    def write_off_view(self, request, pk):
        return self._action(
            request,
            pk,
            title="Write off loan",
            run=lambda loan, d: loan_write_off(request.user, loan_id=loan.pk, reason=d["reason"]),
        )

    def restructure_view(self, request, pk):
        def run(loan, d):
            if not d.get("term_months"):
                raise DomainError("Give the new term in months.")
            loan_restructure(
                request.user,
                loan_id=loan.pk,
                term_months=d["term_months"],
                reason=d["reason"],
                waive_fees=d["waive_fees"],
            )

        return self._action(request, pk, title="Restructure loan", run=run, restructure=True)


@admin.register(LoanAdjustment)
class LoanAdjustmentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("created_at", "loan", "kind", "actor", "reason")
    list_select_related = ("loan", "actor")
    list_filter = ("kind",)
