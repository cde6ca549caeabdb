"""``{% load messaging %}``: render what people wrote, safely, and short labels for the inbox.

Never ``|safe`` on user text: ``message_body`` escapes everything, then turns
line breaks into ``<br>`` and bare links into anchors that open in a new tab
without handing the opener to the linked page.
"""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.html import urlize
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from core.errors import ValidationFailed
from core.money import format_money

from ..models import MessageKind

register = template.Library()

# urlize(nofollow=True) writes exactly this after each generated href; user text cannot
# contain it, since every quote and angle bracket the user typed is escaped first.
_URLIZE_REL = ' rel="nofollow">'
_SAFE_REL = ' rel="nofollow noopener noreferrer" target="_blank">'

CARD_LABELS = {
    MessageKind.PAYMENT: ("💸", "Payment"),
    MessageKind.REQUEST: ("🧾", "Request"),
    MessageKind.ESCROW: ("🛡️", "Payment with protection"),
    MessageKind.SPLIT: ("➗", "Split"),
}


@register.filter(name="message_body")
def message_body(text) -> str:
    """Escaped text with line breaks kept and links made clickable (new tab, noopener)."""
    if not text:
        return ""
    html = urlize(str(text), nofollow=True, autoescape=True)
    html = html.replace(_URLIZE_REL, _SAFE_REL)
    html = html.replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - every piece of user text above went through escape()


@register.filter(name="card_label")
def card_label(message) -> str:
    """'💸 Payment $5.00' for a money card (the amount from the referenced object, if loaded)."""
    icon, label = CARD_LABELS.get(message.kind, ("💬", "Message"))
    amount = ""
    try:
        if message.kind == MessageKind.PAYMENT and message.payment_id:
            amount = format_money(message.payment.amount, message.payment.currency)
        elif message.kind == MessageKind.REQUEST and message.payment_request_id:
            amount = format_money(message.payment_request.amount, message.payment_request.currency)
        elif message.kind == MessageKind.ESCROW and message.escrow_id:
            amount = format_money(message.escrow.amount, message.escrow.currency)
        elif message.kind == MessageKind.SPLIT and message.split_id:
            amount = format_money(message.split.total, message.split.currency)
    except (AttributeError, ObjectDoesNotExist, TypeError, ValueError, ValidationFailed):
        amount = ""  # a label never breaks a page
    return f"{icon} {label} {amount}".strip()


@register.filter(name="message_preview")
def message_preview(message, length: int = 80) -> str:
    """One line for the inbox: the text, a tombstone, or a money card's label. Plain text (autoescaped)."""
    if message is None:
        return ""
    if message.deleted_at is not None:
        return "Message deleted"
    if message.kind in CARD_LABELS:
        return card_label(message)
    body = " ".join((message.body or "").split())
    if not body:
        return "📎 Attachment"
    return Truncator(body).chars(int(length))


@register.filter(name="short_time")
def short_time(value) -> str:
    """'14:05' today, 'Mon' this week, 'Mar 3' this year, else 'Mar 3, 2023' (the user's time zone)."""
    if not value:
        return ""
    local = timezone.localtime(value)
    now = timezone.localtime()
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if now.date() - local.date() < timedelta(days=7):
        return local.strftime("%a")
    if local.year == now.year:
        return f"{local.strftime('%b')} {local.day}"
    return f"{local.strftime('%b')} {local.day}, {local.year}"


@register.filter(name="quote_snippet")
def quote_snippet(message, length: int = 100) -> str:
    """The start of a replied-to message, one line (plain text)."""
    if message is None:
        return ""
    if message.deleted_at is not None:
        return "This message was deleted"
    return message_preview(message, length)


__all__ = ["card_label", "message_body", "message_preview", "quote_snippet", "short_time"]
