"""Checks: write one (the money leaves at once), deposit it, void it, return it when stale.

Ledger shape: writing moves the amount from the writer's wallet to the system account
``CHECKS_OUTSTANDING`` of the check's currency (one posted transfer, ``write_transfer``).
Exactly one of three things then happens, recorded as ``settle_transfer``:

- a deposit: ``CHECKS_OUTSTANDING`` -> the depositor's wallet (same currency);
- a void by the writer, or staleness after ``settings.CHECKS_STALE_DAYS``:
  ``CHECKS_OUTSTANDING`` -> the writer's wallet.

"Exactly one" holds under concurrency: every outcome locks the check row
(``select_for_update``) and acts only while it is ``outstanding``; the ledger keys
(``check:<id>:settle``) make a retry move nothing twice. Lock order: the check row,
then ledger accounts (ascending ids, inside the ledger) — like payments.

The deposit code (12 characters from an alphabet without look-alikes) is stored only
vault-encrypted (``payments.vault``); it is compared in constant time. A wrong number
or a wrong code get the same answer, so the error never tells which part was wrong.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.selectors import is_blocked_between
from accounts.social import BlockedError
from compliance import services as compliance
from core.db import retry_on_conflict
from core.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    NotPermitted,
    Unprocessable,
    ValidationFailed,
)
from core.money import Money, check_amount_minor, format_money
from ledger.models import Account, AccountKind
from ledger.services import InsufficientFunds, system_account, transfer_post
from notifications.models import register_kind
from notifications.services import event_publish, notify

from ..models import Check, CheckStatus
from ..vault import VaultError, vault_decrypt, vault_encrypt
from .common import check_idempotency_key, check_text, request_hash
from .fx import usd_equivalent
from .wallet import wallet_account

logger = logging.getLogger(__name__)

register_kind("check.deposited", "{depositor} deposited your check {number} for {amount}")
register_kind("check.stale", "Your check {number} for {amount} went stale; the money is back in your wallet")
register_kind("check.received", "{writer} wrote you a check for {amount}")

NUMBER_DIGITS = 10
CODE_LENGTH = 12
# No 0/O, 1/I/L: a code read off paper is typed right.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAYEE_MAX_LENGTH = 100
MEMO_MAX_LENGTH = 140
NO_MATCH_MESSAGE = "No outstanding check matches that number and code."


class CheckNotFound(NotFound):
    code = "check_not_found"
    default_message = "That check does not exist."


class CheckNoMatch(NotFound):
    """The number or the code is wrong (never says which)."""

    code = "check_no_match"
    default_message = NO_MATCH_MESSAGE


class CheckAlreadyDeposited(Conflict):
    code = "check_already_deposited"
    default_message = "This check has already been deposited; it cannot be deposited again."


class CheckNotOutstanding(Conflict):
    code = "check_not_outstanding"
    default_message = "This check is no longer outstanding."


class CheckStale(Conflict):
    code = "check_stale"
    default_message = "This check is stale (more than 180 days old); its money went back to the writer."


class CheckOwn(Unprocessable):
    code = "check_own"
    default_message = "You wrote this check, so you cannot deposit it: void it instead."


class CheckPayeeOnly(NotPermitted):
    code = "check_payee_only"
    default_message = "This check is payable to someone else; only they can deposit it."


class PayeeInvalid(ValidationFailed):
    code = "invalid_payee"
    default_message = "Enter who the check is for: a name, or an @handle."


# --- Guessing deposit codes ------------------------------------------------------------------
# A code has ~59 bits, so guessing is hopeless anyway; still, nobody gets to try without end:
# after DEPOSIT_MAX_FAILURES wrong number/code pairs a person waits DEPOSIT_FAILURE_WINDOW seconds
# (the page and the API share the count). Only wrong pairs count: a right code never locks.
DEPOSIT_MAX_FAILURES = 10
DEPOSIT_FAILURE_WINDOW = 15 * 60


class TooManyDepositAttempts(DomainError):
    code = "too_many_deposit_attempts"
    status = 429
    default_message = "Too many wrong check numbers or codes. Wait 15 minutes, then try again."


def _deposit_failures_key(user) -> str:
    # The join date too: a test database may hand a deleted user's id to someone new.
    joined = getattr(user, "date_joined", None)
    return f"checks:deposit-failures:{user.pk}:{joined.timestamp() if joined else ''}"


def deposit_attempt_allowed_check(user) -> None:
    """Raise TooManyDepositAttempts while ``user`` is over the wrong-code limit."""
    if (cache.get(_deposit_failures_key(user)) or 0) >= DEPOSIT_MAX_FAILURES:
        raise TooManyDepositAttempts()


def deposit_failure_record(user, error: DomainError) -> None:
    """Count a wrong number/code pair (``check_no_match``) against ``user``."""
    if error.code != "check_no_match":
        return
    key = _deposit_failures_key(user)
    cache.add(key, 0, DEPOSIT_FAILURE_WINDOW)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, DEPOSIT_FAILURE_WINDOW)


# --- Small helpers -----------------------------------------------------------------------------


def check_number_normalise(value: object) -> str:
    """Digits only ("12345 67890" -> "1234567890"); "" for anything that is not a check number."""
    if not isinstance(value, str):
        return ""
    digits = "".join(ch for ch in value if ch not in " -")
    if len(digits) != NUMBER_DIGITS or not digits.isascii() or not digits.isdigit():
        return ""
    return digits


def deposit_code_normalise(value: object) -> str:
    """Upper case without spaces or dashes ("abcd-efgh-jkmn" -> "ABCDEFGHJKMN"); "" if malformed."""
    if not isinstance(value, str):
        return ""
    code = "".join(ch for ch in value if ch not in " -").upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return ""
    return code


def deposit_code_display(code: str) -> str:
    """Grouped for reading off paper: "ABCD-EFGH-JKMN"."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def check_deposit_code(check: Check) -> str:
    """The check's deposit code, for its writer's printable page only (callers check ownership)."""
    try:
        return vault_decrypt(check.deposit_code_encrypted)
    except VaultError:
        logger.error("check %s: the deposit code cannot be decrypted with VAULT_KEYS", check.pk)
        return ""


