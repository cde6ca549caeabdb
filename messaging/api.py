"""Messaging API (mounted at /api/v1/): conversations, members, messages, reactions, read state,
attachments, search and reports.

- ``GET/POST /conversations/`` (``?folder=inbox|requests``); ``GET /conversations/{id}/``;
  ``POST …/accept/``, ``…/leave/``, ``…/mute/``, ``…/read/``;
- ``GET/POST /conversations/{id}/members/``, ``DELETE /conversations/{id}/members/{handle}/``;
- ``GET/POST /conversations/{id}/messages/`` (cursor pagination newest first; ``?after=<id>`` for
  everything newer, oldest first: how a client catches up after its websocket dropped);
- ``GET/PATCH/DELETE /messages/{id}/``, ``POST /messages/{id}/reactions/``;
- ``GET /attachments/{id}/`` (the file, members only); ``GET /messages/search/?q=``; ``POST /reports/``.

Thin: parse strictly (a number where text is expected is a 400 naming the field,
never a 500), call ``messaging.services`` / ``selectors`` / ``search`` /
``reports``, serialise. Messages always have the shape of
``messaging.services.message_serialize`` (the websocket's too). Privacy: anything
of a conversation the caller is not an active member of is a 404, never a 403.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db.models import F
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import (
    IDEMPOTENCY_KEY_OPTIONAL,
    DefaultCursorPagination,
    StrictBooleanField,
    StrictCharField,
    error_responses,
)
from core.errors import ValidationFailed
from core.idempotency import idempotent
from payments.api.parsers import JSON_ONLY, PARSERS, StrictJSONParser

from . import selectors, services
from .attachments import ATTACHMENTS_PER_MESSAGE, attachment_for, attachment_response, attachments_prepare
from .models import Membership, Message
from .reports import DETAILS_MAX_LENGTH, ReportReason, report_create
from .search import LIMIT_MAX, QUERY_MAX_LENGTH, conversation_title, message_search, search_snippet

TAGS = ["messaging"]
MAX_ID = 2**63 - 1


# --- Strict input fields ----------------------------------------------------------------------


class IdField(serializers.IntegerField):
    """A JSON integer, or (multipart forms) a string of ASCII digits; never a bool, float or "1.0"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        if isinstance(data, str) and not (data.isascii() and data.isdigit() and len(data) <= 19):
            self.fail("invalid")
        return super().to_internal_value(data)


def _valid(serializer_class, data) -> dict:
    form = serializer_class(data=data)
    form.is_valid(raise_exception=True)
    return form.validated_data


