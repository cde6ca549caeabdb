"""The only code that changes a balance (DESIGN §3).

Every money-moving service here:
- runs in one short ``transaction.atomic()``: it updates the balance counters of
  the accounts involved in ascending id order (no deadlocks), one
  ``UPDATE … RETURNING`` each that locks, checks and applies in one round trip,
  and inserts immutable transfers — all of it or none of it;
- is idempotent when given an ``idempotency_key``: the same initiator, key and
  request return the first result and move nothing; the same key with a
  different request raises ``IdempotencyKeyReused``;
- retries a deadlock or lock timeout a bounded number of times, but only when
  it is the outermost transaction (``core.db.retry_on_conflict``).

Callers (payments, cards, savings...) do their own permission checks: these
functions trust that the initiator may move money between the accounts given.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from core.errors import IdempotencyKeyReused as IdempotencyKeyReused  # re-exported for callers
from core.money import check_amount_minor, check_currency, format_money

from .models import SYSTEM_KINDS, Account, AccountKind, Batch, Transfer, TransferState
from .selectors import holds_due_for_expiry
from .signals import Credited, balance_credited

logger = logging.getLogger(__name__)

# --- Errors ---------------------------------------------------------------------------


class InsufficientFunds(Unprocessable):
    code = "insufficient_funds"
    default_message = "There is not enough money in the account."


class CurrencyMismatch(ValidationFailed):
    code = "currency_mismatch"
    default_message = "Both accounts and the transfer must be in the same currency."


class InvalidTransfer(ValidationFailed):
    code = "invalid_transfer"


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "That ledger account does not exist."


class HoldNotPending(Conflict):
    code = "hold_not_pending"
    default_message = "This hold was already posted, voided or expired."


class HoldExpired(Conflict):
    code = "hold_expired"
    default_message = "This hold has expired; the money was released."


class HoldAmountExceeded(Unprocessable):
    code = "hold_amount_exceeded"
    default_message = "That is more than the hold still reserves."


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = "This transfer was already reversed."


class NotReversible(Conflict):
    code = "not_reversible"
    default_message = "Only a posted transfer that is not itself a reversal can be reversed."


# --- Accounts -------------------------------------------------------------------------


def account_open(*, owner, kind: str, currency: str, must_not_go_negative: bool = True, name: str = "") -> Account:
    """Return the owner's account of this kind and currency, opening it if needed.

    Idempotent and race-safe: the database allows one per (owner, kind, currency).
    """
    if kind in SYSTEM_KINDS:
        raise InvalidTransfer(f"{kind} is a system account kind; use system_account().")
    account, _ = Account.objects.get_or_create(
        owner=owner,
        kind=kind,
        currency=check_currency(currency),
        defaults={"must_not_go_negative": must_not_go_negative, "name": name},
    )
    return account


def system_account(kind: str, currency: str) -> Account:
    """The one system account of this kind and currency, opened on first use.

    System accounts (funding, fees, interest expense, escrow, FX pool, checks
    outstanding, lending) have no owner and may go below zero: they are where
    money enters or leaves the closed system of customer accounts.
    """
    if kind not in SYSTEM_KINDS:
        raise InvalidTransfer(f"{kind} is not a system account kind.")
    account, _ = Account.objects.get_or_create(
        owner=None,
        kind=kind,
        currency=check_currency(currency),
        defaults={"must_not_go_negative": False, "name": AccountKind(kind).label},
    )
    return account


# --- Requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferSpec:
    """One leg of a batch: move ``amount`` minor units from ``debit`` to ``credit``."""

    debit: Account | int
    credit: Account | int
    amount: int
    currency: str
    kind: str
    metadata: dict = field(default_factory=dict)

    @property
    def debit_id(self) -> int:
        return _account_id(self.debit)

    @property
    def credit_id(self) -> int:
        return _account_id(self.credit)

    def as_request(self) -> dict:
        return {
            "debit": self.debit_id,
            "credit": self.credit_id,
            "amount": self.amount,
            "currency": self.currency,
            "kind": self.kind,
            "metadata": self.metadata,
        }


def _account_id(account: Account | int) -> int:
    value = account.pk if isinstance(account, Account) else account
    if isinstance(value, bool) or not isinstance(value, int):
        raise AccountNotFound()
    return value


def _transfer_id(transfer: Transfer | int) -> int:
    value = transfer.pk if isinstance(transfer, Transfer) else transfer
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotFound("That transfer does not exist.", code="transfer_not_found")
    return value


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise ValidationFailed("An idempotency key is 1–200 characters.", code="invalid_idempotency_key")
    return key


def _check_metadata(metadata: object) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidTransfer("Transfer metadata must be a JSON object.")
    try:
        json.dumps(metadata, allow_nan=False)  # NaN is not JSON: PostgreSQL would refuse it
    except (TypeError, ValueError, RecursionError):
        raise InvalidTransfer("Transfer metadata must be JSON-serialisable.") from None
    return metadata


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or not kind or len(kind) > 32:
        raise InvalidTransfer("A transfer kind is 1–32 characters.")
    return kind


def _request_hash(operation: str, request: dict) -> str:
    canonical = json.dumps({"operation": operation, **request}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- The engine -----------------------------------------------------------------------


def _execute(
    *,
    initiator,
    idempotency_key: str | None,
    operation: str,
    request: dict,
    body: Callable[[Batch], list[Transfer]],
) -> list[Transfer]:
    """Run ``body`` in one transaction under a new batch, or replay the batch the key made."""
    key = _check_key(idempotency_key)
    request_hash = _request_hash(operation, request)
    initiator_id = getattr(initiator, "pk", None)

    def find_batch() -> Batch | None:
        if key is None:
            return None
        return Batch.objects.filter(initiator_id=initiator_id, idempotency_key=key).first()

    def replay(batch: Batch) -> list[Transfer]:
        if batch.request_hash != request_hash:
            raise IdempotencyKeyReused()
        return list(batch.transfers.order_by("id"))

    @retry_on_conflict
    def attempt() -> list[Transfer]:
        try:
            with transaction.atomic():
                # No lookup first: the batch row is inserted at once and the unique index on
                # (initiator, key) refuses a reused key; a concurrent call with the same key
                # waits here, then fails and replays below. (lock_timeout is set per
                # connection on PostgreSQL: settings DB_LOCK_TIMEOUT.)
                batch = _batch_insert(
                    initiator_id=initiator_id, key=key, request_hash=request_hash, operation=operation
                )
                return body(batch)
        except IntegrityError:
            existing = find_batch()
            if existing is not None:
                return replay(existing)
            raise

    return attempt()


# The hot path's statements, written once (the ORM would compile them on every transfer).
_BATCH_INSERT_SQL = (
    'INSERT INTO "ledger_batch" (initiator_id, idempotency_key, request_hash, operation, created_at) '
    "VALUES (%s, %s, %s, %s, %s) RETURNING id"
)
_TRANSFER_INSERT_SQL = (
    'INSERT INTO "ledger_transfer" (batch_id, debit_account_id, credit_account_id, amount, currency, kind, state, '
    "pending_id, reverses_id, timeout_at, metadata, initiator_id, created_at) VALUES "
)
_TRANSFER_ROW_SQL = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
# One statement per account, in ascending id order: it takes the row lock, checks the currency
# and (for a must-not-go-negative account) that posted credits still cover posted and pending
# debits after the change, and applies the change, in one round trip. WHERE reads the row
# before the change; no row back means refused (the caller finds out why and rolls back).
_ACCOUNT_APPLY_SQL = (
    'UPDATE "ledger_account" SET debits_posted = debits_posted + %s, '
    "credits_posted = credits_posted + %s, debits_pending = debits_pending + %s, "
    "credits_pending = credits_pending + %s "
    "WHERE id = %s AND currency = %s AND (NOT must_not_go_negative "
    "OR credits_posted + %s >= debits_posted + %s + debits_pending + %s) "
    "RETURNING owner_id, kind, credits_posted - debits_posted"
)


def _hot_cursor():
    """A cursor for the statements above.

    On PostgreSQL it binds parameters on the server (Django's own cursors bind on the client),
    so these few fixed statements are prepared once per connection and only bound after that
    (``DB_PREPARE_THRESHOLD``; the ORM's cursors never prepare). When queries are being logged
    (DEBUG, ``assertNumQueries``, ``CaptureQueriesContext``) it is Django's usual cursor, so the
    log shows the SQL with its values rather than ``$1``.
    """
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    return connection.make_cursor(psycopg.Cursor(connection.connection))


def _batch_insert(*, initiator_id: int | None, key: str | None, request_hash: str, operation: str) -> Batch:
    now = timezone.now()
    with _hot_cursor() as cursor:
        cursor.execute(
            _BATCH_INSERT_SQL,
            [initiator_id, key, request_hash, operation, connection.ops.adapt_datetimefield_value(now)],
        )
        (batch_id,) = cursor.fetchone()
    batch = Batch(
        id=batch_id,
        initiator_id=initiator_id,
        idempotency_key=key,
        request_hash=request_hash,
        operation=operation,
        created_at=now,
    )
    batch._state.adding = False
    batch._state.db = connection.alias
    return batch


def _transfers_insert(transfers: list[Transfer]) -> list[Transfer]:
    """Insert unsaved Transfer instances in one statement and return them, saved."""
    now = timezone.now()
    ops = connection.ops
    params: list = []
    for transfer in transfers:
        transfer.created_at = now
        params.extend(
            (
                transfer.batch_id,
                transfer.debit_account_id,
                transfer.credit_account_id,
                transfer.amount,
                transfer.currency,
                transfer.kind,
                transfer.state,
                transfer.pending_id,
                transfer.reverses_id,
                ops.adapt_datetimefield_value(transfer.timeout_at),
                ops.adapt_json_value(transfer.metadata, None),
                transfer.initiator_id,
                ops.adapt_datetimefield_value(now),
            )
        )
    sql = _TRANSFER_INSERT_SQL + ", ".join([_TRANSFER_ROW_SQL] * len(transfers)) + " RETURNING id"
    with _hot_cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    for transfer, transfer_id in zip(transfers, sorted(ids), strict=True):
        transfer.id = transfer_id
        transfer._state.adding = False
        transfer._state.db = connection.alias
    return transfers


def accounts_lock(account_ids) -> None:
    """Row-lock these accounts in ascending id order, inside the caller's transaction.

    For a caller that must read balances and decide before calling a service here, or that will
    post in two steps (a capture then its round-up): locking every account first, in the one
    order the ledger uses, keeps the lock order global. The services lock them again (a no-op).
    """
    list(
        Account.objects.select_for_update(no_key=True).filter(pk__in=set(account_ids)).order_by("pk").values_list("pk")
    )


def _lock_accounts(account_ids: set[int]) -> None:
    """Lock the accounts in ascending id order, for a service that must read under the locks
    before it knows the change (a hold's remaining amount, whether a transfer was reversed)."""
    locked = Account.objects.select_for_update(no_key=True).filter(pk__in=account_ids).order_by("pk")
    if len(locked.values_list("pk")) != len(account_ids):
        raise AccountNotFound()


class _Deltas:
    """Changes to the four counters of each account of a batch, checked and applied together.

    ``legs`` are the batch's (debit id, credit id, currency): every account they name is
    updated (a zero change still locks it and checks it exists in that currency).
    """

    def __init__(self, legs: Sequence[tuple[int, int, str]]) -> None:
        self.legs = legs
        self.by_account: dict[int, list[int]] = {}
        self.currency: dict[int, str | None] = {}
        for debit_id, credit_id, currency in legs:
            for account_id in (debit_id, credit_id):
                self.by_account.setdefault(account_id, [0, 0, 0, 0])
                # Two currencies on one account: refused below, with the error the legs explain.
                self.currency[account_id] = currency if self.currency.get(account_id, currency) == currency else None

    def add(self, account_id: int, column: str, amount: int) -> None:
        self.by_account[account_id][_COUNTERS[column]] += amount

    def check_and_apply(self) -> None:
        """Apply every change in ascending account id order, or raise (the caller rolls back)."""
        credits = []
        with _hot_cursor() as cursor:
            for account_id in sorted(self.by_account):
                debits_posted, credits_posted, debits_pending, credits_pending = self.by_account[account_id]
                currency = self.currency[account_id]
                row = None
                if currency is not None:
                    cursor.execute(
                        _ACCOUNT_APPLY_SQL,
                        [
                            debits_posted,
                            credits_posted,
                            debits_pending,
                            credits_pending,
                            account_id,
                            currency,
                            credits_posted,
                            debits_posted,
                            debits_pending,
                        ],
                    )
                    row = cursor.fetchone()
                if row is None:
                    raise self._refusal(account_id)
                owner_id, kind, balance = row
                net = credits_posted - debits_posted
                if net > 0 and owner_id is not None:
                    credits.append(Credited(account_id, owner_id, kind, currency, balance - net, balance))
        if credits and balance_credited.has_listeners():
            # Listeners hear (after commit) which owned accounts' posted balance went up.
            transaction.on_commit(lambda: _send_credited(credits))

    def _refusal(self, failed_id: int) -> Exception:
        """Why the update of ``failed_id`` matched no row, in the order the checks are documented."""
        accounts = Account.objects.in_bulk(list(self.by_account))
        if len(accounts) != len(self.by_account):
            return AccountNotFound()
        for debit_id, credit_id, currency in self.legs:
            debit, credit = accounts[debit_id], accounts[credit_id]
            if debit.currency != currency or credit.currency != currency:
                return CurrencyMismatch(
                    f"A {currency} transfer needs two {currency} accounts (got {debit.currency} and {credit.currency})."
                )
        account = accounts[failed_id]  # not changed by this batch: its update matched nothing
        return InsufficientFunds(
            f"Not enough money: {format_money(max(account.available, 0), account.currency)} available.",
            fields={"amount": ["More than the available balance."]},
        )


_COUNTERS = {"debits_posted": 0, "credits_posted": 1, "debits_pending": 2, "credits_pending": 3}


def _send_credited(credits: list[Credited]) -> None:
    # After commit the money has moved: a failing receiver is logged, never raised to the payer.
    for receiver, result in balance_credited.send_robust(sender=Account, credits=credits):
        if isinstance(result, Exception):
            logger.error("balance_credited receiver %r failed", receiver, exc_info=result)


def _validate_specs(specs: Sequence[TransferSpec]) -> list[TransferSpec]:
    if not specs:
        raise InvalidTransfer("A batch needs at least one transfer.")
    if len(specs) > 100:
        raise InvalidTransfer("A batch holds at most 100 transfers.")
    checked = []
    for spec in specs:
        if not isinstance(spec, TransferSpec):
            raise InvalidTransfer("Each leg must be a TransferSpec.")
        if spec.debit_id == spec.credit_id:
            raise InvalidTransfer("A transfer needs two different accounts.")
        check_amount_minor(spec.amount)
        checked.append(
            TransferSpec(
                debit=spec.debit_id,
                credit=spec.credit_id,
                amount=spec.amount,
                currency=check_currency(spec.currency),
                kind=_check_kind(spec.kind),
                metadata=_check_metadata(spec.metadata),
            )
        )
    return checked


# --- Posting --------------------------------------------------------------------------


def transfers_post(
    *, initiator, transfers: Sequence[TransferSpec], idempotency_key: str | None = None, operation: str = "transfer"
) -> list[Transfer]:
    """Post several transfers together, all or none (a payment and its fee, FX legs...).

    Atomic, idempotent by (initiator, key). Raises InsufficientFunds when a
    must-not-go-negative account would end below zero after all the legs.
    """
    specs = _validate_specs(transfers)

    def body(batch: Batch) -> list[Transfer]:
        deltas = _Deltas([(s.debit_id, s.credit_id, s.currency) for s in specs])
        for spec in specs:
            deltas.add(spec.debit_id, "debits_posted", spec.amount)
            deltas.add(spec.credit_id, "credits_posted", spec.amount)
        deltas.check_and_apply()
        return _transfers_insert(
            [
                Transfer(
                    batch=batch,
                    debit_account_id=spec.debit_id,
                    credit_account_id=spec.credit_id,
                    amount=spec.amount,
                    currency=spec.currency,
                    kind=spec.kind,
                    state=TransferState.POSTED,
                    metadata=spec.metadata,
                    initiator_id=batch.initiator_id,
                )
                for spec in specs
            ]
        )

    return _execute(
        initiator=initiator,
        idempotency_key=idempotency_key,
        operation=operation,
        request={"transfers": [s.as_request() for s in specs]},
        body=body,
    )


def transfer_post(
    *,
    initiator,
    debit: Account | int,
    credit: Account | int,
    amount: int,
    currency: str,
    kind: str,
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> Transfer:
    """Move ``amount`` from ``debit`` to ``credit`` now. Atomic and idempotent by key."""
    spec = TransferSpec(debit, credit, amount, currency, kind, metadata or {})
    return transfers_post(initiator=initiator, transfers=[spec], idempotency_key=idempotency_key)[0]


# --- Two-phase holds ------------------------------------------------------------------


def hold_create(
    *,
    initiator,
    debit: Account | int,
    credit: Account | int,
    amount: int,
    currency: str,
    kind: str,
    timeout: timedelta | None = None,
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> Transfer:
    """Reserve ``amount`` of ``debit`` for ``credit`` without moving it yet (a pending transfer).

    The money stops being available to the debit account at once. Resolve the
    hold with hold_post or hold_void; if neither happens before ``timeout``
    (default LEDGER_DEFAULT_HOLD_TIMEOUT_SECONDS) it expires and is released.
    """
    (spec,) = _validate_specs([TransferSpec(debit, credit, amount, currency, kind, metadata or {})])
    if timeout is None:
        timeout = timedelta(seconds=settings.LEDGER_DEFAULT_HOLD_TIMEOUT_SECONDS)
    if not isinstance(timeout, timedelta) or timeout <= timedelta(0):
        raise InvalidTransfer("A hold's timeout must be a positive duration.")

    def body(batch: Batch) -> list[Transfer]:
        deltas = _Deltas([(spec.debit_id, spec.credit_id, spec.currency)])
        deltas.add(spec.debit_id, "debits_pending", spec.amount)
        deltas.add(spec.credit_id, "credits_pending", spec.amount)
        deltas.check_and_apply()
        return _transfers_insert(
            [
                Transfer(
                    batch=batch,
                    debit_account_id=spec.debit_id,
                    credit_account_id=spec.credit_id,
                    amount=spec.amount,
                    currency=spec.currency,
                    kind=spec.kind,
                    state=TransferState.PENDING,
                    timeout_at=timezone.now() + timeout,
                    metadata=spec.metadata,
                    initiator_id=batch.initiator_id,
                )
            ]
        )

    request = {**spec.as_request(), "timeout": timeout.total_seconds()}
    return _execute(
        initiator=initiator, idempotency_key=idempotency_key, operation="hold_create", request=request, body=body
    )[0]


def hold_remaining(hold: Transfer) -> int:
    """What a hold still reserves: its amount less every transfer that resolved part of it."""
    resolved = hold.resolutions.aggregate(total=Coalesce(Sum("amount"), 0))["total"]
    return hold.amount - resolved


def _resolve_hold(
    *,
    initiator,
    hold: Transfer | int,
    operation: str,
    post_amount: int | None,
    release_rest: bool,
    release_state: str,
    idempotency_key: str | None,
    metadata: dict | None,
    now: datetime | None = None,
) -> list[Transfer]:
    hold_id = _transfer_id(hold)
    metadata = _check_metadata(metadata)

    def body(batch: Batch) -> list[Transfer]:
        pending = Transfer.objects.filter(pk=hold_id, state=TransferState.PENDING).first()
        if pending is None:
            raise NotFound("That hold does not exist.", code="hold_not_found")
        _lock_accounts({pending.debit_account_id, pending.credit_account_id})
        remaining = hold_remaining(pending)  # read under the accounts' locks
        if remaining <= 0:
            raise HoldNotPending()
        to_post = remaining if post_amount is None else post_amount
        if to_post and pending.timeout_at and pending.timeout_at <= (now or timezone.now()):
            raise HoldExpired()  # releasing is still fine; moving money after the deadline is not
        if to_post > remaining:
            raise HoldAmountExceeded(
                f"The hold reserves {format_money(remaining, pending.currency)}; "
                f"{format_money(to_post, pending.currency)} is more than that."
            )
        to_release = remaining - to_post if release_rest else 0
        deltas = _Deltas([(pending.debit_account_id, pending.credit_account_id, pending.currency)])
        made = []
        common = {
            "batch": batch,
            "debit_account_id": pending.debit_account_id,
            "credit_account_id": pending.credit_account_id,
            "currency": pending.currency,
            "kind": pending.kind,
            "pending": pending,
            "metadata": metadata,
            "initiator_id": batch.initiator_id,
        }
        if to_post:
            deltas.add(pending.debit_account_id, "debits_pending", -to_post)
            deltas.add(pending.debit_account_id, "debits_posted", to_post)
            deltas.add(pending.credit_account_id, "credits_pending", -to_post)
            deltas.add(pending.credit_account_id, "credits_posted", to_post)
            made.append(Transfer(amount=to_post, state=TransferState.POSTED, **common))
        if to_release:
            deltas.add(pending.debit_account_id, "debits_pending", -to_release)
            deltas.add(pending.credit_account_id, "credits_pending", -to_release)
            made.append(Transfer(amount=to_release, state=release_state, **common))
        deltas.check_and_apply()
        return _transfers_insert(made)

    request = {"hold": hold_id, "amount": post_amount, "release_rest": release_rest, "metadata": metadata}
    return _execute(
        initiator=initiator, idempotency_key=idempotency_key, operation=operation, request=request, body=body
    )


def hold_post(
    *,
    initiator,
    hold: Transfer | int,
    amount: int | None = None,
    release_rest: bool = True,
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> Transfer:
    """Move all of a hold, or ``amount`` of it, to the credit account.

    With ``release_rest`` (the default) whatever the hold still reserves after
    this is released at once (a partial capture that completes the hold);
    without it the rest stays held for a later post (capture in parts).
    Returns the posted transfer. Atomic and idempotent by key.
    """
    if amount is not None:
        check_amount_minor(amount)
    made = _resolve_hold(
        initiator=initiator,
        hold=hold,
        operation="hold_post",
        post_amount=amount,
        release_rest=release_rest,
        release_state=TransferState.VOIDED,
        idempotency_key=idempotency_key,
        metadata=metadata,
    )
    return next(t for t in made if t.state == TransferState.POSTED)


def hold_void(
    *, initiator, hold: Transfer | int, metadata: dict | None = None, idempotency_key: str | None = None
) -> Transfer:
    """Release what a hold still reserves back to the debit account. Atomic and idempotent by key."""
    (voided,) = _resolve_hold(
        initiator=initiator,
        hold=hold,
        operation="hold_void",
        post_amount=0,
        release_rest=True,
        release_state=TransferState.VOIDED,
        idempotency_key=idempotency_key,
        metadata=metadata,
    )
    return voided


def hold_expire(*, hold: Transfer | int, now: datetime | None = None) -> Transfer | None:
    """Release a hold whose timeout has passed. System call; safe to repeat (None if nothing to do)."""
    hold_id = _transfer_id(hold)
    moment = now or timezone.now()
    pending = Transfer.objects.filter(pk=hold_id, state=TransferState.PENDING).first()
    if pending is None or pending.timeout_at is None or pending.timeout_at > moment:
        return None
    try:
        made = _resolve_hold(
            initiator=None,
            hold=hold_id,
            operation="hold_expire",
            post_amount=0,
            release_rest=True,
            release_state=TransferState.EXPIRED,
            idempotency_key=None,  # the remaining-amount check under the locks makes this once-only
            metadata={},
            now=moment,
        )
    except HoldNotPending:
        return None  # posted or voided in full before it could expire
    return made[0] if made else None


def holds_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire up to ``limit`` holds past their timeout; returns how many were released."""
    moment = now or timezone.now()
    count = 0
    for hold_id in holds_due_for_expiry(now=moment, limit=limit):
        if hold_expire(hold=hold_id, now=moment) is not None:
            count += 1
    return count


# --- Reversal -------------------------------------------------------------------------


def transfer_reverse(
    *,
    initiator,
    transfer: Transfer | int,
    kind: str = "reversal",
    metadata: dict | None = None,
    idempotency_key: str | None = None,
) -> Transfer:
    """Undo a posted transfer with a compensating one that references it.

    The original is never edited. A transfer is reversed at most once, and a
    reversal is not itself reversible. Fails with InsufficientFunds when the
    account that received the money no longer has it. Atomic, idempotent by key.
    """
    transfer_id = _transfer_id(transfer)
    kind = _check_kind(kind)
    metadata = _check_metadata(metadata)

    def body(batch: Batch) -> list[Transfer]:
        original = Transfer.objects.filter(pk=transfer_id).first()
        if original is None:
            raise NotFound("That transfer does not exist.", code="transfer_not_found")
        if original.state != TransferState.POSTED or original.reverses_id is not None:
            raise NotReversible()
        _lock_accounts({original.debit_account_id, original.credit_account_id})
        if Transfer.objects.filter(reverses=original).exists():  # checked under the locks
            raise AlreadyReversed()
        deltas = _Deltas([(original.credit_account_id, original.debit_account_id, original.currency)])
        deltas.add(original.credit_account_id, "debits_posted", original.amount)
        deltas.add(original.debit_account_id, "credits_posted", original.amount)
        deltas.check_and_apply()
        return _transfers_insert(
            [
                Transfer(
                    batch=batch,
                    debit_account_id=original.credit_account_id,
                    credit_account_id=original.debit_account_id,
                    amount=original.amount,
                    currency=original.currency,
                    kind=kind,
                    state=TransferState.POSTED,
                    reverses=original,
                    metadata=metadata,
                    initiator_id=batch.initiator_id,
                )
            ]
        )

    request = {"transfer": transfer_id, "kind": kind, "metadata": metadata}
    return _execute(
        initiator=initiator, idempotency_key=idempotency_key, operation="reverse", request=request, body=body
    )[0]
