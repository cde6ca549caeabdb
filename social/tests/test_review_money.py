"""Review of the money paths of ``social``: tips and their splits, subscriptions, earnings, hostile input.

Each test names the question it answers. The suite's conftest checks the ledger's invariants
(DESIGN §3) after every database test, so every scenario here also proves ``ledger_check`` holds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.social import block_create, block_delete
from accounts.tests.factories import UserFactory
from core.errors import Conflict, DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import Transfer
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services.send import (
    payment_cancel,
    payment_release,
    payment_return,
    payment_review_decide,
    payment_send,
    payments_release_due,
    wallet_settings_update,
)
from payments.services.staff import PaymentNotReversible, payment_reverse_by_staff
from payments.tests.factories import balance, fund, sender_user
from social.earnings import earnings_for
from social.models import (
    ChargeStatus,
    PostTip,
    Subscription,
    SubscriptionCharge,
    SubscriptionStatus,
    TipShare,
)
from social.services.creators import post_authors_set
from social.services.subscriptions import (
    AlreadySubscribed,
    subscription_cancel,
    subscription_renew,
    subscription_resume,
    subscription_start,
    subscriptions_renew_due,
)
from social.services.tips import post_tip_send
from social.visibility import post_is_unlocked

from .factories import Audience, make_creator, make_post, make_tier

S = SubscriptionStatus


# --- Fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def post(dave):
    return make_post(dave, "Drawing of the day")


@pytest.fixture
def tier(dave):
    return make_tier(dave, name="Supporter", price=500)


@pytest.fixture
def rich(db):
    """A tier-2 fan with 9,000.00 USD: a 3,500.00 payment is held for review."""
    user = sender_user("rich", tier=2)
    fund(user, "9000.00")
    return user


def _staff():
    return UserFactory(is_staff=True, is_superuser=True)


def _tip(sender, post, amount="10.00", key="k1", currency="USD"):
    return post_tip_send(sender, post=post, amount=Money.parse(amount, currency), idempotency_key=key)


def _split_3(dave, alice, carol, post):
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 3000), (carol, 2000)])


def _decide(payment_id: int, approved: bool):
    with transaction.atomic():
        return payment_review_decide(subject=f"payment:{payment_id}", approved=approved, actor=_staff())


def _transfers() -> int:
    return Transfer.objects.count()


# --- Tips: split exactly once, whatever path completes the payment ------------------------------


def test_delayed_tip_is_split_once_when_released_and_not_before(bob, dave, alice, carol, post):
    _split_3(dave, alice, carol, post)
    wallet_settings_update(bob, safety_delay_seconds=3600)
    alice_before, bob_before = balance(alice), balance(bob)
    tip = _tip(bob, post, "10.01")
    assert tip.payment.status == PaymentStatus.ARRIVING
    assert not TipShare.objects.exists() and balance(dave) == 0
    later = timezone.now() + timedelta(hours=2)
    assert payments_release_due(now=later) == 1
    assert payments_release_due(now=later) == 0  # the beat running again moves nothing
    assert payment_release(tip.payment_id, now=later) is None
    shares = {s.user_id: s.amount for s in TipShare.objects.filter(payment_id=tip.payment_id)}
    assert shares == {alice.pk: 300, carol.pk: 200}
    assert (balance(dave), balance(alice) - alice_before, balance(carol)) == (501, 300, 200)
    assert balance(bob) == bob_before - 1001


def test_cancelled_delayed_tip_moves_nothing_and_is_never_split(bob, dave, alice, carol, post):
    _split_3(dave, alice, carol, post)
    wallet_settings_update(bob, safety_delay_seconds=3600)
    bob_before = balance(bob)
    tip = _tip(bob, post, "10.00")
    payment_cancel(bob, payment=tip.payment_id)
    assert payments_release_due(now=timezone.now() + timedelta(hours=2)) == 0
    assert not TipShare.objects.exists() and balance(bob) == bob_before and balance(dave) == 0


def test_fx_tip_delayed_then_released_is_split_in_the_creators_currency(bob, alice, carol, fx_rates):
    eve = sender_user("eve", currency="EUR")
    make_creator(eve)
    post = make_post(eve, "Bonjour")
    post_authors_set(eve, post=post, shares=[(eve, 5000), (alice, 3000), (carol, 2000)])
    wallet_settings_update(bob, safety_delay_seconds=600)
    tip = _tip(bob, post, "10.00")
    payment = Payment.objects.get(pk=tip.payment_id)
    assert payment.received_currency == "EUR" and payment.status == PaymentStatus.ARRIVING
    payments_release_due(now=timezone.now() + timedelta(hours=1))
    payment.refresh_from_db()
    received = payment.received_amount
    shares = {s.user_id: (s.amount, s.currency) for s in TipShare.objects.filter(payment=payment)}
    assert shares[alice.pk] == (received * 3000 // 10000, "EUR")
    assert shares[carol.pk] == (received * 2000 // 10000, "EUR")
    assert balance(eve, "EUR") + sum(a for a, _ in shares.values()) == received


def test_tip_held_for_review_is_split_once_when_approved(rich, dave, alice, carol, post):
    _split_3(dave, alice, carol, post)
    alice_before = balance(alice)
    tip = _tip(rich, post, "3500.00")
    assert tip.payment.status == PaymentStatus.IN_REVIEW and not TipShare.objects.exists()
    _decide(tip.payment_id, approved=True)
    _decide(tip.payment_id, approved=True)  # a second decision is a no-op
    assert TipShare.objects.filter(payment_id=tip.payment_id).count() == 2
    assert (balance(dave), balance(alice) - alice_before, balance(carol)) == (1750_00, 1050_00, 700_00)


def test_tip_held_for_review_then_rejected_moves_nothing(rich, dave, alice, carol, post):
    _split_3(dave, alice, carol, post)
    tip = _tip(rich, post, "3500.00")
    _decide(tip.payment_id, approved=False)
    assert Payment.objects.get(pk=tip.payment_id).status == PaymentStatus.REJECTED
    assert not TipShare.objects.exists() and balance(rich) == 9000_00 and balance(dave) == 0


def test_returned_split_tip_gives_everyone_back_exactly_with_no_other_money(bob, dave, alice, carol, post):
    """The creator's wallet holds only their own part: the shares must come back before the return."""
    _split_3(dave, alice, carol, post)
    bob_before, alice_before = balance(bob), balance(alice)
    tip = _tip(bob, post, "10.01")
    assert balance(dave) == 501
    payment_return(dave, payment=tip.payment_id)
    assert (balance(bob), balance(dave), balance(alice), balance(carol)) == (bob_before, 0, alice_before, 0)
    assert TipShare.objects.filter(payment_id=tip.payment_id, reversal__isnull=True, amount__gt=0).count() == 0