def _query_int(request, name: str) -> int | None:
    """A query parameter that must be a whole number of ASCII digits (no sign, at most 2**63 - 1), else 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > MAX_ID:
        raise ValidationFailed(
            f"{name} must be a non-negative whole number.", fields={name: ["Must be a non-negative whole number."]}
        )
    return int(value)


# --- Output shapes ----------------------------------------------------------------------------


def _avatar_url(user, request) -> str | None:
    if not user.avatar:
        return None
    url = user.avatar.url
    return request.build_absolute_uri(url) if request is not None else url


def member_data(membership: Membership, request) -> dict:
    user = membership.user
    return {
        "id": user.pk,
        "handle": user.handle,
        "name": user.name,
        "avatar_url": _avatar_url(user, request),
        "role": membership.role,
        "last_read_message_id": membership.last_read_message_id,
    }


def conversation_data(membership: Membership, request) -> dict:
    """A conversation as the member of ``membership`` sees it (``inbox_memberships`` rows)."""
    conv = membership.conversation
    members = getattr(conv, "active_memberships", None)
    if members is None:
        members = list(Membership.objects.filter(conversation=conv, is_active=True).select_related("user"))
    last = conv.last_message
    return {
        "id": conv.pk,
        "kind": conv.kind,
        "name": conversation_title(conv, request.user),
        "members": [member_data(m, request) for m in members],
        "last_message": services.message_serialize(last) if last is not None else None,
        "last_activity_at": conv.last_activity_at.isoformat() if conv.last_activity_at else None,
        "unread": getattr(membership, "unread", 0),
        "muted": membership.muted,
        "accepted": membership.accepted,
        "role": membership.role,
        "last_read_message_id": membership.last_read_message_id,
    }


class MemberSerializer(serializers.Serializer):
    """Documents ``member_data``."""

    id = serializers.IntegerField()
    handle = serializers.CharField()
    name = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)
    role = serializers.CharField(help_text="member or admin.")
    last_read_message_id = serializers.IntegerField(help_text="Read receipts: the last message they have read.")


class MessageSenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    handle = serializers.CharField()
    name = serializers.CharField()


class MessageReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    user_ids = serializers.ListField(child=serializers.IntegerField())


class MessageAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The uploaded name, sanitised.")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="Served to members only (404 for anyone else).")
    is_image = serializers.BooleanField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class MessageSerializer(serializers.Serializer):
    """Documents ``messaging.services.message_serialize`` (the websocket's shape too)."""

    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    kind = serializers.CharField(help_text="text, payment, request, escrow, split or system.")
    sender = MessageSenderSerializer(allow_null=True)
    body = serializers.CharField(help_text="Raw text (empty once deleted): render it escaped.")
    reply_to = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField(help_text="A tombstone: the text and attachments are gone.")
    payment = serializers.IntegerField(allow_null=True)
    payment_request = serializers.IntegerField(allow_null=True)
    escrow = serializers.IntegerField(allow_null=True)
    split = serializers.IntegerField(allow_null=True)
    reactions = MessageReactionSerializer(many=True)
    attachments = MessageAttachmentSerializer(many=True)


class ConversationSerializer(serializers.Serializer):
    """Documents ``conversation_data``."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="direct (1:1) or group.")
    name = serializers.CharField(help_text="The group's name, or the other person's name in a 1:1.")
    members = MemberSerializer(many=True)
    last_message = MessageSerializer(allow_null=True)
    last_activity_at = serializers.DateTimeField()
    unread = serializers.IntegerField()
    muted = serializers.BooleanField()
    accepted = serializers.BooleanField(help_text="False while in the Requests folder.")
    role = serializers.CharField(help_text="Your role: member or admin.")
    last_read_message_id = serializers.IntegerField(help_text="Yours.")


def _with_last_message(rows):
    return rows.prefetch_related("conversation__last_message__reactions", "conversation__last_message__attachments")


def _conversation_row(user, conversation) -> Membership:
    """The caller's membership row of ``conversation`` with everything ``conversation_data`` shows (404 if none)."""
    membership = services.membership_for(user, conversation)
    folder = "inbox" if membership.accepted else "requests"
    row = (
        _with_last_message(selectors.inbox_memberships(user, folder=folder))
        .filter(conversation_id=membership.conversation_id)
        .first()
    )
    if row is None:
        raise services.ConversationNotFound()
    return row


# --- Pagination -------------------------------------------------------------------------------


class InboxCursorPagination(DefaultCursorPagination):
    """Most recent activity first; the cursor's position is a moment, checked before it reaches a query."""

    ordering = ("-last_activity", "-conversation_id")
    position_pattern = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2})?")

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                moment = datetime.fromisoformat(cursor.position)
                # A forged offset ("0001-01-01 00:00:00+23:59") would overflow in the query: a 500.
                if not 1 < moment.year < 9999 or abs(moment.utcoffset() or timedelta(0)) > timedelta(hours=14):
                    raise ValueError("out of range")
            except (ValueError, OverflowError):
                raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor


class AscendingCursorPagination(DefaultCursorPagination):
    """Oldest first: ``?after=`` replays what a client missed in order."""

    ordering = "id"


def _paginate(view: APIView, paginator: CursorPagination, queryset, render) -> Response:
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response([render(item) for item in page])


def _paginated(name: str, item: type[serializers.Serializer]):
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.CharField(allow_null=True),
            "previous": serializers.CharField(allow_null=True),
            "results": item(many=True),
        },
    )


# --- Conversations ----------------------------------------------------------------------------


class ConversationCreateSerializer(serializers.Serializer):
    with_ = StrictCharField(required=False, max_length=64, help_text='1:1: "@handle" of the other person.')
    name = StrictCharField(required=False, max_length=200, help_text="Group: its name.")
    members = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        max_length=services.GROUP_MAX_MEMBERS,
        help_text='Group: the other people, as "@handle".',
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["with"] = fields.pop("with_")  # a Python keyword
        return fields

    def validate(self, attrs):
        direct = "with" in attrs
        group = "name" in attrs or "members" in attrs
        if direct == group:
            raise serializers.ValidationError('Give either "with" (a 1:1) or "name" and "members" (a group).')
        if group and not ("name" in attrs and "members" in attrs):
            raise serializers.ValidationError('A group needs both "name" and "members".')
        return attrs


