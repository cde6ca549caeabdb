"""Social in the admin: staff moderate posts (hide/unhide with a reason, audited) and work the report queue.

Staff moderate, they never edit: a post's text, a creator's money rows (tips, tip shares,
subscription charges) and subscriptions are read-only here; nothing is added or deleted.
Every decision goes through ``social.services.moderation`` (audit entry + notification).
Likes, mentions and tags are not registered (nothing to moderate there).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.urls import reverse
from django.utils.html import format_html

from compliance.admin.base import DecisionPagesMixin, ReadOnlyAdmin, SafeLookupsMixin, short_text
from core.errors import DomainError
from core.money import format_money

from .models import (
    CreatorProfile,
    Post,
    PostReport,
    PostTip,
    ReportStatus,
    Subscription,
    SubscriptionCharge,
    Tier,
    TipShare,
)
from .services.moderation import (
    HIDE_REASON_MAX_LENGTH,
    may_decide_reports,
    may_moderate_posts,
    post_hide,
    post_unhide,
    report_dismiss,
)


class HideForm(forms.Form):
    reason = forms.CharField(
        label="Why it is hidden (the author is told)",
        max_length=HIDE_REASON_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "maxlength": HIDE_REASON_MAX_LENGTH}),
        help_text="Required. Sent to the author in a notification and written to the audit trail.",
    )


def _hide_with_reason(model_admin, request, posts, *, action: str, shown=None):
    """The shared intermediate page of "Hide…": collect a reason, then hide each post through the service.

    ``shown`` are the selected rows the page posts back (the posts themselves, or the reports).
    """
    posts = list(posts)
    if request.POST.get("apply"):
        form = HideForm(request.POST)
        if form.is_valid():
            hidden = 0
            for post in posts:
                try:
                    post_hide(request.user, post=post.pk, reason=form.cleaned_data["reason"])
                except DomainError as exc:
                    model_admin.message_user(request, f"Post #{post.pk}: {exc.message}", messages.WARNING)
                else:
                    hidden += 1
            if hidden:
                model_admin.message_user(
                    request, f"{hidden} post(s) hidden; their authors were told.", messages.SUCCESS
                )
            return None
    else:
        form = HideForm()
    return model_admin.reason_page(
        request,
        title="Hide posts",
        intro="These posts will be shown to their authors only. Open reports about them are closed as “hidden”.",
        objects=posts if shown is None else list(shown),
        form=form,
        submit_label="Hide",
        action=action,
        danger=True,
    )


class HiddenFilter(admin.SimpleListFilter):
    title = "hidden by staff"
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return [("yes", "Hidden"), ("no", "Not hidden")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted by author"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("no", "Live")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Post)
class PostAdmin(DecisionPagesMixin, ReadOnlyAdmin):
    """Posts: look, search, filter; hide (with a reason) or unhide. Never add, edit or delete."""

    list_display = ["id", "author_handle", "excerpt", "audience", "created_at", "is_hidden", "is_deleted"]
    list_display_links = ["id", "excerpt"]
    list_filter = [HiddenFilter, DeletedFilter, "audience", "created_at"]
    search_fields = ["=id", "author__handle", "text"]
    list_select_related = ["author"]
    list_per_page = 50
    date_hierarchy = "created_at"
    ordering = ["-id"]
    fields = [
        "id",
        "author",
        "text",
        "audience",
        "teaser",
        "reply_to",
        "repost_of",
        "quote_of",
        "created_at",
        "deleted_at",
        "hidden_at",
        "hidden_by",
        "hidden_reason",
        "open_reports",
    ]
    readonly_fields = fields
    actions = ["hide_posts", "unhide_posts"]

    def has_moderate_permission(self, request) -> bool:
        return may_moderate_posts(request.user)

    @admin.display(description="Author", ordering="author__handle")
    def author_handle(self, obj):
        return f"@{obj.author.handle}"

    @admin.display(description="Text")
    def excerpt(self, obj):
        if obj.deleted_at:
            return "(deleted)"
        if obj.repost_of_id:
            return f"(repost of #{obj.repost_of_id})"
        return short_text(obj.text, 80)

    @admin.display(description="Hidden", boolean=True, ordering="hidden_at")
    def is_hidden(self, obj):
        return obj.hidden_at is not None

    @admin.display(description="Deleted", boolean=True, ordering="deleted_at")
    def is_deleted(self, obj):
        return obj.deleted_at is not None

    @admin.display(description="Open reports")
    def open_reports(self, obj):
        count = obj.reports.filter(status=ReportStatus.OPEN).count()
        if not count:
            return "0"
        url = reverse("admin:social_postreport_changelist") + f"?post__id__exact={obj.pk}&status__exact=open"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.action(description="Hide selected posts… (asks for a reason)", permissions=["moderate"])
    def hide_posts(self, request, queryset):
        return _hide_with_reason(self, request, queryset.select_related("author"), action="hide_posts")

    @admin.action(description="Unhide selected posts", permissions=["moderate"])
    def unhide_posts(self, request, queryset):
        done = 0
        for post in queryset:
            try:
                post_unhide(request.user, post=post.pk)
            except DomainError as exc:
                self.message_user(request, f"Post #{post.pk}: {exc.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} post(s) visible again; their authors were told.", messages.SUCCESS)


class ReportStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status__exact"

    def lookups(self, request, model_admin):
        return ReportStatus.choices

    def queryset(self, request, queryset):
        if self.value() in ReportStatus.values:
            return queryset.filter(status=self.value())
        return queryset


@admin.register(PostReport)
class PostReportAdmin(DecisionPagesMixin, SafeLookupsMixin, admin.ModelAdmin):
    """The report queue: open reports first, newest first. Actions: hide the posts, dismiss the reports."""

    list_display = ["id", "post_link", "post_author", "reason", "status", "reporter_handle", "created_at"]
    list_filter = [ReportStatusFilter, "reason"]
    search_fields = ["=post__id", "reporter__handle", "post__author__handle"]
    list_select_related = ["post", "post__author", "reporter", "resolved_by"]
    list_per_page = 50
    fields = [
        "post_link",
        "post_text",
        "reason",
        "details",
        "status",
        "reporter",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    readonly_fields = fields
    actions = ["hide_reported_posts", "dismiss_reports"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decisions only through the actions

    def has_moderate_permission(self, request) -> bool:
        return may_moderate_posts(request.user)

    def has_dismiss_permission(self, request) -> bool:
        return may_decide_reports(request.user)

    def get_queryset(self, request):
        open_first = Case(When(status=ReportStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
        return self.model._default_manager.annotate(open_first=open_first).order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ["open_first", "-created_at", "-id"]

    @admin.display(description="Post", ordering="post__id")
    def post_link(self, obj):
        url = reverse("admin:social_post_change", args=[obj.post_id])
        return format_html('<a href="{}">#{}</a> {}', url, obj.post_id, short_text(obj.post.text, 60))

    @admin.display(description="Text")
    def post_text(self, obj):
        return obj.post.text or "(no text)"

    @admin.display(description="Author", ordering="post__author__handle")
    def post_author(self, obj):
        return f"@{obj.post.author.handle}"

    @admin.display(description="Reporter", ordering="reporter__handle")
    def reporter_handle(self, obj):
        return f"@{obj.reporter.handle}"

    @admin.action(description="Hide the reported posts… (asks for a reason)", permissions=["moderate"])
    def hide_reported_posts(self, request, queryset):
        ids = set(queryset.values_list("post_id", flat=True))
        posts = Post.objects.filter(pk__in=ids, hidden_at__isnull=True).select_related("author").order_by("-id")
        # The page lists (and posts back) the selected reports; the posts they name are hidden.
        shown = queryset.select_related("post", "post__author")
        return _hide_with_reason(self, request, posts, action="hide_reported_posts", shown=shown)

    @admin.action(description="Dismiss the selected reports", permissions=["dismiss"])
    def dismiss_reports(self, request, queryset):
        done = 0
        for report in queryset:
            try:
                report_dismiss(request.user, report=report.pk)
            except DomainError as exc:
                self.message_user(request, f"Report #{report.pk}: {exc.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} report(s) dismissed.", messages.SUCCESS)


# ---- creators and their money (read-only) ----------------------------------------------------


@admin.register(CreatorProfile)
class CreatorProfileAdmin(ReadOnlyAdmin):
    list_display = ["user", "is_enabled", "tagline", "savings_sweep_bps", "created_at"]
    list_filter = ["is_enabled"]
    search_fields = ["user__handle"]
    list_select_related = ["user"]


@admin.register(Tier)
class TierAdmin(ReadOnlyAdmin):
    list_display = ["id", "creator", "name", "price_display", "is_active", "created_at"]
    list_filter = ["is_active", "currency"]
    search_fields = ["creator__handle", "name"]
    list_select_related = ["creator"]

    @admin.display(description="Monthly price", ordering="price")
    def price_display(self, obj):
        return format_money(obj.price, obj.currency)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "fan", "creator", "tier", "status", "paid_until", "next_attempt_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["fan__handle", "creator__handle"]
    list_select_related = ["fan", "creator", "tier"]
    date_hierarchy = "created_at"


@admin.register(SubscriptionCharge)
class SubscriptionChargeAdmin(ReadOnlyAdmin):
    list_display = ["id", "subscription", "period", "amount_display", "status", "attempts", "payment", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=subscription__id", "subscription__fan__handle", "subscription__creator__handle"]
    list_select_related = ["subscription"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(PostTip)
class PostTipAdmin(ReadOnlyAdmin):
    list_display = ["id", "post", "sender", "amount_display", "payment", "created_at"]
    list_filter = ["currency"]
    search_fields = ["=post__id", "sender__handle"]
    list_select_related = ["sender", "post"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(TipShare)
class TipShareAdmin(ReadOnlyAdmin):
    list_display = ["id", "payment", "post", "user", "amount_display", "transfer", "reversal", "created_at"]
    list_filter = ["currency"]
    search_fields = ["=payment__id", "user__handle"]
    list_select_related = ["user"]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)