def test_staff_reversal_of_a_split_tip_reverses_shares_once(bob, dave, alice, carol, post):
    _split_3(dave, alice, carol, post)
    bob_before, alice_before = balance(bob), balance(alice)
    tip = _tip(bob, post, "10.00")
    staff = _staff()
    payment_reverse_by_staff(staff, payment=tip.payment_id, reason="fraud")
    with pytest.raises(PaymentNotReversible):
        payment_reverse_by_staff(staff, payment=tip.payment_id, reason="again")
    with pytest.raises(DomainError):
        payment_return(dave, payment=tip.payment_id)
    assert (balance(bob), balance(dave), balance(alice), balance(carol)) == (bob_before, 0, alice_before, 0)
    assert Transfer.objects.filter(kind="tip_share_return").count() == 2


def test_tip_replay_after_completion_moves_nothing_and_does_not_split_again(bob, dave, alice, carol, post):
    _split_3(dave, alice, carol, post)
    first = _tip(bob, post, "10.00", key="same")
    count = _transfers()
    again = _tip(bob, post, "10.00", key="same")
    assert again.pk == first.pk and _transfers() == count
    assert TipShare.objects.count() == 2 and PostTip.objects.count() == 1


def test_split_changed_while_a_tip_is_delayed_does_not_apply_to_it(bob, dave, alice, post):
    wallet_settings_update(bob, safety_delay_seconds=3600)
    tip = _tip(bob, post, "10.00")  # confirmed with no split: dave keeps it all
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 5000)])
    payments_release_due(now=timezone.now() + timedelta(hours=2))
    assert not TipShare.objects.filter(payment_id=tip.payment_id).exists()


# --- Earnings match the ledger ------------------------------------------------------------------


