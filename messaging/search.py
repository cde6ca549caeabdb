"""Search your own messages: full-text on PostgreSQL, a simple ``icontains`` fallback elsewhere.

``message_search(user, q)`` looks only at messages of conversations the user is
an ACTIVE member of, never deleted ones, never system notices, and never those of
a 1:1 thread the user hid by blocking the other person. The page
``/messages/search/?q=`` (``messaging:search``) lists the hits with the
conversation's name, the sender, an escaped snippet with the match highlighted
and a link to the conversation.

PostgreSQL: ``websearch_to_tsquery`` (quotes for phrases, ``-word`` to exclude,
``or``) against ``to_tsvector('simple', body)``, ranked with ``ts_rank``. The
``simple`` configuration (no stemming, no stop words) because people write in
every language. The GIN expression index of migration 0002,

    CREATE INDEX messaging_message_body_fts ON messaging_message
        USING GIN (to_tsvector('simple', body));

is used only by a query on exactly that expression: ``BodyVector`` renders it
(Django's ``SearchVector`` would wrap the column in COALESCE and miss the index).

SQLite (and any other database): every word must appear (case-insensitive
``icontains``), ``-word`` excludes, newest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.contrib.postgres.search import SearchConfig, SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Exists, F, Func, OuterRef, Prefetch, Q
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from accounts.models import Block
from core.errors import ValidationFailed

from .models import ConversationKind, Membership, Message, MessageKind

SEARCH_CONFIG = "simple"
QUERY_MAX_LENGTH = 200
QUERY_MAX_TERMS = 12
LIMIT_MAX = 200
SNIPPET_LENGTH = 160


@dataclass(frozen=True)
class ParsedQuery:
    include: tuple[str, ...]
    exclude: tuple[str, ...]


_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


def query_clean(q: object) -> str:
    """The query text, whitespace collapsed; ValidationFailed for a non-string or one over 200 characters."""
    if q is None:
        return ""
    if not isinstance(q, str):
        raise ValidationFailed("Search for some words.", fields={"q": ["Must be text."]})
    q = " ".join(q.replace("\x00", " ").split())
    if len(q) > QUERY_MAX_LENGTH:
        raise ValidationFailed(
            f"Search for at most {QUERY_MAX_LENGTH} characters.", fields={"q": [f"At most {QUERY_MAX_LENGTH}."]}
        )
    return q


def query_parse(q: str) -> ParsedQuery:
    """Words and "quoted phrases" to find, ``-word`` to exclude (``or`` is ignored by the fallback)."""
    include: list[str] = []
    exclude: list[str] = []
    for negated, phrase, word in _TOKEN.findall(q):
        text = phrase if phrase or (negated and not word) else word
        if word and word.startswith("-") and len(word) > 1:
            negated, text = "-", word[1:]
        text = text.strip().strip('"').strip()
        if not text or text.lower() == "or":
            continue
        (exclude if negated else include).append(text)
    return ParsedQuery(tuple(include[:QUERY_MAX_TERMS]), tuple(exclude[:QUERY_MAX_TERMS]))


class BodyVector(Func):
    """``to_tsvector('simple'::regconfig, body)``: the indexed expression, to the character."""

    function = "to_tsvector"
    output_field = SearchVectorField()

    def __init__(self):
        super().__init__(SearchConfig(SEARCH_CONFIG), F("body"))


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _visible_messages(user):
    """Messages the user may search: active member, not deleted, not system, not a 1:1 they hid by blocking."""
    member = Membership.objects.filter(conversation_id=OuterRef("conversation_id"), user_id=user.pk, is_active=True)
    blocked = Block.objects.filter(blocker_id=user.pk).values("blocked_id")
    hidden_by_block = Membership.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        conversation__kind=ConversationKind.DIRECT,
        user_id__in=blocked,
    )
    return (
        Message.objects.filter(Exists(member), deleted_at__isnull=True)
        .exclude(kind=MessageKind.SYSTEM)
        .exclude(body="")
        .exclude(Exists(hidden_by_block))
    )


def message_search(user, q, *, limit: int = 50) -> list[Message]:
    """Up to ``limit`` of the user's own visible messages matching ``q``, best first.

    Privacy: only conversations where the user is an active member; deleted
    messages, system notices and 1:1 threads hidden by the user's block are never
    returned. PostgreSQL: full-text (websearch syntax), ranked, newest first among
    equals. Elsewhere: every word must appear (``icontains``), newest first. An
    empty query returns nothing. A bounded number of queries whatever the number of
    hits: each message comes with its sender, conversation (and its active members,
    for the name of a 1:1), reactions and attachments (``message_serialize``).
    """
    if not getattr(user, "is_authenticated", False):
        return []
    q = query_clean(q)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= LIMIT_MAX:
        raise ValidationFailed(f"limit is a number from 1 to {LIMIT_MAX}.", fields={"limit": ["Out of range."]})
    parsed = query_parse(q)
    if not parsed.include:
        return []
    rows = _visible_messages(user)
    if _is_postgres():
        query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
        rows = (
            rows.alias(search=BodyVector())
            .filter(search=query)
            .annotate(search_rank=SearchRank(BodyVector(), query))
            .order_by("-search_rank", "-id")
        )
    else:
        condition = Q()
        for term in parsed.include:
            condition &= Q(body__icontains=term)
        for term in parsed.exclude:
            condition &= ~Q(body__icontains=term)
        rows = rows.filter(condition).order_by("-id")
    rows = rows.select_related("sender", "conversation").prefetch_related(
        "reactions",
        "attachments",
        Prefetch(
            "conversation__memberships",
            queryset=Membership.objects.filter(is_active=True).select_related("user").order_by("id"),
            to_attr="active_memberships",
        ),
    )
    return list(rows[:limit])


# --- Presenting hits ----------------------------------------------------------------------------


def conversation_title(conversation, user) -> str:
    """A group's name, or the other person's name in a 1:1 (uses ``active_memberships`` if prefetched)."""
    if conversation.kind == ConversationKind.GROUP:
        return conversation.name or f"Group #{conversation.pk}"
    memberships = getattr(conversation, "active_memberships", None)
    if memberships is None:
        memberships = list(conversation.memberships.select_related("user"))
    others = [m.user for m in memberships if m.user_id != user.pk]
    return others[0].name if others else "Conversation"


def _match_spans(text: str, terms) -> list[tuple[int, int]]:
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for term in terms:
        needle = term.lower()
        if not needle:
            continue
        start = lowered.find(needle)
        while start != -1:
            spans.append((start, start + len(needle)))
            start = lowered.find(needle, start + len(needle))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def search_snippet(body: str, q: str, *, length: int = SNIPPET_LENGTH) -> SafeString:
    """Up to ``length`` characters of ``body`` around the first match, HTML-escaped, matches in ``<mark>``.

    Every piece of the user's text goes through ``escape``; only our own ``<mark>``
    tags are added, so a message holding HTML shows as text.
    """
    body = " ".join((body or "").split())
    terms = query_parse(query_clean(q) if isinstance(q, str) else "").include
    words = [w for term in terms for w in term.split()] or list(terms)
    spans = _match_spans(body, sorted(set(terms) | set(words), key=len, reverse=True))
    start = 0
    if spans and spans[0][0] > length // 3:
        start = spans[0][0] - length // 3
        space = body.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    end = min(len(body), start + length)
    out = ["…" if start > 0 else ""]
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        out.append(escape(body[cursor:span_start]))
        out.append(f"<mark>{escape(body[span_start:span_end])}</mark>")
        cursor = span_end
    out.append(escape(body[cursor:end]))
    if end < len(body):
        out.append("…")
    return mark_safe("".join(out))  # noqa: S308 - every user-supplied piece is escaped above


def _conversation_url(conversation_id: int, message_id: int | None = None) -> str:
    try:
        url = reverse("messaging:conversation", args=[conversation_id])
    except NoReverseMatch:
        url = f"/messages/{conversation_id}/"
    return f"{url}#m-{message_id}" if message_id else url


@dataclass(frozen=True)
class SearchHit:
    message: Message
    conversation_title: str
    snippet: SafeString
    url: str


def search_hits(user, q, *, limit: int = 50) -> list[SearchHit]:
    """``message_search`` with what a results list shows (title, escaped highlighted snippet, link)."""
    return [
        SearchHit(
            message=m,
            conversation_title=conversation_title(m.conversation, user),
            snippet=search_snippet(m.body, q),
            url=_conversation_url(m.conversation_id, m.pk),
        )
        for m in message_search(user, q, limit=limit)
    ]


@require_safe
@login_required
def search_page(request):
    """``/messages/search/?q=``: the user's messages matching ``q`` (name ``messaging:search``)."""
    raw = request.GET.get("q", "")
    error = ""
    hits: list[SearchHit] = []
    try:
        q = query_clean(raw)
        hits = search_hits(request.user, q)
    except ValidationFailed as exc:
        q, error = raw[:QUERY_MAX_LENGTH], exc.message
    return render(
        request,
        "messaging/search/results.html",
        {"q": q, "hits": hits, "error": error, "limit_reached": len(hits) >= 50},
    )


__all__ = [
    "SearchHit",
    "conversation_title",
    "message_search",
    "query_clean",
    "query_parse",
    "search_hits",
    "search_page",
    "search_snippet",
]
