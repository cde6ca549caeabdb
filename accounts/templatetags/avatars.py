"""``{% avatar user 40 %}``: the picture if there is one, else initials on the user's colour."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def avatar(user, size: int = 40, css_class: str = ""):
    try:
        size = max(16, min(int(size), 512))
    except (TypeError, ValueError):
        size = 40
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "handle", ""):
        return format_html(
            '<span class="avatar avatar-blank {}" style="--avatar-size:{}px" aria-hidden="true"></span>',
            css_class,
            size,
        )
    if user.avatar:
        return format_html(
            '<img class="avatar {}" src="{}" width="{}" height="{}" alt="{}" loading="lazy" decoding="async">',
            css_class,
            user.avatar.url,
            size,
            size,
            f"{user.name}'s avatar",
        )
    return format_html(
        '<span class="avatar avatar-initials {}" style="--avatar-size:{}px;--avatar-bg:{}" role="img" aria-label="{}">'
        "{}</span>",
        css_class,
        size,
        user.avatar_colour,
        user.name,
        user.initials,
    )