def test_earnings_match_the_wallets_net_of_shares_and_returns(bob, alice, dave, carol, post, tier):
    """dave earns only from tips and subscriptions here, so his totals must equal his wallet."""
    _split_3(dave, alice, carol, post)
    _tip(bob, post, "10.01", key="t1")  # dave keeps 5.01, alice 3.00, carol 2.00
    returned = _tip(bob, post, "4.00", key="t2")
    payment_return(dave, payment=returned.payment_id)
    subscription_start(alice, tier=tier, idempotency_key="s1")  # 5.00 to dave
    other = make_post(alice, "alice's own post")
    make_creator(alice)
    post_authors_set(alice, post=other, shares=[(alice, 5000), (dave, 5000)])
    _tip(bob, other, "2.00", key="t3")  # dave gets a 1.00 share
    mine = earnings_for(dave)
    usd = {row["currency"]: row for row in mine.totals}["USD"]
    assert usd["all_time"] == balance(dave) == 501 + 500 + 100
    assert usd["month"] == usd["all_time"]
    assert mine.window_totals["tips"] == 501 and mine.window_totals["subscriptions"] == 500
    assert mine.window_totals["shares"] == 100
    carols = {row["currency"]: row for row in earnings_for(carol).totals}["USD"]
    assert carols["all_time"] == balance(carol) == 200


def test_earnings_of_a_foreign_currency_tier_are_shown_as_received(alice, fx_rates):
    """Tier in EUR, fan's home USD (holding EUR), creator's home GBP: charged EUR, earned GBP."""
    gus = sender_user("gus", currency="GBP")
    make_creator(gus)
    eur_tier = make_tier(gus, name="Euro", price=900, currency="EUR")
    fund(alice, "20.00", "EUR")
    usd_before = balance(alice)
    sub = subscription_start(alice, tier=eur_tier, idempotency_key="fx1")
    payment = sub.charges.get().payment
    assert (payment.amount, payment.currency, payment.received_currency) == (900, "EUR", "GBP")
    assert balance(alice, "EUR") == 1100 and balance(alice) == usd_before
    # 9.00 EUR = 10.00 USD at mid = 8.00 GBP at mid, less the spread
    assert 0 < payment.received_amount <= 800 and balance(gus, "GBP") == payment.received_amount
    earnings = earnings_for(gus)
    assert earnings.currency == "GBP" and earnings.window_totals["subscriptions"] == payment.received_amount
    assert [row["currency"] for row in earnings.totals] == ["GBP"]
    # the renewal is charged in the tier's currency again, never in the fan's home currency
    assert subscription_renew(sub.pk, now=sub.paid_until + timedelta(seconds=1)) == "renewed"
    assert balance(alice, "EUR") == 200 and balance(alice) == usd_before


def test_foreign_currency_tier_without_that_currency_refuses_and_leaves_no_rows(alice, fx_rates):
    gus = sender_user("gus", currency="GBP")
    make_creator(gus)
    eur_tier = make_tier(gus, name="Euro", price=900, currency="EUR")
    count = _transfers()
    with pytest.raises(DomainError) as caught:
        subscription_start(alice, tier=eur_tier, idempotency_key="fx2")
    assert caught.value.code == "insufficient_funds"
    assert not Subscription.objects.exists() and not SubscriptionCharge.objects.exists()
    assert not Payment.objects.exists() and _transfers() == count


# --- Subscriptions ------------------------------------------------------------------------------


def test_failed_first_charge_leaves_no_row_behind(carol, dave, tier):
    fund(carol, "4.99")
    with pytest.raises(DomainError):
        subscription_start(carol, tier=tier, idempotency_key="poor")
    assert not Subscription.objects.exists() and not SubscriptionCharge.objects.exists()
    assert not Payment.objects.exists() and balance(carol) == 499
    fund(carol, "0.01")
    sub = subscription_start(carol, tier=tier, idempotency_key="poor")  # the key was not burnt
    assert sub.periods_paid == 1 and balance(carol) == 0


def test_a_payment_reusing_the_renewal_key_does_not_pay_the_renewal(alice, dave, tier, carol):
    """The renewal's payment key is ``subscription:<id>:<period>``; the fan picks keys freely.

    Before the fix, a 0.01 payment to anyone under that key "paid" the next month.
    """
    sub = subscription_start(alice, tier=tier, idempotency_key="s1")
    before = balance(alice)
    payment_send(alice, to=carol, amount=Money(1, "USD"), idempotency_key=f"subscription:{sub.pk}:1")
    assert subscription_renew(sub.pk, now=sub.paid_until + timedelta(seconds=1)) == "failed"
    sub.refresh_from_db()
    charge = sub.charges.get(period=1)
    assert (sub.status, sub.periods_paid) == (S.PAST_DUE, 1)
    assert charge.status == ChargeStatus.PENDING and charge.payment_id is None
    assert "already used" in charge.last_error
    assert balance(dave) == 500 and balance(alice) == before - 1


