"""Paying someone: send, return, cancel a delayed payment, release it, and review decisions.

Money moves only through ``ledger.services``, inside the same transaction that
records the ``Payment`` and its ``PaymentEvent``: a payment row never exists
without its ledger postings, nor postings without the row.

Ledger shape of a payment:
- same currency, instant: one posted transfer sender wallet -> recipient wallet;
- different currencies, instant: two posted legs in one batch, sender wallet ->
  FX pool[sent currency] and FX pool[received currency] -> recipient wallet, so
  every currency balances on its own;
- delayed (safety delay) or held for review: a ledger hold from the sender's
  wallet (to the recipient's wallet, or to the FX pool when converting) that
  is posted on release, or voided on cancel or rejection.

Lock order (no deadlocks): the sender's compliance row (limits), then the
payment row (that row only, not its users'), then ledger accounts in ascending
id order — inside the ledger, or all four at once first when a conversion's two
legs are posted or reversed by two ledger calls (``_lock_accounts_of``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.selectors import is_blocked_between
from accounts.social import BlockedError
from compliance import services as compliance
from core.db import retry_on_conflict
from core.errors import Conflict, IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from core.money import Money, check_amount_minor, format_money
from ledger.models import Account, AccountKind, Transfer, TransferState
from ledger.services import (
    HoldExpired,
    HoldNotPending,
    InsufficientFunds,
    TransferSpec,
    accounts_lock,
    hold_create,
    hold_expire,
    hold_post,
    hold_void,
    system_account,
    transfer_post,
    transfer_reverse,
    transfers_post,
)
from notifications.models import register_kind
from notifications.services import event_publish, notify

from ..hooks import Spend, extra_transfers_for
from ..models import (
    OPEN_STATUSES,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentRequest,
    PaymentStatus,
    RequestStatus,
    SafetyDelay,
    WalletSettings,
)
from ..signals import payment_returning, payment_status_changed
from .common import check_idempotency_key as _check_idempotency_key
from .common import request_hash as _request_hash
from .fx import FxQuote, fx_quote, usd_equivalent
from .wallet import wallet_account

logger = logging.getLogger(__name__)

register_kind("payment.arriving", "{sender} sent you {amount}: it arrives after the sender's safety delay")
register_kind("payment.returned", "{recipient} returned your payment of {sent_amount}")
register_kind("payment.in_review", "Your payment of {sent_amount} to {recipient} is being reviewed")
register_kind("payment.rejected", "Your payment of {sent_amount} to {recipient} was not sent; the money is back")

NOTE_MAX_LENGTH = 280
# A hold outlives its deadline by this much, so our own release/reject task acts before the
# ledger's generic expiry does.
HOLD_SLACK = timedelta(days=1)
REVIEW_WINDOW = timedelta(hours=48)


class RecipientInvalid(ValidationFailed):
    code = "invalid_recipient"
    default_message = "Choose someone to pay."


class PaymentNotReturnable(Conflict):
    code = "payment_not_returnable"
    default_message = "Only a completed payment you received can be returned, and only once."


class PaymentNotCancellable(Conflict):
    code = "payment_not_cancellable"
    default_message = "Only a payment that is still arriving can be cancelled."


class PaymentHoldLapsed(Conflict):
    code = "payment_hold_lapsed"
    default_message = (
        "The hold on this payment lapsed before it was decided, so the money went back to the sender; "
        "it can no longer be approved."
    )


# --- Reads used by the confirm step ---------------------------------------------------


@dataclass(frozen=True)
class PaymentQuote:
    """Everything the confirm step shows before money moves (DESIGN §8)."""

    sender: object
    recipient: object
    fx: FxQuote
    fee: Money
    first_to_recipient: bool
    safety_delay_seconds: int
    recipient_joined: object  # datetime

    @property
    def send(self) -> Money:
        return self.fx.send

    @property
    def receive(self) -> Money:
        return self.fx.receive

    @property
    def arrives_after(self) -> timedelta | None:
        if self.first_to_recipient and self.safety_delay_seconds:
            return timedelta(seconds=self.safety_delay_seconds)
        return None


def has_paid_before(sender, recipient) -> bool:
    """True once ``sender`` has completed a payment to ``recipient`` (returned ones count: they arrived)."""
    return Payment.objects.filter(
        sender=sender, recipient=recipient, status__in=[PaymentStatus.COMPLETED, PaymentStatus.RETURNED]
    ).exists()


def safety_delay_for(user) -> int:
    settings_row = WalletSettings.objects.filter(user=user).first()
    return settings_row.safety_delay_seconds if settings_row else SafetyDelay.OFF


def wallet_settings_update(user, *, safety_delay_seconds: int) -> WalletSettings:
    """Turn the safety delay for first payments to new people on or off."""
    if safety_delay_seconds not in SafetyDelay.values:
        raise ValidationFailed(
            "Choose off, 10 minutes, 1 hour or 24 hours.", fields={"safety_delay_seconds": ["Not a choice."]}
        )
    row, _ = WalletSettings.objects.update_or_create(user=user, defaults={"safety_delay_seconds": safety_delay_seconds})
    return row


def recipient_resolve(sender, to) -> object:
    """A User from a User, an id or "@handle"; refuses unknown, inactive users and oneself."""
    User = get_user_model()
    recipient = None
    if isinstance(to, User):
        recipient = to
    elif isinstance(to, str):
        handle = to.strip().removeprefix("@").strip().lower()
        if not handle:  # not "There is no one called @."
            raise RecipientInvalid(fields={"to": ["Required."]})
        recipient = User.objects.filter(handle=handle).first()
        if recipient is None:
            raise RecipientInvalid(f"There is no one called @{handle[:30]}.", fields={"to": ["Unknown person."]})
    if recipient is None or not recipient.is_active:
        raise RecipientInvalid("That person cannot receive money.", fields={"to": ["Unknown person."]})
    if recipient.pk == sender.pk:
        raise RecipientInvalid("You cannot pay yourself.", fields={"to": ["That is you."]})
    if is_blocked_between(sender, recipient):
        # Never say who blocked whom: the same words either way.
        raise BlockedError(f"You can't pay @{recipient.handle}.", fields={"to": ["Blocked."]})
    return recipient


def _check_note(note: object) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ValidationFailed("The note must be text.", fields={"note": ["Must be text."]})
    if "\x00" in note:  # PostgreSQL text cannot hold NUL: refuse it here, not with a 500
        raise ValidationFailed(
            "The note contains a character that is not allowed.", fields={"note": ["Invalid character."]}
        )
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed(
            f"The note is {len(note)} characters; the limit is {NOTE_MAX_LENGTH}.",
            fields={"note": [f"At most {NOTE_MAX_LENGTH} characters."]},
        )
    return note


def _check_amount(amount: object) -> Money:
    """A positive, bounded Money (``Money`` itself allows zero, negatives and absurd values)."""
    if not isinstance(amount, Money):
        raise ValidationFailed("Enter an amount.", fields={"amount": ["Required."]})
    try:
        check_amount_minor(amount.amount)
    except ValidationFailed as error:
        raise type(error)(error.message, code=error.code, fields={"amount": [error.message]}) from None
    return amount


def payment_quote(sender, *, to, amount: Money) -> PaymentQuote:
    """What paying ``amount`` to ``to`` would do, without doing it (no fee on wallet payments)."""
    recipient = recipient_resolve(sender, to)
    amount = _check_amount(amount)
    fx = fx_quote(send=amount, to_currency=recipient.home_currency)
    return PaymentQuote(
        sender=sender,
        recipient=recipient,
        fx=fx,
        fee=Money(0, amount.currency),
        first_to_recipient=not has_paid_before(sender, recipient),
        safety_delay_seconds=safety_delay_for(sender),
        recipient_joined=recipient.date_joined,
    )


# --- Send -----------------------------------------------------------------------------


def _event(payment: Payment, status: str, actor=None, message: str = "") -> None:
    """Record a status change in the payment's history and tell the apps above (same transaction)."""
    PaymentEvent.objects.create(payment=payment, status=status, actor=actor, message=message[:300])
    payment_status_changed.send(sender=Payment, payment=payment, status=status)


