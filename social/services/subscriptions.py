"""Creator subscriptions: tiers, subscribe (first charge now), monthly renewals, cancel.

Money only moves through ``payments.services.send.payment_send`` (kind ``subscription``,
no safety delay); the rows here point at the payments.

Periods: period ``n`` (0-based) runs from ``anchor + n months`` to ``anchor + (n + 1) months``,
each computed from the ANCHOR with ``relativedelta`` (day clamped to the month's end), never
chained, so a subscription anchored on Jan 31 renews on Feb 28 (29), Mar 31, Apr 30...

Access is ``paid_until`` in the future (``social.visibility``): a cancelled subscription keeps
it to the end of the paid period; a lapsed or ended one has none left.

Renewals (``subscriptions_renew_due``, Celery beat, hourly) are idempotent per period:
the ``(subscription, period)`` unique charge row and the payment's idempotency key
``subscription:<id>:<period>`` mean a period is charged at most once, even when two
workers run at once or a worker retries after a crash. A failed charge (insufficient
funds, limits, a frozen account...) makes the subscription ``past_due``: it is retried
daily until ``period start + 3 days``, then it lapses.

Lock order: the subscription row, then whatever ``payment_send`` locks (the fan's
compliance row, the payment, ledger accounts). ``subscription_payment_status_changed``
runs inside a payment's transaction (payment row locked) and locks the subscription row
after it; the two never wait on each other for the same payment (a renewal creates a
new payment, and a subscription whose charge is in review is not renewed).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.selectors import is_blocked_between, is_following
from accounts.social import BlockedError
from core.db import retry_on_conflict
from core.errors import Conflict, DomainError, IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from core.money import CURRENCIES, Money, format_money
from notifications.models import register_kind
from notifications.services import event_publish, notify
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services.common import check_idempotency_key, check_text
from payments.services.fx import usd_equivalent
from payments.services.send import RecipientInvalid, payment_send

from ..models import (
    LIVE_SUBSCRIPTION_STATUSES,
    ChargeStatus,
    CreatorProfile,
    Subscription,
    SubscriptionCharge,
    SubscriptionStatus,
    Tier,
)

logger = logging.getLogger(__name__)

register_kind("subscription.new", "{fan} subscribed to your {tier} tier ({amount} a month)")
register_kind("subscription.renewed", "Your {tier} subscription to {creator} renewed: {amount}")
register_kind(
    "subscription.payment_failed",
    "We could not renew your subscription to {creator} ({amount}): add money by {retry_until} to keep it",
)
register_kind("subscription.lapsed", "Your subscription to {creator} lapsed: its payment did not go through")
register_kind("subscription.ended", "Your subscription to {creator} has ended; you will not be charged again")

TIER_NAME_MAX_LENGTH = 50
TIER_PERKS_MAX_LENGTH = 1000
# No tier may cost more than this (US cents a month, at the mid rate): 1,000.00 USD.
TIER_MAX_PRICE_USD_MINOR = 100_000
TIERS_MAX_ACTIVE = 10
RETRY_FOR = timedelta(days=3)
RETRY_EVERY = timedelta(days=1)

S = SubscriptionStatus


# --- Errors -----------------------------------------------------------------------------------


class CreatorModeOff(NotPermitted):
    code = "creator_mode_off"
    default_message = "Turn on creator mode before you create tiers."


class NotSubscribable(Conflict):
    code = "not_subscribable"
    default_message = "This creator is not taking subscriptions."


class TierClosed(Conflict):
    code = "tier_closed"
    default_message = "This tier is closed to new subscribers."


class AlreadySubscribed(Conflict):
    code = "already_subscribed"
    default_message = "You are already subscribed to this creator."


class SubscriptionNotCancellable(Conflict):
    code = "subscription_not_cancellable"
    default_message = "This subscription has already ended."


class SubscriptionNotResumable(Conflict):
    code = "subscription_not_resumable"
    default_message = "Only a cancelled subscription that is still paid can be resumed."


# --- Periods ----------------------------------------------------------------------------------


def period_start(anchor: datetime, period: int) -> datetime:
    """When period ``period`` (0-based) begins: ``anchor + period`` calendar months, day clamped."""
    return anchor + relativedelta(months=period)


def period_end(anchor: datetime, period: int) -> datetime:
    """When period ``period`` ends (and the next begins): ``anchor + period + 1`` months from the anchor."""
    return anchor + relativedelta(months=period + 1)


# --- Small helpers ----------------------------------------------------------------------------


def creator_mode_on(user) -> bool:
    """Whether ``user`` is an active account with creator mode on (one query)."""
    return bool(user.is_active) and CreatorProfile.objects.filter(user_id=user.pk, is_enabled=True).exists()


def _money(tier_or_charge) -> Money:
    return Money(
        tier_or_charge.amount if isinstance(tier_or_charge, SubscriptionCharge) else tier_or_charge.price,
        tier_or_charge.currency,
    )


def _amount_text(amount: int, currency: str) -> str:
    return format_money(amount, currency)


def _note(tier: Tier) -> str:
    return f"{tier.name} subscription"[:280]


def _when(moment: datetime | None) -> str:
    return f"{moment:%b} {moment.day}, {moment.year}" if moment else ""


def _data(sub: Subscription, **extra) -> dict:
    tier = sub.tier
    data = {
        "subscription_id": sub.pk,
        "fan": f"@{sub.fan.handle}",
        "creator": f"@{sub.creator.handle}",
        "tier": tier.name,
        "amount": _amount_text(tier.price, tier.currency),
        "url": "/subscriptions/",
    }
    data.update(extra)
    return data


def _changed(sub: Subscription) -> None:
    """Tell the fan's open pages (``live:subscription.updated``) that the subscription changed."""
    event_publish(
        user_id=sub.fan_id,
        type="subscription.updated",
        id=sub.pk,
        data={"subscription_id": sub.pk, "status": sub.status, "paid_until": sub.paid_until.isoformat()},
    )


