"""HTML: the inbox, conversations and what a member does in them (mounted at /messages/, namespace ``messaging``).

Views parse, call ``messaging.services`` and render. Privacy: every view of a
conversation resolves the caller's active membership through the services, and
anything that is not theirs answers 404, never 403 (a stranger must not learn a
conversation exists).

Every POST works without JavaScript (it redirects back). ``static/js/messaging.js``
sends the same forms with ``X-Requested-With: fetch`` and then gets HTML fragments
(a message ``<li>``) or a JSON error ``{"error": {"code", "message", "fields"}}``
instead of a redirect. Live updates re-fetch fragments:

- ``<id>/messages/?after=<id>``  messages newer than an id (new message, catch-up after a reconnect)
- ``<id>/messages/?id=<id>``     one message (edited, deleted, reacted, card status changed)
- ``<id>/messages/?before=<id>`` older messages ("Load earlier")
- ``<id>/receipts/``             the "Seen" / "Seen by" line
- ``?partial=1`` on the inbox    the tabs and the list
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Block
from accounts.selectors import is_blocked_between
from core.errors import DomainError, NotFound, ValidationFailed
from core.http import safe_next

from . import selectors, services
from .forms import EditForm, GroupForm, MembersAddForm, MessageForm, RenameForm
from .models import Conversation, ConversationKind, Membership, Message, MessageKind
from .money import cards_decorate

PAGE_SIZE = 50  # messages per page of a conversation
INBOX_PAGE_SIZE = 50
REACTION_CHOICES = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥"]
CARD_KINDS = {MessageKind.PAYMENT, MessageKind.REQUEST, MessageKind.ESCROW, MessageKind.SPLIT}
MONEY_CARD_TEMPLATE = "messaging/money/_card.html"


# --- Helpers ----------------------------------------------------------------------------------


def _is_fetch(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _error_json(exc: DomainError) -> JsonResponse:
    return JsonResponse({"error": exc.as_dict()}, status=exc.status)


class BadParameter(ValidationFailed):
    code = "bad_parameter"


def _int_param(request, name: str) -> int | None:
    """An optional non-negative integer query parameter; anything else is a 400, never a 500."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadParameter(f"{name} must be a message id.", fields={name: ["Not a message id."]})
    return int(raw)


def _membership(user, pk) -> Membership:
    """The caller's active membership, else 404 (the services raise NotFound for strangers)."""
    try:
        return services.membership_for(user, pk)
    except NotFound:
        raise Http404("No such conversation.") from None


def _message_in(user, conversation_id: int, message_id: int) -> Message:
    """A message of this conversation that the caller may see, else 404."""
    try:
        message, _ = services.message_for(user, message_id)
    except NotFound:
        raise Http404("No such message.") from None
    if message.conversation_id != conversation_id:
        raise Http404("No such message.")
    return message


def _conversation_url(pk: int, message_id: int | None = None) -> str:
    url = reverse("messaging:conversation", args=[pk])
    return f"{url}#m-{message_id}" if message_id else url


_money_card_found = False


def _has_money_card() -> bool:
    """Whether the money views' card template is in place (else a one-line fallback is shown)."""
    global _money_card_found
    if not _money_card_found:
        try:
            get_template(MONEY_CARD_TEMPLATE)
        except TemplateDoesNotExist:
            return False
        _money_card_found = True
    return True


def _decorate(thread: list[Message], user, *, last_read: int | None = None) -> list[Message]:
    """Per-message facts for the templates: money cards' current state (a fixed number of
    queries, ``messaging.money.cards_decorate``), the rest from what is already loaded."""
    cards_decorate(thread, user)
    now = timezone.now()
    unread_marked = False
    for m in thread:
        deleted = m.deleted_at is not None
        m.mine = m.sender_id == user.pk
        m.is_card = m.kind in CARD_KINDS
        m.is_system = m.kind == MessageKind.SYSTEM
        m.can_edit = (
            m.mine and m.kind == MessageKind.TEXT and not deleted and now - m.created_at <= services.EDIT_WINDOW
        )
        m.can_delete = m.mine and m.kind == MessageKind.TEXT and not deleted
        m.can_react = not deleted and not m.is_system
        chips: dict[str, dict] = {}
        for reaction in m.reactions.all():
            chip = chips.setdefault(reaction.emoji, {"emoji": reaction.emoji, "count": 0, "mine": False})
            chip["count"] += 1
            chip["mine"] = chip["mine"] or reaction.user_id == user.pk
        m.chips = list(chips.values())
        m.first_unread = False
        if last_read is not None and not unread_marked and not m.mine and not m.is_system and m.pk > last_read:
            m.first_unread = unread_marked = True
    return thread