def check_deposit_path(check: Check, code: str) -> str:
    """The deposit page prefilled with this check (what its QR code carries)."""
    return f"/wallet/checks/deposit/?number={check.number}&code={code}"


def check_summary(check: Check) -> dict:
    return {
        "check_id": check.pk,
        "number": check.number,
        "amount": format_money(check.amount, check.currency),
        "payee": check.payee_name,
        "status": check.status,
        "writer": f"@{check.writer.handle}",
        "depositor": f"@{check.deposited_by.handle}" if check.deposited_by_id else "",
        "url": f"/wallet/checks/{check.pk}/",
    }


def _new_number() -> str:
    return str(secrets.randbelow(9 * 10 ** (NUMBER_DIGITS - 1)) + 10 ** (NUMBER_DIGITS - 1))


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _payee(writer, payee: object):
    """(payee_name, payee_user or None) from a name or an "@handle"."""
    name = check_text(payee, field="payee", label="payee", max_length=PAYEE_MAX_LENGTH, required=True)
    if not name.startswith("@"):
        return name, None
    handle = name.removeprefix("@").strip().lower()
    User = get_user_model()
    user = User.objects.filter(handle=handle).first() if handle else None
    if user is None or not user.is_active:
        raise PayeeInvalid(f"There is no one called @{handle[:30]}.", fields={"payee": ["Unknown person."]})
    if user.pk == writer.pk:
        raise PayeeInvalid("You cannot write a check to yourself.", fields={"payee": ["That is you."]})
    if is_blocked_between(writer, user):
        raise BlockedError(f"You can't write a check to @{user.handle}.", fields={"payee": ["Blocked."]})
    return (user.name or f"@{user.handle}")[:PAYEE_MAX_LENGTH], user


def _amount(amount: object, currency: str | None) -> Money:
    if isinstance(amount, int) and not isinstance(amount, bool) and currency:
        amount = Money(amount, currency)
    if not isinstance(amount, Money):
        raise ValidationFailed("Enter an amount.", fields={"amount": ["Required."]})
    try:
        check_amount_minor(amount.amount)
    except ValidationFailed as error:
        raise type(error)(error.message, code=error.code, fields={"amount": [error.message]}) from None
    return amount


