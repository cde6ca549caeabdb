"""The creator savings sweep (issue 5 leftover, built with savings in issue 6): a share of each tip and
subscription payment a creator receives moves into their savings in the payment's own transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import NotFound
from core.money import Money
from ledger.models import Account, Transfer
from payments.models import PaymentKind
from payments.services.send import payment_release, payment_return, payment_send, wallet_settings_update
from payments.tests.factories import balance, fund, sender_user
from savings.models import SavingsAccount
from savings.services import savings_account_open
from social.models import CreatorProfile
from social.services.creators import (
    InvalidSweep,
    creator_sweep_amount,
    creator_sweep_reverse,
    creator_sweep_set,
    creator_sweep_to_savings,
    post_authors_set,
)
from social.services.subscriptions import subscription_start
from social.services.tips import post_tip_send

from .factories import make_post

pytestmark = pytest.mark.django_db


def _savings(user, currency="USD") -> int:
    account = SavingsAccount.objects.filter(user=user, currency=currency).first()
    return Account.objects.get(pk=account.ledger_account_id).balance if account else 0


@pytest.fixture
def saver(dave):
    """dave with a USD savings account and a 10% sweep."""
    savings_account_open(dave, currency="USD")
    creator_sweep_set(dave, bps=1000)
    return dave


def _tip(sender, post, amount, key="t1"):
    return post_tip_send(sender, post=post, amount=Money.parse(amount, "USD"), idempotency_key=key)


def test_a_tip_sweeps_the_share_into_savings_in_the_same_transaction(bob, saver):
    tip = _tip(bob, make_post(saver), "10.00")
    assert _savings(saver) == 100 and balance(saver) == 900
    sweep = Transfer.objects.get(kind="savings_in")
    assert sweep.debit_account.owner_id == saver.pk and sweep.amount == 100
    assert sweep.created_at >= tip.payment.created_at


def test_the_sweep_is_floored_and_runs_once(bob, saver):
    tip = _tip(bob, make_post(saver), "3.33")
    assert _savings(saver) == 33  # 10% of 3.33 = 0.333 → 0.33
    assert creator_sweep_to_savings(tip.payment) == 33  # replayed: the ledger key returns the first move
    assert _savings(saver) == 33 and balance(saver) == 300
    assert Transfer.objects.filter(kind="savings_in").count() == 1


def test_a_split_tip_sweeps_only_what_the_creator_keeps(bob, carol, saver):
    post = make_post(saver)
    post_authors_set(saver, post=post, shares=[(saver, 7000), (carol, 3000)])
    _tip(bob, post, "10.00")
    assert balance(carol) == 300
    assert _savings(saver) == 70 and balance(saver) == 700 - 70


def test_a_subscription_payment_is_swept(bob, saver, tier):
    subscription_start(bob, tier=tier, idempotency_key="sub1")
    assert _savings(saver) == 50 and balance(saver) == 450  # 10% of 5.00


def test_plain_payments_are_not_swept(bob, saver):
    payment_send(bob, to=saver, amount=Money.parse("10.00", "USD"))
    assert _savings(saver) == 0 and balance(saver) == 1000


def test_no_sweep_without_a_share_or_without_savings(bob, dave, alice):
    post = make_post(dave)
    CreatorProfile.objects.filter(user=dave).update(savings_sweep_bps=1000)  # no savings account
    _tip(bob, post, "10.00", key="a")
    assert balance(dave) == 1000
    savings_account_open(dave, currency="USD")
    creator_sweep_set(dave, bps=0)
    _tip(alice, post, "10.00", key="b")
    assert balance(dave) == 2000 and _savings(dave) == 0


def test_a_held_tip_is_swept_when_it_completes(bob, saver):
    wallet_settings_update(bob, safety_delay_seconds=600)
    tip = _tip(bob, make_post(saver), "10.00")
    assert _savings(saver) == 0
    payment_release(tip.payment, now=timezone.now() + timedelta(hours=1))
    assert _savings(saver) == 100 and balance(saver) == 900


def test_returning_a_swept_tip_brings_the_sweep_back_first(bob, saver):
    tip = _tip(bob, make_post(saver), "10.00")
    payment_return(saver, payment=tip.payment)
    assert balance(saver) == 0 and _savings(saver) == 0 and balance(bob) == 100000
    creator_sweep_reverse(tip.payment)  # again: the ledger key replays, nothing moves
    assert _savings(saver) == 0 and balance(saver) == 0
    assert Transfer.objects.filter(kind="creator_sweep_return").count() == 1


def test_sweep_amount_arithmetic(bob, saver):
    tip = _tip(bob, make_post(saver), "0.09")
    assert creator_sweep_amount(tip.payment, 1000) == 0  # 0.009 → nothing
    assert creator_sweep_amount(tip.payment, 10000) == 9
    assert _savings(saver) == 0


def test_setting_the_sweep_is_validated(dave, carol):
    with pytest.raises(InvalidSweep):
        creator_sweep_set(dave, bps=500)  # no savings account yet
    savings_account_open(dave, currency="USD")
    for bad in (-1, 10001, True, "10", 1.5):
        with pytest.raises(InvalidSweep):
            creator_sweep_set(dave, bps=bad)
    assert creator_sweep_set(dave, bps=2500).savings_sweep_bps == 2500
    with pytest.raises(NotFound):
        creator_sweep_set(carol, bps=0)  # never turned creator mode on


# --- Pages ----------------------------------------------------------------------------------


def test_settings_page_offers_opening_savings_first(client, dave):
    client.force_login(dave)
    page = client.get("/creator/settings").content.decode()
    assert "Open savings" in page and "Available once Savings launches" not in page


def test_settings_page_sets_the_sweep(client, dave):
    savings_account_open(dave, currency="USD")
    client.force_login(dave)
    page = client.get("/creator/settings").content.decode()
    assert 'name="savings_sweep_bps"' in page and "Save sweep" in page
    response = client.post("/creator/settings/sweep", {"savings_sweep_bps": "1500", "next": "settings"})
    assert response.status_code == 302 and response["Location"] == "/creator/settings"
    assert CreatorProfile.objects.get(user=dave).savings_sweep_bps == 1500
    page = client.get("/creator/settings").content.decode()
    assert '<option value="1500" selected>15%</option>' in page


def test_dashboard_sets_the_sweep_and_bad_input_is_a_message_not_a_500(client, dave):
    savings_account_open(dave, currency="USD")
    client.force_login(dave)
    assert "Save sweep" in client.get("/creator/").content.decode()
    response = client.post("/creator/settings/sweep", {"savings_sweep_bps": "abc", "next": "dashboard"}, follow=True)
    assert response.status_code == 200 and "from 0% to 100%" in response.content.decode()
    assert CreatorProfile.objects.get(user=dave).savings_sweep_bps == 0
    response = client.post("/creator/settings/sweep", {"savings_sweep_bps": "0", "next": "dashboard"})
    assert response["Location"] == "/creator/"


def test_sweep_with_a_converted_tip_uses_the_received_currency(alice, saver, fx_rates):
    eve = sender_user("eve", currency="EUR")
    fund(eve, "100.00", "EUR")
    tip = post_tip_send(eve, post=make_post(saver), amount=Money.parse("9.00", "EUR"), idempotency_key="fx")
    assert tip.payment.kind == PaymentKind.TIP and tip.payment.received_currency == "USD"
    assert _savings(saver) == tip.payment.received_amount // 10


def test_a_key_a_person_chooses_cannot_collide_with_the_sweep(bob, saver):
    """Moves the system makes (the sweep) have their own ledger key namespace."""
    from payments.models import Payment
    from savings.services import savings_move

    fund(saver, "5.00")
    next_id = (Payment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1  # SQLite reuses max+1
    post = make_post(saver)
    savings_move(saver, currency="USD", amount=1, direction="in", idempotency_key=f"creator-sweep:payment:{next_id}")
    _tip(bob, post, "10.00")
    assert Transfer.objects.filter(kind="savings_in").count() == 2
