"""Races on PostgreSQL (real row locks): the card is issued exactly once, limits hold under load."""

from __future__ import annotations

import pytest

from cards.models import Authorization, AuthorizationStatus, Card, CardEvent
from cards.services import CardExists, card_issue, card_issue_if_eligible
from core.testing import run_threads, skip_unless_postgres
from notifications.models import Notification
from payments.tests.factories import available, balance, fund, sender_user

from .factories import authorize, card_for, merchant

pytestmark = pytest.mark.django_db(transaction=True)


def test_threshold_issuance_exactly_once_when_several_credits_cross_together():
    skip_unless_postgres()
    user = sender_user("racer")
    fund(user, "90.00")  # on_commit runs for real here: below the threshold, nothing yet
    assert not Card.objects.filter(user=user).exists()

    _results, errors = run_threads(8, lambda i: fund(user, "20.00"))
    assert errors == []
    assert balance(user) == 9000 + 8 * 2000
    assert Card.objects.filter(user=user).count() == 1
    assert Notification.objects.filter(recipient=user, kind="card.ready").count() == 1


def test_the_automatic_issue_racing_itself_issues_one_card():
    skip_unless_postgres()
    user = sender_user("twins")
    fund(user, "150.00")  # crosses: the receiver issues the card on commit
    Card.objects.filter(user=user).delete()
    Notification.objects.filter(recipient=user).delete()

    results, errors = run_threads(8, lambda i: card_issue_if_eligible(user.pk))
    assert errors == []
    issued = [card for card in results if card is not None]
    assert len(issued) == 1
    assert Card.objects.filter(user=user).count() == 1
    assert Notification.objects.filter(recipient=user, kind="card.ready").count() == 1


def test_requests_racing_get_one_card_and_clear_errors():
    skip_unless_postgres()
    user = sender_user("eager")
    fund(user, "150.00")  # the receiver issues the automatic card; remove it to race requests
    Card.objects.filter(user=user).delete()

    results, errors = run_threads(6, lambda i: card_issue(user))
    assert len(results) == 1
    assert len(errors) == 5 and all(isinstance(e, CardExists) for e in errors)
    assert Card.objects.filter(user=user).count() == 1


def test_two_purchases_cannot_both_pass_the_daily_limit():
    skip_unless_postgres()
    user = sender_user("shopper")
    fund(user, "500.00")
    Card.objects.filter(user=user).delete()  # the automatic card; use one with a small limit
    card = card_for(user, daily=1000)
    shop = merchant()

    results, errors = run_threads(6, lambda i: authorize(shop, card, 600, ntid=f"race-{i}"))
    assert errors == []
    approved = [r for r in results if r["approved"]]
    assert len(approved) == 1
    assert sorted(r["decline_reason"] for r in results if not r["approved"]) == ["over_daily_limit"] * 5
    assert available(user) == 50000 - 600
    assert Authorization.objects.filter(status=AuthorizationStatus.PENDING).count() == 1


def test_the_same_network_id_racing_moves_money_once():
    skip_unless_postgres()
    user = sender_user("double")
    fund(user, "500.00")
    Card.objects.filter(user=user).delete()
    card = card_for(user)
    shop = merchant()

    results, errors = run_threads(6, lambda i: authorize(shop, card, 2500, ntid="dup"))
    assert errors == []
    assert len({r["authorization_id"] for r in results}) == 1 and all(r["approved"] for r in results)
    assert available(user) == 50000 - 2500
    assert CardEvent.objects.filter(network_transaction_id="dup").count() == 1