def payment_summary(payment: Payment) -> dict:
    """The small JSON shape pushed over the socket and used in notifications."""
    return {
        "payment_id": payment.pk,
        "status": payment.status,
        "kind": payment.kind,
        "amount": format_money(payment.received_amount, payment.received_currency),
        "sent_amount": format_money(payment.amount, payment.currency),
        "sender": f"@{payment.sender.handle}",
        "recipient": f"@{payment.recipient.handle}",
        "note": payment.note,
        "url": f"/wallet/payments/{payment.pk}/",
    }


def _balances_changed(*users) -> None:
    for user in users:
        event_publish(user_id=user.pk, type="balance.changed", data={})


def _wallets_of(payment: Payment) -> tuple[Account, Account]:
    """The sender's wallet in the sent currency and the recipient's in the received one.

    One query when both exist (the usual case); a missing one is opened by ``wallet_account``.
    """
    found = {
        (account.owner_id, account.currency): account
        for account in Account.objects.filter(
            owner_id__in=[payment.sender_id, payment.recipient_id],
            kind=AccountKind.WALLET,
            currency__in=sorted({payment.currency, payment.received_currency}),
        )
    }
    sender_wallet = found.get((payment.sender_id, payment.currency)) or wallet_account(payment.sender, payment.currency)
    recipient_wallet = found.get((payment.recipient_id, payment.received_currency)) or wallet_account(
        payment.recipient, payment.received_currency
    )
    return sender_wallet, recipient_wallet


