""" "Pay with protection": escrow between two people, built on a ledger hold (DESIGN §3).

Ledger shape: the buyer's money is one ledger hold (kind ``escrow``) from the
buyer's wallet to the seller's wallet in the SAME currency (no FX: the seller
gets a wallet in that currency on demand). While it is held the buyer's
*available* balance is lower and the seller sees it as *pending in*; nothing
is posted until one outcome happens, EXACTLY ONCE:

- released: the buyer confirms (``escrow_release``), or 7 days pass without a
  dispute (``escrows_auto_release_due``, the Celery beat task
  ``payments.tasks.auto_release_escrows``), or staff decide for the seller
  (``escrow_resolve(..., outcome="release")``) → ``hold_post``;
- refunded: staff decide for the buyer (``escrow_resolve(..., outcome="refund")``)
  or the seller gives the money back (``escrow_refund_by_seller``) → ``hold_void``.

A dispute (``escrow_dispute_open``, buyer or seller, while held and before the
auto-release time) stops the auto-release until staff resolve it in the admin.

The ledger hold's own timeout is ``HOLD_TIMEOUT`` (60 days), far beyond the
7-day auto-release, so our task always acts first on an undisputed escrow. If a
dispute is still open when the ledger expires the hold (its generic expiry task
returns the money to the buyer), nothing can be posted any more: the next run of
``escrows_auto_release_due`` marks such an escrow *refunded* (and a staff
decision to release it then ends refunded too, with the audit entry saying so).
It never crashes on such a row.

Exactly once: every status change locks the escrow row (``select_for_update``)
before touching the ledger and checks the status under the lock, so a second
attempt (another tab, the task, another staff member) raises ``EscrowNotOpen``
(409) with a message saying what already happened, and moves nothing.

Lock order (no deadlocks, same as payments): on create, the new escrow row, then
the buyer's compliance row (limits), then ledger accounts (ascending ids, inside
the ledger); on a status change, the escrow row, then ledger accounts.

Every status change publishes ``escrow.updated`` (``escrow_summary``) to both
parties on commit, and ``balance.changed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.selectors import is_blocked_between
from compliance import services as compliance
from core.db import retry_on_conflict
from core.errors import Conflict, IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from core.money import Money, format_money
from ledger.models import Transfer, TransferState
from ledger.services import (
    HoldExpired,
    HoldNotPending,
    InsufficientFunds,
    hold_create,
    hold_expire,
    hold_post,
    hold_void,
)
from notifications.models import register_kind
from notifications.services import event_publish, notify

from ..models import ESCROW_OPEN_STATUSES, Escrow, EscrowStatus
from .common import check_idempotency_key, check_text
from .common import request_hash as _request_hash
from .fx import usd_equivalent
from .send import (
    _check_amount,
    _insufficient_message,
    has_paid_before,
    recipient_resolve,
)
from .wallet import wallet_account

logger = logging.getLogger(__name__)

AUTO_RELEASE_AFTER = timedelta(days=7)
# The ledger hold lives far longer than the protection period, so the auto-release (and most
# dispute decisions) happen before the ledger's generic hold expiry could return the money.
HOLD_TIMEOUT = timedelta(days=60)
DESCRIPTION_MAX_LENGTH = 280
REASON_MAX_LENGTH = 1000
NOTE_MAX_LENGTH = 500
CONTEXT_MAX_LENGTH = 64
LEDGER_KIND = "escrow"
OUTCOMES = ("refund", "release")

register_kind("escrow.received", "{buyer} paid you {amount} with protection — released when they confirm")
register_kind("escrow.released", "{buyer} released {amount} to you")
register_kind("escrow.auto_released", "{amount} from {buyer} was released to you: the 7-day protection ended")
register_kind("escrow.disputed", "{actor} opened a dispute about {amount} ({description}); our team will decide")
register_kind("escrow.refunded", "{seller} gave back your {amount}")
register_kind("escrow.resolved_refund", "Our team decided the dispute about {amount}: refunded to {buyer}")
register_kind("escrow.resolved_release", "Our team decided the dispute about {amount}: released to {seller}")
register_kind("escrow.lapsed", "The hold on {amount} ended before it was decided; the money went back to {buyer}")


# --- Errors ---------------------------------------------------------------------------------------


class EscrowNotOpen(Conflict):
    code = "escrow_not_open"
    default_message = "This payment with protection was already settled."


class EscrowDisputed(Conflict):
    code = "escrow_disputed"
    default_message = "A dispute is open on this payment: our team will decide who gets the money."


class EscrowProtectionEnded(Conflict):
    code = "escrow_protection_ended"
    default_message = "The 7-day protection has ended; the money is being released to the seller."


# --- Links: where an escrow was made (owned by the caller, e.g. "conversation:12") ---------------

_LINKS: dict[str, Callable[[str], str]] = {}


def escrow_link_register(prefix: str, build: Callable[[str], str]) -> None:
    """Let a higher app (messaging, commerce) say which local URL an escrow's ``context`` points at.

    ``build`` receives the part after "<prefix>:" and returns a local path ("/messages/12/").
    Payments never imports those apps (DESIGN §2): they register here.
    """
    _LINKS[prefix] = build


def escrow_url(escrow: Escrow) -> str:
    prefix, _, rest = (escrow.context or "").partition(":")
    build = _LINKS.get(prefix)
    if build is None or not rest:
        return ""
    try:
        url = build(rest)
    except Exception:  # a link is a nicety; never fail a money movement over it
        logger.exception("could not build the link of escrow %s", escrow.pk)
        return ""
    return url if isinstance(url, str) and url.startswith("/") else ""


# --- Helpers --------------------------------------------------------------------------------------


def _pk(value: object) -> int:
    pk = value.pk if isinstance(value, Escrow) else value
    if isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) <= 19:
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise NotFound("That payment with protection does not exist.", code="escrow_not_found")
    return pk


def _locked(escrow: Escrow | int) -> Escrow:
    """The escrow row locked for update (that row only: not its users', see payments.send._locked)."""
    locked = (
        Escrow.objects.select_for_update(of=("self",)).select_related("buyer", "seller").filter(pk=_pk(escrow)).first()
    )
    if locked is None:
        raise NotFound("That payment with protection does not exist.", code="escrow_not_found")
    return locked


def _party_locked(user, escrow: Escrow | int) -> Escrow:
    """Locked, if ``user`` is its buyer or seller; anyone else gets NotFound (never reveals it)."""
    locked = _locked(escrow)
    if getattr(user, "pk", None) not in (locked.buyer_id, locked.seller_id):
        raise NotFound("That payment with protection does not exist.", code="escrow_not_found")
    return locked


def escrow_summary(escrow: Escrow) -> dict:
    """The JSON pushed with ``escrow.updated`` and stored with the notifications."""
    return {
        "id": escrow.pk,
        "escrow_id": escrow.pk,
        "status": escrow.status,
        "status_display": escrow.get_status_display(),
        "amount": format_money(escrow.amount, escrow.currency),
        "description": escrow.description,
        "context": escrow.context,
        "buyer": f"@{escrow.buyer.handle}",
        "seller": f"@{escrow.seller.handle}",
        "url": escrow_url(escrow),
    }


def _announce(escrow: Escrow, *, balances: bool = True) -> None:
    data = escrow_summary(escrow)
    for user_id in (escrow.buyer_id, escrow.seller_id):
        event_publish(user_id=user_id, type="escrow.updated", id=escrow.pk, data=data)
        if balances:
            event_publish(user_id=user_id, type="balance.changed", data={})


def _not_open(escrow: Escrow) -> EscrowNotOpen:
    """What already happened, in words, for a second attempt."""
    amount = format_money(escrow.amount, escrow.currency)
    if escrow.status == EscrowStatus.RELEASED:
        return EscrowNotOpen(f"These {amount} were already released to @{escrow.seller.handle}; nothing moved.")
    return EscrowNotOpen(f"These {amount} were already refunded to @{escrow.buyer.handle}; nothing moved.")


def _check_held(escrow: Escrow) -> None:
    if escrow.status == EscrowStatus.DISPUTED:
        raise EscrowDisputed()
    if escrow.status != EscrowStatus.HELD:
        raise _not_open(escrow)


def _hold_state(escrow: Escrow) -> str:
    """How the ledger resolved the hold: "posted", "voided", "expired", or "pending" if not yet."""
    states = set(Transfer.objects.filter(pending_id=escrow.hold_id).values_list("state", flat=True))
    for state in (TransferState.POSTED, TransferState.VOIDED, TransferState.EXPIRED):
        if state in states:
            return state
    return TransferState.PENDING


def _mark(escrow: Escrow, status: str, *, resolved_by=None, note: str = "") -> None:
    escrow.status = status
    escrow.resolved_at = timezone.now()
    escrow.resolved_by = resolved_by
    escrow.resolution_note = (note or "")[:NOTE_MAX_LENGTH]
    escrow.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])