def _as_int_id(value, *, what: str) -> int:
    if isinstance(value, bool):
        raise NotFound(f"That {what} does not exist.", code=f"{what}_not_found")
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"That {what} does not exist.", code=f"{what}_not_found") from None
    if not 0 < pk < 2**63:
        raise NotFound(f"That {what} does not exist.", code=f"{what}_not_found")
    return pk


# --- Tiers ------------------------------------------------------------------------------------


def _check_name(name: object) -> str:
    return check_text(name, field="name", label="tier name", max_length=TIER_NAME_MAX_LENGTH, required=True)


def _check_perks(perks: object) -> str:
    return check_text(perks, field="perks", label="list of perks", max_length=TIER_PERKS_MAX_LENGTH)


def _check_price(price: object) -> Money:
    if not isinstance(price, Money):
        raise ValidationFailed("Enter a monthly price.", fields={"price": ["Required."]})
    if price.currency not in CURRENCIES:
        raise ValidationFailed("Choose a supported currency.", fields={"currency": ["Not supported."]})
    if price.amount <= 0:
        raise ValidationFailed("The price must be more than zero.", fields={"price": ["Must be more than zero."]})
    if usd_equivalent(price.amount, price.currency) > TIER_MAX_PRICE_USD_MINOR:
        cap = format_money(TIER_MAX_PRICE_USD_MINOR, "USD")
        raise ValidationFailed(
            f"A tier can cost at most {cap} a month (or the same in another currency).",
            code="price_too_high",
            fields={"price": [f"At most {cap} a month."]},
        )
    return price


def _name_taken(creator, name: str, *, exclude: int | None = None) -> bool:
    rows = Tier.objects.filter(creator=creator, name__iexact=name)
    if exclude:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def _name_taken_error(name: str) -> ValidationFailed:
    return ValidationFailed(
        f"You already have a tier called “{name}”.", code="tier_name_taken", fields={"name": ["Already used."]}
    )


def tier_for_creator(creator, tier: Tier | int) -> Tier:
    """``creator``'s own tier (any state), else NotFound (never reveals other creators' tiers)."""
    pk = tier.pk if isinstance(tier, Tier) else _as_int_id(tier, what="tier")
    found = Tier.objects.filter(pk=pk, creator_id=creator.pk).first()
    if found is None:
        raise NotFound("That tier does not exist.", code="tier_not_found")
    return found


def tiers_of(creator, *, active_only: bool = True) -> QuerySet[Tier]:
    """A creator's tiers in display order (one query when evaluated)."""
    rows = Tier.objects.filter(creator_id=creator.pk)
    if active_only:
        rows = rows.filter(is_active=True)
    return rows.order_by("-is_active", "position", "price", "id")