def _post_now(payment: Payment, *, ledger_key: str) -> None:
    """Post an instant payment's legs (one, or two through the FX pools) in one ledger batch.

    The legs registered apps add (``payments.hooks``, e.g. a savings round-up) go in the same
    batch, after the payment's own. If that batch is refused for lack of funds, the payment is
    posted again without them (the extras are optional, the payment is not); the refused attempt
    left nothing behind, since the ledger call runs in its own savepoint.
    """
    sender_wallet, recipient_wallet = _wallets_of(payment)
    meta = {"payment": payment.pk}
    if not payment.is_fx:
        legs = [TransferSpec(sender_wallet, recipient_wallet, payment.amount, payment.currency, payment.kind, meta)]
        operation = "transfer"
    else:
        legs = [
            TransferSpec(
                sender_wallet,
                system_account(AccountKind.FX_POOL, payment.currency),
                payment.amount,
                payment.currency,
                "fx_out",
                meta,
            ),
            TransferSpec(
                system_account(AccountKind.FX_POOL, payment.received_currency),
                recipient_wallet,
                payment.received_amount,
                payment.received_currency,
                "fx_in",
                meta,
            ),
        ]
        operation = "payment_fx"
    extras = extra_transfers_for(
        Spend(user=payment.sender, amount=payment.amount, currency=payment.currency, reference={"payment": payment.pk})
    )
    posted = None
    if extras:
        try:
            posted = transfers_post(
                initiator=payment.sender, transfers=[*legs, *extras], idempotency_key=ledger_key, operation=operation
            )
        except InsufficientFunds:
            posted = None  # not enough for the extras too: post the payment alone (below)
    if posted is None:
        posted = transfers_post(
            initiator=payment.sender, transfers=legs, idempotency_key=ledger_key, operation=operation
        )
    if not payment.is_fx:
        payment.debit_transfer = payment.credit_transfer = posted[0]
    else:
        payment.debit_transfer, payment.credit_transfer = posted[0], posted[1]


def _hold(payment: Payment, *, timeout: timedelta, ledger_key: str) -> None:
    """Reserve the sender's money now; it moves on release (to the recipient, or the FX pool)."""
    credit = (
        system_account(AccountKind.FX_POOL, payment.currency)
        if payment.is_fx
        else wallet_account(payment.recipient, payment.received_currency)
    )
    payment.hold = hold_create(
        initiator=payment.sender,
        debit=wallet_account(payment.sender, payment.currency),
        credit=credit,
        amount=payment.amount,
        currency=payment.currency,
        kind=payment.kind,
        timeout=timeout,
        metadata={"payment": payment.pk},
        idempotency_key=ledger_key,
    )


def _insufficient_message(sender, amount: Money) -> str:
    # A read: a refused payment must not open a wallet account as a side effect.
    account = Account.objects.filter(owner=sender, kind=AccountKind.WALLET, currency=amount.currency).first()
    available = max(account.available, 0) if account else 0
    return (
        f"You have {format_money(available, amount.currency)} available in {amount.currency}; "
        f"{amount} is more than that. Add money first."
    )