class MuteSerializer(serializers.Serializer):
    muted = StrictBooleanField()


class ReadSerializer(serializers.Serializer):
    up_to_id = IdField(required=False, min_value=0, help_text="Default: the latest message.")


class MembersAddSerializer(serializers.Serializer):
    members = serializers.ListField(
        child=StrictCharField(max_length=64), allow_empty=False, max_length=services.GROUP_MAX_MEMBERS
    )


class ConversationListView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        operation_id="conversations_list",
        summary="Your conversations (the inbox)",
        description=(
            "Most recent activity first, cursor-paginated, each with its members, last message, unread count, "
            "muted and accepted. `folder=requests`: conversations started by people you don't follow, until you "
            "accept them (or reply)."
        ),
        parameters=[
            OpenApiParameter("folder", OpenApiTypes.STR, enum=["inbox", "requests"], description="Default inbox.")
        ],
        responses={200: _paginated("PaginatedConversationList", ConversationSerializer), **error_responses(400)},
        tags=TAGS,
    )
    def get(self, request):
        folder = request.query_params.get("folder", "inbox")
        if folder not in ("inbox", "requests"):
            raise ValidationFailed("folder is inbox or requests.", fields={"folder": ["inbox or requests."]})
        rows = _with_last_message(selectors.inbox_memberships(request.user, folder=folder)).annotate(
            last_activity=F("conversation__last_activity_at")
        )
        return _paginate(self, InboxCursorPagination(), rows, lambda m: conversation_data(m, request))

    @extend_schema(
        summary="Start a conversation",
        description=(
            '`{"with": "@bob"}` opens THE 1:1 conversation with that person (created if needed, never '
            'duplicated: 200 either way). `{"name": "Trip", "members": ["@a", "@b"]}` creates a group '
            "(you are its admin; at most 50 people): 201. Refused by the other person's message setting or a "
            "block: 403."
        ),
        request=ConversationCreateSerializer,
        responses={200: ConversationSerializer, 201: ConversationSerializer, **error_responses(400, 403)},
        tags=TAGS,
    )
    def post(self, request):
        data = _valid(ConversationCreateSerializer, request.data)
        if "with" in data:
            conversation = services.conversation_direct_open(request.user, other=data["with"])
            status = 200
        else:
            conversation = services.conversation_group_create(request.user, name=data["name"], members=data["members"])
            status = 201
        return Response(conversation_data(_conversation_row(request.user, conversation), request), status=status)


class ConversationDetailView(APIView):
    @extend_schema(
        operation_id="conversations_retrieve",
        summary="One conversation",
        responses={200: ConversationSerializer, **error_responses(404)},
        tags=TAGS,
    )
    def get(self, request, pk: int):
        return Response(conversation_data(_conversation_row(request.user, pk), request))


class _ConversationActionView(APIView):
    parser_classes = JSON_ONLY

    def _done(self, request, pk):
        return Response(conversation_data(_conversation_row(request.user, pk), request))


class ConversationAcceptView(_ConversationActionView):
    @extend_schema(
        summary="Accept a message request",
        description="Moves the conversation from the Requests folder to the inbox.",
        request=None,
        responses={200: ConversationSerializer, **error_responses(404)},
        tags=TAGS,
    )
    def post(self, request, pk: int):
        services.conversation_accept(request.user, conversation=pk)
        return self._done(request, pk)


class ConversationLeaveView(_ConversationActionView):
    @extend_schema(
        summary="Leave a conversation",
        description="Leave a group (the last admin hands over), or hide a 1:1 until a new message arrives.",
        request=None,
        responses={204: None, **error_responses(404)},
        tags=TAGS,
    )
    def post(self, request, pk: int):
        services.conversation_leave(request.user, conversation=pk)
        return Response(status=204)


class ConversationMuteView(_ConversationActionView):
    @extend_schema(
        summary="Mute or unmute",
        description='`{"muted": true}`: no notifications and not counted in the unread badge.',
        request=MuteSerializer,
        responses={200: ConversationSerializer, **error_responses(400, 404)},
        tags=TAGS,
    )
    def post(self, request, pk: int):
        services.membership_for(request.user, pk)
        data = _valid(MuteSerializer, request.data)
        services.conversation_mute(request.user, conversation=pk, muted=data["muted"])
        return self._done(request, pk)