def test_a_first_charge_of_another_subscription_cannot_pay_a_renewal(alice, dave, tier):
    """A fan reuses a subscription's next renewal key as the key of a new subscribe.

    Before the fix the renewal replayed that payment and crashed on the charge's unique payment
    (an IntegrityError every hour, the subscription stuck active without access, never lapsing).
    """
    old = subscription_start(alice, tier=tier, idempotency_key="s1")
    erin = sender_user("erin")
    make_creator(erin)
    erin_tier = make_tier(erin, name="Supporter", price=500)
    subscription_start(alice, tier=erin_tier, idempotency_key=f"subscription:{old.pk}:1")
    before_dave, before_alice = balance(dave), balance(alice)
    start = old.paid_until
    assert subscription_renew(old.pk, now=start + timedelta(seconds=1)) == "failed"
    for day in range(1, 4):
        subscriptions_renew_due(now=start + timedelta(days=day, seconds=2))
    old.refresh_from_db()
    assert (old.status, old.periods_paid) == (S.LAPSED, 1)
    # only erin's own subscription renewed (once) meanwhile
    assert (balance(dave), balance(alice), balance(erin)) == (before_dave, before_alice - 500, 1000)


def test_renewing_twice_charges_one_period_once(alice, dave, tier):
    sub = subscription_start(alice, tier=tier, idempotency_key="s1")
    moment = sub.paid_until + timedelta(seconds=1)
    assert subscriptions_renew_due(now=moment) == 1
    assert subscriptions_renew_due(now=moment) == 0
    assert subscription_renew(sub.pk, now=moment) == "skipped"
    assert balance(dave) == 1000 and Payment.objects.filter(kind=PaymentKind.SUBSCRIPTION).count() == 2


def test_lapse_leaves_no_access_and_no_future_charge(carol, dave, tier):
    fund(carol, "5.00")
    sub = subscription_start(carol, tier=tier, idempotency_key="s1")
    locked = make_post(dave, "members", audience=Audience.SUBSCRIBERS)
    assert post_is_unlocked(carol, locked)
    start = sub.paid_until
    for day in range(5):
        subscriptions_renew_due(now=start + timedelta(days=day, seconds=1))
    sub.refresh_from_db()
    assert sub.status == S.LAPSED and sub.next_attempt_at is None
    assert sub.paid_until == start <= sub.ended_at  # access ended with the paid period, before the lapse
    fund(carol, "100.00")
    assert subscriptions_renew_due(now=start + timedelta(days=40)) == 0
    assert balance(dave) == 500
    Subscription.objects.filter(pk=sub.pk).update(paid_until=timezone.now() - timedelta(seconds=1))  # real time
    assert not post_is_unlocked(carol, locked)


def test_block_ends_the_subscription_cuts_access_and_stops_charges(alice, dave, tier):
    sub = subscription_start(alice, tier=tier, idempotency_key="s1")
    locked = make_post(dave, "members", audience=Audience.SUBSCRIBERS)
    block_create(dave, blocked=alice)
    block_delete(dave, blocked=alice)
    sub.refresh_from_db()
    assert sub.status == S.ENDED and not post_is_unlocked(alice, locked)
    assert subscriptions_renew_due(now=timezone.now() + timedelta(days=40)) == 0
    assert balance(dave) == 500


def test_block_while_the_first_charge_is_in_review_then_approved_moves_no_money(rich, dave):
    """The subscription ended with the block; approving its old charge must not pay an ended subscription."""
    big = make_tier(dave, name="Patron", price=3_500_00)
    sub = subscription_start(rich, tier=big, idempotency_key="s1")
    charge = sub.charges.get()
    assert charge.payment.status == PaymentStatus.IN_REVIEW
    block_create(dave, blocked=rich)
    with pytest.raises(Conflict):  # before the fix: approved, 3,500.00 to dave and access restored
        _decide(charge.payment_id, approved=True)
    assert Payment.objects.get(pk=charge.payment_id).status == PaymentStatus.IN_REVIEW
    block_delete(dave, blocked=rich)
    sub.refresh_from_db()
    locked = make_post(dave, "members", audience=Audience.SUBSCRIBERS)
    assert sub.status == S.ENDED
    assert not post_is_unlocked(rich, locked), "an ended subscription got access back"
    assert balance(dave) == 0 and balance(rich) == 9000_00
    _decide(charge.payment_id, approved=False)
    assert balance(rich) == 9000_00 and Payment.objects.get(pk=charge.payment_id).status == PaymentStatus.REJECTED