def payment_send(
    sender,
    *,
    to,
    amount: Money,
    note: str = "",
    kind: str = PaymentKind.PAYMENT,
    tip_target: str = "",
    request: PaymentRequest | None = None,
    idempotency_key: str | None = None,
    safety_delay: bool = True,
) -> Payment:
    """Pay ``amount`` (in the sender's chosen currency) to ``to``, converted to their home currency.

    Guarantees: atomic (the payment row, its limit usage and its ledger postings
    commit together or not at all); idempotent by (sender, key) — the same key
    with the same request returns the first payment and moves nothing, with a
    different request raises IdempotencyKeyReused. Instant unless the payment
    is held for review (risk) or delayed (the sender's safety delay, first
    payment to this person; ``safety_delay=False`` skips it for charges the sender
    set up explicitly, such as a creator subscription). The recipient is notified
    live on commit. Every status change sends ``payments.signals.payment_status_changed``.
    Raises: RecipientInvalid, InvalidAmount, FxUnavailable, AccountFrozen,
    RegionNotLicensed, VerificationRequired, LimitExceeded, InsufficientFunds.
    """
    recipient = recipient_resolve(sender, to)
    note = _check_note(note)
    amount = _check_amount(amount)
    idempotency_key = _check_idempotency_key(idempotency_key)
    request_hash = _request_hash(
        to=recipient.pk,
        amount=amount.amount,
        currency=amount.currency,
        note=note,
        kind=kind,
        tip_target=tip_target,
        request=request.pk if request else None,
    )
    if idempotency_key is not None:
        existing = _replay(sender, idempotency_key, request_hash)
        if existing:
            return existing

    compliance.sending_allowed_check(sender)
    fx = fx_quote(send=amount, to_currency=recipient.home_currency)
    usd = usd_equivalent(amount.amount, amount.currency)
    first = not has_paid_before(sender, recipient)

    @retry_on_conflict
    def attempt() -> Payment:
        with transaction.atomic():
            payment = Payment.objects.create(
                sender=sender,
                recipient=recipient,
                kind=kind,
                status=PaymentStatus.COMPLETED,  # provisional; settled below before commit
                amount=amount.amount,
                currency=amount.currency,
                received_amount=fx.receive.amount,
                received_currency=fx.receive.currency,
                fx_rate=fx.rate if fx.is_conversion else None,
                usd_equivalent=usd,
                note=note,
                tip_target=tip_target[:64],
                request=request,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                first_to_recipient=first,
            )
            reference = f"payment:{payment.pk}"
            compliance.limit_reserve(sender, usd_minor=usd, reference=reference, new_recipient=first)
            reason = compliance.risk_assess(sender, usd_minor=usd, new_recipient=first, reference=reference)
            delay = safety_delay_for(sender) if first and safety_delay else 0
            ledger_key = f"{reference}:send"
            now = timezone.now()
            if reason:
                payment.status = PaymentStatus.IN_REVIEW
                payment.review_reason = reason
                payment.review_deadline = now + REVIEW_WINDOW
                _hold(payment, timeout=REVIEW_WINDOW + HOLD_SLACK, ledger_key=ledger_key)
                compliance.review_open(
                    sender,
                    subject=reference,
                    usd_minor=usd,
                    reason=reason,
                    summary=f"{format_money(amount.amount, amount.currency)} to @{recipient.handle}",
                )
                message = "Held for a quick review before it is sent."
            elif delay:
                payment.status = PaymentStatus.ARRIVING
                payment.release_at = now + timedelta(seconds=delay)
                _hold(payment, timeout=timedelta(seconds=delay) + HOLD_SLACK, ledger_key=ledger_key)
                message = "Safety delay: arrives unless cancelled."
            else:
                _post_now(payment, ledger_key=ledger_key)
                payment.completed_at = now
                message = ""
            payment.save()
            _event(payment, PaymentStatus.IN_REVIEW if reason else payment.status, sender, message)
            _announce_sent(payment, notify_recipient=kind == PaymentKind.PAYMENT)
            return payment

    try:
        return attempt()
    except IntegrityError:
        # A concurrent request with the same key won the unique index: replay it.
        if idempotency_key is not None:
            existing = _replay(sender, idempotency_key, request_hash)
            if existing:
                return existing
        raise
    except InsufficientFunds:
        raise InsufficientFunds(
            _insufficient_message(sender, amount), fields={"amount": ["Not enough money."]}
        ) from None


