"""The cardholder's side of the debit card: issue, freeze, limits, replace, reveal (issue 7, points 1–2).

Every function owns its transaction and raises ``core.errors`` subclasses with a stable code.
A card belongs to one person: any other person's card id answers ``NotFound``, never 403.

- The card number and CVV exist in clear only in memory, while issuing and while revealing;
  the database holds vault tokens (``payments.vault``), the last 4 digits and a keyed fingerprint.
  Nothing here logs them, and ``RevealedCard``'s repr hides them.
- Issuing happens at most once per person automatically (constraint ``cards_one_first_card``) and
  a person has at most one open (active or frozen) card (``cards_one_open_card``): the database
  decides races, the loser gets ``CardExists`` (on request) or ``None`` (automatic path).
- Live events go to the holder on commit: ``card.issued``, ``card.updated``; the notification
  ``card.ready`` ("Your card is ready") on every new card.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from compliance.services.common import audit_record
from compliance.services.kyc import kyc_tier
from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, NotPermitted, Unprocessable, ValidationFailed
from core.money import format_money
from notifications.models import register_kind
from notifications.services import event_publish, notify
from payments.services.wallet import wallet_account
from payments.vault import card_fingerprint, vault_decrypt, vault_encrypt

from .models import Card, CardStatus, IssueReason
from .numbers import card_number_generate, cvv_generate, expiry_for

CARD_CURRENCY = "USD"
CARDS_URL = "/cards/"
REVEAL_SECONDS = 60
NUMBER_ATTEMPTS = 5  # fingerprint collisions are astronomically rare; retry a few times, then fail loudly

register_kind("card.ready", "Your card is ready")
register_kind("card.declined", "Your card was declined at {merchant}: {reason}")
register_kind("card.refund", "{merchant} refunded {amount} to your card")

# --- Errors ------------------------------------------------------------------------------------


class CardNotEligible(Unprocessable):
    code = "card_not_eligible"
    default_message = "You cannot get a card yet."


class CardExists(Conflict):
    code = "card_exists"
    default_message = "You already have a card. Replace it if it is lost or stolen."


class CardNotUsable(Conflict):
    code = "card_not_usable"
    default_message = "This card is cancelled and can no longer be used."


class ReauthenticationRequired(NotPermitted):
    code = "reauthentication_required"
    default_message = "Confirm it is you (your password or an authentication code) to see the card's details."


class CardNotFound(NotFound):
    code = "card_not_found"
    default_message = "That card does not exist."


class InvalidLimit(ValidationFailed):
    code = "invalid_limit"


@dataclass(frozen=True)
class RevealedCard:
    """The full card details, in memory only. Its ``repr``/``str`` never show the number or the CVV."""

    number: str = field(repr=False)
    cvv: str = field(repr=False)
    exp_month: int
    exp_year: int
    visible_until: datetime

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def number_grouped(self) -> str:
        return " ".join(self.number[i : i + 4] for i in range(0, len(self.number), 4))

    def __repr__(self) -> str:
        return f"RevealedCard(•••• {self.last4} {self.exp_month:02d}/{self.exp_year} until {self.visible_until})"

    __str__ = __repr__


# --- Helpers -----------------------------------------------------------------------------------


def _threshold() -> int:
    return int(settings.CARDS_ISSUE_THRESHOLD)


def usd_balance(user) -> int:
    """The posted balance of the user's USD wallet (minor units); 0 if they have none yet."""
    from ledger.models import Account, AccountKind

    row = (
        Account.objects.filter(owner_id=user.pk, kind=AccountKind.WALLET, currency=CARD_CURRENCY)
        .values_list("credits_posted", "debits_posted")
        .first()
    )
    return row[0] - row[1] if row else 0


def _card_id(card: Card | int) -> int:
    value = card.pk if isinstance(card, Card) else card
    if isinstance(value, bool) or not isinstance(value, int):
        raise CardNotFound()
    return value


def _lock_own_card(user, card: Card | int) -> Card:
    """The user's card, row-locked (inside a transaction); CardNotFound for anyone else's id."""
    found = Card.objects.select_for_update().filter(pk=_card_id(card), user_id=user.pk).first()
    if found is None:
        raise CardNotFound()
    return found


def _announce_new_card(card: Card) -> None:
    data = {"card_id": card.pk, "last4": card.last4, "expiry": card.expiry}
    notify(card.user, kind="card.ready", data={**data, "url": CARDS_URL})
    event_publish(user_id=card.user_id, type="card.issued", data=data)


def _announce_status(card: Card) -> None:
    event_publish(user_id=card.user_id, type="card.updated", data={"card_id": card.pk, "status": card.status})


