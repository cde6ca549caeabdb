"""Issuing the card (issue 7, points 1–2): automatic at the threshold, on request, controls."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings

from accounts.tests.factories import UserFactory
from cards.models import Card, CardStatus, IssueReason
from cards.numbers import card_expired, card_number_generate, cvv_generate, expiry_for, luhn_check_digit
from cards.selectors import card_daily_spent, card_issue_state, card_open_for, card_purchases
from cards.services import (
    CardExists,
    CardNotEligible,
    CardNotFound,
    CardNotUsable,
    InvalidLimit,
    card_freeze,
    card_issue,
    card_issue_if_eligible,
    card_limits_set,
    card_replace,
    card_unfreeze,
)
from compliance.services.kyc import kyc_submit_details
from compliance.tests.factories import PLAUSIBLE_DETAILS, make_verified
from notifications.models import Notification
from payments.tests.factories import fund, sender_user
from payments.vault import card_fingerprint, luhn_valid, vault_decrypt

from .factories import authorize, card_for, merchant, with_details

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(monkeypatch):
    events: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(
        "notifications.services._send_now", lambda user_id, event: events.append((user_id, event["type"], event))
    )
    return events


def cross(user, amount: str, capture) -> None:
    """Fund ``user`` and run the on-commit callbacks (the balance_credited signal, the eager task)."""
    with capture(execute=True):
        fund(user, amount)


# --- Numbers -------------------------------------------------------------------------------


def test_numbers_are_16_luhn_valid_digits_from_the_bin():
    numbers = {card_number_generate() for _ in range(500)}
    assert len(numbers) == 500
    for number in numbers:
        assert len(number) == 16 and number.isdigit()
        assert number.startswith(settings.CARDS_BIN)
        assert luhn_valid(number)
        # Changing any one digit breaks the check.
        wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not luhn_valid(wrong)


@pytest.mark.parametrize(("partial", "digit"), [("7992739871", "3"), ("411111111111111", "1"), ("000", "0")])
def test_luhn_check_digit_known_values(partial, digit):
    assert luhn_check_digit(partial) == digit


def test_cvv_is_three_digits_and_expiry_three_years_out():
    assert all(len(c) == 3 and c.isdigit() for c in (cvv_generate() for _ in range(200)))
    assert expiry_for(date(2026, 11, 21)) == (11, 2029)
    assert not card_expired(11, 2029, today=date(2029, 11, 30))  # valid through the end of the month
    assert card_expired(11, 2029, today=date(2029, 12, 1))


# --- Automatic issue -----------------------------------------------------------------------


def test_crossing_the_threshold_issues_one_card_and_says_so(django_capture_on_commit_callbacks, pushed):
    user = sender_user("tess")
    cross(user, "60.00", django_capture_on_commit_callbacks)
    assert not Card.objects.filter(user=user).exists()
    cross(user, "40.00", django_capture_on_commit_callbacks)  # exactly 100.00: reaches the threshold
    card = Card.objects.get(user=user)
    assert card.issue_reason == IssueReason.THRESHOLD
    assert card.status == CardStatus.ACTIVE
    assert card.replaces is None
    number = vault_decrypt(card.number_encrypted)
    assert card.fingerprint == card_fingerprint(number) and card.last4 == number[-4:]
    assert len(vault_decrypt(card.cvv_encrypted)) == 3
    assert (card.exp_month, card.exp_year) == expiry_for()
    assert card.per_purchase_limit == settings.CARDS_DEFAULT_PURCHASE_LIMIT
    assert card.daily_limit == settings.CARDS_DEFAULT_DAILY_LIMIT
    note = Notification.objects.get(recipient=user, kind="card.ready")
    assert note.title == "Your card is ready" and note.url == "/cards/"
    issued = [e for uid, kind, e in pushed if uid == user.pk and kind == "card.issued"]
    assert issued and issued[0]["data"] == {"card_id": card.pk, "last4": card.last4, "expiry": card.expiry}
    # More money later, above the threshold again: still one card.
    cross(user, "500.00", django_capture_on_commit_callbacks)
    assert Card.objects.filter(user=user).count() == 1


def test_one_credit_far_above_the_threshold_issues_too(django_capture_on_commit_callbacks):
    user = sender_user("rich")
    cross(user, "5000.00", django_capture_on_commit_callbacks)
    assert Card.objects.filter(user=user, issue_reason=IssueReason.THRESHOLD).count() == 1


def test_never_for_tier_zero(django_capture_on_commit_callbacks):
    user = sender_user("zero", tier=0)
    cross(user, "500.00", django_capture_on_commit_callbacks)
    assert not Card.objects.filter(user=user).exists()
    assert card_issue_if_eligible(user.pk) is None
    with pytest.raises(CardNotEligible):
        card_issue(user)
    assert card_issue_state(user) == "needs_tier"


def test_other_currencies_do_not_count(django_capture_on_commit_callbacks):
    user = sender_user("euro")
    with django_capture_on_commit_callbacks(execute=True):
        fund(user, "900.00", "EUR")
    assert not Card.objects.filter(user=user).exists()


def test_kyc_upgrade_issues_the_card_to_someone_already_above_the_threshold(django_capture_on_commit_callbacks):
    user = UserFactory(verified=True, country="US")
    make_verified(user, tier=0)
    cross(user, "150.00", django_capture_on_commit_callbacks)
    assert not Card.objects.filter(user=user).exists()
    details = dict(PLAUSIBLE_DETAILS)
    with django_capture_on_commit_callbacks(execute=True):
        kyc_submit_details(user, legal_name="Vera Verified", country="US", region="IL", **details)
    card = Card.objects.get(user=user)
    assert card.issue_reason == IssueReason.THRESHOLD
    # Submitting details again (no tier change) does nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        kyc_submit_details(user, legal_name="Vera Verified", country="US", region="IL", **details)
    assert Card.objects.filter(user=user).count() == 1


def test_kyc_upgrade_below_the_threshold_issues_nothing(django_capture_on_commit_callbacks):
    user = UserFactory(verified=True, country="US")
    make_verified(user, tier=0)
    cross(user, "20.00", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        kyc_submit_details(user, legal_name="Low Balance", country="US", region="IL", **PLAUSIBLE_DETAILS)
    assert not Card.objects.filter(user=user).exists()
    assert card_issue_state(user) == "needs_balance"


def test_automatic_path_never_issues_a_second_card(django_capture_on_commit_callbacks):
    user = sender_user("second")
    first = card_for(user)
    card_replace(user, card=first)
    fund(user, "300.00")
    assert card_issue_if_eligible(user.pk) is None
    assert Card.objects.filter(user=user).count() == 2
    assert card_issue_if_eligible(999_999_999) is None
    assert card_issue_if_eligible("1") is None


# --- On request ----------------------------------------------------------------------------


def test_request_needs_the_threshold_and_tier():
    user = sender_user("asker")
    fund(user, "99.99")
    assert card_issue_state(user) == "needs_balance"
    with pytest.raises(CardNotEligible) as excinfo:
        card_issue(user)
    assert "$100.00" in excinfo.value.message
    fund(user, "0.01")
    assert card_issue_state(user) == "eligible"
    card = card_issue(user)
    assert card.issue_reason == IssueReason.REQUESTED
    assert card_issue_state(user) == "has_card"
    assert card_open_for(user) == card
    with pytest.raises(CardExists):
        card_issue(user)


# --- Controls ------------------------------------------------------------------------------


def test_freeze_unfreeze_and_someone_elses_card(pushed, django_capture_on_commit_callbacks):
    user, other = sender_user("owner"), sender_user("other")
    card = card_for(user)
    with pytest.raises(CardNotFound):
        card_freeze(other, card=card)
    with pytest.raises(CardNotFound):
        card_freeze(user, card="1")
    with django_capture_on_commit_callbacks(execute=True):
        assert card_freeze(user, card=card.pk).status == CardStatus.FROZEN
    assert card_freeze(user, card=card).status == CardStatus.FROZEN  # idempotent
    card.refresh_from_db()
    assert card.frozen_at is not None
    assert (user.pk, "card.updated") in [(uid, kind) for uid, kind, _ in pushed]
    assert card_unfreeze(user, card=card).status == CardStatus.ACTIVE
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE and card.frozen_at is None


def test_limits_validated_and_saved():
    user = sender_user("limits")
    card = card_for(user)
    updated = card_limits_set(user, card=card, per_purchase=5000, daily=20000)
    card.refresh_from_db()
    assert (
        (card.per_purchase_limit, card.daily_limit)
        == (5000, 20000)
        == (
            updated.per_purchase_limit,
            updated.daily_limit,
        )
    )
    for per_purchase, daily, field in [
        (0, 100, "per_purchase"),
        (settings.CARDS_MAX_PURCHASE_LIMIT + 1, 100, "per_purchase"),
        (100, settings.CARDS_MAX_DAILY_LIMIT + 1, "daily"),
        (True, 100, "per_purchase"),
        (100, "50", "daily"),
        (1.5, 100, "per_purchase"),
    ]:
        with pytest.raises(InvalidLimit) as excinfo:
            card_limits_set(user, card=card, per_purchase=per_purchase, daily=daily)
        assert field in excinfo.value.fields
    card.refresh_from_db()
    assert (card.per_purchase_limit, card.daily_limit) == (5000, 20000)
    with pytest.raises(CardNotFound):
        card_limits_set(sender_user("nosy"), card=card, per_purchase=100, daily=100)


def test_replace_cancels_the_old_card_at_once(django_capture_on_commit_callbacks, pushed):
    user = sender_user("replacer")
    fund(user, "200.00")
    old = card_for(user, per_purchase=7000, daily=9000)
    with django_capture_on_commit_callbacks(execute=True):
        new = card_replace(user, card=old)
    old.refresh_from_db()
    assert old.status == CardStatus.CANCELLED and old.cancelled_at is not None
    assert new.replaces_id == old.pk and new.issue_reason == IssueReason.REPLACEMENT
    assert new.fingerprint != old.fingerprint
    assert (new.per_purchase_limit, new.daily_limit) == (7000, 9000)
    assert card_open_for(user) == new
    kinds = [kind for uid, kind, _ in pushed if uid == user.pk]
    assert "card.updated" in kinds and "card.issued" in kinds
    assert Notification.objects.filter(recipient=user, kind="card.ready").count() == 1
    # The old card no longer works and cannot be changed.
    shop = merchant()
    assert authorize(shop, old, 500)["decline_reason"] == "card_cancelled"
    for action in (card_unfreeze, card_freeze, card_replace):
        with pytest.raises(CardNotUsable):
            action(user, card=old)
    assert authorize(shop, with_details(new), 500)["approved"] is True


def test_purchases_selector_and_daily_spent(django_assert_max_num_queries):
    user = sender_user("buyer")
    fund(user, "500.00")
    card = card_for(user)
    shop = merchant("Corner Shop")
    for amount in (100, 200, 300):
        authorize(shop, card, amount)
    authorize(shop, card, 400, cvv="000" if card.plain_cvv != "000" else "111")  # declined: not counted
    with django_assert_max_num_queries(1):
        purchases = card_purchases(user)
        names = [p.merchant.name for p in purchases]
    assert [p.amount for p in purchases] == [400, 300, 200, 100]
    assert names == ["Corner Shop"] * 4
    assert card_daily_spent(card) == 600
    assert card_purchases(sender_user("nobody")) == []


def test_document_approval_raising_the_tier_also_checks_for_a_card(django_capture_on_commit_callbacks):
    from compliance.models import DocumentStatus, KycProfile
    from compliance.services.kyc import kyc_document_review
    from compliance.tests.factories import staff_user

    user = sender_user("docs")
    fund(user, "150.00")  # on-commit callbacks not run: no card yet (as if issuing had failed)
    KycProfile.objects.filter(user=user).update(document_status=DocumentStatus.PENDING)
    assert not Card.objects.filter(user=user).exists()
    with django_capture_on_commit_callbacks(execute=True):
        kyc_document_review(staff_user("reviewer"), profile=user.kyc.pk, approve=True)
    assert Card.objects.get(user=user).issue_reason == IssueReason.THRESHOLD