def _replay(sender, key: str, request_hash: str) -> Payment | None:
    existing = Payment.objects.filter(sender=sender, idempotency_key=key).select_related("sender", "recipient").first()
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return existing


def _announce_sent(payment: Payment, *, notify_recipient: bool = True) -> None:
    """Tell the people involved, live. Tips and paid requests are announced by their own
    services (``tip.received``, ``request.paid``) when first sent, so the recipient is not
    notified twice; a delayed one released later is announced here."""
    data = payment_summary(payment)
    if payment.status == PaymentStatus.COMPLETED:
        if notify_recipient:
            notify(payment.recipient, kind="payment.received", data=data)
        event_publish(user_id=payment.recipient_id, type="payment.received", id=payment.pk, data=data)
        _balances_changed(payment.sender, payment.recipient)
    elif payment.status == PaymentStatus.ARRIVING:
        if notify_recipient:
            notify(payment.recipient, kind="payment.arriving", data=data)
        event_publish(user_id=payment.recipient_id, type="payment.arriving", id=payment.pk, data=data)
        _balances_changed(payment.sender, payment.recipient)
    else:  # in review: only the sender knows
        notify(payment.sender, kind="payment.in_review", data=data)
        _balances_changed(payment.sender)


def _locked(payment: Payment | int) -> Payment:
    pk = payment.pk if isinstance(payment, Payment) else payment
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That payment does not exist.", code="payment_not_found")
    # ``of=("self",)``: lock the payment row only. Without it PostgreSQL also locks the joined
    # sender and recipient user rows FOR UPDATE, which blocks every insert that references
    # them (notifications, other payments, ledger transfers) and can deadlock with the ledger.
    locked = Payment.objects.select_for_update(of=("self",)).select_related("sender", "recipient").filter(pk=pk).first()
    if locked is None:
        raise NotFound("That payment does not exist.", code="payment_not_found")
    return locked


def _lock_accounts_of(payment: Payment) -> None:
    """Lock every ledger account a conversion's follow-up postings touch, in ascending id order.

    A conversion is settled or undone with two ledger calls (one per currency), each of
    which locks only its own pair of accounts: two opposite conversions settled at once
    would take the pairs in opposite orders and deadlock. Locking all four first, in the
    ledger's order (DESIGN §3), keeps the order global; the ledger's own locks are then
    already ours. Same-currency payments need one ledger call, which orders its own locks.
    """
    if not payment.is_fx:
        return
    ids = {
        wallet_account(payment.sender, payment.currency).pk,
        wallet_account(payment.recipient, payment.received_currency).pk,
        system_account(AccountKind.FX_POOL, payment.currency).pk,
        system_account(AccountKind.FX_POOL, payment.received_currency).pk,
    }
    accounts_lock(ids)


def _reopen_request(payment: Payment) -> None:
    if payment.request_id:
        PaymentRequest.objects.filter(pk=payment.request_id, status=RequestStatus.PAID).update(
            status=RequestStatus.OPEN, resolved_at=None
        )


# --- Return ---------------------------------------------------------------------------


@retry_on_conflict
def payment_return(user, *, payment: Payment | int) -> Payment:
    """The recipient sends a completed payment back: the ledger reverses it (no new money).

    Only the recipient may return, only a completed payment, and only once (a
    returned payment cannot be returned again). FX payments reverse both legs:
    the recipient gives back what arrived and the sender gets back exactly what
    left. Raises InsufficientFunds if the recipient no longer has the money.
    Atomic; a second call answers PaymentNotReturnable and moves nothing.
    """
    with transaction.atomic():
        payment = _locked(payment)
        if payment.recipient_id != user.pk:
            raise NotFound("That payment does not exist.", code="payment_not_found")
        if payment.status != PaymentStatus.COMPLETED:
            raise PaymentNotReturnable()
        key = f"payment:{payment.pk}:return"
        _lock_accounts_of(payment)
        payment_returning.send(sender=Payment, payment=payment)
        try:
            transfer_reverse(
                initiator=user, transfer=payment.credit_transfer_id, kind="return", idempotency_key=f"{key}:in"
            )
            if payment.is_fx:
                transfer_reverse(
                    initiator=user, transfer=payment.debit_transfer_id, kind="return", idempotency_key=f"{key}:out"
                )
        except InsufficientFunds:
            raise InsufficientFunds(
                f"You need {format_money(payment.received_amount, payment.received_currency)} available "
                "in your wallet to return this payment.",
                code="insufficient_funds",
            ) from None
        payment.status = PaymentStatus.RETURNED
        payment.returned_at = timezone.now()
        payment.save(update_fields=["status", "returned_at"])
        _event(payment, PaymentStatus.RETURNED, user, f"Returned by @{user.handle}.")
        data = payment_summary(payment)
        notify(payment.sender, kind="payment.returned", data=data)
        event_publish(user_id=payment.sender_id, type="payment.returned", id=payment.pk, data=data)
        event_publish(user_id=payment.recipient_id, type="payment.updated", id=payment.pk, data=data)
        _balances_changed(payment.sender, payment.recipient)
        return payment