def _active_members(conversation_id: int) -> list[Membership]:
    return list(
        Membership.objects.filter(conversation_id=conversation_id, is_active=True).select_related("user").order_by("id")
    )


def _membership_and_members(user, pk) -> tuple[Membership, list[Membership]]:
    """The caller's active membership (else 404, like ``_membership``) and the active members, in one query.

    Each member row also says whether the caller blocked that person or was blocked by them, so the
    block checks of the page (the thread hidden from someone who blocked the other person, "You
    can't message @x") need no query of their own when the other person is an active member.
    """
    members = list(
        Membership.objects.filter(conversation_id=pk, is_active=True)
        .select_related("conversation", "user")
        .annotate(
            blocked_by_viewer=Exists(Block.objects.filter(blocker_id=user.pk, blocked_id=OuterRef("user_id"))),
            blocks_viewer=Exists(Block.objects.filter(blocker_id=OuterRef("user_id"), blocked_id=user.pk)),
        )
        .order_by("id")
    )
    membership = next((m for m in members if m.user_id == user.pk), None)
    if membership is None:
        raise Http404("No such conversation.")
    conversation = membership.conversation
    for m in members:
        m.conversation = conversation  # one instance for the whole page
    if conversation.kind == ConversationKind.DIRECT:
        other = next((m for m in members if m.user_id != user.pk), None)
        hidden = other.blocked_by_viewer if other is not None else services._hidden_by_block(user, conversation)
        if hidden:
            raise Http404("No such conversation.")
    return membership, members


def _blocked_with(user, other, members: list[Membership]) -> bool:
    """``is_blocked_between(user, other)``, read from the member rows when they carry it."""
    row = next((m for m in members if m.user_id == other.pk and hasattr(m, "blocks_viewer")), None)
    if row is None:
        return is_blocked_between(user, other)
    return row.blocks_viewer or row.blocked_by_viewer