def _replay(writer, key: str, fingerprint: str) -> Check | None:
    existing = Check.objects.filter(writer=writer, idempotency_key=key).select_related("writer", "payee").first()
    if existing is None:
        return None
    if existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return existing


def _balances_changed(*user_ids: int) -> None:
    for user_id in user_ids:
        event_publish(user_id=user_id, type="balance.changed", data={})


# --- Write -------------------------------------------------------------------------------------


def check_write(
    writer,
    *,
    payee: str,
    amount: Money | int,
    currency: str | None = None,
    memo: str = "",
    idempotency_key: str | None = None,
) -> Check:
    """Write a check: the amount leaves the writer's wallet for the checks-outstanding account now.

    ``payee`` is a name ("Acme Plumbing") or the "@handle" of another active person, who
    then is the only one who may deposit it. Counts against the writer's 7-day sending
    limit like a payment (compliance: frozen accounts, unlicensed regions and tier 0 may
    not write checks). Atomic; idempotent by (writer, key): the same key and request
    returns the first check, a different request raises IdempotencyKeyReused.
    Raises PayeeInvalid, InvalidAmount, AccountFrozen, VerificationRequired,
    LimitExceeded, InsufficientFunds.
    """
    payee_name, payee_user = _payee(writer, payee)
    money = _amount(amount, currency)
    memo = check_text(memo, field="memo", label="memo", max_length=MEMO_MAX_LENGTH)
    key = check_idempotency_key(idempotency_key)
    fingerprint = request_hash(
        payee=payee_user.pk if payee_user else payee_name, amount=money.amount, currency=money.currency, memo=memo
    )
    if key is not None:
        existing = _replay(writer, key, fingerprint)
        if existing:
            return existing
    compliance.sending_allowed_check(writer)
    usd = usd_equivalent(money.amount, money.currency)

    @retry_on_conflict
    def attempt() -> Check:
        with transaction.atomic():
            now = timezone.now()
            for tries in range(5):
                try:
                    with transaction.atomic():
                        check = Check.objects.create(
                            writer=writer,
                            number=_new_number(),
                            payee_name=payee_name,
                            payee=payee_user,
                            amount=money.amount,
                            currency=money.currency,
                            memo=memo,
                            deposit_code_encrypted=vault_encrypt(_new_code()),
                            stale_at=now + timedelta(days=settings.CHECKS_STALE_DAYS),
                            idempotency_key=key,
                            request_hash=fingerprint,
                        )
                    break
                except IntegrityError:
                    # The idempotency key won by a concurrent request: let the caller replay it.
                    if key is not None and Check.objects.filter(writer=writer, idempotency_key=key).exists():
                        raise
                    if tries == 4:
                        raise
            reference = f"check:{check.pk}"
            compliance.limit_reserve(writer, usd_minor=usd, reference=reference)
            check.write_transfer = transfer_post(
                initiator=writer,
                debit=wallet_account(writer, money.currency),
                credit=system_account(AccountKind.CHECKS_OUTSTANDING, money.currency),
                amount=money.amount,
                currency=money.currency,
                kind="check_write",
                metadata={"check": check.pk},
                idempotency_key=f"{reference}:write",
            )
            check.save(update_fields=["write_transfer"])
            if payee_user is not None:
                notify(payee_user, kind="check.received", data={**check_summary(check), "url": ""})
            _balances_changed(writer.pk)
            return check

    try:
        return attempt()
    except IntegrityError:
        if key is not None:
            existing = _replay(writer, key, fingerprint)
            if existing:
                return existing
        raise
    except InsufficientFunds:
        account = Account.objects.filter(owner=writer, kind=AccountKind.WALLET, currency=money.currency).first()
        left = max(account.available, 0) if account else 0
        raise InsufficientFunds(
            f"You have {format_money(left, money.currency)} available in {money.currency}; "
            f"{money} is more than that. Add money first.",
            fields={"amount": ["Not enough money."]},
        ) from None


# --- Reads --------------------------------------------------------------------------------------


def _pk(value) -> int | None:
    if isinstance(value, Check):
        return value.pk
    if isinstance(value, (bool, float)):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk < 2**63 else None