# --- Delayed and held payments ----------------------------------------------------------


def _hold_posted(payment: Payment) -> bool:
    return Transfer.objects.filter(pending_id=payment.hold_id, state=TransferState.POSTED).exists()


def _release(payment: Payment, *, actor=None, message: str = "") -> Payment:
    """Post a held payment's money (caller holds the payment's lock and owns the transaction).

    If the hold lapsed first (its timeout passed, or the ledger's generic expiry already
    released it — e.g. the beat was down), nothing can be posted any more: a delayed
    payment is then cancelled (money back, limit released, request reopened), and a
    review approval is refused with PaymentHoldLapsed (the review's own expiry rejects it).
    """
    key = f"payment:{payment.pk}:release"
    _lock_accounts_of(payment)
    try:
        hold_post(initiator=actor or payment.sender, hold=payment.hold_id, idempotency_key=key)
    except (HoldExpired, HoldNotPending):
        if _hold_posted(payment):
            raise
        if payment.status == PaymentStatus.IN_REVIEW:
            raise PaymentHoldLapsed() from None
        hold_expire(hold=payment.hold_id)  # past its timeout but not yet released: release it now
        _void(
            payment,
            status=PaymentStatus.CANCELLED,
            message="The safety delay's hold lapsed before it could be released; the money stayed with the sender.",
        )
        notify(payment.sender, kind="payment.rejected", data=payment_summary(payment))
        return payment
    if payment.is_fx:
        leg = transfer_post(
            initiator=actor or payment.sender,
            debit=system_account(AccountKind.FX_POOL, payment.received_currency),
            credit=wallet_account(payment.recipient, payment.received_currency),
            amount=payment.received_amount,
            currency=payment.received_currency,
            kind="fx_in",
            metadata={"payment": payment.pk},
            idempotency_key=f"{key}:fx_in",
        )
        payment.debit_transfer = Transfer.objects.get(pending_id=payment.hold_id, state="posted")
        payment.credit_transfer = leg
    else:
        payment.debit_transfer = payment.credit_transfer = Transfer.objects.get(
            pending_id=payment.hold_id, state="posted"
        )
    payment.status = PaymentStatus.COMPLETED
    payment.completed_at = timezone.now()
    payment.save(update_fields=["status", "completed_at", "debit_transfer", "credit_transfer"])
    _event(payment, PaymentStatus.COMPLETED, actor, message)
    # A subscription charge is announced by social (subscription.new / .renewed), not as a payment.
    _announce_sent(payment, notify_recipient=payment.kind != PaymentKind.SUBSCRIPTION)
    return payment


def _void(payment: Payment, *, status: str, actor=None, message: str = "") -> Payment:
    """Give a held payment's money back to the sender (caller holds the lock, owns the transaction).

    A hold the ledger already expired has nothing left to void: that is fine, the money is
    back already; the payment still ends ``status`` with its limit released.
    """
    try:
        hold_void(initiator=actor or payment.sender, hold=payment.hold_id, idempotency_key=f"payment:{payment.pk}:void")
    except HoldNotPending:
        if _hold_posted(payment):  # never pretend posted money went back
            raise
    compliance.limit_release(reference=f"payment:{payment.pk}")
    _reopen_request(payment)
    payment.status = status
    payment.save(update_fields=["status"])
    _event(payment, status, actor, message)
    data = payment_summary(payment)
    event_publish(user_id=payment.sender_id, type="payment.updated", id=payment.pk, data=data)
    event_publish(user_id=payment.recipient_id, type="payment.updated", id=payment.pk, data=data)
    _balances_changed(payment.sender, payment.recipient)
    return payment