def _receipt(conversation, user, members: list[Membership], latest: list[Message] | None = None) -> dict | None:
    """Read receipts: 1:1 "Seen" under the viewer's latest message the other person has read;
    groups "Seen by …" under the latest message (everyone but its sender and the viewer).

    ``latest``: the conversation's newest messages, oldest first, when the caller has them (the
    page it shows): the answer is read from them without a query when it is among them.
    """
    others = [m for m in members if m.user_id != user.pk]
    if not others:
        return None
    if conversation.kind == ConversationKind.DIRECT:
        seen_up_to = others[0].last_read_message_id
        if not seen_up_to:
            return None
        anchor = next(
            (
                m.pk
                for m in reversed(latest or [])
                if m.sender_id == user.pk and m.pk <= seen_up_to and m.kind != MessageKind.SYSTEM
            ),
            None,
        )
        if anchor is None:
            anchor = (
                Message.objects.filter(conversation_id=conversation.pk, sender=user, id__lte=seen_up_to)
                .exclude(kind=MessageKind.SYSTEM)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
        return {"anchor": anchor, "readers": [], "group": False} if anchor else None
    if latest:
        latest = {"id": latest[-1].pk, "sender_id": latest[-1].sender_id}
    else:
        latest = (
            Message.objects.filter(conversation_id=conversation.pk).order_by("-id").values("id", "sender_id").first()
        )
    if latest is None:
        return None
    readers = [m.user for m in others if m.last_read_message_id >= latest["id"] and m.user_id != latest["sender_id"]]
    return {"anchor": latest["id"], "readers": readers, "group": True} if readers else None


def _header_context(request, membership: Membership, members: list[Membership]) -> dict:
    conversation = membership.conversation
    user = request.user
    others = [m.user for m in members if m.user_id != user.pk]
    other = None
    can_post, cannot_post = True, ""
    if conversation.kind == ConversationKind.DIRECT:
        other = others[0] if others else services.other_member(conversation, user)
        if other is None or not other.is_active:
            can_post, cannot_post = False, "This person can't receive messages."
        elif _blocked_with(user, other, members):
            can_post, cannot_post = False, f"You can't message @{other.handle}."
    return {
        "conversation": conversation,
        "membership": membership,
        "members": members,
        "others": others,
        "other": other,
        "is_group": conversation.kind == ConversationKind.GROUP,
        "is_admin": membership.role == "admin",
        "can_post": can_post,
        "cannot_post": cannot_post,
        "title": conversation.name if conversation.kind == ConversationKind.GROUP else (other.name if other else ""),
        "rename_form": RenameForm(initial={"name": conversation.name}),
        "add_form": MembersAddForm(),
    }


def _thread_context(request, conversation, thread: list[Message]) -> dict:
    return {
        "conversation": conversation,
        "thread": thread,
        "has_money_card": _has_money_card(),
        "reaction_choices": REACTION_CHOICES,
    }


def _one_message(conversation_id: int, message_id: int) -> list[Message]:
    """``[message]`` if it belongs to the conversation, else ``[]`` (loaded like any page of messages)."""
    rows = selectors.conversation_messages(conversation_id, after=max(message_id - 1, 0), limit=1)
    return [m for m in rows if m.pk == message_id]


def _render_message(request, conversation, message_id: int, *, status: int = 200) -> HttpResponse:
    """One message ``<li>`` as the fetch answer to post/edit/delete/react."""
    thread = _decorate(_one_message(conversation.pk, message_id), request.user)
    response = render(
        request, "messaging/_messages.html", _thread_context(request, conversation, thread), status=status
    )
    response["X-Message-Id"] = str(message_id)
    return response


# --- Inbox ----------------------------------------------------------------------------------------


def _inbox_rows(rows: list[Membership], user) -> None:
    """Title and avatars of each inbox row, from the prefetched memberships (no queries)."""
    for row in rows:
        conversation = row.conversation
        active = [m.user for m in conversation.active_memberships if m.user_id != user.pk]
        if conversation.kind == ConversationKind.GROUP:
            row.title = conversation.name
            row.people = active[:2]
            row.member_count = len(active) + 1
        else:
            # The other person even if they hid the thread (their membership is inactive then).
            everyone = [m.user for m in conversation.all_memberships if m.user_id != user.pk]
            other = everyone[0] if everyone else None
            row.title = other.name if other else "Conversation"
            row.handle = other.handle if other else ""
            row.people = [other] if other else []
        last = conversation.last_message
        row.last = last
        row.last_mine = last is not None and last.sender_id == user.pk


@login_required
@require_GET
def inbox(request):
    """Conversations, newest activity first, with unread counts; ``?folder=requests`` for message requests."""
    user = request.user
    folder = "requests" if request.GET.get("folder") == "requests" else "inbox"
    # The money-card links of the last messages are loaded afterwards for the cards only
    # (``card_links_load``): joined here they made the query 8 relations, mostly planning time.
    rows = selectors.inbox_memberships(user, folder=folder).prefetch_related(
        Prefetch(
            "conversation__memberships",
            queryset=Membership.objects.filter(conversation__kind=ConversationKind.DIRECT).select_related("user"),
            to_attr="all_memberships",
        )
    )
    paginator = Paginator(rows, INBOX_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page_rows = list(page.object_list)
    selectors.card_links_load([row.conversation.last_message for row in page_rows])
    _inbox_rows(page_rows, user)
    context = {
        "folder": folder,
        "page": page,
        "rows": page_rows,
        "requests_count": selectors.requests_count(user),
    }
    if request.GET.get("partial"):
        return render(request, "messaging/_inbox_body.html", context)
    return render(request, "messaging/inbox.html", context)


@login_required
@require_GET
def unread(request):
    """The nav badge: ``{"unread": conversations with unread messages, "requests": message requests}``."""
    return JsonResponse(
        {
            "unread": selectors.unread_conversations_count(request.user),
            "requests": selectors.requests_count(request.user),
        }
    )


# --- Starting conversations ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def start(request, handle: str):
    """GET: "Start a conversation with @x?" (or straight to the existing one); POST: open it."""
    user = request.user
    if "\x00" in handle:  # PostgreSQL text cannot hold NUL: no such person, not a 500
        raise Http404("No such person.")
    other = get_object_or_404(get_user_model(), handle=handle.lower().removeprefix("@"), is_active=True)
    error = None
    if other.pk == user.pk:
        error = "You can't start a conversation with yourself."
    elif request.method == "POST":
        try:
            conversation = services.conversation_direct_open(user, other=other)
        except DomainError as exc:
            error = exc.message
        else:
            return redirect(_conversation_url(conversation.pk))
    else:
        low, high = sorted((user.pk, other.pk))
        existing = Conversation.objects.filter(pair_key=f"{low}:{high}").values_list("pk", flat=True).first()
        if existing is None:
            try:
                services._check_can_start(user, other)  # the recipient's policy and blocks, before asking
            except DomainError as exc:
                error = exc.message
        elif is_blocked_between(user, other):
            error = f"You can't message @{other.handle}."
        elif Membership.objects.filter(conversation_id=existing, user=user, is_active=True).exists():
            return redirect(_conversation_url(existing))
    status = 200 if error is None else (400 if other.pk == user.pk else 403)
    return render(request, "messaging/start.html", {"other": other, "error": error}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def group_new(request):
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            conversation = services.conversation_group_create(
                request.user, name=form.cleaned_data["name"], members=form.cleaned_data["members"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Group “{conversation.name}” created.")
            return redirect(_conversation_url(conversation.pk))
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "messaging/group_new.html", {"form": form}, status=status)


def _form_error(form, exc: DomainError) -> None:
    placed = False
    for field, errors in (exc.fields or {}).items():
        if field in form.fields:
            form.add_error(field, exc.message if len(exc.fields) == 1 else errors)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# --- A conversation ---------------------------------------------------------------------------------


@login_required
@require_GET
def conversation(request, pk: int):
    """The latest 50 messages (``?before=<id>`` for older ones); opening it marks them read."""
    membership, members = _membership_and_members(request.user, pk)
    try:
        before = _int_param(request, "before")
        reply_to = _int_param(request, "reply")
    except BadParameter as exc:
        return HttpResponseBadRequest(exc.message)
    if request.GET.get("partial") == "header":
        return render(request, "messaging/_header.html", _header_context(request, membership, members))
    form = MessageForm(initial={"reply_to": reply_to} if reply_to else None)
    return _render_conversation(
        request, membership, before=before, form=form, mark_read=before is None, members=members
    )


def _render_conversation(request, membership, *, before=None, form, mark_read=False, status=200, members=None):
    user = request.user
    conversation = membership.conversation
    # One message more than a page says whether there are older ones (no separate EXISTS query).
    thread = selectors.conversation_messages(conversation.pk, before=before, limit=PAGE_SIZE + 1)
    has_older = len(thread) > PAGE_SIZE
    if has_older:
        thread = thread[1:]
    last_read = membership.last_read_message_id
    _decorate(thread, user, last_read=last_read)
    if mark_read and thread and thread[-1].pk > last_read:
        services.conversation_mark_read(user, conversation=conversation.pk, up_to_id=thread[-1].pk)
    if members is None:
        members = _active_members(conversation.pk)
    context = _header_context(request, membership, members)
    context.update(_thread_context(request, conversation, thread))
    reply = None
    reply_id = form["reply_to"].value()
    if reply_id:
        try:
            reply = _message_in(user, conversation.pk, int(reply_id))
        except (Http404, TypeError, ValueError):
            reply = None
    context.update(
        {
            "form": form,
            "reply": reply,
            "before": before,
            "has_older": has_older,
            "last_id": thread[-1].pk if thread else 0,
            "receipt": _receipt(conversation, user, members, latest=thread if before is None else None),
            "max_length": services.MESSAGE_MAX_LENGTH,
        }
    )
    return render(request, "messaging/conversation.html", context, status=status)


@login_required
@require_GET
def fragment(request, pk: int):
    """Rendered messages: ``?after=<id>``, ``?before=<id>`` or ``?id=<id>`` (header ``X-Has-More``)."""
    membership = _membership(request.user, pk)
    conversation = membership.conversation
    try:
        one, after, before = _int_param(request, "id"), _int_param(request, "after"), _int_param(request, "before")
    except BadParameter as exc:
        return _error_json(exc)
    has_more = False
    if one is not None:
        thread = _one_message(conversation.pk, one)
        if not thread:
            raise Http404("No such message.")
    elif after is not None:
        thread = selectors.conversation_messages(conversation.pk, after=after, limit=PAGE_SIZE + 1)
        has_more, thread = len(thread) > PAGE_SIZE, thread[:PAGE_SIZE]
    else:
        thread = selectors.conversation_messages(conversation.pk, before=before, limit=PAGE_SIZE + 1)
        has_more, thread = len(thread) > PAGE_SIZE, thread[-PAGE_SIZE:]
    _decorate(thread, request.user)
    response = render(request, "messaging/_messages.html", _thread_context(request, conversation, thread))
    response["X-Has-More"] = "1" if has_more else "0"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def receipts(request, pk: int):
    """The read-receipt line (``data-anchor`` = the message it belongs under)."""
    membership = _membership(request.user, pk)
    members = _active_members(membership.conversation_id)
    receipt = _receipt(membership.conversation, request.user, members)
    response = render(request, "messaging/_receipt.html", {"receipt": receipt})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def post(request, pk: int):
    """Send a message (text, reply, attachments). Without JS: back to the thread; with fetch: the new ``<li>``."""
    membership = _membership(request.user, pk)
    form = MessageForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise ValidationFailed(
                "Check the message.", fields={name: list(errors) for name, errors in form.errors.items()}
            )
        attachments = _prepare_attachments(request.user, form.cleaned_data["files"])
        message = services.message_post(
            request.user,
            conversation=membership.conversation_id,
            body=form.cleaned_data["body"],
            reply_to=form.cleaned_data["reply_to"],
            attachments=attachments,
        )
    except services.MessageNotFound:  # the message replied to is not visible (any more)
        gone = ValidationFailed("The message you replied to is not available.", fields={"reply_to": ["Gone."]})
        return _post_failed(request, membership, form, gone)
    except NotFound:
        raise Http404("No such conversation.") from None
    except DomainError as exc:
        return _post_failed(request, membership, form, exc)
    if _is_fetch(request):
        return _render_message(request, membership.conversation, message.pk, status=201)
    return redirect(_conversation_url(membership.conversation_id, message.pk))


def _post_failed(request, membership, form, exc: DomainError):
    if _is_fetch(request):
        return _error_json(exc)
    _form_error(form, exc)
    return _render_conversation(request, membership, form=form, status=exc.status)


def _prepare_attachments(user, files: list) -> list:
    """Validate uploads (type from content, ≤ 10 MB) through ``messaging.attachments``."""
    if not files:
        return []
    from .attachments import attachments_prepare

    return list(attachments_prepare(user, files))


@login_required
@require_POST
def read(request, pk: int):
    """Mark read up to ``up_to_id`` (default: the latest message). JSON ``{"last_read_message_id"}``."""
    membership = _membership(request.user, pk)
    raw = request.POST.get("up_to_id", "")
    up_to = None
    if raw != "":
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            return _error_json(ValidationFailed("up_to_id must be a message id.", fields={"up_to_id": ["Not an id."]}))
        up_to = int(raw)
    try:
        last = services.conversation_mark_read(request.user, conversation=membership.conversation_id, up_to_id=up_to)
    except NotFound:
        raise Http404("No such conversation.") from None
    except DomainError as exc:
        return _error_json(exc)
    if not _is_fetch(request):
        return redirect(_conversation_url(membership.conversation_id))
    return JsonResponse({"last_read_message_id": last})


# --- One message: edit, delete, react ---------------------------------------------------------------


def _message_action_failed(request, pk: int, exc: DomainError):
    if isinstance(exc, NotFound):
        raise Http404("No such message.")
    if _is_fetch(request):
        return _error_json(exc)
    messages.error(request, exc.message)
    return redirect(_conversation_url(pk))


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, pk: int, message_id: int):
    """Edit one's own text message within 15 minutes. GET: the form (``?partial=1``: just the form)."""
    membership = _membership(request.user, pk)
    message = _message_in(request.user, pk, message_id)
    if request.method == "GET":
        if not (message.sender_id == request.user.pk and message.kind == MessageKind.TEXT and not message.deleted_at):
            raise Http404("No such message.")
        form = EditForm(initial={"body": message.body})
        template = "messaging/_edit_form.html" if request.GET.get("partial") else "messaging/edit.html"
        context = {"form": form, "message": message, "conversation": membership.conversation}
        context["window_open"] = timezone.now() - message.created_at <= services.EDIT_WINDOW
        return render(request, template, context)
    form = EditForm(request.POST)
    if not form.is_valid():
        exc = ValidationFailed("Write a message.", fields={"body": ["Required."]})
        return _message_action_failed(request, pk, exc)
    try:
        services.message_edit(request.user, message=message.pk, body=form.cleaned_data["body"])
    except DomainError as exc:
        return _message_action_failed(request, pk, exc)
    if _is_fetch(request):
        return _render_message(request, membership.conversation, message.pk)
    return redirect(_conversation_url(pk, message.pk))


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, pk: int, message_id: int):
    """Delete one's own message for everyone (a tombstone stays). GET: a confirm page."""
    membership = _membership(request.user, pk)
    message = _message_in(request.user, pk, message_id)
    if request.method == "GET":
        if message.sender_id != request.user.pk or message.kind != MessageKind.TEXT:
            raise Http404("No such message.")
        return render(request, "messaging/delete.html", {"message": message, "conversation": membership.conversation})
    try:
        services.message_delete(request.user, message=message.pk)
    except DomainError as exc:
        return _message_action_failed(request, pk, exc)
    if _is_fetch(request):
        return _render_message(request, membership.conversation, message.pk)
    messages.success(request, "Message deleted.")
    return redirect(_conversation_url(pk, message.pk))


@login_required
@require_POST
def react(request, pk: int, message_id: int):
    """Toggle an emoji reaction."""
    membership = _membership(request.user, pk)
    message = _message_in(request.user, pk, message_id)
    try:
        services.reaction_toggle(request.user, message=message.pk, emoji=request.POST.get("emoji", ""))
    except DomainError as exc:
        return _message_action_failed(request, pk, exc)
    if _is_fetch(request):
        return _render_message(request, membership.conversation, message.pk)
    return redirect(_conversation_url(pk, message.pk))


# --- Membership: accept, leave, mute; groups: rename, add, remove -------------------------------------


def _membership_action(request, pk: int, action, success: str | None, *, default_next: str | None = None):
    _membership(request.user, pk)
    try:
        action()
    except NotFound:
        raise Http404("No such conversation.") from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if success:
            messages.success(request, success)
    return redirect(safe_next(request, default_next or _conversation_url(pk)))


@login_required
@require_POST
def accept(request, pk: int):
    return _membership_action(
        request, pk, lambda: services.conversation_accept(request.user, conversation=pk), "Moved to your inbox."
    )


@login_required
@require_POST
def leave(request, pk: int):
    membership = _membership(request.user, pk)
    is_group = membership.conversation.kind == ConversationKind.GROUP
    return _membership_action(
        request,
        pk,
        lambda: services.conversation_leave(request.user, conversation=pk),
        "You left the group." if is_group else "Conversation removed from your inbox.",
        default_next=reverse("messaging:inbox"),
    )


@login_required
@require_POST
def mute(request, pk: int):
    muted = request.POST.get("muted") in ("1", "true", "on")
    return _membership_action(
        request,
        pk,
        lambda: services.conversation_mute(request.user, conversation=pk, muted=muted),
        "Muted: no notifications and no badge for this conversation." if muted else "Unmuted.",
    )


@login_required
@require_POST
def rename(request, pk: int):
    form = RenameForm(request.POST)
    name = request.POST.get("name", "") if not form.is_valid() else form.cleaned_data["name"]
    return _membership_action(
        request, pk, lambda: services.conversation_rename(request.user, conversation=pk, name=name), "Group renamed."
    )


@login_required
@require_POST
def members_add(request, pk: int):
    form = MembersAddForm(request.POST)
    handles = form.cleaned_data["members"] if form.is_valid() else []

    def add():
        if not handles:
            raise ValidationFailed("Add at least one @handle.", fields={"members": ["Required."]})
        services.group_members_add(request.user, conversation=pk, members=handles)

    return _membership_action(request, pk, add, "Added.")


@login_required
@require_POST
def member_remove(request, pk: int):
    handle = request.POST.get("member", "")
    return _membership_action(
        request,
        pk,
        lambda: services.group_member_remove(request.user, conversation=pk, member=f"@{handle.lstrip('@')}"),
        f"Removed @{handle.lstrip('@')}.",
    )
