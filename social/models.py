"""Posts, the timeline's rows, creators, tips on posts and creator subscriptions.

Follows, follow requests and blocks live in ``accounts`` (payments and messaging consult
them too); this app only reads them. Money never lives here: a tip or a subscription
charge is a ``payments.Payment``, and these rows point at it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.money import CURRENCY_CHOICES
from core.storage import PrivateStorage

POST_MAX_LENGTH = 280
POST_MAX_IMAGES = 4
TAG_MAX_LENGTH = 64


class Audience(models.TextChoices):
    PUBLIC = "public", "Everyone"
    SUBSCRIBERS = "subscribers", "Subscribers only"


class Post(models.Model):
    """A post, a reply (``reply_to``), a repost (``repost_of``, no text) or a quote (``quote_of`` + text).

    Deleting a post keeps the row as a tombstone (``deleted_at``, text and images gone): replies,
    quotes and the tips paid on it still point at it. Staff hide a post with ``hidden_at``.
    """

    # No single-column index: (author, -id) below serves every lookup by author.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts", db_index=False)
    text = models.CharField(max_length=POST_MAX_LENGTH, blank=True)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies", help_text="The post answered"
    )
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The thread's first post"
    )
    repost_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="reposts")
    quote_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="quotes")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.PUBLIC)
    # What non-subscribers see of a subscribers-only post (may be empty: a generic line is shown).
    teaser = models.CharField(max_length=POST_MAX_LENGTH, blank=True)

    # Denormalised counters, changed with F() in the same transaction as the row they count.
    like_count = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0)
    repost_count = models.PositiveIntegerField(default=0)
    quote_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True, help_text="Hidden by staff (moderation)")
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hidden_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(repost_of__isnull=True) | (Q(quote_of__isnull=True) & Q(reply_to__isnull=True)),
                name="social_post_repost_is_plain",
            ),
            models.CheckConstraint(
                condition=~Q(text="") | Q(repost_of__isnull=False) | Q(deleted_at__isnull=False),
                name="social_post_has_text",
            ),
            models.UniqueConstraint(
                fields=["author", "repost_of"],
                condition=Q(repost_of__isnull=False, deleted_at__isnull=True),
                name="social_post_repost_once",
            ),
        ]
        indexes = [
            # The home timeline and a profile's posts: author IN (...) ORDER BY id DESC, top-level, live.
            models.Index(
                fields=["author", "-id"],
                condition=Q(reply_to__isnull=True, deleted_at__isnull=True),
                name="social_post_timeline_idx",
            ),
            models.Index(fields=["author", "-id"], name="social_post_author_idx"),
            models.Index(fields=["reply_to", "id"], name="social_post_replies_idx"),
            models.Index(fields=["thread_root", "id"], name="social_post_thread_idx"),
            models.Index(fields=["-created_at"], name="social_post_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"Post #{self.pk} by {self.author_id}"

    @property
    def is_repost(self) -> bool:
        return self.repost_of_id is not None

    @property
    def is_live(self) -> bool:
        return self.deleted_at is None and self.hidden_at is None

    @property
    def subscribers_only(self) -> bool:
        return self.audience == Audience.SUBSCRIBERS


_post_image_storage = PrivateStorage("posts")


def post_image_storage() -> PrivateStorage:
    return _post_image_storage


def post_image_path(instance, filename: str) -> str:
    # Never the user's file name on disk: the caller names the file randomly ("<hex>.<ext>").
    return f"{instance.post_id}/{filename}"


class PostImage(models.Model):
    """Up to four checked images per post, stored privately and served through an access check."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=post_image_path, storage=post_image_storage, max_length=255)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    alt = models.CharField("description", max_length=420, blank=True)

    class Meta:
        ordering = ["post", "position"]
        constraints = [
            models.UniqueConstraint(fields=["post", "position"], name="social_postimage_position_unique"),
            models.CheckConstraint(condition=Q(position__lt=POST_MAX_IMAGES), name="social_postimage_at_most_four"),
        ]

    def __str__(self) -> str:
        return f"Image {self.position} of post {self.post_id}"


class Like(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="social_like_once")]
        indexes = [models.Index(fields=["user", "-id"], name="social_like_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.post_id}"


class Mention(models.Model):
    """``user`` was @mentioned in ``post`` (and notified once)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mentions")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="social_mention_once")]
        indexes = [models.Index(fields=["user", "-post"], name="social_mention_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} mentioned in {self.post_id}"


class PostTag(models.Model):
    """``#tag`` (stored lowercase, without "#") appears in ``post``; the tag page reads by (tag, -post)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=TAG_MAX_LENGTH)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "tag"], name="social_posttag_once")]
        indexes = [models.Index(fields=["tag", "-post"], name="social_posttag_tag_idx")]

    def __str__(self) -> str:
        return f"#{self.tag} on {self.post_id}"


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam or scam"
    ABUSE = "abuse", "Harassment or hate"
    VIOLENCE = "violence", "Violence or threats"
    SEXUAL = "sexual", "Sexual content"
    ILLEGAL = "illegal", "Something illegal"
    OTHER = "other", "Something else"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    HIDDEN = "hidden", "Post hidden"
    DISMISSED = "dismissed", "Dismissed"


class PostReport(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="post_reports")
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    details = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "reporter"], name="social_postreport_once")]
        indexes = [models.Index(fields=["status", "-created_at"], name="social_postreport_queue_idx")]

    def __str__(self) -> str:
        return f"Report of post {self.post_id} ({self.reason})"


