"""The risk review queue: approve (maker-checker above 10,000) or reject with a reason."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path

from core.errors import DomainError
from core.money import format_money

from .. import services
from ..forms import ReasonForm
from ..models import OPEN_REVIEW_STATUSES, ReviewStatus, RiskReview
from .base import DecisionPagesMixin, ReadOnlyAdmin

# --- Risk reviews -------------------------------------------------------------------------


class ReviewStatusFilter(admin.SimpleListFilter):
    """Open reviews (pending or awaiting a second approval) unless asked otherwise."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open (to decide)"), *ReviewStatus.choices, ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(status__in=OPEN_REVIEW_STATUSES)
        if value in ReviewStatus.values:
            return queryset.filter(status=value)
        return queryset


@admin.register(RiskReview)
class RiskReviewAdmin(DecisionPagesMixin, ReadOnlyAdmin):
    """The review queue: held payments, soonest deadline first."""

    change_form_template = "compliance/admin/review_change_form.html"
    list_display = [
        "id",
        "user",
        "reason",
        "amount",
        "status",
        "deadline",
        "summary",
        "first_approver",
    ]
    list_display_links = ["id", "summary"]
    list_filter = [ReviewStatusFilter, "reason"]
    search_fields = ["user__handle", "user__email", "subject", "summary"]
    list_select_related = ["user", "first_approver"]
    ordering = ["deadline", "id"]
    actions = ["approve_reviews", "reject_reviews"]
    readonly_fields = [
        "user",
        "subject",
        "reason",
        "amount",
        "summary",
        "status",
        "created_at",
        "deadline",
        "first_approver",
        "first_approved_at",
        "decided_by",
        "decided_at",
        "note",
    ]
    fields = readonly_fields

    def has_decide_permission(self, request) -> bool:
        return (
            request.user.is_active and request.user.is_staff and request.user.has_perm("compliance.change_riskreview")
        )

    @admin.display(description="Amount (USD)", ordering="usd_minor")
    def amount(self, obj):
        return format_money(obj.usd_minor, "USD")

    def get_urls(self):
        urls = super().get_urls()
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/approve/", view(self.approve_view), name="compliance_riskreview_approve"),
            path("<int:object_id>/reject/", view(self.reject_view), name="compliance_riskreview_reject"),
            *urls,
        ]

    def _approve(self, request, reviews) -> int:
        done = 0
        for review in reviews:
            try:
                decided = services.review_approve(request.user, review=review)
            except DomainError as exc:
                self.message_user(request, f"Review #{review.pk}: {exc.message}", messages.ERROR)
                continue
            done += 1
            if decided.status == ReviewStatus.AWAITING_SECOND:
                self.message_user(
                    request,
                    f"First approval recorded for review #{decided.pk} ({decided.amount_display}). It is over "
                    f"{format_money(services.SECOND_APPROVAL_OVER_USD_MINOR, 'USD')}, so a second staff member "
                    "must approve it before the money is released.",
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"Review #{decided.pk} approved: the payment is released.", messages.SUCCESS)
        return done

    def _reject(self, request, reviews, note: str) -> int:
        done = 0
        for review in reviews:
            try:
                services.review_reject(request.user, review=review, note=note)
            except DomainError as exc:
                self.message_user(request, f"Review #{review.pk}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, f"{done} review(s) rejected: the money went back to the sender.", messages.SUCCESS
            )
        return done

    @admin.action(description="Approve (release the payment)", permissions=["decide"])
    def approve_reviews(self, request, queryset):
        self._approve(request, queryset)

    @admin.action(description="Reject (asks for a reason; the money goes back)", permissions=["decide"])
    def reject_reviews(self, request, queryset):
        queryset = queryset.select_related("user")
        if request.POST.get("apply"):
            form = ReasonForm(request.POST, label="Why it is rejected")
            if form.is_valid():
                self._reject(request, queryset, form.cleaned_data["reason"])
                return None
        else:
            form = ReasonForm(label="Why it is rejected")
        return self.reason_page(
            request,
            title="Reject held payments",
            intro="The money of these payments goes back to their senders.",
            objects=queryset,
            form=form,
            submit_label="Reject",
            action="reject_reviews",
            danger=True,
        )

    def approve_view(self, request, object_id):
        review = get_object_or_404(RiskReview.objects.select_related("user", "first_approver"), pk=object_id)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            self._approve(request, [review])
            return HttpResponseRedirect(self.change_url(review))
        if review.status == ReviewStatus.AWAITING_SECOND:
            intro = (
                f"{review.first_approver} made the first approval on {review.first_approved_at:%Y-%m-%d %H:%M} UTC. "
                "Your approval releases the payment."
            )
        elif services.needs_second_approval(review):
            intro = (
                f"This payment is over {format_money(services.SECOND_APPROVAL_OVER_USD_MINOR, 'USD')}: your approval "
                "is the first of two; a different staff member must approve it too."
            )
        else:
            intro = "Approving releases the payment to its recipient now."
        return self.reason_page(
            request,
            title=f"Approve review #{review.pk}",
            intro=intro,
            objects=[review],
            form=None,
            submit_label="Approve",
            cancel_url=self.change_url(review),
        )

    def reject_view(self, request, object_id):
        review = get_object_or_404(RiskReview.objects.select_related("user"), pk=object_id)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ReasonForm(request.POST, label="Why it is rejected")
            if form.is_valid():
                self._reject(request, [review], form.cleaned_data["reason"])
                return HttpResponseRedirect(self.change_url(review))
        else:
            form = ReasonForm(label="Why it is rejected")
        return self.reason_page(
            request,
            title=f"Reject review #{review.pk}",
            intro="The money goes back to the sender.",
            objects=[review],
            form=form,
            submit_label="Reject",
            danger=True,
            cancel_url=self.change_url(review),
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_decide"] = obj is not None and obj.is_open and self.has_decide_permission(request)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)