def _lapsed(escrow: Escrow, *, now=None, resolved_by=None, note: str = "") -> Escrow:
    """The ledger hold expired (or is past its timeout): the money is (now) back with the buyer.

    Caller holds the escrow's lock and owns the transaction. Releases a hold that is past its
    timeout but not yet expired by the ledger's task, marks the escrow refunded, tells both.
    """
    hold_expire(hold=escrow.hold_id, now=now)
    state = _hold_state(escrow)
    if state == TransferState.POSTED:  # never pretend posted money went back
        raise _not_open(escrow)
    if state == TransferState.PENDING:  # not lapsed after all: refuse rather than strand the money
        raise EscrowNotOpen("This payment's hold is still in force; try again.", code="escrow_hold_pending")
    compliance.limit_release(reference=f"escrow:{escrow.pk}")
    _mark(
        escrow,
        EscrowStatus.REFUNDED,
        resolved_by=resolved_by,
        note=note or "The hold ended before it was decided; the money went back to the buyer.",
    )
    data = escrow_summary(escrow)
    notify(escrow.buyer, kind="escrow.lapsed", data=data)
    notify(escrow.seller, kind="escrow.lapsed", data=data)
    _announce(escrow)
    return escrow


def _release(escrow: Escrow, *, actor, resolved_by=None, note: str = "") -> Escrow:
    """Post the hold to the seller (caller holds the lock, owns the transaction, checked the status).

    If the ledger hold lapsed first, nothing can be posted: the escrow ends refunded instead.
    """
    try:
        hold_post(initiator=actor, hold=escrow.hold_id, idempotency_key=f"escrow:{escrow.pk}:release")
    except (HoldExpired, HoldNotPending):
        # A staff decision keeps its note (the audit entry says the hold had lapsed).
        return _lapsed(escrow, resolved_by=resolved_by, note=note if resolved_by else "")
    _mark(escrow, EscrowStatus.RELEASED, resolved_by=resolved_by, note=note)
    _announce(escrow)
    return escrow