def test_cancel_then_resume_then_renew_charges_each_period_once(alice, dave, tier):
    sub = subscription_start(alice, tier=tier, idempotency_key="s1")
    subscription_cancel(alice, subscription=sub.pk)
    again = subscription_start(alice, tier=tier, idempotency_key="s2")  # subscribe again = resume, no charge
    assert again.pk == sub.pk and again.status == S.ACTIVE and balance(dave) == 500
    subscription_cancel(alice, subscription=sub.pk)
    subscription_resume(alice, subscription=sub.pk)
    assert subscriptions_renew_due(now=sub.paid_until + timedelta(seconds=1)) == 1
    assert balance(dave) == 1000
    with pytest.raises(AlreadySubscribed):
        subscription_start(alice, tier=tier, idempotency_key="s3")


# --- Hostile input: never a 500, never money ------------------------------------------------------

HUGE_ID = 99999999999999999999


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "-1.00"},
        {"amount": "0"},
        {"amount": "1e309"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "99999999999999999999999999"},
        {"amount": "1.001"},
        {"amount": "１２"},
        {"amount": "2.00", "currency": "XXX"},
        {"amount": "2.00", "currency": ""},
        {"amount": "2.00", "currency": 5},
        {"amount": 2},
        {"amount": None},
        {"amount": ["2.00"]},
        {"amount": {"x": 1}},
        {"amount": "2.00", "note": "x" * 5000},
        {"amount": "2.00", "note": "a\x00b"},
        [],
        "2.00",
    ],
)
def test_api_tip_hostile_bodies_are_4xx_and_move_nothing(client, bob, dave, post, body):
    client.force_login(bob)
    count = _transfers()
    response = client.post(
        f"/api/v1/posts/{post.pk}/tips/", body, content_type="application/json", headers={"Idempotency-Key": "h1"}
    )
    assert 400 <= response.status_code < 500, response.content
    assert _transfers() == count and not PostTip.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/posts/{HUGE_ID}/tips/",
        "/api/v1/posts/0/tips/",
        f"/api/v1/posts/{HUGE_ID}/split/",
        f"/api/v1/subscriptions/{HUGE_ID}/cancel/",
        f"/api/v1/subscriptions/{HUGE_ID}/resume/",
        f"/api/v1/creator/tiers/{HUGE_ID}/archive/",
    ],
)
def test_api_huge_ids_in_the_path_are_404(client, bob, url):
    client.force_login(bob)
    send = client.put if url.endswith("/split/") else client.post
    response = send(url, {"amount": "1.00"}, content_type="application/json", headers={"Idempotency-Key": "h"})
    assert response.status_code == 404, response.content


@pytest.mark.parametrize(
    "url",
    [
        f"/posts/{HUGE_ID}/tip",
        f"/posts/{HUGE_ID}/tip/confirm",
        f"/posts/{HUGE_ID}/split",
        f"/subscriptions/{HUGE_ID}/cancel/",
        f"/subscriptions/{HUGE_ID}/resume/",
        f"/creator/tiers/{HUGE_ID}/edit/",
        f"/creator/tiers/{HUGE_ID}/archive/",
    ],
)
def test_pages_with_huge_ids_in_the_path_are_404(client, bob, url):
    client.force_login(bob)
    assert client.get(url).status_code in (404, 405)
    assert client.post(url, {"amount": "1.00", "idempotency_key": "h"}).status_code == 404


