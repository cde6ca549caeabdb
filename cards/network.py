"""The card network simulator: what merchants call to authorise, capture, reverse and refund.

Every call is idempotent by (merchant, network transaction id): the first call records a
``CardEvent`` with its answer; a replay with the same body returns that answer and moves
nothing; the same id with a different body raises ``IdempotencyKeyReused``. Malformed input
raises ``ValidationFailed`` (400) and records nothing. A business decline is a normal answer
(``approved: False`` with a ``decline_reason``), recorded like an approval.

Money (all through ``ledger.services``):
- approve = a hold wallet → CARD_SETTLEMENT (USD) that times out after CARDS_AUTHORIZATION_DAYS;
- capture = ``hold_post`` of part or all of it (``final`` releases the rest), then the
  round-up legs (``payments.hooks``) as a separate batch in the same transaction, skipped
  (never the capture) when the wallet cannot cover them;
- reverse = ``hold_void`` of what is left; expiry = ``hold_expire`` (the task);
- refund = a posted transfer CARD_SETTLEMENT → wallet, up to captured − refunded.

Locks: authorise locks the Card row (so two purchases cannot both pass the daily limit), then
the ledger locks the accounts; capture/reverse/refund/expiry lock the Authorization row first.
A capture with round-ups locks all the accounts of both batches (wallet, settlement, savings) in
ascending id order before posting either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from compliance.errors import AccountFrozen
from compliance.services.common import audit_record
from compliance.services.limits import sending_allowed_check
from core.db import retry_on_conflict
from core.errors import Conflict, DomainError, IdempotencyKeyReused, NotFound, Unprocessable, ValidationFailed
from core.money import MAX_AMOUNT_MINOR, UnknownCurrency, check_currency, format_money
from ledger.models import AccountKind
from ledger.services import (
    HoldExpired,
    HoldNotPending,
    InsufficientFunds,
    accounts_lock,
    hold_create,
    hold_expire,
    hold_post,
    hold_void,
    system_account,
    transfer_post,
    transfers_post,
)
from notifications.models import register_kind
from notifications.services import event_publish, notify
from payments.hooks import Spend, extra_transfers_for
from payments.vault import card_fingerprint, small_int, vault_decrypt

from .models import (
    Authorization,
    AuthorizationStatus,
    Card,
    CardEvent,
    CardEventKind,
    CardStatus,
    DeclineReason,
    Merchant,
)
from .numbers import card_expired
from .selectors import card_daily_spent

logger = logging.getLogger(__name__)

CARD_CURRENCY = "USD"
CARDS_URL = "/cards/"
DEMO_MERCHANT_NAME = "Everything Coffee Co."
DEMO_MERCHANT_MCC = "5814"  # fast food / coffee
API_KEY_PREFIX = "mk_"
OPEN_STATUSES = (AuthorizationStatus.PENDING, AuthorizationStatus.PARTIALLY_CAPTURED)
# Used with fullmatch: ``$`` alone also matches before a trailing newline ("5411\n" would pass
# and then overflow varchar(4) on PostgreSQL: a 500 instead of a 400).
_NETWORK_ID = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII, no spaces
_MCC = re.compile(r"[0-9]{4}")
_SEPARATORS = re.compile(r"[\s-]")

# --- Errors ------------------------------------------------------------------------------------


class AuthorizationNotFound(NotFound):
    code = "authorization_not_found"
    default_message = "That authorisation does not exist."


class CaptureExceedsHold(Unprocessable):
    code = "capture_exceeds_hold"
    default_message = "That is more than the authorisation still holds."


class RefundExceedsCapture(Unprocessable):
    code = "refund_exceeds_capture"
    default_message = "That is more than was captured and not yet refunded."


class AuthorizationExpired(Conflict):
    code = "authorization_expired"
    default_message = "This authorisation expired: the money went back to the cardholder."


class AuthorizationClosed(Conflict):
    code = "authorization_closed"
    default_message = "Nothing is held on this authorisation any more."


class AuthorizationDeclined(Conflict):
    code = "authorization_declined"
    default_message = "This authorisation was declined: there is nothing to capture, reverse or refund."


# --- Merchants ---------------------------------------------------------------------------------


def _key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def merchant_create(*, name: str, category_code: str = "5999", is_demo: bool = False) -> tuple[Merchant, str]:
    """Create a merchant and its API key; returns ``(merchant, key)``. The key is shown once:
    only its sha256 and its first characters are stored."""
    name = " ".join(str(name or "").split())
    if not name or len(name) > 100:
        raise ValidationFailed("A merchant's name is 1–100 characters.", fields={"name": ["1–100 characters."]})
    if not isinstance(category_code, str) or not _MCC.fullmatch(category_code):
        raise ValidationFailed(
            "The merchant category code is 4 digits.", fields={"category_code": ["4 digits (ISO 18245)."]}
        )
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    merchant = Merchant.objects.create(
        name=name,
        category_code=category_code,
        api_key_hash=_key_hash(api_key),
        api_key_prefix=api_key[:12],
        is_demo=is_demo,
    )
    return merchant, api_key


def merchant_authenticate(api_key: str | None) -> Merchant | None:
    """The active merchant whose key this is (looked up by its sha256), or None."""
    if not isinstance(api_key, str) or not api_key.startswith(API_KEY_PREFIX) or len(api_key) > 200:
        return None
    merchant = Merchant.objects.filter(api_key_hash=_key_hash(api_key), is_active=True).first()
    if merchant is None or not hmac.compare_digest(merchant.api_key_hash, _key_hash(api_key)):
        return None
    return merchant


def demo_merchant() -> Merchant:
    """The demo checkout's merchant, created on first use (its key is never shown: the page calls us)."""
    merchant = Merchant.objects.filter(is_demo=True).first()
    if merchant is not None:
        return merchant
    try:
        with transaction.atomic():
            merchant, _ = merchant_create(name=DEMO_MERCHANT_NAME, category_code=DEMO_MERCHANT_MCC, is_demo=True)
    except IntegrityError:
        merchant = Merchant.objects.get(is_demo=True)
    return merchant


