"""Linked debit cards, add money (top-up) and cash out, through the vault and the card processor.

The card processor is slow and external, so it is NEVER called inside a
transaction or while a lock is held (DESIGN §3). Each money movement is split
into short transactions around the call:

Add money (``topup_create``), instant:
  1. commit a pending ``TopUp`` (its idempotency key is unique per user);
  2. ``processor.charge`` (outside any transaction, with a processor
     idempotency key derived from the top-up, so a retry never charges twice);
  3. approved: one short transaction posts FUNDING(system) -> wallet
     (ledger key ``topup:<id>``) and marks the top-up completed; declined or
     timed out: the top-up is marked declined / failed and nothing moves.

Cash out (``cashout_create``), the money is held before it can leave:
  1. one transaction commits a pending ``CashOut`` and ledger holds: the amount
     wallet -> FUNDING(system) and, for instant, the fee wallet -> FEES(system)
     as a second hold. Two holds keep every leg a plain wallet debit (the
     statement shows the cash-out and its fee as two lines) and the fee can
     never be lost: both holds are posted, or both voided, in one transaction;
  2. ``processor.payout`` outside any transaction — at once for instant, by the
     ``cashouts_settle_due`` Celery task for standard;
  3. approved: post the hold(s) -> completed; declined or timed out: void the
     hold(s) -> failed (with the decline code), the money is available again.

Standard cash-outs settle on a business day (Mon–Fri, UTC; public holidays are
not modelled): created before 17:00 UTC on a business day -> the next business
day, otherwise the business day after that; due from 09:00 UTC that day.

Claiming a due cash-out for payout moves ``settle_after`` forward by
``RECOVERY_LEASE`` with a conditional update, so two workers never pay the same
one and a worker that dies mid-way is retried after the lease (with the same
processor key). An instant cash-out starts with such a lease: if its request
dies between payout and posting, the settle task finishes it.

The instant cash-out fee is 1.5% of the amount, rounded half-up to the minor
unit, at least 0.25 and at most 15.00 major units of the wallet currency: for a
currency without minor units (JPY) the minimum rounds up to 1 (¥1) and the
maximum is ¥15. Standard cash-outs are free.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from compliance import services as compliance
from core.db import retry_on_conflict
from core.errors import Conflict, IdempotencyKeyReused, NotFound, Unprocessable, ValidationFailed
from core.money import Money, format_money, minor_units
from ledger.models import AccountKind, Transfer, TransferState
from ledger.services import (
    HoldNotPending,
    InsufficientFunds,
    hold_create,
    hold_post,
    hold_void,
    system_account,
    transfer_post,
)
from notifications.models import register_kind
from notifications.services import event_publish, notify

from .. import processor
from ..models import CashOut, CashOutSpeed, FundingCard, MovementStatus, TopUp
from ..vault import BRAND_LABELS, card_check, card_fingerprint, mask, vault_decrypt, vault_encrypt
from .common import check_idempotency_key
from .common import request_hash as _request_hash
from .fx import usd_equivalent
from .wallet import wallet_account

logger = logging.getLogger(__name__)

MAX_ACTIVE_CARDS = 5
TOPUP_MAX_USD_MINOR = 250_000  # 2,500.00 USD-equivalent per top-up
INSTANT_FEE_RATE = Decimal("0.015")
INSTANT_FEE_MIN = Decimal("0.25")  # major units of the wallet currency
INSTANT_FEE_MAX = Decimal("15.00")
CUTOFF = time(17, 0)  # UTC
SETTLE_AT = time(9, 0)  # UTC, on the settlement business day
# Standard cash-outs settle within ~4 calendar days; the hold outlives that comfortably.
HOLD_TIMEOUT = timedelta(days=10)
# A hold this close to expiring is not paid out (it could expire before it is posted).
HOLD_SAFETY_MARGIN = timedelta(hours=1)
RECOVERY_LEASE = timedelta(minutes=10)

register_kind("topup.completed", "{amount} was added to your wallet from your {card}")
register_kind("cashout.completed", "{amount} was sent to your {card}")
register_kind("cashout.failed", "Your cash-out of {amount} to your {card} did not go through; the money is back")


# --- Errors ---------------------------------------------------------------------------


class CardNotFound(NotFound):
    code = "card_not_found"
    default_message = "That card is not linked to your account."


class CardAlreadyLinked(Conflict):
    code = "card_already_linked"
    default_message = "This card is already linked to your account."


class TooManyCards(Unprocessable):
    code = "card_limit"
    default_message = f"You can link up to {MAX_ACTIVE_CARDS} cards. Remove one to add another."


class CardRefused(Unprocessable):
    code = "card_refused"
    default_message = "This card can't be used."


class CardNetworkTimeout(Unprocessable):
    code = "card_network_timeout"
    default_message = "The card network did not answer; nothing was charged. Try again."


class CardDeclined(Unprocessable):
    code = "card_declined"
    default_message = "Your bank declined this charge."


class TopUpLimitExceeded(Unprocessable):
    code = "top_up_limit"


class CashOutFailed(Unprocessable):
    code = "cash_out_failed"
    default_message = "The cash-out did not go through; the money is back in your wallet."


class InvalidSpeed(ValidationFailed):
    code = "invalid_speed"
    default_message = "Choose standard or instant."


# --- Small helpers ----------------------------------------------------------------------


def card_label(card: FundingCard) -> str:
    """'Visa •••• 4242' — how a linked card is named everywhere (never the number)."""
    return f"{BRAND_LABELS.get(card.brand, 'Card')} {mask(card.last4)}"


def _card_id(card: object) -> int:
    value = card.pk if isinstance(card, FundingCard) else card
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise CardNotFound(fields={"card": ["Choose one of your cards."]})
    return value


def _active_card(user, card: object) -> FundingCard:
    """The user's linked (not removed) card, else CardNotFound (other people's cards too)."""
    found = FundingCard.objects.filter(pk=_card_id(card), user=user, removed_at__isnull=True).first()
    if found is None:
        raise CardNotFound(fields={"card": ["Choose one of your cards."]})
    return found


def _check_money(amount: object) -> Money:
    if not isinstance(amount, Money):
        raise ValidationFailed("Enter an amount.", fields={"amount": ["Required."]})
    return amount


def _balance_changed(user) -> None:
    event_publish(user_id=user.pk, type="balance.changed", data={})


# --- Reads ----------------------------------------------------------------------------------


def funding_cards_for(user) -> QuerySet[FundingCard]:
    """The user's linked cards, newest first."""
    return FundingCard.objects.filter(user=user, removed_at__isnull=True).order_by("-id")


