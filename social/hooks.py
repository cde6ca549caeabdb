"""Extras that apps above social add to post cards, without social importing them (DESIGN §2).

An app registers a renderer once (from its ``AppConfig.ready()``)::

    register_post_extras(render)   # render(posts: list[Post], viewer) -> {post id: safe HTML}

``post_extras_attach`` calls every renderer ONCE per page of cards (so a renderer runs a fixed
number of queries for the whole page) and sets ``extras_html`` on each post; ``social/_post.html``
prints it under the post's text for readers who may see the post's content. A renderer returns
only HTML it built safely (``format_html`` / autoescaped templates); a renderer that fails is
logged and skipped: one app's bug never breaks the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

PostExtrasRenderer = Callable[[list, object], dict[int, str]]

_renderers: list[PostExtrasRenderer] = []


def register_post_extras(fn: PostExtrasRenderer) -> PostExtrasRenderer:
    """Add ``fn`` (once, however often it is registered); returns it, so it can decorate."""
    if fn not in _renderers:
        _renderers.append(fn)
    return fn


def unregister_post_extras(fn: PostExtrasRenderer) -> None:
    """Remove ``fn`` (tests)."""
    if fn in _renderers:
        _renderers.remove(fn)


def post_extras_attach(posts: Iterable, viewer) -> None:
    """Set ``post.extras_html`` (safe HTML, "" when none) on every post, one call per renderer."""
    posts = [post for post in posts if post is not None]
    for post in posts:
        post.extras_html = ""
    if not posts or not _renderers:
        return
    by_id: dict[int, list] = {}
    for post in posts:
        by_id.setdefault(post.pk, []).append(post)
    for render in list(_renderers):
        try:
            html_by_id = render(posts, viewer) or {}
        except Exception:  # one app's bug must never break the timeline
            logger.exception("post extras renderer %r failed", render)
            continue
        for post_id, html in html_by_id.items():
            # Anything not marked safe is escaped: a renderer can never inject markup by accident.
            piece = html if isinstance(html, SafeString) else conditional_escape(html)
            for post in by_id.get(post_id, ()):
                post.extras_html = mark_safe(post.extras_html + piece)  # noqa: S308 - both parts are safe