@retry_on_conflict
def tier_create(creator, *, name: str, price: Money, perks: str = "") -> Tier:
    """Create a tier open to new subscribers. Only in creator mode; atomic.

    The price is fixed for ever (to change it, archive the tier and create another): it
    must be more than zero and at most 1,000.00 USD a month (its equivalent at the mid
    rate). The name is unique per creator (case-insensitive); at most ten open tiers.
    """
    if not creator_mode_on(creator):
        raise CreatorModeOff()
    name = _check_name(name)
    perks = _check_perks(perks)
    price = _check_price(price)
    with transaction.atomic():
        active = Tier.objects.filter(creator=creator, is_active=True).count()
        if active >= TIERS_MAX_ACTIVE:
            raise ValidationFailed(
                f"You can have at most {TIERS_MAX_ACTIVE} open tiers: archive one first.", code="too_many_tiers"
            )
        if _name_taken(creator, name):
            raise _name_taken_error(name)
        try:
            with transaction.atomic():
                return Tier.objects.create(
                    creator=creator,
                    name=name,
                    perks=perks,
                    price=price.amount,
                    currency=price.currency,
                    position=Tier.objects.filter(creator=creator).count(),
                )
        except IntegrityError:
            raise _name_taken_error(name) from None


@retry_on_conflict
def tier_update(creator, *, tier: Tier | int, name: str | None = None, perks: str | None = None) -> Tier:
    """Rename a tier or change its perks (never its price). Own tiers only (NotFound otherwise)."""
    tier = tier_for_creator(creator, tier)
    fields = []
    if name is not None:
        tier.name = _check_name(name)
        if _name_taken(creator, tier.name, exclude=tier.pk):
            raise _name_taken_error(tier.name)
        fields.append("name")
    if perks is not None:
        tier.perks = _check_perks(perks)
        fields.append("perks")
    if fields:
        try:
            with transaction.atomic():
                tier.save(update_fields=fields)
        except IntegrityError:
            raise _name_taken_error(tier.name) from None
    return tier


def tier_archive(creator, *, tier: Tier | int) -> Tier:
    """Close a tier to new subscribers; existing subscriptions keep renewing at its price. Idempotent."""
    tier = tier_for_creator(creator, tier)
    if tier.is_active:
        Tier.objects.filter(pk=tier.pk).update(is_active=False)
        tier.is_active = False
    return tier


# --- Reads ------------------------------------------------------------------------------------


def live_subscription(fan, creator) -> Subscription | None:
    """The fan's live (active, past due or cancelled) subscription to ``creator``, if any."""
    if not getattr(fan, "is_authenticated", False):
        return None
    return (
        Subscription.objects.filter(fan_id=fan.pk, creator_id=creator.pk, status__in=LIVE_SUBSCRIPTION_STATUSES)
        .select_related("tier")
        .first()
    )


def subscriptions_of_fan(fan) -> QuerySet[Subscription]:
    """The fan's subscriptions, live first then newest, with creator and tier loaded."""
    return Subscription.objects.filter(fan_id=fan.pk).select_related("creator", "tier").order_by("-id")


def subscribers_of(creator, *, live_only: bool = True) -> QuerySet[Subscription]:
    """``creator``'s subscribers, newest first, with fan and tier loaded."""
    rows = Subscription.objects.filter(creator_id=creator.pk).select_related("fan", "tier").order_by("-id")
    if live_only:
        rows = rows.filter(status__in=LIVE_SUBSCRIPTION_STATUSES)
    return rows


def subscription_for_fan(fan, subscription: Subscription | int) -> Subscription:
    """The fan's own subscription, else NotFound."""
    pk = subscription.pk if isinstance(subscription, Subscription) else _as_int_id(subscription, what="subscription")
    found = Subscription.objects.filter(pk=pk, fan_id=fan.pk).select_related("creator", "tier").first()
    if found is None:
        raise NotFound("That subscription does not exist.", code="subscription_not_found")
    return found


def charge_in_review(sub: Subscription) -> SubscriptionCharge | None:
    """The subscription's charge whose payment is held for review, if any (one query)."""
    return (
        SubscriptionCharge.objects.filter(
            subscription=sub, status=ChargeStatus.PENDING, payment__status=PaymentStatus.IN_REVIEW
        )
        .select_related("payment")
        .first()
    )


# --- Subscribe ------------------------------------------------------------------------------


def _resolve_tier(tier: Tier | int) -> Tier:
    pk = tier.pk if isinstance(tier, Tier) else _as_int_id(tier, what="tier")
    found = Tier.objects.select_related("creator").filter(pk=pk).first()
    if found is None or not found.creator.is_active:
        raise NotFound("That tier does not exist.", code="tier_not_found")
    return found