def test_tip_done_page_with_a_huge_post_id_is_404(client, bob, dave, post):
    client.force_login(bob)
    tip = _tip(bob, post, "1.00")
    assert client.get(f"/posts/{HUGE_ID}/tip/{tip.payment_id}").status_code == 404
    assert client.get(f"/posts/{post.pk}/tip/{HUGE_ID}").status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": "-5"},
        {"amount": "1e309"},
        {"amount": "NaN"},
        {"amount": "99999999999999999999999999"},
        {"amount": "2.00", "currency": "ZZZ"},
        {"amount": "2.00", "currency": "€€€"},
        {"amount": "2.00", "currency": "U$D"},
        {"preset": "sNaN"},
        {"amount": ""},
    ],
)
def test_tip_pages_hostile_amounts_are_4xx_and_move_nothing(client, bob, dave, post, fields):
    client.force_login(bob)
    count = _transfers()
    ask = client.post(f"/posts/{post.pk}/tip", {**fields, "idempotency_key": "p1"})
    # the ask step always uses the tipper's home currency: only a bad amount is refused there
    assert 400 <= ask.status_code < 500 or "currency" in fields
    confirm = client.post(f"/posts/{post.pk}/tip/confirm", {**fields, "idempotency_key": "p2"})
    assert 400 <= confirm.status_code < 500
    assert _transfers() == count and not Payment.objects.exists()


@pytest.mark.parametrize("value", ["1", "abc", -1, 0, 2**63, HUGE_ID, 1.5, True, None, {"id": 1}, [1]])
def test_api_subscribe_hostile_tier_ids_are_4xx(client, bob, tier, value):
    client.force_login(bob)
    response = client.post(
        "/api/v1/subscriptions/", {"tier": value}, content_type="application/json", headers={"Idempotency-Key": "s"}
    )
    assert 400 <= response.status_code < 500, response.content
    assert not Payment.objects.exists() and not Subscription.objects.exists()


def test_api_subscribe_archived_foreign_and_own_tiers(client, bob, dave, tier):
    archived = make_tier(dave, name="Old", price=300, is_active=False)
    client.force_login(bob)

    def subscribe(tier_id, key):
        return client.post(
            "/api/v1/subscriptions/",
            {"tier": tier_id},
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )

    assert subscribe(archived.pk, "a").status_code == 409
    client.force_login(dave)
    assert subscribe(tier.pk, "b").status_code == 400  # your own
    assert client.patch(
        f"/api/v1/creator/tiers/{tier.pk}/", {"name": "x"}, content_type="application/json"
    ).status_code in (200,)
    client.force_login(bob)
    stolen = client.patch(f"/api/v1/creator/tiers/{tier.pk}/", {"name": "Mine"}, content_type="application/json")
    assert stolen.status_code == 404
    assert client.post(f"/api/v1/creator/tiers/{tier.pk}/archive/").status_code == 404
    assert not Payment.objects.exists()


@pytest.mark.parametrize("value", ["abc", "-1", "0", str(HUGE_ID), "", "1.5", "1e309", "NaN"])
def test_subscribe_pages_hostile_tier_values_are_4xx(client, bob, dave, tier, value):
    client.force_login(bob)
    assert 400 <= client.post(f"/@{dave.handle}/subscribe", {"tier": value}).status_code < 500
    response = client.post(f"/@{dave.handle}/subscribe/confirm", {"tier": value, "idempotency_key": "x"})
    assert 400 <= response.status_code < 500
    assert not Payment.objects.exists()


def test_subscribe_page_with_another_creators_tier_id_is_404(client, bob, dave, tier):
    erin = sender_user("erin")
    make_creator(erin)
    client.force_login(bob)
    response = client.post(f"/@{erin.handle}/subscribe/confirm", {"tier": tier.pk, "idempotency_key": "x"})
    assert response.status_code == 404 and not Payment.objects.exists()


def test_creator_earnings_api_days_hostile(client, dave):
    client.force_login(dave)
    for days in ["0", "-1", "367", "abc", "1e3", "NaN", "٣", str(HUGE_ID)]:
        assert client.get(f"/api/v1/creator/earnings/?days={days}").status_code == 400, days
    for days in ["abc", "-5", "1e309", str(HUGE_ID)]:
        assert client.get(f"/creator/?days={days}").status_code == 200


# --- Races on PostgreSQL ------------------------------------------------------------------------


def _pg_sub(handle="fan", price=700):
    skip_unless_postgres()
    maker = sender_user(f"maker_{handle}")
    make_creator(maker)
    fan = sender_user(handle)
    fund(fan, "100.00")
    sub = subscription_start(fan, tier=make_tier(maker, price=price), idempotency_key=f"start-{handle}")
    return maker, fan, sub


