"""``{% load social_posts %}``: a post's text with its @mentions, #hashtags and links, and short times.

Never ``|safe`` on user text: ``post_text`` splits the RAW text into plain runs and
tokens (a link, an @mention, a #hashtag), escapes every piece on its own, and only then
wraps the tokens in anchors. Nothing typed can close an attribute or open a tag, and an
escaped entity ("&#x27;") can never be mistaken for a hashtag.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django import template
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from social.models import TAG_MAX_LENGTH
from social.services.posts import HASHTAG_RE, MENTION_RE

register = template.Library()

TAG_MAX = TAG_MAX_LENGTH

# One pass over the raw text; the first alternative that matches wins (a URL swallows any
# "#fragment" or "@" inside it). Mentions and hashtags are the services' own patterns, so
# what is linked is exactly what was stored as a Mention / PostTag.
# Bidirectional controls (LRM/RLM, embeddings, overrides, isolates) end a URL: inside one they
# would make a link's text read differently from where it goes.
_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_TOKENS = re.compile(
    rf"(?P<url>https?://[^\s<>\"'{_BIDI}]+)|(?:{MENTION_RE.pattern})|(?:{HASHTAG_RE.pattern})",
    re.UNICODE,
)
_URL_TRAILING = ".,:;!?)]}'\""
_LINK_REL = "nofollow ugc noopener noreferrer"


def _tag_url(tag: str) -> str:
    try:
        return reverse("social:tag", kwargs={"tag": tag.lower()})
    except NoReverseMatch:  # the page is not wired (yet): keep the text readable
        return f"/tags/{tag.lower()}"


def _url_anchor(url: str) -> tuple[str, str]:
    """(anchor html, trailing punctuation to put back as text)."""
    trailing = ""
    while url and url[-1] in _URL_TRAILING:
        # Keep a closing bracket that closes one opened inside the URL (wikipedia-style).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        trailing = url[-1] + trailing
        url = url[:-1]
    shown = url.split("://", 1)[1]
    if len(shown) > 40:
        shown = shown[:39] + "…"
    # <bdi>: an override typed before the link cannot reverse the address it shows.
    html = format_html('<a href="{}" rel="{}" target="_blank"><bdi>{}</bdi></a>', url, _LINK_REL, shown)
    return html, trailing


@register.filter(name="post_text")
def post_text(text) -> str:
    """A post's text, escaped, with links, ``@mentions`` (to ``/@handle``) and ``#tags`` (to the tag page)."""
    if not text:
        return ""
    text = str(text)
    out: list[str] = []
    position = 0
    for match in _TOKENS.finditer(text):
        out.append(escape(text[position : match.start()]))
        position = match.end()
        url, handle, tag = match.group("url"), match.group(2), match.group(3)
        if url:
            anchor, trailing = _url_anchor(url)
            out.append(anchor + escape(trailing))
        elif handle:
            out.append(format_html('<a class="mention" href="/@{}">@{}</a>', handle.lower(), handle))
        elif len(tag) <= TAG_MAX:
            out.append(format_html('<a class="hashtag" href="{}">#{}</a>', _tag_url(tag), tag))
        else:  # too long to be a tag: plain text
            out.append(escape(match.group(0)))
    out.append(escape(text[position:]))
    html = "".join(out).replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - every piece of user text above went through escape()/format_html


@register.filter(name="post_age")
def post_age(when: datetime | None) -> str:
    """ "now", "5m", "3h", "2d", then "4 Mar" (this year) or "4 Mar 2023" — in the viewer's time zone."""
    if not when:
        return ""
    now = timezone.now()
    delta = now - when
    if delta < timedelta(minutes=1):
        return "now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)}m"
    if delta < timedelta(days=1):
        return f"{int(delta.total_seconds() // 3600)}h"
    if delta < timedelta(days=7):
        return f"{delta.days}d"
    local = timezone.localtime(when)
    if local.year == timezone.localtime(now).year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


@register.filter(name="compact_count")
def compact_count(value) -> str:
    """1234 → "1.2K", 2_500_000 → "2.5M"; small numbers as they are ("" for zero)."""
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        return ""
    if number <= 0:
        return ""
    if number < 1000:
        return str(number)
    if number < 1_000_000:
        return f"{number / 1000:.1f}".rstrip("0").rstrip(".") + "K"
    return f"{number / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"


# --- post URLs, reversed once -------------------------------------------------------------------

_SENTINEL = 918273645546372819
_URL_SHAPES: dict[tuple, tuple[str, str]] = {}


@register.simple_tag
def post_url(name: str, pk) -> str:
    """``{% url name pk %}`` for a post id, reversing ``name`` once per URLconf and script prefix.

    A timeline page has ~10 links per card (post, like, unlike, repost, quote, report, tip…); the
    resolver's ``reverse`` for each was a measurable share of the page. The id is an int, so the
    result is exactly what ``reverse`` would give.
    """
    key = (name, get_script_prefix(), get_urlconf())
    shape = _URL_SHAPES.get(key)
    if shape is None:
        before, _, after = reverse(name, args=[_SENTINEL]).partition(str(_SENTINEL))
        shape = _URL_SHAPES[key] = (before, after)
    return f"{shape[0]}{int(pk)}{shape[1]}"