def subscribe_check(fan, *, tier: Tier | int) -> Tier:
    """Raise what would stop ``fan`` subscribing to ``tier`` (a read); return the tier.

    Not yourself, an open tier of an active creator in creator mode, no block either way,
    and a protected creator only for the people they approved (their followers).
    """
    tier = _resolve_tier(tier)
    creator = tier.creator
    if creator.pk == fan.pk:
        raise ValidationFailed("You cannot subscribe to yourself.", code="own_tier", fields={"tier": ["Your own."]})
    if is_blocked_between(fan, creator):
        raise BlockedError(f"You can't subscribe to @{creator.handle}.")
    if creator.is_protected and not is_following(fan, creator):
        raise NotPermitted(
            f"@{creator.handle}'s account is protected: only people they approved can subscribe. "
            "Ask to follow them first.",
            code="protected_account",
        )
    if not creator_mode_on(creator):
        raise NotSubscribable(f"@{creator.handle} is not taking subscriptions.")
    if not tier.is_active:
        raise TierClosed()
    return tier


def _replayed(fan, key: str, tier: Tier | int) -> Subscription | None:
    """The subscription a previous subscribe with this key made (None: the key is new)."""
    payment = Payment.objects.filter(sender_id=fan.pk, idempotency_key=key).first()
    if payment is None:
        return None
    charge = SubscriptionCharge.objects.filter(payment=payment).select_related("subscription").first()
    tier_id = tier.pk if isinstance(tier, Tier) else tier
    if charge is None or payment.kind != PaymentKind.SUBSCRIPTION or charge.subscription.tier_id != tier_id:
        raise IdempotencyKeyReused()
    return charge.subscription


def _grant(sub: Subscription, charge: SubscriptionCharge, *, payment: Payment | None = None) -> None:
    """Record a paid period (the caller holds the subscription's lock and saves ``sub``)."""
    charge.status = ChargeStatus.PAID
    if payment is not None:
        charge.payment = payment
    charge.last_error = ""
    charge.save(update_fields=["status", "payment", "last_error", "attempts", "updated_at"])
    if charge.period + 1 > sub.periods_paid:
        sub.periods_paid = charge.period + 1
        sub.paid_until = period_end(sub.anchor, charge.period)
    if sub.status in (S.ACTIVE, S.PAST_DUE):
        sub.status = S.ACTIVE
        sub.retry_until = None
        sub.next_attempt_at = sub.paid_until
    elif sub.status == S.CANCELLED:
        sub.next_attempt_at = None


def _resume(sub: Subscription, tier: Tier) -> Subscription:
    sub.status = S.ACTIVE
    sub.cancelled_at = None
    sub.next_attempt_at = sub.paid_until
    # A different tier takes effect at the next renewal: this period is already paid.
    sub.tier = tier
    sub.save(update_fields=["status", "cancelled_at", "next_attempt_at", "tier", "updated_at"])
    _changed(sub)
    return sub


def _start(fan, tier: Tier, key: str) -> Subscription:
    now = timezone.now()
    with transaction.atomic():
        existing = (
            Subscription.objects.select_for_update(of=("self",))
            .filter(fan_id=fan.pk, creator_id=tier.creator_id, status__in=LIVE_SUBSCRIPTION_STATUSES)
            .first()
        )
        if existing is not None:
            if existing.status == S.CANCELLED and existing.paid_until > now:
                existing.creator, existing.fan = tier.creator, fan
                return _resume(existing, tier)
            if existing.status == S.CANCELLED:  # paid period over, not yet ended by the beat
                existing.status, existing.ended_at, existing.next_attempt_at = S.ENDED, existing.paid_until, None
                existing.save(update_fields=["status", "ended_at", "next_attempt_at", "updated_at"])
            elif existing.status == S.PAST_DUE:
                raise AlreadySubscribed(
                    f"You are already subscribed to @{tier.creator.handle}; its last payment failed and is "
                    "retried daily. Add money to your wallet to keep it."
                )
            else:
                raise AlreadySubscribed(f"You are already subscribed to @{tier.creator.handle}.")
        with transaction.atomic():
            sub = Subscription.objects.create(
                fan=fan,
                creator=tier.creator,
                tier=tier,
                status=S.ACTIVE,
                anchor=now,
                periods_paid=0,
                paid_until=now,
                next_attempt_at=None,
            )
        charge = SubscriptionCharge.objects.create(
            subscription=sub,
            period=0,
            period_start=now,
            period_end=period_end(now, 0),
            amount=tier.price,
            currency=tier.currency,
            status=ChargeStatus.PENDING,
            attempts=1,
        )
        payment = payment_send(
            fan,
            to=tier.creator,
            amount=_money(tier),
            note=_note(tier),
            kind=PaymentKind.SUBSCRIPTION,
            idempotency_key=key,
            safety_delay=False,
        )
        charge.payment = payment
        if payment.status == PaymentStatus.COMPLETED:
            _grant(sub, charge)
            sub.save()
            notify(tier.creator, kind="subscription.new", data=_data(sub, url=f"/@{fan.handle}"))
        else:  # held for review: no access until it is approved (subscription_payment_status_changed)
            charge.save(update_fields=["payment", "updated_at"])
        _changed(sub)
        return sub