def _consistent(sub) -> int:
    """Every paid period has exactly one completed payment; returns how many periods were paid."""
    sub.refresh_from_db()
    paid = Payment.objects.filter(sender_id=sub.fan_id, kind=PaymentKind.SUBSCRIPTION, status=PaymentStatus.COMPLETED)
    assert paid.count() == sub.periods_paid
    assert SubscriptionCharge.objects.filter(subscription=sub, status=ChargeStatus.PAID).count() == sub.periods_paid
    assert balance(sub.creator) == sub.periods_paid * sub.tier.price
    return sub.periods_paid


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_cancel_resume_and_renewals_racing_charge_a_period_at_most_once():
    _maker, fan, sub = _pg_sub()
    moment = sub.paid_until + timedelta(seconds=1)

    def act(index):
        if index in (0, 3):
            return subscription_cancel(fan, subscription=sub.pk).status
        if index in (1, 4):
            try:
                return subscription_resume(fan, subscription=sub.pk).status
            except DomainError as error:
                return error.code
        return subscription_renew(sub.pk, now=moment)

    _results, errors = run_threads(6, act)
    assert not errors, errors
    assert _consistent(sub) in (1, 2)
    assert subscriptions_renew_due(now=moment) in (0, 1)
    assert _consistent(sub) in (1, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_subscribe_racing_a_renewal_charges_once():
    _maker, fan, sub = _pg_sub()
    moment = sub.paid_until + timedelta(seconds=1)

    def act(index):
        if index % 2:
            try:
                return subscription_start(fan, tier=sub.tier, idempotency_key=f"again-{index}").pk
            except AlreadySubscribed:
                return "already"
        return subscription_renew(sub.pk, now=moment)

    results, errors = run_threads(6, act)
    assert not errors, errors
    assert sorted(r for r in results if r in ("renewed", "skipped", "already")) == sorted(results)
    assert results.count("renewed") == 1 and results.count("already") == 3
    assert Subscription.objects.count() == 1 and _consistent(sub) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_release_due_run_by_several_workers_splits_a_delayed_tip_once():
    skip_unless_postgres()
    dave, alice, carol, bob = (sender_user(h) for h in ("dave", "alice", "carol", "bob"))
    make_creator(dave)
    fund(bob, "100.00")
    post = make_post(dave, "x")
    _split_3(dave, alice, carol, post)
    wallet_settings_update(bob, safety_delay_seconds=600)
    tip = _tip(bob, post, "10.01")
    later = timezone.now() + timedelta(hours=1)
    results, errors = run_threads(4, lambda index: payments_release_due(now=later))
    assert not errors, errors
    assert sum(results) == 1
    assert TipShare.objects.filter(payment_id=tip.payment_id).count() == 2
    assert (balance(dave), balance(alice), balance(carol), balance(bob)) == (501, 300, 200, 100_00 - 1001)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_return_racing_staff_reversal_of_a_split_tip_gives_back_once():
    skip_unless_postgres()
    dave, alice, carol, bob = (sender_user(h) for h in ("dave", "alice", "carol", "bob"))
    make_creator(dave)
    fund(bob, "100.00")
    post = make_post(dave, "x")
    _split_3(dave, alice, carol, post)
    tip = _tip(bob, post, "10.00")
    staff = _staff()

    def act(index):
        try:
            if index % 2:
                return payment_reverse_by_staff(staff, payment=tip.payment_id, reason="r").status
            return payment_return(dave, payment=tip.payment_id).status
        except DomainError as error:
            return error.code

    results, errors = run_threads(4, act)
    assert not errors, errors
    assert results.count(PaymentStatus.RETURNED) == 1
    assert (balance(dave), balance(alice), balance(carol), balance(bob)) == (0, 0, 0, 100_00)
    assert Transfer.objects.filter(kind="tip_share_return").count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_same_tip_key_at_once_tips_and_splits_once():
    skip_unless_postgres()
    dave, alice, carol, bob = (sender_user(h) for h in ("dave", "alice", "carol", "bob"))
    make_creator(dave)
    fund(bob, "100.00")
    post = make_post(dave, "x")
    _split_3(dave, alice, carol, post)
    results, errors = run_threads(4, lambda index: _tip(bob, post, "10.00", key="same").pk)
    assert not errors, errors
    assert len(set(results)) == 1 and PostTip.objects.count() == 1 and Payment.objects.count() == 1
    assert (balance(dave), balance(alice), balance(carol), balance(bob)) == (500, 300, 200, 100_00 - 1000)