def top_ups_for(user) -> QuerySet[TopUp]:
    return TopUp.objects.filter(user=user).select_related("card").order_by("-id")


def cash_outs_for(user) -> QuerySet[CashOut]:
    return CashOut.objects.filter(user=user).select_related("card").order_by("-id")


def funding_card_for_user(user, card_id: object) -> FundingCard:
    """One of the user's linked cards by id, else CardNotFound."""
    return _active_card(user, card_id)


def top_up_for_user(user, top_up_id: object) -> TopUp:
    try:
        pk = int(top_up_id)
    except (TypeError, ValueError):
        pk = 0
    found = top_ups_for(user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise NotFound("That top-up does not exist.", code="top_up_not_found")
    return found


def cash_out_for_user(user, cash_out_id: object) -> CashOut:
    try:
        pk = int(cash_out_id)
    except (TypeError, ValueError):
        pk = 0
    found = cash_outs_for(user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise NotFound("That cash-out does not exist.", code="cash_out_not_found")
    return found


# --- Cards ---------------------------------------------------------------------------------


@sensitive_variables("number", "cvc", "details", "token")
def card_link(user, *, number: str, exp_month: int | str, exp_year: int | str, cvc: str) -> FundingCard:
    """Check a debit card, verify it with the processor ($0) and store it in the vault.

    Stores only the encrypted number, brand, last 4, expiry and fingerprint; the
    CVC goes to the processor once and is dropped. Refuses (nothing stored):
    CardInvalid (Luhn, expiry, CVC), CardAlreadyLinked (the same card is
    already linked by this user), TooManyCards (5 linked), CardRefused (the
    processor refuses it), CardNetworkTimeout. The processor is called outside
    any transaction; the insert re-checks the duplicate and the limit under a
    lock on the user's row, so two concurrent links cannot pass either.
    """
    details = card_check(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
    fingerprint = card_fingerprint(details.number)
    active = funding_cards_for(user)
    if active.filter(fingerprint=fingerprint).exists():
        raise CardAlreadyLinked(fields={"number": ["This card is already linked."]})
    if active.count() >= MAX_ACTIVE_CARDS:
        raise TooManyCards()
    try:
        result = processor.verify(details.number, currency=user.home_currency, cvc=details.cvc)
    except processor.ProcessorTimeout:
        raise CardNetworkTimeout("The card network did not answer; the card was not linked. Try again.") from None
    if not result.approved:
        raise CardRefused(fields={"number": ["This card can't be used."]})
    token = vault_encrypt(details.number)
    try:
        with transaction.atomic():
            get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).first()
            if active.filter(fingerprint=fingerprint).exists():
                raise CardAlreadyLinked(fields={"number": ["This card is already linked."]})
            if active.count() >= MAX_ACTIVE_CARDS:
                raise TooManyCards()
            card = FundingCard.objects.create(
                user=user,
                brand=details.brand,
                last4=details.last4,
                exp_month=details.exp_month,
                exp_year=details.exp_year,
                fingerprint=fingerprint,
                number_encrypted=token,
            )
    except IntegrityError:  # the unique (user, fingerprint) among active cards
        raise CardAlreadyLinked(fields={"number": ["This card is already linked."]}) from None
    logger.info("user %s linked funding card #%s (%s)", user.pk, card.pk, card_label(card))
    return card


def card_remove(user, *, card: FundingCard | int) -> FundingCard:
    """Unlink one of the user's cards (soft: ``removed_at``). Someone else's card -> CardNotFound.

    The encrypted number is kept while a pending cash-out to the card settles.
    Linking the same card again afterwards is allowed.
    """
    with transaction.atomic():
        found = (
            FundingCard.objects.select_for_update()
            .filter(pk=_card_id(card), user=user, removed_at__isnull=True)
            .first()
        )
        if found is None:
            raise CardNotFound()
        found.removed_at = timezone.now()
        found.save(update_fields=["removed_at"])
    return found


# --- Add money ------------------------------------------------------------------------------


def _processor_key(kind: str, row) -> str:
    # The creation time makes the key unique even where a database reuses ids.
    return f"{kind}:{row.pk}:{row.created_at.timestamp():.6f}"


def _decline_message(decline_code: str, what: str) -> str:
    reason = processor.DECLINE_REASONS.get(decline_code, "the card was declined")
    return f"Your bank declined this {what}: {reason}."


def _topup_error(topup: TopUp) -> Unprocessable:
    if topup.status == MovementStatus.DECLINED:
        return CardDeclined(_decline_message(topup.decline_code, "charge"))
    return CardNetworkTimeout()


def topup_check(user, *, card: FundingCard | int, amount: Money) -> FundingCard:
    """Would ``topup_create`` accept this? Raises its refusals; moves nothing (the confirm step)."""
    amount = _check_money(amount)
    found = _active_card(user, card)
    compliance.sending_allowed_check(user)
    _check_topup_limit(amount)
    return found


def _check_topup_limit(amount: Money) -> None:
    if usd_equivalent(amount.amount, amount.currency) > TOPUP_MAX_USD_MINOR:
        raise TopUpLimitExceeded(
            f"You can add at most {format_money(TOPUP_MAX_USD_MINOR, 'USD')} (or the equivalent) at a time.",
            fields={"amount": ["Over the limit for one top-up."]},
        )


def topup_create(user, *, card: FundingCard | int, amount: Money, idempotency_key: str | None = None) -> TopUp:
    """Add ``amount`` to the user's wallet (in ``amount.currency``) by charging a linked card. Instant.

    Guarantees: idempotent by (user, key) — a replay returns the same top-up and
    charges nothing more; the same key with another request raises
    IdempotencyKeyReused. The processor is called outside any transaction;
    money moves only after it approved (FUNDING -> wallet, ledger key
    ``topup:<id>``). On a decline (CardDeclined) or a timeout
    (CardNetworkTimeout) the top-up is recorded as declined / failed and nothing
    moves. Also raises CardNotFound, TopUpLimitExceeded (over 2,500.00
    USD-equivalent), FxUnavailable and the compliance refusals (frozen,
    unverified, region).
    """
    amount = _check_money(amount)
    key = check_idempotency_key(idempotency_key)
    request_hash = _request_hash(card=_card_id(card), amount=amount.amount, currency=amount.currency)
    if key is not None:
        existing = _topup_replay(user, key, request_hash)
        if existing is not None:
            return _topup_resume(existing)
    found = topup_check(user, card=card, amount=amount)
    try:
        with transaction.atomic():
            topup = TopUp.objects.create(
                user=user,
                card=found,
                amount=amount.amount,
                currency=amount.currency,
                idempotency_key=key,
                request_hash=request_hash,
            )
    except IntegrityError:  # a concurrent request with the same key won the unique index
        existing = _topup_replay(user, key, request_hash) if key is not None else None
        if existing is None:
            raise
        return _topup_resume(existing)
    return _topup_run(topup)


def _topup_replay(user, key: str, request_hash: str) -> TopUp | None:
    existing = TopUp.objects.filter(user=user, idempotency_key=key).select_related("card", "user").first()
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return existing


def _topup_resume(topup: TopUp) -> TopUp:
    """What a replay answers: the finished top-up, its error again, or finishing an interrupted one."""
    if topup.status == MovementStatus.COMPLETED:
        return topup
    if topup.status == MovementStatus.PENDING:
        # An earlier attempt stopped before it finished (or is still running): finish it.
        # The processor key makes sure the card is charged at most once.
        return _topup_run(topup)
    raise _topup_error(topup)


@sensitive_variables("number")
def _topup_run(topup: TopUp) -> TopUp:
    number = vault_decrypt(topup.card.number_encrypted)
    try:
        result = processor.charge(number, topup.amount, topup.currency, idempotency_key=_processor_key("topup", topup))
    except processor.ProcessorTimeout:
        TopUp.objects.filter(pk=topup.pk, status=MovementStatus.PENDING).update(
            status=MovementStatus.FAILED, decline_code="timeout"
        )
        topup.refresh_from_db()
        raise _topup_error(topup) from None
    if not result.approved:
        TopUp.objects.filter(pk=topup.pk, status=MovementStatus.PENDING).update(
            status=MovementStatus.DECLINED, decline_code=result.decline_code[:32], processor_reference=result.reference
        )
        topup.refresh_from_db()
        raise _topup_error(topup)
    return _topup_complete(topup.pk, reference=result.reference)


@retry_on_conflict
def _topup_complete(topup_id: int, *, reference: str) -> TopUp:
    """Post an approved charge: FUNDING -> wallet and the top-up completed, together. Once only."""
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().select_related("card", "user").get(pk=topup_id)
        if topup.status != MovementStatus.PENDING:
            return topup
        user = topup.user
        topup.transfer = transfer_post(
            initiator=user,
            debit=system_account(AccountKind.FUNDING, topup.currency),
            credit=wallet_account(user, topup.currency),
            amount=topup.amount,
            currency=topup.currency,
            kind="top_up",
            metadata={"top_up": topup.pk, "processor_reference": reference},
            idempotency_key=f"topup:{topup.pk}",
        )
        topup.status = MovementStatus.COMPLETED
        topup.processor_reference = reference[:64]
        topup.completed_at = timezone.now()
        topup.save(update_fields=["transfer", "status", "processor_reference", "completed_at"])
        notify(
            user,
            kind="topup.completed",
            data={
                "top_up_id": topup.pk,
                "amount": format_money(topup.amount, topup.currency),
                "card": card_label(topup.card),
                "url": f"/wallet/add/{topup.pk}/",
            },
        )
        _balance_changed(user)
    return topup


# --- Cash out ----------------------------------------------------------------------------------


class CashOutQuote(NamedTuple):
    """What a cash-out does: ``amount`` arrives on the card, ``fee`` is charged, ``total`` leaves the wallet."""

    amount: Money
    fee: Money
    total: Money


def _check_speed(speed: object) -> str:
    if speed not in CashOutSpeed.values:
        raise InvalidSpeed(fields={"speed": ["Choose standard or instant."]})
    return str(speed)


def cashout_fee(amount: Money, speed: str) -> Money:
    """Instant: 1.5% of ``amount`` rounded half-up to the minor unit, clamped to [0.25, 15.00] major units
    (the minimum rounded up to a whole minor unit: ¥1 for JPY). Standard: free."""
    amount = _check_money(amount)
    if _check_speed(speed) == CashOutSpeed.STANDARD:
        return Money(0, amount.currency)
    places = minor_units(amount.currency)
    raw = int((Decimal(amount.amount) * INSTANT_FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    lowest = int(INSTANT_FEE_MIN.scaleb(places).to_integral_value(rounding=ROUND_CEILING))
    highest = int(INSTANT_FEE_MAX.scaleb(places))
    return Money(min(max(raw, lowest), highest), amount.currency)


def cashout_quote(user, *, amount: Money, speed: str) -> CashOutQuote:
    """The fee and total of cashing out ``amount`` at ``speed``, without doing it (shown before confirming)."""
    amount = _check_money(amount)
    fee = cashout_fee(amount, speed)
    return CashOutQuote(amount, fee, Money(amount.amount + fee.amount, amount.currency))


def _next_business_day(day):
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def cashout_settle_after(moment: datetime | None = None) -> datetime:
    """When a standard cash-out created at ``moment`` is paid out (see the module docstring).

    Before 17:00 UTC on a business day: the next business day; otherwise the
    business day after that. Due from 09:00 UTC that day. Weekends are skipped.
    """
    moment = (moment or timezone.now()).astimezone(UTC)
    day = _next_business_day(moment.date())
    if moment.weekday() >= 5 or moment.time() >= CUTOFF:
        day = _next_business_day(day)
    return datetime.combine(day, SETTLE_AT, tzinfo=UTC)


def cashout_arrival(speed: str, *, now: datetime | None = None) -> datetime | None:
    """When the money reaches the card: None for instant (within minutes), a date-time for standard."""
    if _check_speed(speed) == CashOutSpeed.INSTANT:
        return None
    return cashout_settle_after(now)


def _insufficient_message(user, quote: CashOutQuote) -> str:
    available = wallet_account(user, quote.amount.currency).available
    needs = f"{quote.total}" if not quote.fee.amount else f"{quote.total} ({quote.amount} plus the {quote.fee} fee)"
    return f"You have {format_money(max(available, 0), quote.amount.currency)} available; this cash-out needs {needs}."


def cashout_check(user, *, card: FundingCard | int, amount: Money, speed: str) -> CashOutQuote:
    """Would ``cashout_create`` accept this now? Its quote, or its refusals (incl. InsufficientFunds). Moves nothing."""
    amount = _check_money(amount)
    speed = _check_speed(speed)
    _active_card(user, card)
    compliance.sending_allowed_check(user)
    quote = cashout_quote(user, amount=amount, speed=speed)
    if wallet_account(user, amount.currency).available < quote.total.amount:
        raise InsufficientFunds(
            _insufficient_message(user, quote), fields={"amount": ["More than you have available."]}
        )
    return quote


def cashout_create(
    user, *, card: FundingCard | int, amount: Money, speed: str, idempotency_key: str | None = None
) -> CashOut:
    """Send ``amount`` from the user's wallet to a linked card, standard (free) or instant (fee).

    The amount (and the fee) are held in the ledger before anything leaves.
    Standard: returns the pending cash-out; ``cashouts_settle_due`` pays it out
    on ``settle_after``. Instant: pays out now (outside any transaction) and
    returns it completed, or voids the holds and raises CashOutFailed.
    Idempotent by (user, key): a replay returns the same cash-out (or its error)
    and moves nothing; another request under the same key raises
    IdempotencyKeyReused. Raises CardNotFound, InvalidSpeed, InsufficientFunds
    (the amount plus the fee must be available) and the compliance refusals.
    """
    amount = _check_money(amount)
    speed = _check_speed(speed)
    key = check_idempotency_key(idempotency_key)
    request_hash = _request_hash(card=_card_id(card), amount=amount.amount, currency=amount.currency, speed=speed)
    if key is not None:
        existing = _cashout_replay(user, key, request_hash)
        if existing is not None:
            return _cashout_replayed(existing)
    found = _active_card(user, card)
    compliance.sending_allowed_check(user)
    quote = cashout_quote(user, amount=amount, speed=speed)
    try:
        cashout = _cashout_open(user, card=found, quote=quote, speed=speed, key=key, request_hash=request_hash)
    except IntegrityError:
        existing = _cashout_replay(user, key, request_hash) if key is not None else None
        if existing is None:
            raise
        return _cashout_replayed(existing)
    except InsufficientFunds:
        raise InsufficientFunds(
            _insufficient_message(user, quote), fields={"amount": ["More than you have available."]}
        ) from None
    if speed == CashOutSpeed.INSTANT:
        cashout = _cashout_pay(cashout)
        if cashout.status != MovementStatus.COMPLETED:
            raise _cashout_error(cashout)
    return cashout


def _cashout_replay(user, key: str, request_hash: str) -> CashOut | None:
    existing = CashOut.objects.filter(user=user, idempotency_key=key).select_related("card", "user").first()
    if existing is not None and existing.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return existing


def _cashout_replayed(cashout: CashOut) -> CashOut:
    if cashout.status in (MovementStatus.FAILED, MovementStatus.DECLINED):
        raise _cashout_error(cashout)
    return cashout  # completed, or pending (standard; or an instant one the settle task will finish)


def _cashout_error(cashout: CashOut) -> CashOutFailed:
    if cashout.decline_code == "timeout":
        return CashOutFailed(
            "The card network did not answer; nothing was sent and the money is back in your wallet. Try again.",
            code="card_network_timeout",
        )
    if cashout.decline_code == "hold_expired":
        return CashOutFailed()
    return CashOutFailed(
        _decline_message(cashout.decline_code, "payout") + " Nothing was sent; the money is back in your wallet.",
        code="card_declined",
    )


@retry_on_conflict
def _cashout_open(user, *, card: FundingCard, quote: CashOutQuote, speed: str, key, request_hash) -> CashOut:
    """Commit the pending cash-out with its hold(s), or nothing (InsufficientFunds rolls it all back)."""
    currency = quote.amount.currency
    wallet = wallet_account(user, currency)
    funding = system_account(AccountKind.FUNDING, currency)
    fees = system_account(AccountKind.FEES, currency) if quote.fee.amount else None
    now = timezone.now()
    with transaction.atomic():
        cashout = CashOut.objects.create(
            user=user,
            card=card,
            amount=quote.amount.amount,
            fee=quote.fee.amount,
            currency=currency,
            speed=speed,
            settle_after=cashout_settle_after(now) if speed == CashOutSpeed.STANDARD else now + RECOVERY_LEASE,
            idempotency_key=key,
            request_hash=request_hash,
        )
        meta = {"cash_out": cashout.pk}
        cashout.hold = hold_create(
            initiator=user,
            debit=wallet,
            credit=funding,
            amount=quote.amount.amount,
            currency=currency,
            kind="cash_out",
            timeout=HOLD_TIMEOUT,
            metadata=meta,
            idempotency_key=f"cashout:{cashout.pk}:hold",
        )
        if fees is not None:
            hold_create(
                initiator=user,
                debit=wallet,
                credit=fees,
                amount=quote.fee.amount,
                currency=currency,
                kind="cash_out_fee",
                timeout=HOLD_TIMEOUT,
                metadata=meta,
                idempotency_key=f"cashout:{cashout.pk}:fee_hold",
            )
        cashout.save(update_fields=["hold"])
        _balance_changed(user)
    cashout.user = user
    cashout.card = card
    return cashout


def _fee_hold(cashout: CashOut) -> Transfer | None:
    """The instant fee's hold (found through its ledger batch key; None for a free cash-out)."""
    if not cashout.fee:
        return None
    return Transfer.objects.filter(
        batch__initiator_id=cashout.user_id,
        batch__idempotency_key=f"cashout:{cashout.pk}:fee_hold",
        state=TransferState.PENDING,
    ).first()


@sensitive_variables("number")
def _cashout_pay(cashout: CashOut) -> CashOut:
    """Pay out a pending cash-out whose holds are committed; post or void them. Returns it, final."""
    number = vault_decrypt(cashout.card.number_encrypted)
    try:
        result = processor.payout(
            number, cashout.amount, cashout.currency, idempotency_key=_processor_key("cashout", cashout)
        )
    except processor.ProcessorTimeout:
        return _cashout_fail(cashout.pk, decline_code="timeout")
    if not result.approved:
        return _cashout_fail(cashout.pk, decline_code=result.decline_code)
    return _cashout_complete(cashout.pk, reference=result.reference)


def _cashout_data(cashout: CashOut) -> dict:
    return {
        "cash_out_id": cashout.pk,
        "amount": format_money(cashout.amount, cashout.currency),
        "fee": format_money(cashout.fee, cashout.currency),
        "card": card_label(cashout.card),
        "url": f"/wallet/cash-out/{cashout.pk}/",
    }


@retry_on_conflict
def _cashout_complete(cashout_id: int, *, reference: str) -> CashOut:
    """The payout went out: post the hold(s) together and mark the cash-out completed. Once only."""
    with transaction.atomic():
        cashout = CashOut.objects.select_for_update().select_related("card", "user").get(pk=cashout_id)
        if cashout.status != MovementStatus.PENDING:
            return cashout
        meta = {"cash_out": cashout.pk, "processor_reference": reference}
        cashout.transfer = hold_post(
            initiator=cashout.user, hold=cashout.hold_id, metadata=meta, idempotency_key=f"cashout:{cashout.pk}:post"
        )
        fee_hold = _fee_hold(cashout)
        if fee_hold is not None:
            hold_post(
                initiator=cashout.user,
                hold=fee_hold,
                metadata=meta,
                idempotency_key=f"cashout:{cashout.pk}:fee_post",
            )
        cashout.status = MovementStatus.COMPLETED
        cashout.completed_at = timezone.now()
        cashout.save(update_fields=["transfer", "status", "completed_at"])
        notify(cashout.user, kind="cashout.completed", data=_cashout_data(cashout))
        _balance_changed(cashout.user)
    return cashout


@retry_on_conflict
def _cashout_fail(cashout_id: int, *, decline_code: str) -> CashOut:
    """Nothing was sent: void the hold(s) together and mark the cash-out failed. Once only."""
    with transaction.atomic():
        cashout = CashOut.objects.select_for_update().select_related("card", "user").get(pk=cashout_id)
        if cashout.status != MovementStatus.PENDING:
            return cashout
        holds = [cashout.hold_id, _fee_hold(cashout)]
        for hold in holds:
            if hold is None:
                continue
            with contextlib.suppress(HoldNotPending, NotFound):  # already released (expired)
                hold_void(
                    initiator=cashout.user,
                    hold=hold,
                    idempotency_key=f"cashout:{cashout.pk}:void:{getattr(hold, 'pk', hold)}",
                )
        cashout.status = MovementStatus.FAILED
        cashout.decline_code = decline_code[:32]
        cashout.save(update_fields=["status", "decline_code"])
        notify(cashout.user, kind="cashout.failed", data=_cashout_data(cashout))
        _balance_changed(cashout.user)
    return cashout


def cashout_settle(cashout_id: int, *, now: datetime | None = None) -> CashOut | None:
    """Pay out one due cash-out (system call; safe to repeat and to run on several workers).

    Claims it by moving ``settle_after`` forward by RECOVERY_LEASE (a conditional
    update: one claimant wins), then pays out outside any transaction and posts
    or voids. Returns the cash-out, or None if it was not due or someone else
    claimed it. A hold too close to its expiry is not paid out: it is voided.
    """
    moment = now or timezone.now()
    claimed = CashOut.objects.filter(pk=cashout_id, status=MovementStatus.PENDING, settle_after__lte=moment).update(
        settle_after=moment + RECOVERY_LEASE
    )
    if not claimed:
        return None
    cashout = CashOut.objects.select_related("card", "user", "hold").get(pk=cashout_id)
    hold = cashout.hold
    if hold is None or hold.timeout_at is None or hold.timeout_at <= max(moment, timezone.now()) + HOLD_SAFETY_MARGIN:
        return _cashout_fail(cashout.pk, decline_code="hold_expired")
    return _cashout_pay(cashout)


def cashouts_settle_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Pay out every pending cash-out that is due (the Celery beat task). Returns how many were settled."""
    moment = now or timezone.now()
    ids = list(
        CashOut.objects.filter(status=MovementStatus.PENDING, settle_after__lte=moment)
        .order_by("settle_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    settled = 0
    for pk in ids:
        try:
            if cashout_settle(pk, now=moment) is not None:
                settled += 1
        except Exception:  # one bad row must not stop the others; its lease lets a later run retry
            logger.exception("could not settle cash-out %s", pk)
    return settled


__all__ = [
    "CardAlreadyLinked",
    "CardDeclined",
    "CardNetworkTimeout",
    "CardNotFound",
    "CardRefused",
    "CashOutFailed",
    "CashOutQuote",
    "InvalidSpeed",
    "TooManyCards",
    "TopUpLimitExceeded",
    "card_label",
    "card_link",
    "card_remove",
    "cash_out_for_user",
    "cash_outs_for",
    "cashout_arrival",
    "cashout_check",
    "cashout_create",
    "cashout_fee",
    "cashout_quote",
    "cashout_settle",
    "cashout_settle_after",
    "cashouts_settle_due",
    "funding_card_for_user",
    "funding_cards_for",
    "top_up_for_user",
    "top_ups_for",
    "topup_check",
    "topup_create",
]