@sensitive_variables("number", "cvv")
def _card_create(user, *, reason: str, replaces: Card | None = None, limits: tuple[int, int] | None = None) -> Card:
    """Insert a new card (inside the caller's transaction). IntegrityError if a constraint refuses it."""
    account = wallet_account(user, CARD_CURRENCY)
    exp_month, exp_year = expiry_for()
    per_purchase, daily = limits or (settings.CARDS_DEFAULT_PURCHASE_LIMIT, settings.CARDS_DEFAULT_DAILY_LIMIT)
    for _attempt in range(NUMBER_ATTEMPTS):
        number = card_number_generate()
        fingerprint = card_fingerprint(number)
        if Card.objects.filter(fingerprint=fingerprint).exists():
            continue  # the same number was issued before: draw another
        cvv = cvv_generate()
        try:
            with transaction.atomic():
                card = Card.objects.create(
                    user=user,
                    account=account,
                    number_encrypted=vault_encrypt(number),
                    cvv_encrypted=vault_encrypt(cvv),
                    fingerprint=fingerprint,
                    last4=number[-4:],
                    exp_month=exp_month,
                    exp_year=exp_year,
                    status=CardStatus.ACTIVE,
                    per_purchase_limit=per_purchase,
                    daily_limit=daily,
                    issue_reason=reason,
                    replaces=replaces,
                )
        except IntegrityError:
            if Card.objects.filter(fingerprint=fingerprint).exists():
                continue  # a concurrent issue drew the same number
            raise
        card.user = user
        return card
    raise RuntimeError("Could not draw an unused card number; check CARDS_BIN.")


def _last_unreplaced(user) -> Card | None:
    """The person's newest cancelled card that no card replaces yet (a new card must replace it)."""
    return Card.objects.filter(user_id=user.pk, status=CardStatus.CANCELLED, replaced_by__isnull=True).first()


# --- Issuing -----------------------------------------------------------------------------------


@retry_on_conflict
def card_issue(user, *, reason: str = IssueReason.REQUESTED) -> Card:
    """Issue a virtual debit card to ``user`` (the holder asks for it, or the automatic path).

    Needs KYC tier 1 or above and a USD wallet balance of at least ``CARDS_ISSUE_THRESHOLD``
    (``CardNotEligible`` otherwise) and no open card (``CardExists``; also when a concurrent
    call won). Atomic; notifies ``card.ready`` and pushes ``card.issued`` on commit.
    """
    if reason not in IssueReason.values or reason == IssueReason.REPLACEMENT:
        raise ValidationFailed("Unknown issue reason.", code="invalid_reason")
    if Card.objects.filter(user_id=user.pk).exclude(status=CardStatus.CANCELLED).exists():
        raise CardExists()
    if kyc_tier(user) < 1:
        raise CardNotEligible(
            "Verify your identity first: a card needs identity details (tier 1).", code="card_not_eligible"
        )
    if usd_balance(user) < _threshold():
        raise CardNotEligible(
            f"Your card arrives when your balance reaches {format_money(_threshold(), CARD_CURRENCY)}.",
            code="card_not_eligible",
        )
    try:
        with transaction.atomic():
            card = _card_create(user, reason=reason, replaces=_last_unreplaced(user))
            _announce_new_card(card)
    except IntegrityError:
        raise CardExists() from None
    return card


def card_issue_if_eligible(user_id: int) -> Card | None:
    """The automatic path (receivers, task): issue with reason THRESHOLD if the person qualifies.

    Qualifies: active user, tier >= 1, USD wallet balance >= threshold, and never had a card.
    Exactly once even when several credits cross the threshold together: the database's
    ``cards_one_first_card`` constraint lets one insert through; the others return None.
    """
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or Card.objects.filter(user_id=user_id).exists():
        return None
    if kyc_tier(user) < 1 or usd_balance(user) < _threshold():
        return None
    try:
        with transaction.atomic():
            card = _card_create(user, reason=IssueReason.THRESHOLD)
            _announce_new_card(card)
    except IntegrityError:
        return None  # someone else issued the first card at the same moment
    return card


# --- The holder's controls ---------------------------------------------------------------------


def card_freeze(user, *, card: Card | int) -> Card:
    """Freeze the card: purchases are declined until unfrozen. Idempotent on a frozen card."""
    with transaction.atomic():
        found = _lock_own_card(user, card)
        if found.status == CardStatus.CANCELLED:
            raise CardNotUsable()
        if found.status == CardStatus.ACTIVE:
            found.status = CardStatus.FROZEN
            found.frozen_at = timezone.now()
            found.save(update_fields=["status", "frozen_at"])
            _announce_status(found)
    return found


def card_unfreeze(user, *, card: Card | int) -> Card:
    """Unfreeze a frozen card. Idempotent on an active card; CardNotUsable on a cancelled one."""
    with transaction.atomic():
        found = _lock_own_card(user, card)
        if found.status == CardStatus.CANCELLED:
            raise CardNotUsable()
        if found.status == CardStatus.FROZEN:
            found.status = CardStatus.ACTIVE
            found.frozen_at = None
            found.save(update_fields=["status", "frozen_at"])
            _announce_status(found)
    return found