def subscription_start(fan, *, tier: Tier | int, idempotency_key: str) -> Subscription:
    """Subscribe ``fan`` to ``tier`` and charge the first month now.

    Guarantees: atomic (the subscription, its first charge row and the payment commit together
    or not at all: insufficient funds, limits, a frozen account... are raised and nothing is
    created); idempotent by (fan, key): the same key returns the first subscription and charges
    nothing more, a key already used for something else raises IdempotencyKeyReused.
    One live subscription per fan and creator: a cancelled one still paid is resumed (no
    charge; a different tier applies from the next renewal); an active or past-due one raises
    AlreadySubscribed. If the payment is held for review, the subscription has no access until
    the review approves it. The creator is notified (``subscription.new``).
    """
    key = check_idempotency_key(idempotency_key)
    if key is None:
        raise ValidationFailed("An idempotency key is required.", code="invalid_idempotency_key")
    if not getattr(fan, "is_authenticated", False) or not fan.is_active:
        raise NotPermitted("Sign in to subscribe.")
    replay = _replayed(fan, key, tier)
    if replay is not None:
        return replay
    tier = subscribe_check(fan, tier=tier)

    @retry_on_conflict
    def attempt() -> Subscription:
        return _start(fan, tier, key)

    try:
        return attempt()
    except IntegrityError:
        # A concurrent subscribe won the one-live-subscription index: the same key replays it.
        replay = _replayed(fan, key, tier)
        if replay is not None:
            return replay
        raise AlreadySubscribed(f"You are already subscribed to @{tier.creator.handle}.") from None


# --- Payment status changes (a review decided) ------------------------------------------------


def subscription_payment_status_changed(payment, status: str) -> None:
    """React to a subscription charge's payment reaching ``status`` (inside its transaction).

    A charge held for review that is approved (COMPLETED) grants its period; one rejected or
    cancelled marks the charge failed and lapses the subscription, and the fan is told. The
    first status of a new payment arrives before the charge points at it: the caller
    (``subscription_start`` or the renewal) handles that itself, so it is ignored here.
    """
    if status not in (PaymentStatus.COMPLETED, PaymentStatus.REJECTED, PaymentStatus.CANCELLED):
        return
    charge = SubscriptionCharge.objects.filter(payment_id=payment.pk).first()
    if charge is None or charge.status != ChargeStatus.PENDING:
        return
    sub = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("fan", "creator", "tier")
        .get(pk=charge.subscription_id)
    )
    if status == PaymentStatus.COMPLETED:
        if sub.status not in LIVE_SUBSCRIPTION_STATUSES:
            # Ended (a block) or lapsed while this charge was in review: approving it would take the
            # fan's money for a subscription that no longer exists (and give back access). Refuse the
            # approval (it rolls back); rejecting the review, or its expiry, gives the money back.
            raise Conflict(
                "This subscription ended while its payment was being reviewed: reject the review instead, "
                "so the money goes back to the fan.",
                code="subscription_ended",
            )
        first = sub.periods_paid == 0
        _grant(sub, charge)
        sub.save()
        if first:
            notify(sub.creator, kind="subscription.new", data=_data(sub, url=f"/@{sub.fan.handle}"))
        else:
            notify(sub.fan, kind="subscription.renewed", data=_data(sub))
        _changed(sub)
        return
    charge.status = ChargeStatus.FAILED
    charge.last_error = "The payment was not approved."
    charge.save(update_fields=["status", "last_error", "updated_at"])
    if sub.status in LIVE_SUBSCRIPTION_STATUSES:
        _lapse(sub, now=timezone.now(), notify_creator=sub.periods_paid > 0)