class ConversationReadView(_ConversationActionView):
    @extend_schema(
        summary="Mark read",
        description=(
            '`{"up_to_id": n}` (default: the latest message). Never moves back. Members get `message.read` '
            "(read receipts)."
        ),
        request=ReadSerializer,
        responses={
            200: inline_serializer(name="ReadState", fields={"last_read_message_id": serializers.IntegerField()}),
            **error_responses(400, 404),
        },
        tags=TAGS,
    )
    def post(self, request, pk: int):
        services.membership_for(request.user, pk)
        data = _valid(ReadSerializer, request.data or {})
        last = services.conversation_mark_read(request.user, conversation=pk, up_to_id=data.get("up_to_id"))
        return Response({"last_read_message_id": last})


class MembersView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="The conversation's members",
        responses={200: MemberSerializer(many=True), **error_responses(404)},
        tags=TAGS,
    )
    def get(self, request, pk: int):
        membership = services.membership_for(request.user, pk)
        rows = Membership.objects.filter(conversation_id=membership.conversation_id, is_active=True)
        return Response([member_data(m, request) for m in rows.select_related("user").order_by("id")])

    @extend_schema(
        summary="Add people to a group",
        description='`{"members": ["@a", "@b"]}`. Group admins only (403 otherwise); at most 50 people in all.',
        request=MembersAddSerializer,
        responses={200: MemberSerializer(many=True), **error_responses(400, 403, 404)},
        tags=TAGS,
    )
    def post(self, request, pk: int):
        services.membership_for(request.user, pk)
        data = _valid(MembersAddSerializer, request.data)
        services.group_members_add(request.user, conversation=pk, members=data["members"])
        return self.get(request, pk)


class MemberDetailView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Remove someone from a group",
        description="Group admins only (403 otherwise). To leave yourself, use …/leave/.",
        request=None,
        responses={204: None, **error_responses(400, 403, 404)},
        tags=TAGS,
    )
    def delete(self, request, pk: int, handle: str):
        services.membership_for(request.user, pk)
        services.group_member_remove(request.user, conversation=pk, member=handle[:64])
        return Response(status=204)


# --- Messages ---------------------------------------------------------------------------------


class MessagePostSerializer(serializers.Serializer):
    body = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=services.MESSAGE_MAX_LENGTH + 1000,  # the service gives the precise message
    )
    reply_to = IdField(required=False, allow_null=True)


class MessageEditSerializer(serializers.Serializer):
    body = StrictCharField(trim_whitespace=False, max_length=services.MESSAGE_MAX_LENGTH + 1000)


class ReactionSerializer(serializers.Serializer):
    emoji = StrictCharField(max_length=32, trim_whitespace=False)


def _messages_queryset(conversation_id: int):
    return (
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("sender")
        .prefetch_related("reactions", "attachments")
    )


class ConversationMessagesView(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        summary="Messages of a conversation",
        description=(
            "Newest first, cursor-paginated (follow `next` to scroll back). With `after=<id>`: only messages "
            "with a larger id, OLDEST first, paginated the same way — how a client catches up after its "
            "websocket dropped, with nothing lost or duplicated."
        ),
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Only messages newer than this id (ascending)."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Up to 200 (default 50)."),
        ],
        responses={200: _paginated("PaginatedMessageList", MessageSerializer), **error_responses(400, 404)},
        tags=TAGS,
    )
    def get(self, request, pk: int):
        membership = services.membership_for(request.user, pk)
        after = _query_int(request, "after")
        rows = _messages_queryset(membership.conversation_id)
        if after is not None:
            paginator = AscendingCursorPagination()
            rows = rows.filter(id__gt=after)
        else:
            paginator = DefaultCursorPagination()
        return _paginate(self, paginator, rows, services.message_serialize)

    @extend_schema(
        summary="Send a message",
        description=(
            'JSON `{"body": "…", "reply_to": id}`, or multipart/form-data with `body`, `reply_to` and up to '
            f"{ATTACHMENTS_PER_MESSAGE} `files` (JPEG, PNG, GIF, WebP images or PDFs, at most 10 MB each, "
            "checked from their content). Text up to 10,000 characters. Every member's sockets get "
            "`message.new`. An optional `Idempotency-Key` header makes a retry send it once."
        ),
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        request={
            "application/json": MessagePostSerializer,
            "multipart/form-data": inline_serializer(
                name="MessagePostMultipart",
                fields={
                    "body": serializers.CharField(required=False),
                    "reply_to": serializers.IntegerField(required=False),
                    "files": serializers.ListField(child=serializers.FileField(), required=False),
                },
            ),
        },
        responses={201: MessageSerializer, **error_responses(400, 403, 404)},
        tags=TAGS,
    )
    @idempotent
    def post(self, request, pk: int):
        services.membership_for(request.user, pk)  # a stranger learns nothing, not even about their files
        data = _valid(MessagePostSerializer, request.data)
        files = request.FILES.getlist("files") if hasattr(request.FILES, "getlist") else []
        attachments = attachments_prepare(request.user, files) if files else []
        message = services.message_post(
            request.user,
            conversation=pk,
            body=data.get("body", ""),
            reply_to=data.get("reply_to"),
            attachments=attachments,
        )
        message = _messages_queryset(message.conversation_id).get(pk=message.pk)
        return Response(services.message_serialize(message), status=201)