# --- Input checks (ValidationFailed, nothing recorded) -----------------------------------------


def _network_id(value: object) -> str:
    if not isinstance(value, str) or not _NETWORK_ID.fullmatch(value):
        raise ValidationFailed(
            "network_transaction_id is 1–64 printable characters without spaces.",
            code="invalid_network_transaction_id",
            fields={"network_transaction_id": ["1–64 printable characters without spaces."]},
        )
    return value


def _amount(value: object, *, name: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT_MINOR:
        raise ValidationFailed(
            "The amount is a positive whole number of minor units (cents).",
            code="invalid_amount",
            fields={name: ["A positive whole number of cents."]},
        )
    return value


def _authorization_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise AuthorizationNotFound()
    return value


def _card_input(number: object, exp_month: object, exp_year: object, cvv: object) -> tuple[str, int, int, str]:
    errors: dict[str, list[str]] = {}
    digits = _SEPARATORS.sub("", number) if isinstance(number, str) else ""
    if not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        errors["number"] = ["A card number is 12 to 19 digits."]
    month, year = small_int(exp_month), small_int(exp_year)
    if month is None or not 1 <= month <= 12:
        errors["exp_month"] = ["The expiry month, 1 to 12."]
    if year is not None and year < 100:
        year += 2000
    if year is None or not 2000 <= year <= 9999:
        errors["exp_year"] = ["The expiry year, like 2029."]
    code = cvv.strip() if isinstance(cvv, str) else ""
    if not (code.isascii() and code.isdigit() and len(code) in (3, 4)):
        errors["cvv"] = ["The 3-digit security code."]
    if errors:
        raise ValidationFailed("Check the card details: " + ", ".join(errors) + ".", fields=errors)
    return digits, month, year, code


def _currency(value: object) -> str:
    try:
        return check_currency(value)
    except UnknownCurrency:
        raise ValidationFailed(
            "currency is an ISO 4217 code we know, like USD.",
            code="invalid_currency",
            fields={"currency": ["Unknown."]},
        ) from None


def _text(value: object, *, name: str, max_length: int) -> str:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text.isprintable():  # NUL and other control characters (PostgreSQL text refuses NUL: a 500)
        text = ""
    if not text or len(text) > max_length:
        raise ValidationFailed(f"{name} is 1–{max_length} characters.", fields={name: [f"1–{max_length} characters."]})
    return text


def _request_hash(kind: str, body: dict) -> str:
    canonical = json.dumps({"kind": kind, **body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(merchant: Merchant, network_transaction_id: str, kind: str, request_hash: str) -> dict | None:
    """The stored answer of an earlier call with this id, or None; IdempotencyKeyReused if it differs."""
    event = (
        CardEvent.objects.filter(merchant=merchant, network_transaction_id=network_transaction_id)
        .only("kind", "request_hash", "response")
        .first()
    )
    if event is None:
        return None
    if event.kind != kind or event.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This network_transaction_id was already used for a different request.", code="idempotency_key_reused"
        )
    return event.response


def _run_once(merchant: Merchant, network_transaction_id: str, kind: str, request_hash: str, body) -> dict:
    """Replay, or run ``body()`` in one transaction; a concurrent duplicate replays after the winner."""
    stored = _replay(merchant, network_transaction_id, kind, request_hash)
    if stored is not None:
        return stored
    try:
        with transaction.atomic():
            return body()
    except IntegrityError:
        stored = _replay(merchant, network_transaction_id, kind, request_hash)
        if stored is not None:
            return stored
        raise


def _response(auth: Authorization, network_transaction_id: str, **extra) -> dict:
    return {
        "approved": auth.status != AuthorizationStatus.DECLINED,
        "authorization_id": auth.pk,
        "status": str(auth.status),
        "decline_reason": str(auth.decline_reason or ""),
        "amount": auth.amount,
        "currency": auth.currency,
        "held_amount": auth.held_amount,
        "captured_amount": auth.captured_amount,
        "refunded_amount": auth.refunded_amount,
        "released_amount": auth.released_amount,
        "network_transaction_id": network_transaction_id,
        **extra,
    }


def _announce(auth: Authorization, user_id: int | None, *, balance: bool) -> None:
    if user_id is None:
        return
    event_publish(
        user_id=user_id,
        type="card.authorization",
        data={
            "authorization_id": auth.pk,
            "status": str(auth.status),
            "merchant_name": auth.merchant_name,
            "amount": auth.amount,
            "currency": auth.currency,
        },
    )
    if balance:
        event_publish(user_id=user_id, type="balance.changed", data={})


# --- Authorise ---------------------------------------------------------------------------------


def _find_card(digits: str) -> Card | None:
    return Card.objects.filter(fingerprint=card_fingerprint(digits)).only("pk").first()


# Guessing a card's expiry or CVV: after this many wrong tries in a day the card freezes itself
# (the holder is told and can unfreeze it on /cards/), so the 36 × 1,000 combinations cannot be walked.
WRONG_DETAILS_LIMIT = 5
register_kind(
    "card.frozen_for_safety",
    "We froze your card •••• {last4} after several wrong security details. If that was you, unfreeze it on your card page.",
)
WRONG_DETAILS_WINDOW = timedelta(hours=24)


def _freeze_after_wrong_details(card: Card) -> bool:
    """Freeze ``card`` (locked) when this wrong expiry/CVV is the WRONG_DETAILS_LIMIT-th within a day."""
    since = timezone.now() - WRONG_DETAILS_WINDOW
    earlier = Authorization.objects.filter(
        card=card,
        status=AuthorizationStatus.DECLINED,
        decline_reason__in=(DeclineReason.WRONG_EXPIRY, DeclineReason.WRONG_CVV),
        created_at__gte=since,
    ).count()
    if earlier + 1 < WRONG_DETAILS_LIMIT or card.status != CardStatus.ACTIVE:
        return False
    card.status = CardStatus.FROZEN
    card.frozen_at = timezone.now()
    card.save(update_fields=["status", "frozen_at"])
    return True


@sensitive_variables("number", "cvv", "digits", "code")
def _decide(card: Card, *, month: int, year: int, code: str, amount: int, currency: str, today) -> str:
    """The decline reason for this purchase on this (locked) card, or "" to go on to the hold."""
    if (month, year) != (card.exp_month, card.exp_year):
        return DeclineReason.WRONG_EXPIRY
    if not hmac.compare_digest(vault_decrypt(card.cvv_encrypted).encode(), code.encode()):
        return DeclineReason.WRONG_CVV
    if card.status == CardStatus.CANCELLED:
        return DeclineReason.CANCELLED
    if card_expired(card.exp_month, card.exp_year, today=today):
        return DeclineReason.EXPIRED
    if card.status == CardStatus.FROZEN:
        return DeclineReason.FROZEN
    if currency != CARD_CURRENCY:
        return DeclineReason.CURRENCY_NOT_SUPPORTED
    try:
        sending_allowed_check(card.user)
    except AccountFrozen:
        return DeclineReason.ACCOUNT_FROZEN
    except DomainError:  # region or tier: the card was issued after those checks; only a freeze stops it
        pass
    if amount > card.per_purchase_limit:
        return DeclineReason.OVER_PURCHASE_LIMIT
    if card_daily_spent(card) + amount > card.daily_limit:
        return DeclineReason.OVER_DAILY_LIMIT
    return ""


@retry_on_conflict
@sensitive_variables("number", "cvv", "digits", "code")
def card_authorize(
    merchant: Merchant,
    *,
    number: str,
    exp_month: int,
    exp_year: int,
    cvv: str,
    amount: int,
    currency: str,
    merchant_name: str,
    category_code: str | None,
    network_transaction_id: str,
) -> dict:
    """Approve a purchase (a ledger hold on the holder's USD wallet) or decline it with a reason.

    Idempotent by (merchant, network_transaction_id). The card row is locked while deciding, so
    two purchases cannot both pass the daily limit. Declines are recorded (a declined
    Authorization and a CardEvent) and move nothing; an approval holds ``amount`` for
    CARDS_AUTHORIZATION_DAYS. Pushes ``card.authorization`` (and ``balance.changed`` on an
    approval) to the holder; a decline also notifies ``card.declined``.
    """
    ntid = _network_id(network_transaction_id)
    digits, month, year, code = _card_input(number, exp_month, exp_year, cvv)
    amount = _amount(amount)
    currency = _currency(currency)
    merchant_name = _text(merchant_name, name="merchant_name", max_length=100)
    if category_code is None or category_code == "":
        category_code = merchant.category_code
    elif not isinstance(category_code, str) or not _MCC.fullmatch(category_code):
        raise ValidationFailed("category_code is 4 digits.", fields={"category_code": ["4 digits (ISO 18245)."]})
    request_hash = _request_hash(
        CardEventKind.AUTHORIZE,
        {
            # The number enters the hash only as its keyed fingerprint, the CVV not at all in clear.
            "card": card_fingerprint(digits),
            "cvv": hmac.new(card_fingerprint(digits).encode(), code.encode(), hashlib.sha256).hexdigest(),
            "exp": [month, year],
            "amount": amount,
            "currency": currency,
            "merchant_name": merchant_name,
            "category_code": category_code,
        },
    )

    def body() -> dict:
        found = _find_card(digits)
        card = None
        if found is not None:
            card = Card.objects.select_for_update(of=("self",)).select_related("user").get(pk=found.pk)
        reason = (
            DeclineReason.CARD_NOT_FOUND
            if card is None
            else _decide(card, month=month, year=year, code=code, amount=amount, currency=currency, today=None)
        )
        auth = Authorization(
            card=card,
            merchant=merchant,
            network_transaction_id=ntid,
            merchant_name=merchant_name,
            category_code=category_code,
            amount=amount,
            currency=currency,
        )
        if not reason:
            try:
                with transaction.atomic():  # a savepoint: a refusal leaves the rest of the transaction intact
                    hold = hold_create(
                        initiator=None,
                        debit=card.account_id,
                        credit=system_account(AccountKind.CARD_SETTLEMENT, CARD_CURRENCY),
                        amount=amount,
                        currency=CARD_CURRENCY,
                        kind="card_authorization",
                        timeout=timedelta(days=settings.CARDS_AUTHORIZATION_DAYS),
                        metadata={"card": card.pk, "merchant": merchant.pk, "network_transaction_id": ntid},
                    )
            except InsufficientFunds:
                reason = DeclineReason.INSUFFICIENT_FUNDS
            else:
                auth.hold = hold
                auth.expires_at = hold.timeout_at
                auth.status = AuthorizationStatus.PENDING
        if reason:
            auth.status = AuthorizationStatus.DECLINED
            auth.decline_reason = reason
        froze = reason in (DeclineReason.WRONG_EXPIRY, DeclineReason.WRONG_CVV) and _freeze_after_wrong_details(card)
        auth.save()
        response = _response(auth, ntid)
        CardEvent.objects.create(
            merchant=merchant,
            network_transaction_id=ntid,
            kind=CardEventKind.AUTHORIZE,
            authorization=auth,
            amount=amount,
            approved=not reason,
            decline_reason=reason,
            transfer=auth.hold,
            request_hash=request_hash,
            response=response,
        )
        if froze:
            notify(card.user, kind="card.frozen_for_safety", data={"last4": card.last4, "url": CARDS_URL})
            event_publish(user_id=card.user_id, type="card.updated", data={"card_id": card.pk, "status": card.status})
        if card is not None:
            _announce(auth, card.user_id, balance=not reason)
            if reason:
                notify(
                    card.user,
                    kind="card.declined",
                    data={
                        "merchant": merchant_name,
                        "amount": format_money(amount, currency),
                        "reason": DeclineReason(reason).label,
                        "authorization_id": auth.pk,
                        "url": CARDS_URL,
                    },
                )
        logger.info(
            "card authorisation %s by merchant %s: %s %s",
            auth.pk,
            merchant.pk,
            auth.status,
            reason or "",
        )
        return response

    return _run_once(merchant, ntid, CardEventKind.AUTHORIZE, request_hash, body)


# --- Capture, reverse, refund ------------------------------------------------------------------


def _lock_authorization(merchant: Merchant, authorization_id: int) -> Authorization:
    auth = (
        Authorization.objects.select_for_update(of=("self",))
        .select_related("card")
        .filter(pk=authorization_id, merchant=merchant)
        .first()
    )
    if auth is None:
        raise AuthorizationNotFound()
    return auth


def _require_open(auth: Authorization, *, now: datetime, allow_after_deadline: bool = False) -> None:
    if auth.status == AuthorizationStatus.DECLINED:
        raise AuthorizationDeclined()
    if auth.status == AuthorizationStatus.EXPIRED:
        raise AuthorizationExpired()
    if auth.status not in OPEN_STATUSES or auth.held_amount <= 0:
        raise AuthorizationClosed()
    if not allow_after_deadline and auth.expires_at is not None and auth.expires_at <= now:
        raise AuthorizationExpired()


def _settle_status(auth: Authorization) -> None:
    if auth.held_amount > 0:
        auth.status = AuthorizationStatus.PARTIALLY_CAPTURED if auth.captured_amount else AuthorizationStatus.PENDING
    elif auth.captured_amount:
        auth.status = AuthorizationStatus.CAPTURED


@retry_on_conflict
def card_capture(
    merchant: Merchant, *, authorization_id: int, amount: int | None, network_transaction_id: str, final: bool = False
) -> dict:
    """Capture ``amount`` (None = all that is held) of an open authorisation: the money posts.

    In parts: each capture posts what it names and the rest stays held, until ``final=True``
    (or nothing is left) releases the rest. More than held → CaptureExceedsHold; after the
    7-day deadline → AuthorizationExpired. Round-ups (``payments.hooks``) follow in the same
    transaction, skipped if the wallet cannot cover them. Idempotent by network transaction id.
    """
    ntid = _network_id(network_transaction_id)
    authorization_id = _authorization_id(authorization_id)
    if amount is not None:
        amount = _amount(amount)
    if not isinstance(final, bool):
        raise ValidationFailed("final is true or false.", fields={"final": ["true or false."]})
    request_hash = _request_hash(
        CardEventKind.CAPTURE, {"authorization": authorization_id, "amount": amount, "final": final}
    )

    def body() -> dict:
        now = timezone.now()
        auth = _lock_authorization(merchant, authorization_id)
        _require_open(auth, now=now)
        held = auth.held_amount
        to_capture = held if amount is None else amount
        if to_capture > held:
            raise CaptureExceedsHold(
                f"The authorisation holds {format_money(held, auth.currency)}; "
                f"{format_money(to_capture, auth.currency)} is more than that."
            )
        release_rest = final or to_capture == held
        event = CardEvent.objects.create(
            merchant=merchant,
            network_transaction_id=ntid,
            kind=CardEventKind.CAPTURE,
            authorization=auth,
            amount=to_capture,
            approved=True,
            request_hash=request_hash,
        )
        extras = _roundup_legs(auth, to_capture, event)
        if extras:
            # The capture and its round-ups are two ledger batches: lock every account of both up
            # front, in ascending id order (DESIGN §3). Otherwise wallet + settlement are locked
            # first and the savings account (often the lower id) after: a deadlock with a savings
            # deposit, which locks savings then wallet.
            accounts_lock(
                {auth.card.account_id, system_account(AccountKind.CARD_SETTLEMENT, CARD_CURRENCY).pk}
                | {spec.debit_id for spec in extras}
                | {spec.credit_id for spec in extras}
            )
        try:
            posted = hold_post(
                initiator=None,
                hold=auth.hold_id,
                amount=to_capture,
                release_rest=release_rest,
                metadata={"card_capture": event.pk},
            )
        except (HoldExpired, HoldNotPending):
            raise AuthorizationExpired() from None
        auth.captured_amount += to_capture
        if release_rest:
            auth.released_amount += held - to_capture
        _settle_status(auth)
        auth.save(update_fields=["captured_amount", "released_amount", "status", "updated_at"])
        _roundups(auth, extras, event)
        response = _response(auth, ntid, event_amount=to_capture)
        event.transfer = posted
        event.response = response
        event.save(update_fields=["transfer", "response"])
        _announce(auth, auth.card.user_id if auth.card else None, balance=True)
        return response

    return _run_once(merchant, ntid, CardEventKind.CAPTURE, request_hash, body)


def _roundup_legs(auth: Authorization, captured: int, event: CardEvent) -> list:
    """The extra legs (savings round-ups) the ``payments.hooks`` add to a captured amount (reads only)."""
    card = auth.card
    if card is None:
        return []
    return extra_transfers_for(
        Spend(user=card.user, amount=captured, currency=CARD_CURRENCY, reference={"card_capture": event.pk})
    )


def _roundups(auth: Authorization, extras: list, event: CardEvent) -> None:
    """Post the extra legs for a capture as their own batch; skipped on InsufficientFunds."""
    if not extras:
        return
    try:
        transfers_post(
            initiator=auth.card.user,
            transfers=extras,
            idempotency_key=f"card-capture:{event.pk}:extras",
            operation="card_capture_extras",
        )
    except InsufficientFunds:
        logger.info("round-up skipped for card capture %s: not enough money", event.pk)


@retry_on_conflict
def card_reverse(merchant: Merchant, *, authorization_id: int, network_transaction_id: str) -> dict:
    """Release what an authorisation still holds (a cancelled order). After a partial capture the
    captured part stays captured. Idempotent by network transaction id."""
    ntid = _network_id(network_transaction_id)
    authorization_id = _authorization_id(authorization_id)
    request_hash = _request_hash(CardEventKind.REVERSE, {"authorization": authorization_id})

    def body() -> dict:
        auth = _lock_authorization(merchant, authorization_id)
        _require_open(auth, now=timezone.now(), allow_after_deadline=True)
        held = auth.held_amount
        try:
            released = hold_void(initiator=None, hold=auth.hold_id, metadata={"card_reverse": ntid})
        except HoldNotPending:
            released = None  # the ledger's own expiry released it first: record that
        auth.released_amount += held
        if released is None:
            auth.status = AuthorizationStatus.CAPTURED if auth.captured_amount else AuthorizationStatus.EXPIRED
        else:
            auth.status = AuthorizationStatus.CAPTURED if auth.captured_amount else AuthorizationStatus.REVERSED
        auth.save(update_fields=["released_amount", "status", "updated_at"])
        response = _response(auth, ntid, event_amount=held)
        CardEvent.objects.create(
            merchant=merchant,
            network_transaction_id=ntid,
            kind=CardEventKind.REVERSE,
            authorization=auth,
            amount=held,
            approved=True,
            transfer=released,
            request_hash=request_hash,
            response=response,
        )
        audit_record(  # the merchant's say-so, so no staff actor: the trail names the merchant
            actor=None,
            action="card.authorization_reverse",
            target=auth,
            data={
                "merchant": merchant.name,
                "merchant_id": merchant.pk,
                "network_transaction_id": ntid,
                "released": held,
                "currency": auth.currency,
            },
        )
        _announce(auth, auth.card.user_id if auth.card else None, balance=True)
        return response

    return _run_once(merchant, ntid, CardEventKind.REVERSE, request_hash, body)


@retry_on_conflict
def card_refund(merchant: Merchant, *, authorization_id: int, amount: int, network_transaction_id: str) -> dict:
    """Give back ``amount`` of what was captured (at most captured − refunded): CARD_SETTLEMENT →
    the holder's wallet, even if the card has been cancelled since. Idempotent by network id."""
    ntid = _network_id(network_transaction_id)
    authorization_id = _authorization_id(authorization_id)
    amount = _amount(amount)
    request_hash = _request_hash(CardEventKind.REFUND, {"authorization": authorization_id, "amount": amount})

    def body() -> dict:
        auth = _lock_authorization(merchant, authorization_id)
        if auth.status == AuthorizationStatus.DECLINED:
            raise AuthorizationDeclined()
        refundable = auth.captured_amount - auth.refunded_amount
        if amount > refundable:
            raise RefundExceedsCapture(
                f"At most {format_money(refundable, auth.currency)} of this purchase can be refunded."
            )
        card = auth.card
        transfer = transfer_post(
            initiator=None,
            debit=system_account(AccountKind.CARD_SETTLEMENT, CARD_CURRENCY),
            credit=card.account_id,
            amount=amount,
            currency=CARD_CURRENCY,
            kind="card_refund",
            metadata={"card_authorization": auth.pk, "network_transaction_id": ntid},
        )
        auth.refunded_amount += amount
        auth.save(update_fields=["refunded_amount", "updated_at"])
        response = _response(auth, ntid, event_amount=amount)
        CardEvent.objects.create(
            merchant=merchant,
            network_transaction_id=ntid,
            kind=CardEventKind.REFUND,
            authorization=auth,
            amount=amount,
            approved=True,
            transfer=transfer,
            request_hash=request_hash,
            response=response,
        )
        notify(
            card.user,
            kind="card.refund",
            data={
                "merchant": auth.merchant_name,
                "amount": format_money(amount, auth.currency),
                "authorization_id": auth.pk,
                "url": CARDS_URL,
            },
        )
        _announce(auth, card.user_id, balance=True)
        return response

    return _run_once(merchant, ntid, CardEventKind.REFUND, request_hash, body)


# --- Expiry ------------------------------------------------------------------------------------


@retry_on_conflict
def _expire_one(authorization_id: int, *, now: datetime) -> bool:
    with transaction.atomic():
        auth = (
            Authorization.objects.select_for_update(of=("self",))
            .select_related("card")
            .filter(pk=authorization_id, status__in=OPEN_STATUSES, expires_at__lte=now)
            .first()
        )
        if auth is None:
            return False  # captured, reversed or expired meanwhile
        held = auth.held_amount
        released = hold_expire(hold=auth.hold_id, now=now)  # None: the ledger's task released it already
        auth.released_amount += held
        auth.status = AuthorizationStatus.CAPTURED if auth.captured_amount else AuthorizationStatus.EXPIRED
        auth.save(update_fields=["released_amount", "status", "updated_at"])
        CardEvent.objects.create(
            merchant_id=auth.merchant_id,
            network_transaction_id="",
            kind=CardEventKind.EXPIRE,
            authorization=auth,
            amount=held,
            approved=True,
            transfer=released,
            response=_response(auth, ""),
        )
        _announce(auth, auth.card.user_id if auth.card else None, balance=True)
    return True


def authorizations_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Release every open authorisation past its 7-day deadline (up to ``limit``); returns how many.

    Each in its own short transaction with the authorisation row locked, so a capture racing
    the expiry either wins (and the expiry skips it) or finds it expired. Safe to repeat.
    """
    moment = now or timezone.now()
    due = list(
        Authorization.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=moment)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)[: max(1, int(limit))]
    )
    expired = 0
    for pk in due:
        try:
            expired += _expire_one(pk, now=moment)
        except Exception:  # one bad row must not keep the others' money held; retried next run
            logger.exception("could not expire card authorisation %s", pk)
    return expired


__all__ = [
    "AuthorizationClosed",
    "AuthorizationDeclined",
    "AuthorizationExpired",
    "AuthorizationNotFound",
    "CaptureExceedsHold",
    "RefundExceedsCapture",
    "authorizations_expire_due",
    "card_authorize",
    "card_capture",
    "card_refund",
    "card_reverse",
    "demo_merchant",
    "merchant_authenticate",
    "merchant_create",
]