# --- Cancel, resume ----------------------------------------------------------------------------


@retry_on_conflict
def subscription_cancel(fan, *, subscription: Subscription | int) -> Subscription:
    """Stop renewing: access stays until ``paid_until``, nothing is refunded. Own only (NotFound).

    Idempotent (cancelling a cancelled subscription changes nothing). A past-due one, whose
    paid period is already over, ends at once. Refused while a payment of it is in review.
    """
    pk = subscription_for_fan(fan, subscription).pk
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("creator", "tier", "fan").get(pk=pk)
        if sub.status == S.CANCELLED:
            return sub
        if sub.status not in (S.ACTIVE, S.PAST_DUE):
            raise SubscriptionNotCancellable()
        if charge_in_review(sub) is not None:
            raise Conflict(
                "A payment of this subscription is being reviewed; you can cancel once it is decided.",
                code="subscription_payment_in_review",
            )
        now = timezone.now()
        sub.cancelled_at = now
        sub.next_attempt_at = None
        sub.retry_until = None
        if sub.paid_until > now:
            sub.status = S.CANCELLED
        else:
            sub.status = S.ENDED
            sub.ended_at = now
            SubscriptionCharge.objects.filter(subscription=sub, status=ChargeStatus.PENDING).update(
                status=ChargeStatus.FAILED, last_error="Cancelled before it was paid."
            )
        sub.save()
        _changed(sub)
        return sub


@retry_on_conflict
def subscription_resume(fan, *, subscription: Subscription | int) -> Subscription:
    """Undo a cancel while the period is still paid: renewals start again at ``paid_until``. No charge now."""
    pk = subscription_for_fan(fan, subscription).pk
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(of=("self",)).select_related("creator", "tier", "fan").get(pk=pk)
        if sub.status == S.ACTIVE:
            return sub
        if sub.status != S.CANCELLED or sub.paid_until <= timezone.now():
            raise SubscriptionNotResumable()
        if is_blocked_between(fan, sub.creator):
            raise BlockedError(f"You can't subscribe to @{sub.creator.handle}.")
        if not creator_mode_on(sub.creator):
            raise NotSubscribable(f"@{sub.creator.handle} is not taking subscriptions.")
        return _resume(sub, sub.tier)


# --- Ending -----------------------------------------------------------------------------------


def _lapse(sub: Subscription, *, now: datetime, notify_creator: bool = True) -> None:
    sub.status = S.LAPSED
    sub.ended_at = now
    sub.next_attempt_at = None
    sub.save()
    notify(sub.fan, kind="subscription.lapsed", data=_data(sub, url=f"/@{sub.creator.handle}/subscribe"))
    if notify_creator:
        notify(
            sub.creator,
            kind="subscription.lapsed",
            data=_data(
                sub, url=f"/@{sub.fan.handle}", title=f"@{sub.fan.handle}'s {sub.tier.name} subscription lapsed"
            ),
        )
    _changed(sub)


def _end(sub: Subscription, *, now: datetime, cut_access: bool = False, tell_fan: bool = True) -> None:
    sub.status = S.ENDED
    sub.ended_at = now
    sub.next_attempt_at = None
    sub.retry_until = None
    if cut_access and sub.paid_until > now:
        sub.paid_until = now
    sub.save()
    SubscriptionCharge.objects.filter(subscription=sub, status=ChargeStatus.PENDING, payment__isnull=True).update(
        status=ChargeStatus.FAILED, last_error="The subscription ended."
    )
    if tell_fan:
        notify(sub.fan, kind="subscription.ended", data=_data(sub))
    _changed(sub)


def subscriptions_end_between(a, b) -> int:
    """End every live subscription between ``a`` and ``b``, either way (one blocked the other).

    Access ends now (``paid_until`` is cut to now), nothing is refunded and nothing is charged
    again. The fan is told neutrally (``subscription.ended``, never who blocked whom).
    Atomic; safe to call twice. Returns how many ended.
    """
    if a is None or b is None or a.pk == b.pk:
        return 0
    now = timezone.now()
    ended = 0
    with transaction.atomic():
        rows = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("fan", "creator", "tier")
            .filter(Q(fan_id=a.pk, creator_id=b.pk) | Q(fan_id=b.pk, creator_id=a.pk))
            .filter(status__in=LIVE_SUBSCRIPTION_STATUSES)
            .order_by("pk")
        )
        for sub in rows:
            _end(sub, now=now, cut_access=True)
            ended += 1
    return ended