def check_for_writer(user, check) -> Check:
    """A check ``user`` wrote, else CheckNotFound (someone else's id looks like no check at all)."""
    pk = _pk(check)
    found = (
        Check.objects.select_related("writer", "payee", "deposited_by").filter(pk=pk, writer=user).first()
        if pk
        else None
    )
    if found is None:
        raise CheckNotFound()
    return found


def checks_for_user(user) -> QuerySet[Check]:
    """Checks ``user`` wrote or deposited, newest first, with the people joined."""
    return (
        Check.objects.filter(Q(writer=user) | Q(deposited_by=user))
        .select_related("writer", "payee", "deposited_by")
        .order_by("-id")
    )


def check_for_user(user, check) -> Check:
    """A check ``user`` wrote or deposited, else CheckNotFound."""
    pk = _pk(check)
    found = checks_for_user(user).filter(pk=pk).first() if pk else None
    if found is None:
        raise CheckNotFound()
    return found


# --- Deposit -----------------------------------------------------------------------------------


def _find_for_deposit(user, number: object, code: object, *, lock: bool, now) -> Check:
    """The outstanding check this number and code name, checked for ``user``; raises otherwise."""
    number = check_number_normalise(number)
    code = deposit_code_normalise(code)
    if not number or not code:
        raise CheckNoMatch(fields={"code": [NO_MATCH_MESSAGE]})
    rows = Check.objects.select_related("writer", "payee")
    if lock:
        rows = rows.select_for_update(of=("self",))
    check = rows.filter(number=number).first()
    stored = check_deposit_code(check) if check is not None else ""
    # Compare even without a check (a dummy), so timing says nothing about which part was wrong.
    if not hmac.compare_digest((stored or "-" * CODE_LENGTH).encode(), code.encode()) or check is None:
        raise CheckNoMatch(fields={"code": [NO_MATCH_MESSAGE]})
    if check.status == CheckStatus.DEPOSITED:
        raise CheckAlreadyDeposited()
    if check.status == CheckStatus.VOIDED:
        raise CheckNotOutstanding("The writer voided this check; it cannot be deposited.")
    if check.status == CheckStatus.STALE or check.stale_at <= now:
        raise CheckStale()
    if check.writer_id == user.pk:
        raise CheckOwn()
    if check.payee_id is not None and check.payee_id != user.pk:
        raise CheckPayeeOnly(f"This check is payable to @{check.payee.handle}; only they can deposit it.")
    return check


def check_deposit_preview(user, *, number: str, code: str) -> Check:
    """What depositing would do (the confirm step): the check, if ``user`` may deposit it now. Moves nothing."""
    return _find_for_deposit(user, number, code, lock=False, now=timezone.now())


@retry_on_conflict
def check_deposit(user, *, number: str, code: str) -> Check:
    """Deposit a check into ``user``'s wallet (in the check's currency). Exactly once.

    The check row is locked, so of two concurrent deposits one moves the money and the
    other gets CheckAlreadyDeposited. Refused: a wrong number or code (CheckNoMatch, never
    saying which), a voided (CheckNotOutstanding) or stale (CheckStale) check, the writer's
    own check (CheckOwn: void it instead), a check written to someone else's @handle
    (CheckPayeeOnly). The writer is notified ``check.deposited``; both get ``balance.changed``.
    """
    with transaction.atomic():
        check = _find_for_deposit(user, number, code, lock=True, now=timezone.now())
        check.settle_transfer = transfer_post(
            initiator=user,
            debit=system_account(AccountKind.CHECKS_OUTSTANDING, check.currency),
            credit=wallet_account(user, check.currency),
            amount=check.amount,
            currency=check.currency,
            kind="check_deposit",
            metadata={"check": check.pk},
            idempotency_key=f"check:{check.pk}:settle",
        )
        check.status = CheckStatus.DEPOSITED
        check.deposited_by = user
        check.settled_at = timezone.now()
        check.save(update_fields=["settle_transfer", "status", "deposited_by", "settled_at"])
        data = check_summary(check)
        notify(check.writer, kind="check.deposited", data=data)
        event_publish(user_id=check.writer_id, type="check.updated", id=check.pk, data=data)
        _balances_changed(check.writer_id, user.pk)
        return check