def _refund(escrow: Escrow, *, actor, resolved_by=None, note: str = "") -> Escrow:
    """Void the hold: the buyer's money is available again (caller holds the lock, owns the transaction).

    A hold the ledger already expired has nothing left to void: the money is back already.
    The buyer's limit usage is released, as for a cancelled payment.
    """
    try:
        hold_void(initiator=actor, hold=escrow.hold_id, idempotency_key=f"escrow:{escrow.pk}:refund")
    except HoldNotPending:
        if _hold_state(escrow) == TransferState.POSTED:
            raise _not_open(escrow) from None
    compliance.limit_release(reference=f"escrow:{escrow.pk}")
    _mark(escrow, EscrowStatus.REFUNDED, resolved_by=resolved_by, note=note)
    _announce(escrow)
    return escrow


# --- Create ---------------------------------------------------------------------------------------


def _replay(buyer, key: str, request_hash: str) -> Escrow | None:
    existing = Escrow.objects.filter(buyer=buyer, idempotency_key=key).select_related("buyer", "seller").first()
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return existing


def escrow_create(
    buyer,
    *,
    seller,
    amount: Money,
    description: str,
    context: str = "",
    idempotency_key: str | None = None,
) -> Escrow:
    """Pay ``seller`` ``amount`` with protection: the money is held until released or refunded.

    Guarantees: atomic (the escrow row, its limit usage and the ledger hold commit
    together or not at all); idempotent by (buyer, key) — the same key with the
    same request returns the first escrow and holds nothing more, with a different
    request raises IdempotencyKeyReused (422). The same sender checks as a payment:
    a frozen, unlicensed or unverified buyer is refused and the USD equivalent
    counts against the 7-day sending limit. No currency conversion: the seller's
    wallet in ``amount``'s currency opens on demand. Auto-releases after 7 days.
    The seller is notified and both get ``escrow.updated`` on commit.
    Raises: RecipientInvalid (seller unknown, inactive or the buyer), NotPermitted (a block
    either way), InvalidAmount,
    ValidationFailed (description missing or over 280 characters), AccountFrozen,
    RegionNotLicensed, VerificationRequired, LimitExceeded, InsufficientFunds (saying
    what is available).
    """
    seller = recipient_resolve(buyer, seller)
    if is_blocked_between(buyer, seller):  # a block either way stops payments (accounts.selectors)
        raise NotPermitted(f"You can't pay @{seller.handle}.", code="blocked", fields={"seller": ["Blocked."]})
    amount = _check_amount(amount)
    description = check_text(
        description, field="description", label="description", max_length=DESCRIPTION_MAX_LENGTH, required=True
    )
    context = check_text(context, field="context", label="context", max_length=CONTEXT_MAX_LENGTH, required=False)
    idempotency_key = check_idempotency_key(idempotency_key)
    request_hash = _request_hash(
        operation="escrow",
        seller=seller.pk,
        amount=amount.amount,
        currency=amount.currency,
        description=description,
        context=context,
    )
    if idempotency_key is not None:
        existing = _replay(buyer, idempotency_key, request_hash)
        if existing:
            return existing

    compliance.sending_allowed_check(buyer)
    usd = usd_equivalent(amount.amount, amount.currency)
    first = not has_paid_before(buyer, seller)

    @retry_on_conflict
    def attempt() -> Escrow:
        with transaction.atomic():
            now = timezone.now()
            escrow = Escrow.objects.create(
                buyer=buyer,
                seller=seller,
                amount=amount.amount,
                currency=amount.currency,
                description=description,
                context=context,
                status=EscrowStatus.HELD,
                auto_release_at=now + AUTO_RELEASE_AFTER,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
            reference = f"escrow:{escrow.pk}"
            # Counts like a payment: against the 7-day limit, and (first time to this seller) towards the
            # new-recipient pattern that risk_assess watches. No review of its own: the money stays
            # held, and a dispute is the escrow's safety net.
            compliance.limit_reserve(buyer, usd_minor=usd, reference=reference, new_recipient=first)
            escrow.hold = hold_create(
                initiator=buyer,
                debit=wallet_account(buyer, amount.currency),
                credit=wallet_account(seller, amount.currency),
                amount=amount.amount,
                currency=amount.currency,
                kind=LEDGER_KIND,
                timeout=HOLD_TIMEOUT,
                metadata={"escrow": escrow.pk},
                idempotency_key=f"{reference}:hold",
            )
            escrow.save(update_fields=["hold"])
            notify(seller, kind="escrow.received", data=escrow_summary(escrow))
            _announce(escrow)
            return escrow

    try:
        return attempt()
    except IntegrityError:
        # A concurrent request with the same key won the unique index: replay it.
        if idempotency_key is not None:
            existing = _replay(buyer, idempotency_key, request_hash)
            if existing:
                return existing
        raise
    except InsufficientFunds:
        raise InsufficientFunds(
            _insufficient_message(buyer, amount), fields={"amount": ["Not enough money."]}
        ) from None


# --- The buyer and the seller ---------------------------------------------------------------------


@retry_on_conflict
def escrow_release(buyer, *, escrow: Escrow | int) -> Escrow:
    """The buyer confirms: the held money goes to the seller (``hold_post``). Atomic, exactly once.

    Only the buyer (the seller gets NotPermitted, anyone else NotFound), only while
    held: a disputed escrow is for staff (EscrowDisputed), a settled one raises
    EscrowNotOpen and moves nothing. The seller is notified.
    """
    with transaction.atomic():
        escrow = _party_locked(buyer, escrow)
        if escrow.buyer_id != buyer.pk:
            raise NotPermitted("Only the buyer can release this money.", code="not_the_buyer")
        _check_held(escrow)
        escrow = _release(escrow, actor=buyer, note="Released by the buyer.")
        if escrow.status == EscrowStatus.RELEASED:
            notify(escrow.seller, kind="escrow.released", data=escrow_summary(escrow))
        return escrow


@retry_on_conflict
def escrow_dispute_open(user, *, escrow: Escrow | int, reason: str) -> Escrow:
    """The buyer or the seller asks staff to decide: the auto-release stops. Atomic, once.

    Only while held and before the auto-release time (after it the money belongs to the
    seller and is being released: EscrowProtectionEnded); a reason (≤ 1,000 characters) is
    required. The other party is notified; staff find it in the admin's dispute queue.
    """
    reason = check_text(reason, field="reason", label="reason", max_length=REASON_MAX_LENGTH, required=True)
    with transaction.atomic():
        escrow = _party_locked(user, escrow)
        if escrow.status == EscrowStatus.DISPUTED:
            raise EscrowDisputed("A dispute is already open on this payment: our team will decide.")
        _check_held(escrow)
        now = timezone.now()
        if escrow.auto_release_at <= now:
            raise EscrowProtectionEnded()
        escrow.status = EscrowStatus.DISPUTED
        escrow.disputed_by = user
        escrow.dispute_reason = reason
        escrow.disputed_at = now
        escrow.save(update_fields=["status", "disputed_by", "dispute_reason", "disputed_at"])
        other = escrow.seller if user.pk == escrow.buyer_id else escrow.buyer
        notify(other, kind="escrow.disputed", data=escrow_summary(escrow) | {"actor": f"@{user.handle}"})
        _announce(escrow, balances=False)
        return escrow


@retry_on_conflict
def escrow_refund_by_seller(seller, *, escrow: Escrow | int) -> Escrow:
    """The seller gives the money back (``hold_void``), while held or disputed. Atomic, exactly once.

    Only the seller (the buyer gets NotPermitted, anyone else NotFound). A settled
    escrow raises EscrowNotOpen and moves nothing. The buyer is notified.
    """
    with transaction.atomic():
        escrow = _party_locked(seller, escrow)
        if escrow.seller_id != seller.pk:
            raise NotPermitted("Only the seller can give this money back.", code="not_the_seller")
        if escrow.status not in ESCROW_OPEN_STATUSES:
            raise _not_open(escrow)
        escrow = _refund(escrow, actor=seller, note="Refunded by the seller.")
        notify(escrow.buyer, kind="escrow.refunded", data=escrow_summary(escrow))
        return escrow


# --- Staff ----------------------------------------------------------------------------------------


def staff_may_resolve(user) -> bool:
    """Active staff with the payments.change_escrow permission."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm("payments.change_escrow")
    )


@retry_on_conflict
def escrow_resolve(staff, *, escrow: Escrow | int, outcome: str, note: str) -> Escrow:
    """Staff decide a dispute: "refund" (``hold_void``) or "release" (``hold_post``). Atomic, exactly once.

    Only active staff with ``payments.change_escrow`` who are not a party to it
    (NotPermitted), only a disputed escrow (else EscrowNotOpen / a held one is not
    in dispute), a note (≤ 500 characters) is required. Writes an audit entry
    (``escrow.refund`` / ``escrow.release``) in the same transaction and notifies
    both parties. If the ledger hold already lapsed, the money is back with the
    buyer: the escrow ends refunded whatever was asked, and the audit entry says so.
    """
    if not staff_may_resolve(staff):
        raise NotPermitted("Only staff allowed to decide disputes can resolve one.")
    if outcome not in OUTCOMES:
        raise ValidationFailed("Choose refund or release.", fields={"outcome": ["Refund or release."]})
    note = check_text(note, field="note", label="note", max_length=NOTE_MAX_LENGTH, required=True)
    with transaction.atomic():
        escrow = _locked(escrow)
        if staff.pk in (escrow.buyer_id, escrow.seller_id):
            raise NotPermitted("You cannot decide a dispute you take part in.", code="own_record")
        if escrow.status == EscrowStatus.HELD:
            raise EscrowNotOpen("There is no dispute open on this payment: only a disputed one can be resolved.")
        if escrow.status != EscrowStatus.DISPUTED:
            raise _not_open(escrow)
        if outcome == "refund":
            escrow = _refund(escrow, actor=staff, resolved_by=staff, note=note)
        else:
            escrow = _release(escrow, actor=staff, resolved_by=staff, note=note)
        done = "refund" if escrow.status == EscrowStatus.REFUNDED else "release"
        compliance.audit_record(
            actor=staff,
            action=f"escrow.{done}",
            target=escrow,
            reason=note,
            data={
                "requested": outcome,
                "amount": escrow.amount,
                "currency": escrow.currency,
                "buyer": escrow.buyer_id,
                "seller": escrow.seller_id,
                "hold_lapsed": done != outcome,
            },
        )
        if done == outcome:  # a lapsed hold already told both
            data = escrow_summary(escrow)
            kind = "escrow.resolved_refund" if done == "refund" else "escrow.resolved_release"
            notify(escrow.buyer, kind=kind, data=data)
            notify(escrow.seller, kind=kind, data=data)
        return escrow


# --- The beat task --------------------------------------------------------------------------------


@retry_on_conflict
def escrow_auto_release(escrow: Escrow | int, *, now=None) -> Escrow | None:
    """Settle one escrow the task found due. System call; safe to repeat (None: nothing to do).

    A held escrow past ``auto_release_at`` is released (or refunded if its hold lapsed);
    an open escrow (held or disputed) whose ledger hold expired is marked refunded.
    """
    moment = now or timezone.now()
    with transaction.atomic():
        try:
            escrow = _locked(escrow)
        except NotFound:
            return None
        if escrow.status not in ESCROW_OPEN_STATUSES:
            return None
        hold = Transfer.objects.filter(pk=escrow.hold_id).only("timeout_at").first()
        lapsed = _hold_state(escrow) != TransferState.PENDING or (
            hold is not None and hold.timeout_at is not None and hold.timeout_at <= moment
        )
        if lapsed:
            return _lapsed(escrow, now=moment)
        if escrow.status != EscrowStatus.HELD or escrow.auto_release_at > moment:
            return None
        escrow = _release(escrow, actor=None, note="Released automatically after the 7-day protection.")
        if escrow.status == EscrowStatus.RELEASED:
            notify(escrow.seller, kind="escrow.auto_released", data=escrow_summary(escrow))
        return escrow


def escrows_auto_release_due(now=None, *, limit: int = 500) -> int:
    """Release held escrows past their auto-release time; mark refunded those whose hold lapsed.

    The Celery beat task (``payments.tasks.auto_release_escrows``). Disputed escrows are
    never released here. Robust per row: one failure is logged and retried on the next
    run, the others go on. Returns how many escrows changed status.
    """
    moment = now or timezone.now()
    due = set(
        Escrow.objects.filter(status=EscrowStatus.HELD, auto_release_at__lte=moment)
        .order_by("auto_release_at")
        .values_list("pk", flat=True)[:limit]
    )
    # Open escrows whose ledger hold is past its timeout, or was already expired by the ledger's task.
    lapsed = set(
        Escrow.objects.filter(status__in=ESCROW_OPEN_STATUSES)
        .filter(Q(hold__timeout_at__lte=moment) | Q(hold__resolutions__state=TransferState.EXPIRED))
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    changed = 0
    for pk in sorted(due | lapsed):
        try:
            result = escrow_auto_release(pk, now=moment)
            if result is not None:
                changed += 1
        except Exception:  # one bad row must not stop the others; it is retried next run
            logger.exception("could not settle escrow %s", pk)
    return changed


# --- Reads ----------------------------------------------------------------------------------------


def escrow_for_user(user, escrow_id) -> Escrow:
    """An escrow the user is the buyer or the seller of, else NotFound (never reveals others')."""
    pk = _pk(escrow_id)
    escrow = Escrow.objects.select_related("buyer", "seller").filter(pk=pk).first()
    if escrow is None or getattr(user, "pk", None) not in (escrow.buyer_id, escrow.seller_id):
        raise NotFound("That payment with protection does not exist.", code="escrow_not_found")
    return escrow


__all__ = [
    "AUTO_RELEASE_AFTER",
    "HOLD_TIMEOUT",
    "EscrowDisputed",
    "EscrowNotOpen",
    "EscrowProtectionEnded",
    "escrow_auto_release",
    "escrow_create",
    "escrow_dispute_open",
    "escrow_for_user",
    "escrow_link_register",
    "escrow_refund_by_seller",
    "escrow_release",
    "escrow_resolve",
    "escrow_summary",
    "escrow_url",
    "escrows_auto_release_due",
    "staff_may_resolve",
]