# --- Renewals ---------------------------------------------------------------------------------


def _lock_due(pk: int):
    rows = Subscription.objects.select_related("fan", "creator", "tier").filter(pk=pk)
    if connection.features.has_select_for_update_skip_locked:
        return rows.select_for_update(of=("self",), skip_locked=True).first()
    return rows.select_for_update(of=("self",)).first()


def _renewal_blocker(sub: Subscription) -> str | None:
    """Why the subscription must end instead of renewing, or None."""
    if not sub.creator.is_active or not sub.fan.is_active:
        return "inactive"
    if not CreatorProfile.objects.filter(user_id=sub.creator_id, is_enabled=True).exists():
        return "creator_mode_off"
    if is_blocked_between(sub.fan_id, sub.creator_id):
        return "blocked"
    # A creator who turned protected since: a fan they have not approved could no longer see
    # the posts they pay for, so the subscription ends instead of charging for nothing.
    if sub.creator.is_protected and not is_following(sub.fan_id, sub.creator_id):
        return "protected"
    return None


def _charge_failed(sub: Subscription, charge: SubscriptionCharge, error: DomainError, *, now: datetime) -> str:
    charge.last_error = error.message[:300]
    first_failure = sub.status == S.ACTIVE
    if sub.retry_until is None:
        sub.retry_until = charge.period_start + RETRY_FOR
    if now >= sub.retry_until:
        charge.status = ChargeStatus.FAILED
        charge.save(update_fields=["status", "attempts", "last_error", "updated_at"])
        _lapse(sub, now=now)
        return "lapsed"
    charge.save(update_fields=["attempts", "last_error", "updated_at"])
    sub.status = S.PAST_DUE
    sub.next_attempt_at = min(now + RETRY_EVERY, sub.retry_until)
    sub.save()
    if first_failure:
        notify(
            sub.fan,
            kind="subscription.payment_failed",
            data=_data(
                sub,
                retry_until=_when(sub.retry_until),
                reason=charge.last_error,
                url=f"/wallet/add/?currency={charge.currency}",
            ),
        )
    _changed(sub)
    return "failed"


_KEY_TAKEN = "This renewal's payment key was already used for another payment, so it could not be charged."


def _pays_charge(payment: Payment, sub: Subscription, charge: SubscriptionCharge) -> bool:
    """Whether ``payment`` (found by, or replayed for, the renewal's key) is this charge's own payment."""
    return (
        payment.kind == PaymentKind.SUBSCRIPTION
        and payment.recipient_id == sub.creator_id
        and (payment.amount, payment.currency) == (charge.amount, charge.currency)
        and not SubscriptionCharge.objects.filter(payment_id=payment.pk).exclude(pk=charge.pk).exists()
    )