@retry_on_conflict
def payment_cancel(user, *, payment: Payment | int) -> Payment:
    """The sender cancels a payment still in its safety delay: the hold is voided. Atomic."""
    with transaction.atomic():
        payment = _locked(payment)
        if payment.sender_id != user.pk:
            raise NotFound("That payment does not exist.", code="payment_not_found")
        if payment.status != PaymentStatus.ARRIVING:
            raise PaymentNotCancellable()
        return _void(payment, status=PaymentStatus.CANCELLED, actor=user, message="Cancelled by the sender.")


@retry_on_conflict
def payment_release(payment: Payment | int, *, now=None) -> Payment | None:
    """Post a delayed payment whose safety delay is over. System call; safe to repeat (None: nothing to do).

    Returns the payment: completed, or cancelled when its hold lapsed before release.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        try:
            payment = _locked(payment)
        except NotFound:
            return None
        if payment.status != PaymentStatus.ARRIVING or payment.release_at > moment:
            return None
        return _release(payment, message="Safety delay over.")


def payments_release_due(*, now=None, limit: int = 500) -> int:
    """Release every delayed payment that is due (the Celery beat task). Returns how many."""
    moment = now or timezone.now()
    ids = list(
        Payment.objects.filter(status=PaymentStatus.ARRIVING, release_at__lte=moment)
        .order_by("release_at")
        .values_list("pk", flat=True)[:limit]
    )
    released = 0
    for pk in ids:
        try:
            result = payment_release(pk, now=moment)
            if result is not None and result.status == PaymentStatus.COMPLETED:
                released += 1
        except Exception:  # one bad row must not stop the others; it is retried next run
            logger.exception("could not release payment %s", pk)
    return released


def payment_review_decide(*, subject: str, approved: bool, actor=None) -> Payment | None:
    """Act on a compliance review of "payment:<id>": release the money or give it back.

    Runs inside the compliance decision's transaction (the ``review_decided``
    signal), so the decision and the money movement commit together.
    """
    prefix, _, raw_id = subject.partition(":")
    if prefix != "payment" or not raw_id.isdigit():
        return None
    try:
        payment = _locked(int(raw_id))
    except NotFound:  # nothing of ours to act on: let the decision stand
        return None
    if payment.status != PaymentStatus.IN_REVIEW:
        return None
    if approved and actor is not None and getattr(actor, "pk", None) in (payment.sender_id, payment.recipient_id):
        # Maker-checker means nothing if staff may approve money going to themselves.
        raise NotPermitted("You cannot approve a payment to or from yourself.", code="own_record")
    if approved:
        return _release(payment, actor=actor, message="Approved after review.")
    message = "Rejected after review." if actor else "The review deadline passed; the money went back."
    notify(payment.sender, kind="payment.rejected", data=payment_summary(payment))
    return _void(payment, status=PaymentStatus.REJECTED, actor=actor, message=message)


def payment_for_user(user, payment_id) -> Payment:
    """A payment the user sent or received, else NotFound (never reveals other people's payments)."""
    try:
        if isinstance(payment_id, (bool, float)):
            raise TypeError
        pk = int(payment_id)
    except (TypeError, ValueError):
        raise NotFound("That payment does not exist.", code="payment_not_found") from None
    payment = (
        Payment.objects.select_related("sender", "recipient").filter(pk=pk).first() if pk > 0 and pk < 2**63 else None
    )
    if payment is None or user.pk not in (payment.sender_id, payment.recipient_id):
        raise NotFound("That payment does not exist.", code="payment_not_found")
    return payment


__all__ = [
    "OPEN_STATUSES",
    "NotPermitted",
    "PaymentHoldLapsed",
    "PaymentNotCancellable",
    "PaymentNotReturnable",
    "PaymentQuote",
    "RecipientInvalid",
    "payment_cancel",
    "payment_for_user",
    "payment_quote",
    "payment_release",
    "payment_return",
    "payment_review_decide",
    "payment_send",
    "payments_release_due",
    "recipient_resolve",
    "wallet_settings_update",
]