# --- Void and stale -----------------------------------------------------------------------------


def _return_to_writer(check: Check, *, status: str, now) -> Check:
    """Move an outstanding check's money back to its writer (caller holds the row lock)."""
    check.settle_transfer = transfer_post(
        initiator=check.writer,
        debit=system_account(AccountKind.CHECKS_OUTSTANDING, check.currency),
        credit=wallet_account(check.writer, check.currency),
        amount=check.amount,
        currency=check.currency,
        kind="check_void" if status == CheckStatus.VOIDED else "check_stale",
        metadata={"check": check.pk},
        idempotency_key=f"check:{check.pk}:settle",
    )
    check.status = status
    check.settled_at = now
    check.save(update_fields=["settle_transfer", "status", "settled_at"])
    event_publish(user_id=check.writer_id, type="check.updated", id=check.pk, data=check_summary(check))
    _balances_changed(check.writer_id)
    return check


def _locked(pk: int | None) -> Check | None:
    if not pk:
        return None
    return Check.objects.select_for_update(of=("self",)).select_related("writer", "payee").filter(pk=pk).first()


@retry_on_conflict
def check_void(writer, *, check: Check | int) -> Check:
    """The writer cancels an outstanding check: the money comes back and the 7-day limit is released.

    Only the writer (anyone else: CheckNotFound); only while outstanding (CheckAlreadyDeposited,
    CheckNotOutstanding). Atomic; exactly once against a concurrent deposit (the row lock).
    """
    with transaction.atomic():
        locked = _locked(_pk(check))
        if locked is None or locked.writer_id != writer.pk:
            raise CheckNotFound()
        if locked.status == CheckStatus.DEPOSITED:
            raise CheckAlreadyDeposited("This check was already deposited, so it cannot be voided.")
        if locked.status != CheckStatus.OUTSTANDING:
            raise CheckNotOutstanding()
        compliance.limit_release(reference=f"check:{locked.pk}")
        return _return_to_writer(locked, status=CheckStatus.VOIDED, now=timezone.now())


@retry_on_conflict
def check_return_stale(check: Check | int, *, now=None) -> Check | None:
    """Return one stale check's money to its writer (system call; None if nothing to do). Once only."""
    moment = now or timezone.now()
    with transaction.atomic():
        locked = _locked(_pk(check))
        if locked is None or locked.status != CheckStatus.OUTSTANDING or locked.stale_at > moment:
            return None
        locked = _return_to_writer(locked, status=CheckStatus.STALE, now=moment)
        notify(locked.writer, kind="check.stale", data=check_summary(locked))
        return locked


def checks_return_stale(*, now=None, limit: int = 500) -> int:
    """Return every outstanding check past its stale date (the Celery beat task). Returns how many.

    Set-wise: one query for the due ids (oldest first, at most ``limit`` per run), then each
    check in its own transaction, so one failure does not stop the others (retried next run).
    """
    moment = now or timezone.now()
    returned = 0
    while True:
        ids = list(
            Check.objects.filter(status=CheckStatus.OUTSTANDING, stale_at__lte=moment)
            .order_by("stale_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return returned
        progressed = 0
        for pk in ids:
            try:
                if check_return_stale(pk, now=moment) is not None:
                    returned += 1
                    progressed += 1
            except Exception:  # one bad row must not stop the others; it is retried next run
                logger.exception("could not return stale check %s", pk)
        if progressed == 0 or len(ids) < limit:
            return returned


__all__ = [
    "CODE_ALPHABET",
    "NO_MATCH_MESSAGE",
    "CheckAlreadyDeposited",
    "CheckNoMatch",
    "CheckNotFound",
    "CheckNotOutstanding",
    "CheckOwn",
    "CheckPayeeOnly",
    "CheckStale",
    "PayeeInvalid",
    "check_deposit",
    "check_deposit_code",
    "check_deposit_path",
    "check_deposit_preview",
    "check_for_user",
    "check_for_writer",
    "check_number_normalise",
    "check_return_stale",
    "check_summary",
    "check_void",
    "check_write",
    "checks_for_user",
    "checks_return_stale",
    "deposit_code_display",
    "deposit_code_normalise",
]
