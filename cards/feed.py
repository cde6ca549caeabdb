"""Card purchases in the wallet's activity feed (``payments.selectors.activity_feed``).

Registered from ``CardsConfig.ready()``::

    from .feed import register_feed_source
    register_feed_source()

One query per feed page: the authorisations of the user's cards after the cursor, newest first.
What a row shows:

- pending (nothing captured yet): the held amount, "Pending";
- partly captured: what was captured (less refunds) plus what is still held, "Partly captured";
- captured: captured less refunded ("Refunded $2.00" as the detail when there were refunds);
- reversed / expired / declined: the amount asked, struck through (void); a decline says why.
"""

from __future__ import annotations

from core.money import format_money
from payments.selectors import ActivityItem, ActivitySource, register_activity_source

from .models import Authorization, AuthorizationStatus

NAME = "card"
VOID_STATUSES = (AuthorizationStatus.REVERSED, AuthorizationStatus.EXPIRED, AuthorizationStatus.DECLINED)


def _amount(a: Authorization) -> int:
    if a.status in VOID_STATUSES:
        return a.amount if not a.captured_amount else a.captured_amount - a.refunded_amount
    held = a.held_amount
    return a.captured_amount - a.refunded_amount + held


def _detail(a: Authorization) -> str:
    if a.status == AuthorizationStatus.DECLINED:
        return f"Declined: {a.get_decline_reason_display()}" if a.decline_reason else "Declined"
    parts = []
    if a.status == AuthorizationStatus.PARTIALLY_CAPTURED:
        parts.append(f"{format_money(a.held_amount, a.currency)} still pending")
    if a.refunded_amount:
        parts.append(f"Refunded {format_money(a.refunded_amount, a.currency)}")
    if a.status in (AuthorizationStatus.REVERSED, AuthorizationStatus.EXPIRED) and not a.captured_amount:
        parts.append("Cancelled by the shop" if a.status == AuthorizationStatus.REVERSED else "Hold expired")
    return " · ".join(parts)


def rows(user, *, query: str, after, limit: int) -> list[ActivityItem]:
    """At most ``limit`` card purchases of ``user`` after the cursor ``after`` (a Q), newest first. One query."""
    qs = Authorization.objects.filter(card__user_id=user.pk).filter(after)
    if query:
        qs = qs.filter(merchant_name__icontains=query)
    qs = qs.order_by("-created_at", "-id")[:limit]
    items = []
    for a in qs:
        void = a.status in VOID_STATUSES and not a.captured_amount
        items.append(
            ActivityItem(
                source=NAME,
                id=a.pk,
                created_at=a.created_at,
                kind="card",
                kind_label="Card purchase",
                direction="out",
                counterparty=None,
                title=a.merchant_name,
                note="",
                amount=-_amount(a),
                currency=a.currency,
                status=a.status,
                status_label=a.get_status_display(),
                is_void=void,
                url="/cards/",
                detail=_detail(a),
            )
        )
    return items


SOURCE = ActivitySource(name=NAME, rank=5, filter="card", filter_label="Card", rows=rows)


def register_feed_source() -> None:
    """Add card purchases to the wallet feed (idempotent: registering again replaces it)."""
    register_activity_source(SOURCE)