def _limit(value: object, *, name: str, label: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidLimit(f"Enter the {label} as a whole number of cents.", fields={name: ["A whole number."]})
    if not 1 <= value <= maximum:
        message = f"The {label} is from {format_money(1, CARD_CURRENCY)} to {format_money(maximum, CARD_CURRENCY)}."
        raise InvalidLimit(message, fields={name: [message]})
    return value


def card_limits_set(user, *, card: Card | int, per_purchase: int, daily: int) -> Card:
    """Set the per-purchase and daily limits (USD minor units, 1..CARDS_MAX_*). Atomic."""
    errors: dict[str, list[str]] = {}
    values = {}
    for name, value, label, maximum in (
        ("per_purchase", per_purchase, "per-purchase limit", settings.CARDS_MAX_PURCHASE_LIMIT),
        ("daily", daily, "daily limit", settings.CARDS_MAX_DAILY_LIMIT),
    ):
        try:
            values[name] = _limit(value, name=name, label=label, maximum=maximum)
        except InvalidLimit as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidLimit(next(iter(errors.values()))[0], fields=errors)
    with transaction.atomic():
        found = _lock_own_card(user, card)
        if found.status == CardStatus.CANCELLED:
            raise CardNotUsable()
        found.per_purchase_limit = values["per_purchase"]
        found.daily_limit = values["daily"]
        found.save(update_fields=["per_purchase_limit", "daily_limit"])
        _announce_status(found)
    return found


@retry_on_conflict
def card_replace(user, *, card: Card | int) -> Card:
    """Cancel the card at once and issue a new one (new number, CVV and expiry; same limits).

    The old card declines from the moment this commits. Atomic: both or neither. Notifies
    ``card.ready`` for the new card and pushes ``card.updated`` (old) and ``card.issued`` (new).
    """
    with transaction.atomic():
        old = _lock_own_card(user, card)
        if old.status == CardStatus.CANCELLED:
            raise CardNotUsable("This card is already cancelled.")
        old.status = CardStatus.CANCELLED
        old.cancelled_at = timezone.now()
        old.save(update_fields=["status", "cancelled_at"])
        try:
            with transaction.atomic():
                new = _card_create(
                    user,
                    reason=IssueReason.REPLACEMENT,
                    replaces=old,
                    limits=(old.per_purchase_limit, old.daily_limit),
                )
        except IntegrityError:
            raise CardExists("This card was already replaced.") from None
        _announce_status(old)
        _announce_new_card(new)
    return new


@sensitive_variables("number", "cvv")
def card_reveal(user, *, card: Card | int, authenticated_at: float | None, now: float | None = None) -> RevealedCard:
    """The full number and CVV, for ``REVEAL_SECONDS``, to a holder who (re-)authenticated just now.

    ``authenticated_at`` is the unix time of the user's last authentication (allauth keeps it in
    the session). Refused with ``ReauthenticationRequired`` unless it is within REVEAL_SECONDS of
    ``now``. Each reveal writes an audit entry ``card.reveal`` (in the same transaction).
    """
    moment = time.time() if now is None else float(now)
    card_pk = _card_id(card)
    found = Card.objects.filter(pk=card_pk, user_id=user.pk).first()
    if found is None:
        raise CardNotFound()
    if found.status == CardStatus.CANCELLED:
        raise CardNotUsable()
    if (
        authenticated_at is None
        or isinstance(authenticated_at, bool)
        or not isinstance(authenticated_at, int | float)
        or not (moment - REVEAL_SECONDS <= float(authenticated_at) <= moment + 5)  # 5 s of clock skew
    ):
        raise ReauthenticationRequired()
    number = vault_decrypt(found.number_encrypted)
    cvv = vault_decrypt(found.cvv_encrypted)
    if not hmac.compare_digest(card_fingerprint(number), found.fingerprint):
        raise RuntimeError("The stored card number does not match its fingerprint.")
    visible_until = datetime.fromtimestamp(moment, tz=UTC) + timedelta(seconds=REVEAL_SECONDS)
    with transaction.atomic():
        audit_record(
            actor=user,
            action="card.reveal",
            target=found,
            data={"card_id": found.pk, "last4": found.last4, "visible_until": visible_until.isoformat()},
        )
    return RevealedCard(
        number=number, cvv=cvv, exp_month=found.exp_month, exp_year=found.exp_year, visible_until=visible_until
    )


__all__ = [
    "REVEAL_SECONDS",
    "CardExists",
    "CardNotEligible",
    "CardNotFound",
    "CardNotUsable",
    "InvalidLimit",
    "ReauthenticationRequired",
    "RevealedCard",
    "card_freeze",
    "card_issue",
    "card_issue_if_eligible",
    "card_limits_set",
    "card_replace",
    "card_reveal",
    "card_unfreeze",
    "usd_balance",
]