class MessageDetailView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(summary="One message", responses={200: MessageSerializer, **error_responses(404)}, tags=TAGS)
    def get(self, request, pk: int):
        message, _ = services.message_for(request.user, pk)
        return Response(services.message_serialize(_messages_queryset(message.conversation_id).get(pk=message.pk)))

    @extend_schema(
        summary="Edit your message",
        description='`{"body": "…"}` within 15 minutes of sending it (409 after); shown as edited.',
        request=MessageEditSerializer,
        responses={200: MessageSerializer, **error_responses(400, 403, 404, 409)},
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        services.message_for(request.user, pk)
        data = _valid(MessageEditSerializer, request.data)
        message = services.message_edit(request.user, message=pk, body=data["body"])
        return Response(services.message_serialize(_messages_queryset(message.conversation_id).get(pk=message.pk)))

    @extend_schema(
        summary="Delete your message for everyone",
        description="The text, reactions and attachments go; a tombstone stays (returned).",
        request=None,
        responses={200: MessageSerializer, **error_responses(403, 404)},
        tags=TAGS,
    )
    def delete(self, request, pk: int):
        message = services.message_delete(request.user, message=pk)
        return Response(services.message_serialize(_messages_queryset(message.conversation_id).get(pk=message.pk)))


class MessageReactionsView(APIView):
    parser_classes = JSON_ONLY

    @extend_schema(
        summary="Toggle a reaction",
        description='`{"emoji": "👍"}` adds your reaction, or removes it if you already reacted with it.',
        request=ReactionSerializer,
        responses={
            200: inline_serializer(
                name="ReactionToggled", fields={"on": serializers.BooleanField(), "message": MessageSerializer()}
            ),
            **error_responses(400, 404, 409),
        },
        tags=TAGS,
    )
    def post(self, request, pk: int):
        services.message_for(request.user, pk)
        data = _valid(ReactionSerializer, request.data)
        on = services.reaction_toggle(request.user, message=pk, emoji=data["emoji"])
        message, _ = services.message_for(request.user, pk)
        message = _messages_queryset(message.conversation_id).get(pk=message.pk)
        return Response({"on": on, "message": services.message_serialize(message)})


class AttachmentDownloadView(APIView):
    @extend_schema(
        operation_id="attachments_download",
        summary="Download an attachment",
        description=(
            "The file itself, for active members of its conversation (404 for anyone else, and once the "
            "message is deleted): images inline, PDFs as a download, with `X-Content-Type-Options: nosniff` "
            "and a sandboxing Content-Security-Policy. The same file as the message's `url`, for app clients "
            "signed in with a session token."
        ),
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **error_responses(404)},
        tags=TAGS,
    )
    def get(self, request, pk: int):
        return attachment_response(attachment_for(request.user, pk))


# --- Search -----------------------------------------------------------------------------------