# ---- creators -------------------------------------------------------------------------------


class CreatorProfile(models.Model):
    """Creator mode: Tip buttons on the person's posts and profile, tiers, a dashboard."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="creator"
    )
    is_enabled = models.BooleanField("creator mode", default=True)
    tagline = models.CharField(max_length=120, blank=True, help_text="What supporters get, in a line")
    # Share of every earning swept into savings once the savings app exists (basis points; 0 = off).
    savings_sweep_bps = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(savings_sweep_bps__lte=10_000), name="social_creator_sweep_at_most_all")
        ]

    def __str__(self) -> str:
        return f"Creator {self.user_id}"


class PostAuthor(models.Model):
    """A post's revenue split: who shares its tips, in basis points summing to 10,000.

    Position 0 is the post's author (the first author, who also receives the leftover minor
    units of every split). A post without rows keeps all its tips for its author.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="authors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coauthored")
    position = models.PositiveSmallIntegerField()
    share_bps = models.PositiveIntegerField()

    class Meta:
        ordering = ["post", "position"]
        constraints = [
            models.UniqueConstraint(fields=["post", "user"], name="social_postauthor_once"),
            models.UniqueConstraint(fields=["post", "position"], name="social_postauthor_position_unique"),
            models.CheckConstraint(
                condition=Q(share_bps__gte=1, share_bps__lte=10_000), name="social_postauthor_share_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.share_bps} bps of post {self.post_id}"


class PostTip(models.Model):
    """A tip paid on a post (the money is ``payment``; amounts as received by the creator)."""

    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="tips")
    payment = models.OneToOneField("payments.Payment", on_delete=models.PROTECT, related_name="post_tip")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="post_tips_sent")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    # The post's split when the tip was sent, [[user id, basis points], ...] (empty: no split).
    shares = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="social_posttip_amount_positive")]
        indexes = [models.Index(fields=["post", "currency"], name="social_posttip_post_idx")]

    def __str__(self) -> str:
        return f"Tip {self.payment_id} on post {self.post_id}"


class TipShare(models.Model):
    """One co-author's share of a completed tip, moved from the creator's wallet by one ledger batch."""

    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, related_name="tip_shares")
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="tip_shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tip_shares")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    transfer = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reversal = models.ForeignKey("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payment", "user"], name="social_tipshare_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="social_tipshare_amount_not_negative"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="social_tipshare_user_idx")]

    def __str__(self) -> str:
        return f"Share of payment {self.payment_id} for {self.user_id}"


class Tier(models.Model):
    """A creator's subscription tier. The price never changes once people may pay it: make a new tier."""

    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=50)
    price = models.BigIntegerField(help_text="Monthly price in minor units")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    perks = models.TextField(max_length=1000, blank=True)
    is_active = models.BooleanField(default=True, help_text="Open to new subscribers")
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["creator", "position", "price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="social_tier_price_positive"),
            models.UniqueConstraint(fields=["creator", "name"], name="social_tier_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.creator_id})"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Payment failed, retrying"
    CANCELLED = "cancelled", "Cancelled (ends at the end of the paid period)"
    LAPSED = "lapsed", "Lapsed (payment failed)"
    ENDED = "ended", "Ended"


LIVE_SUBSCRIPTION_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELLED)


class Subscription(models.Model):
    """``fan`` subscribes to ``creator`` at ``tier``. Access lasts while ``paid_until`` is in the future.

    One live (active, past due or cancelled-but-paid) subscription per fan and creator; ended
    and lapsed rows stay as history.
    """

    fan = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscribers")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    # Period n (0-based) runs from anchor + n months to anchor + n + 1 months (day clamped to the month).
    anchor = models.DateTimeField(help_text="When the first period started")
    periods_paid = models.PositiveIntegerField(default=0)
    paid_until = models.DateTimeField(help_text="Access ends here unless the next period is paid")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the renewal runs next")
    retry_until = models.DateTimeField(null=True, blank=True, help_text="Past due: lapse if unpaid by then")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fan", "creator"],
                condition=Q(status__in=["active", "past_due", "cancelled"]),
                name="social_subscription_one_live",
            ),
            models.CheckConstraint(condition=~Q(fan=F("creator")), name="social_subscription_not_self"),
        ]
        indexes = [
            models.Index(fields=["fan", "creator", "paid_until"], name="social_sub_access_idx"),
            models.Index(fields=["creator", "status"], name="social_sub_creator_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["active", "past_due"]),
                name="social_sub_renewal_due_idx",
            ),
            # Ending cancelled subscriptions once their paid period is over.
            models.Index(fields=["paid_until"], condition=Q(status="cancelled"), name="social_sub_cancelled_end_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.fan_id} → {self.creator_id} ({self.status})"


class ChargeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class SubscriptionCharge(models.Model):
    """The charge for one period of one subscription: at most one per (subscription, period)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="charges")
    period = models.PositiveIntegerField(help_text="0 for the first month")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=ChargeStatus.choices, default=ChargeStatus.PENDING)
    payment = models.OneToOneField(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="subscription_charge"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subscription", "period"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period"], name="social_charge_once_per_period"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="social_charge_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Charge {self.period} of subscription {self.subscription_id}"