def subscription_renew(subscription: Subscription | int, *, now: datetime | None = None) -> str:
    """Charge one due subscription's next period, in its own transaction. System call.

    Returns what happened: "renewed", "in_review", "failed" (past due, retried daily),
    "lapsed", "ended" (creator mode off, an inactive account or a block: no charge),
    or "skipped" (not due any more, or another worker holds it). Idempotent per period.
    """
    pk = subscription.pk if isinstance(subscription, Subscription) else subscription
    moment = now or timezone.now()

    @retry_on_conflict
    def attempt() -> str:
        with transaction.atomic():
            sub = _lock_due(pk)
            if sub is None or sub.status not in (S.ACTIVE, S.PAST_DUE):
                return "skipped"
            if sub.next_attempt_at is None or sub.next_attempt_at > moment:
                return "skipped"
            if _renewal_blocker(sub):
                _end(sub, now=moment)
                return "ended"
            period = sub.periods_paid
            charge, _ = SubscriptionCharge.objects.get_or_create(
                subscription=sub,
                period=period,
                defaults={
                    "period_start": period_start(sub.anchor, period),
                    "period_end": period_end(sub.anchor, period),
                    "amount": sub.tier.price,
                    "currency": sub.tier.currency,
                },
            )
            if charge.status == ChargeStatus.FAILED:  # e.g. its payment was rejected after review
                _lapse(sub, now=moment)
                return "lapsed"
            if charge.payment_id and charge.payment.status == PaymentStatus.IN_REVIEW:
                sub.next_attempt_at = None
                sub.save(update_fields=["next_attempt_at", "updated_at"])
                return "in_review"
            key = f"subscription:{sub.pk}:{period}"
            charge.attempts += 1
            payment = Payment.objects.filter(sender_id=sub.fan_id, idempotency_key=key).first()
            if payment is not None and not _pays_charge(payment, sub, charge):
                # The fan chooses their own keys: one they used for another payment (or for another
                # subscription's first charge) never pays this period. It fails like a refused charge.
                return _charge_failed(sub, charge, IdempotencyKeyReused(_KEY_TAKEN), now=moment)
            if payment is None:
                try:
                    with transaction.atomic():
                        payment = payment_send(
                            sub.fan,
                            to=sub.creator,
                            amount=_money(charge),
                            note=_note(sub.tier),
                            kind=PaymentKind.SUBSCRIPTION,
                            idempotency_key=key,
                            safety_delay=False,
                        )
                except (BlockedError, RecipientInvalid):
                    _end(sub, now=moment)
                    return "ended"
                except DomainError as error:  # insufficient funds, limits, frozen, no FX rate...
                    return _charge_failed(sub, charge, error, now=moment)
                if not _pays_charge(payment, sub, charge):  # a replay of a payment made for something else
                    return _charge_failed(sub, charge, IdempotencyKeyReused(_KEY_TAKEN), now=moment)
            if payment.status == PaymentStatus.COMPLETED:
                _grant(sub, charge, payment=payment)
                sub.save()
                notify(sub.fan, kind="subscription.renewed", data=_data(sub, paid_until=_when(sub.paid_until)))
                _changed(sub)
                return "renewed"
            if payment.status == PaymentStatus.IN_REVIEW:
                charge.payment = payment
                charge.save(update_fields=["payment", "attempts", "updated_at"])
                sub.next_attempt_at = None
                sub.save(update_fields=["next_attempt_at", "updated_at"])
                return "in_review"
            # Rejected or cancelled already (a replay of an old payment): the period is not paid.
            charge.payment = payment
            charge.status = ChargeStatus.FAILED
            charge.save(update_fields=["payment", "status", "attempts", "updated_at"])
            _lapse(sub, now=moment)
            return "lapsed"

    return attempt()


def subscriptions_end_cancelled(*, now: datetime | None = None, limit: int = 500) -> int:
    """Cancelled subscriptions whose paid period is over become ``ended`` (no charge). Returns how many."""
    moment = now or timezone.now()
    ids = list(
        Subscription.objects.filter(status=S.CANCELLED, paid_until__lte=moment)
        .order_by("paid_until")
        .values_list("pk", flat=True)[:limit]
    )
    ended = 0
    for pk in ids:
        ended += Subscription.objects.filter(pk=pk, status=S.CANCELLED, paid_until__lte=moment).update(
            status=S.ENDED, ended_at=moment, next_attempt_at=None, updated_at=moment
        )
    return ended


def subscriptions_renew_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Renew every due subscription (the hourly beat task); returns how many renewed.

    Due: active or past due with ``next_attempt_at`` at or before ``now``. Each is renewed in
    its own transaction (``subscription_renew``), so one failure never stops the others and
    two workers never charge a period twice. Cancelled subscriptions past their paid period
    are ended on the way.
    """
    moment = now or timezone.now()
    subscriptions_end_cancelled(now=moment, limit=limit)
    ids = list(
        Subscription.objects.filter(status__in=(S.ACTIVE, S.PAST_DUE), next_attempt_at__lte=moment)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    renewed = 0
    for pk in ids:
        try:
            if subscription_renew(pk, now=moment) == "renewed":
                renewed += 1
        except Exception:  # one bad row must not stop the others; it is retried next run
            logger.exception("could not renew subscription %s", pk)
    return renewed


__all__ = [
    "AlreadySubscribed",
    "CreatorModeOff",
    "NotSubscribable",
    "SubscriptionNotCancellable",
    "SubscriptionNotResumable",
    "TierClosed",
    "creator_mode_on",
    "live_subscription",
    "period_end",
    "period_start",
    "subscribe_check",
    "subscribers_of",
    "subscription_cancel",
    "subscription_for_fan",
    "subscription_payment_status_changed",
    "subscription_renew",
    "subscription_resume",
    "subscription_start",
    "subscriptions_end_between",
    "subscriptions_end_cancelled",
    "subscriptions_of_fan",
    "subscriptions_renew_due",
    "tier_archive",
    "tier_create",
    "tier_for_creator",
    "tier_update",
    "tiers_of",
]