class MessageSearchView(APIView):
    @extend_schema(
        summary="Search your messages",
        description=(
            "Only conversations you are an active member of; never deleted messages. On PostgreSQL: full-text "
            'search with web-search syntax ("a phrase", -excluded, or), best match first; elsewhere every word '
            "must appear, newest first. `snippet_html` is escaped text with the matches in `<mark>`."
        ),
        parameters=[
            OpenApiParameter(
                "q", OpenApiTypes.STR, required=True, description=f"At most {QUERY_MAX_LENGTH} characters."
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"1–{LIMIT_MAX}, default 50."),
        ],
        responses={
            200: inline_serializer(
                name="MessageSearchResults",
                fields={
                    "results": inline_serializer(
                        name="MessageSearchHit",
                        fields={
                            "message": MessageSerializer(),
                            "conversation": inline_serializer(
                                name="MessageSearchConversation",
                                fields={
                                    "id": serializers.IntegerField(),
                                    "kind": serializers.CharField(),
                                    "name": serializers.CharField(),
                                },
                            ),
                            "snippet_html": serializers.CharField(),
                        },
                        many=True,
                    )
                },
            ),
            **error_responses(400),
        },
        tags=TAGS,
    )
    def get(self, request):
        q = request.query_params.get("q", "")
        limit = _query_int(request, "limit")
        hits = message_search(request.user, q, limit=limit if limit is not None else 50)
        return Response(
            {
                "results": [
                    {
                        "message": services.message_serialize(m),
                        "conversation": {
                            "id": m.conversation_id,
                            "kind": m.conversation.kind,
                            "name": conversation_title(m.conversation, request.user),
                        },
                        "snippet_html": str(search_snippet(m.body, q)),
                    }
                    for m in hits
                ]
            }
        )


# --- Reports ----------------------------------------------------------------------------------


REASONS_HELP = "; ".join(f"{value} ({label})" for value, label in ReportReason.choices)


class ReportCreateSerializer(serializers.Serializer):
    conversation = IdField()
    message = IdField(required=False, allow_null=True)
    reason = StrictCharField(help_text=REASONS_HELP)
    details = StrictCharField(required=False, allow_blank=True, max_length=DETAILS_MAX_LENGTH)

    def validate_reason(self, value):
        if value not in ReportReason.values:
            raise serializers.ValidationError(f"One of: {', '.join(ReportReason.values)}.")
        return value


ReportSerializer = inline_serializer(
    name="Report",
    fields={
        "id": serializers.IntegerField(),
        "conversation": serializers.IntegerField(),
        "message": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(help_text=REASONS_HELP),
        "details": serializers.CharField(),
        "status": serializers.CharField(help_text="open, actioned or dismissed."),
        "created_at": serializers.DateTimeField(),
    },
)


class ReportCreateView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        summary="Report a conversation or a message to staff",
        description=(
            '`{"conversation": id, "message": id (optional), "reason": "spam|scam|harassment|hate|other", '
            '"details": "…"}` (details at most 2,000 characters). Members only (404 otherwise). One open report '
            "per message (or conversation): reporting again returns the open one with 200 instead of 201."
        ),
        request=ReportCreateSerializer,
        responses={201: ReportSerializer, 200: ReportSerializer, **error_responses(400, 404, 409)},
        tags=TAGS,
    )
    def post(self, request):
        data = _valid(ReportCreateSerializer, request.data)
        report = report_create(
            request.user,
            conversation=data["conversation"],
            message=data.get("message"),
            reason=data["reason"],
            details=data.get("details", ""),
        )
        body = {
            "id": report.pk,
            "conversation": report.conversation_id,
            "message": report.message_id,
            "reason": report.reason,
            "details": report.details,
            "status": report.status,
            "created_at": report.created_at.isoformat(),
        }
        return Response(body, status=201 if getattr(report, "created", False) else 200)


urlpatterns = [
    path("conversations/", ConversationListView.as_view(), name="api-conversations"),
    path("conversations/<int:pk>/", ConversationDetailView.as_view(), name="api-conversation"),
    path("conversations/<int:pk>/accept/", ConversationAcceptView.as_view(), name="api-conversation-accept"),
    path("conversations/<int:pk>/leave/", ConversationLeaveView.as_view(), name="api-conversation-leave"),
    path("conversations/<int:pk>/mute/", ConversationMuteView.as_view(), name="api-conversation-mute"),
    path("conversations/<int:pk>/read/", ConversationReadView.as_view(), name="api-conversation-read"),
    path("conversations/<int:pk>/members/", MembersView.as_view(), name="api-conversation-members"),
    path(
        "conversations/<int:pk>/members/<str:handle>/",
        MemberDetailView.as_view(),
        name="api-conversation-member",
    ),
    path("conversations/<int:pk>/messages/", ConversationMessagesView.as_view(), name="api-conversation-messages"),
    path("messages/search/", MessageSearchView.as_view(), name="api-messages-search"),
    path("messages/<int:pk>/", MessageDetailView.as_view(), name="api-message"),
    path("messages/<int:pk>/reactions/", MessageReactionsView.as_view(), name="api-message-reactions"),
    path("attachments/<int:pk>/", AttachmentDownloadView.as_view(), name="api-attachment"),
    path("reports/", ReportCreateView.as_view(), name="api-reports"),
]
