"""Conversations, members, messages. Privacy first: every read goes through membership.

A 1:1 conversation is unique per pair (``pair_key`` = "<low id>:<high id>").
A member's read state is the id of the last message they have read; unread
counts are "messages after it, not mine, not deleted", computed in SQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible


class ConversationKind(models.TextChoices):
    DIRECT = "direct", "1:1"
    GROUP = "group", "Group"


class Conversation(models.Model):
    kind = models.CharField(max_length=8, choices=ConversationKind.choices)
    name = models.CharField(max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="conversations_created"
    )
    # "<lower user id>:<higher user id>" for 1:1 conversations: one per pair, never duplicates.
    pair_key = models.CharField(max_length=41, null=True, blank=True, unique=True)
    last_message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="direct") & Q(pair_key__isnull=False)) | (Q(kind="group") & Q(pair_key__isnull=True)),
                name="messaging_conversation_pair_key_only_direct",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"Conversation #{self.pk}"

    @property
    def is_group(self) -> bool:
        return self.kind == ConversationKind.GROUP


class MemberRole(models.TextChoices):
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=MemberRole.choices, default=MemberRole.MEMBER)
    # Active members see the conversation; someone who left or was removed keeps the row (history).
    is_active = models.BooleanField(default=True)
    # False while a conversation sits in the member's "Requests" folder (started by someone they don't follow).
    accepted = models.BooleanField(default=True)
    muted = models.BooleanField(default=False)
    last_read_message_id = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="messaging_membership_once"),
        ]
        indexes = [
            models.Index(fields=["user", "is_active", "accepted"], name="messaging_member_inbox_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"


class MessageKind(models.TextChoices):
    TEXT = "text", "Text"
    PAYMENT = "payment", "Payment"
    REQUEST = "request", "Request"
    ESCROW = "escrow", "Payment with protection"
    SPLIT = "split", "Split"
    SYSTEM = "system", "System"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="messages_sent"
    )
    kind = models.CharField(max_length=8, choices=MessageKind.choices, default=MessageKind.TEXT)
    body = models.TextField(blank=True)  # ≤ 10,000 characters, checked by the service
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Money cards: the message shows the current state of what it references.
    payment = models.ForeignKey("payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment_request = models.ForeignKey(
        "payments.PaymentRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escrow = models.ForeignKey("payments.Escrow", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    split = models.ForeignKey("payments.Split", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)  # tombstone: body cleared, row stays

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "-id"], name="messaging_msg_conv_id_idx"),
            models.Index(fields=["sender", "-id"], name="messaging_msg_sender_idx"),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} in {self.conversation_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user", "emoji"], name="messaging_reaction_once")]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message_id}"


def attachment_path(instance, filename: str) -> str:
    # Never the user's filename on disk: a random name under the conversation's folder.
    return f"{instance.message.conversation_id}/{instance.storage_name}"


@deconstructible(path="messaging.models.PrivateAttachmentStorage")
class PrivateAttachmentStorage(FileSystemStorage):
    """Private storage under ``PRIVATE_MEDIA_ROOT/attachments``, read at use time (tests may move it).

    Never under MEDIA_URL: files are served only by the access-checked view.
    """

    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return str(Path(settings.PRIVATE_MEDIA_ROOT) / "attachments")

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Attachments have no public URL.")


_attachment_storage = PrivateAttachmentStorage()


def attachment_storage():
    return _attachment_storage


class Attachment(models.Model):
    """An image or PDF on a message, stored privately and served only to members."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, storage=attachment_storage, max_length=255)
    storage_name = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACTIONED = "actioned", "Actioned"
    DISMISSED = "dismissed", "Dismissed"


class Report(models.Model):
    """A member reports a message or a whole conversation to staff."""

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reports")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=32)
    details = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="messaging_report_queue_idx")]

    def __str__(self) -> str:
        return f"Report #{self.pk} ({self.reason})"
