"""The one user model. Money, messages and posts all hang off it."""

from __future__ import annotations

import hashlib
import zoneinfo

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django_countries.fields import CountryField

from core.money import CURRENCY_CHOICES

from .validators import HANDLE_MAX_LENGTH, HANDLE_VALIDATORS

TIME_ZONE_CHOICES = [
    (tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz or tz == "UTC"
]

US_STATES = [
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
    ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("DC", "District of Columbia"),
    ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"),
    ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"),
    ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
    ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
    ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"), ("SD", "South Dakota"),
    ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"),
    ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
]  # fmt: skip

AVATAR_COLOURS = ["#2563eb", "#7c3aed", "#db2777", "#ea580c", "#16a34a", "#0891b2", "#4f46e5", "#b45309"]


class HandleUserManager(UserManager):
    def get_by_natural_key(self, handle):
        return self.get(handle__iexact=handle)

    def create_user(self, handle, email=None, password=None, **extra_fields):
        return super().create_user(handle, email, password, **extra_fields)

    def create_superuser(self, handle, email=None, password=None, **extra_fields):
        return super().create_superuser(handle, email, password, **extra_fields)

    def _create_user(self, handle, email, password, **extra_fields):
        email = self.normalize_email(email)
        user = self.model(handle=handle.lower(), email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class MessagePolicy(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    FOLLOWING = "following", "People I follow"
    NOBODY = "nobody", "Nobody"


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None

    handle = models.CharField(
        max_length=HANDLE_MAX_LENGTH,
        unique=True,
        validators=HANDLE_VALIDATORS,
        help_text="3–15 characters: lowercase letters, digits and underscores.",
        error_messages={"unique": "That handle is taken."},
    )
    email = models.EmailField("email address", blank=True)
    display_name = models.CharField(max_length=50, blank=True)
    avatar = models.ImageField(upload_to="avatars/%Y/%m/", blank=True)
    bio = models.CharField(max_length=160, blank=True)
    website = models.URLField(
        "link", max_length=200, blank=True, help_text="A web page of yours, shown on your profile."
    )
    # Protected: new followers need approval (a FollowRequest), and only followers see the posts.
    is_protected = models.BooleanField(
        "protect my posts", default=False, help_text="Only people you approve can follow you and see your posts."
    )
    home_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    country = CountryField(blank=True, default="US")
    state = models.CharField("US state", max_length=2, choices=US_STATES, blank=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    # Who may start a conversation that lands in the inbox (others land in "Requests", or nowhere).
    message_policy = models.CharField(
        "accept messages from", max_length=16, choices=MessagePolicy.choices, default=MessagePolicy.EVERYONE
    )

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    objects = HandleUserManager()

    class Meta:
        constraints = [
            # Handles are stored lowercase; this makes "Alice" and "alice" one handle even if not.
            models.UniqueConstraint(Lower("handle"), name="accounts_user_handle_ci_unique"),
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="accounts_user_email_ci_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(state="") | models.Q(country="US"), name="accounts_user_state_only_in_us"
            ),
        ]

    def __str__(self) -> str:
        return f"@{self.handle}"

    def save(self, *args, **kwargs):
        if self.handle:
            self.handle = self.handle.lower()
        if self.country != "US":
            self.state = ""
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.display_name or self.handle

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name

    @property
    def initials(self) -> str:
        words = (self.display_name or self.handle).replace("_", " ").split()
        letters = "".join(word[0] for word in words[:2]) or self.handle[:2]
        return letters.upper()

    @property
    def avatar_colour(self) -> str:
        digest = hashlib.sha256(self.handle.encode()).digest()
        return AVATAR_COLOURS[digest[0] % len(AVATAR_COLOURS)]


class Follow(models.Model):
    """``follower`` follows ``followee``. The social graph payments, messaging and social consult."""

    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_links")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="accounts_follow_once"),
            models.CheckConstraint(condition=~models.Q(follower=models.F("followee")), name="accounts_follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "-created_at"], name="accounts_follow_followee_idx")]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class FollowRequest(models.Model):
    """``requester`` asked to follow the protected account ``target``; it waits for approval."""

    requester = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follow_requests_sent")
    target = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follow_requests_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requester", "target"], name="accounts_follow_request_once"),
            models.CheckConstraint(
                condition=~models.Q(requester=models.F("target")), name="accounts_follow_request_not_self"
            ),
        ]
        indexes = [models.Index(fields=["target", "-created_at"], name="accounts_followreq_target_idx")]

    def __str__(self) -> str:
        return f"{self.requester_id} asks to follow {self.target_id}"


class Block(models.Model):
    """``blocker`` blocked ``blocked``: no messages, payments or requests from them; threads hidden."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="accounts_block_once"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="accounts_block_not_self"),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="accounts_block_blocked_idx")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocked {self.blocked_id}"
