"""Revenue splits: the maths, who may set a split, distribution exactly once, returns reverse shares."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from accounts.social import block_create
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import Batch, Transfer
from ledger.services import transfer_post
from notifications.models import Notification
from payments.models import Payment, PaymentStatus
from payments.services.send import payment_return
from payments.services.tips import tip_send
from payments.services.wallet import wallet_account
from payments.tests.factories import balance, sender_user
from social.models import PostAuthor, TipShare
from social.services.creators import InvalidSplit, post_authors_set
from social.services.tips import (
    TipShareUnavailable,
    post_tip_send,
    split_amounts,
    tip_payment_status_changed,
    tip_shares_distribute,
)

from .factories import make_creator, make_post

# --- The maths ------------------------------------------------------------------------------


def test_split_examples():
    assert split_amounts(1001, [5000, 3000, 2000]) == [501, 300, 200]
    assert split_amounts(1, [5000, 5000]) == [1, 0]
    assert split_amounts(999, [1, 9999]) == [1, 998]
    assert split_amounts(0, [5000, 5000]) == [0, 0]
    assert split_amounts(10, [3334, 3333, 3333]) == [4, 3, 3]
    with pytest.raises(InvalidSplit.__mro__[1]):  # ValidationFailed
        split_amounts(10, [5000, 4999])


@st.composite
def shares(draw):
    count = draw(st.integers(min_value=1, max_value=10))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=9_999), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 10_000]
    return [b - a for a, b in itertools.pairwise(bounds)]


@given(amount=st.integers(min_value=0, max_value=10**15), bps=shares())
def test_split_property(amount, bps):
    parts = split_amounts(amount, bps)
    assert sum(parts) == amount and len(parts) == len(bps)
    assert all(part >= 0 for part in parts)
    for part, share in zip(parts[1:], bps[1:], strict=True):
        exact = Fraction(amount * share, 10_000)
        assert part <= exact < part + 1  # floor: within one minor unit, never over
    exact_first = Fraction(amount * bps[0], 10_000)
    # The first author gets the leftover: at or above their exact part, by less than 1 per co-author.
    assert exact_first <= parts[0] < exact_first + max(len(bps) - 1, 1)


# --- Setting a split ------------------------------------------------------------------------


@pytest.fixture
def post(dave):
    return make_post(dave, "A collab")


@pytest.mark.django_db
def test_set_replace_and_clear_a_split(dave, alice, carol, post):
    rows = post_authors_set(dave, post=post, shares=[(dave, 5000), ("@alice", 3000), ("carol", 2000)])
    assert [(r.user_id, r.position, r.share_bps) for r in rows] == [
        (dave.pk, 0, 5000),
        (alice.pk, 1, 3000),
        (carol.pk, 2, 2000),
    ]
    assert Notification.objects.filter(kind="post.coauthor", recipient__in=[alice, carol]).count() == 2
    post_authors_set(dave, post=post, shares=[(dave, 9000), (carol, 1000)])
    assert list(PostAuthor.objects.filter(post=post).values_list("user_id", "share_bps")) == [
        (dave.pk, 9000),
        (carol.pk, 1000),
    ]
    assert post_authors_set(dave, post=post, shares=[(dave, 10_000)]) == []
    assert not PostAuthor.objects.filter(post=post).exists()
    assert post_authors_set(dave, post=post, shares=[]) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "shares_of,message",
    [
        (lambda d, a, c: [(a, 5000), (d, 5000)], "first"),
        (lambda d, a, c: [(d, 5000), (a, 2500), ("@alice", 2500)], "once"),
        (lambda d, a, c: [(d, 5000), (a, 4999)], "100%"),
        (lambda d, a, c: [(d, 10_000), (a, 0)], "basis points"),
        (lambda d, a, c: [(d, 5000), (a, "50")], "basis points"),
        (lambda d, a, c: [(d, 5000), (a, True)], "basis points"),
        (lambda d, a, c: [(d, 5000), ("@nobody", 5000)], "no one"),
        (lambda d, a, c: [(d, 5000), ("", 5000)], "handle"),
        (lambda d, a, c: [(d, 1000)] + [(f"u{i}", 1000) for i in range(10)], "at most"),
    ],
)
def test_invalid_splits_are_refused_and_change_nothing(dave, alice, carol, post, shares_of, message):
    post_authors_set(dave, post=post, shares=[(dave, 9000), (carol, 1000)])
    with pytest.raises(InvalidSplit) as error:
        post_authors_set(dave, post=post, shares=shares_of(dave, alice, carol))
    assert message in error.value.message
    assert list(PostAuthor.objects.filter(post=post).values_list("user_id", flat=True)) == [dave.pk, carol.pk]


@pytest.mark.django_db
def test_split_refuses_blocks_inactive_people_and_non_authors(dave, alice, carol, post):
    block_create(alice, blocked=dave)
    with pytest.raises(InvalidSplit, match="blocked"):
        post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 5000)])
    carol.is_active = False
    carol.save()
    with pytest.raises(InvalidSplit):
        post_authors_set(dave, post=post, shares=[(dave, 5000), (carol, 5000)])
    bob = sender_user("bobby")
    from core.errors import NotFound, NotPermitted

    with pytest.raises(NotPermitted):
        post_authors_set(bob, post=post, shares=[(bob, 10_000)])
    with pytest.raises(NotFound):  # alice blocked dave: she cannot see his post
        post_authors_set(alice, post=post, shares=[(alice, 10_000)])


# --- Distribution ---------------------------------------------------------------------------


def _tip(sender, post, amount="10.01", key="t1"):
    return post_tip_send(sender, post=post, amount=Money.parse(amount, "USD"), idempotency_key=key)


@pytest.mark.django_db
def test_completed_tip_is_split_exactly_in_one_ledger_batch(bob, dave, alice, carol, post):
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 3000), (carol, 2000)])
    alice_before = balance(alice)
    tip = _tip(bob, post, "10.01")
    shares = {s.user_id: s for s in TipShare.objects.filter(payment=tip.payment)}
    assert shares[alice.pk].amount == 300 and shares[carol.pk].amount == 200
    assert balance(dave) == 501 and balance(alice) == alice_before + 300 and balance(carol) == 200
    assert balance(dave) + 300 + 200 == 1001
    batches = {s.transfer.batch_id for s in shares.values()}
    assert len(batches) == 1 and Batch.objects.get(pk=batches.pop()).transfers.count() == 2
    note = Notification.objects.get(recipient=carol, kind="tip.share")
    assert note.data["amount"] == "$2.00" and "@bob" in note.title


@pytest.mark.django_db
def test_distribution_happens_exactly_once_even_if_delivered_twice(bob, dave, alice, post):
    post_authors_set(dave, post=post, shares=[(dave, 6000), (alice, 4000)])
    tip = _tip(bob, post, "5.00")
    alice_after = balance(alice)
    payment = Payment.objects.get(pk=tip.payment_id)
    tip_payment_status_changed(payment, PaymentStatus.COMPLETED)
    tip_payment_status_changed(payment, PaymentStatus.COMPLETED)
    assert TipShare.objects.filter(payment=payment).count() == 1
    assert balance(alice) == alice_after and balance(dave) == 300
    assert Notification.objects.filter(recipient=alice, kind="tip.share").count() == 1


@pytest.mark.django_db
def test_tiny_tip_gives_zero_shares_and_the_first_author_keeps_all(bob, dave, alice, post):
    post_authors_set(dave, post=post, shares=[(dave, 9999), (alice, 1)])
    tip = _tip(bob, post, "0.01")
    share = TipShare.objects.get(payment=tip.payment)
    assert share.amount == 0 and share.transfer_id is None
    assert balance(dave) == 1 and not Notification.objects.filter(recipient=alice, kind="tip.share").exists()


@pytest.mark.django_db
def test_a_post_tip_paid_to_someone_else_is_not_split(bob, dave, alice, post):
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 5000)])
    make_creator(alice)
    payment = tip_send(bob, creator=alice, amount=Money(100, "USD"), target=f"post:{post.pk}", idempotency_key="x")
    assert payment.status == PaymentStatus.COMPLETED and not TipShare.objects.exists()


@pytest.mark.django_db
def test_split_set_later_applies_only_to_future_tips(bob, dave, alice, post):
    first = _tip(bob, post, "1.00", key="a")
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 5000)])
    second = _tip(bob, post, "1.00", key="b")
    assert not TipShare.objects.filter(payment=first.payment).exists()
    assert TipShare.objects.get(payment=second.payment).amount == 50


@pytest.mark.django_db
def test_returning_a_split_tip_reverses_the_shares_first(bob, dave, alice, carol, post):
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 3000), (carol, 2000)])
    bob_before, alice_before = balance(bob), balance(alice)
    tip = _tip(bob, post, "10.00")
    transfer_post(  # dave has other money too, so the payment's own reversal can run first today
        initiator=None,
        debit=wallet_account(alice, "USD"),
        credit=wallet_account(dave, "USD"),
        amount=500,
        currency="USD",
        kind="test_funding",
    )
    alice_before -= 500
    payment_return(dave, payment=tip.payment)
    assert balance(bob) == bob_before and balance(alice) == alice_before and balance(carol) == 0
    assert balance(dave) == 500
    assert all(s.reversal_id for s in TipShare.objects.filter(payment=tip.payment))
    assert Notification.objects.filter(kind="tip.share_returned").count() == 2


@pytest.mark.django_db
def test_return_fails_cleanly_when_a_co_author_spent_their_share(bob, dave, alice, carol, post):
    post_authors_set(dave, post=post, shares=[(dave, 5000), (carol, 5000)])
    tip = _tip(bob, post, "10.00")
    # Dave has more money; carol spends her share.
    transfer_post(
        initiator=None,
        debit=wallet_account(alice, "USD"),
        credit=wallet_account(dave, "USD"),
        amount=2000,
        currency="USD",
        kind="test_funding",
    )
    transfer_post(
        initiator=None,
        debit=wallet_account(carol, "USD"),
        credit=wallet_account(alice, "USD"),
        amount=500,
        currency="USD",
        kind="test_spend",
    )
    before = (balance(bob), balance(dave), balance(carol), Transfer.objects.count())
    with pytest.raises(TipShareUnavailable, match="@carol"):
        payment_return(dave, payment=tip.payment)
    assert (balance(bob), balance(dave), balance(carol), Transfer.objects.count()) == before
    assert Payment.objects.get(pk=tip.payment_id).status == PaymentStatus.COMPLETED
    assert not TipShare.objects.filter(reversal__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_create_one_set_of_shares(bob, dave, alice, carol, post):
    skip_unless_postgres()
    post_authors_set(dave, post=post, shares=[(dave, 5000), (alice, 2500), (carol, 2500)])
    payment = tip_send(bob, creator=dave, amount=Money(1000, "USD"), target="profile", idempotency_key="c1")
    # Pretend it was a post tip (so the send itself did not split it), then deliver "completed" twice at once.
    Payment.objects.filter(pk=payment.pk).update(tip_target=f"post:{post.pk}")
    payment.refresh_from_db()
    alice_before = balance(alice)

    def deliver(_):
        return len(tip_shares_distribute(Payment.objects.get(pk=payment.pk), post_id=post.pk))

    results, errors = run_threads(4, deliver)
    assert not errors, errors
    assert sorted(results) == [0, 0, 0, 2]
    assert TipShare.objects.filter(payment=payment).count() == 2
    assert balance(alice) == alice_before + 250 and balance(carol) == 250 and balance(dave) == 500
    assert connection.vendor == "postgresql"


# --- Page and API ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_split_page(client, dave, alice, bob, post):
    client.force_login(dave)
    page = client.get(f"/posts/{post.pk}/split")
    assert page.status_code == 200 and "You (@dave)" in page.content.decode()
    response = client.post(
        f"/posts/{post.pk}/split", {"handle": ["dave", "@alice", ""], "percent": ["62.5", "37.5", ""]}
    )
    assert response.status_code == 302
    assert list(PostAuthor.objects.filter(post=post).values_list("share_bps", flat=True)) == [6250, 3750]
    bad = client.post(f"/posts/{post.pk}/split", {"handle": ["dave", "alice"], "percent": ["50", "40"]})
    assert bad.status_code == 400 and "100%" in bad.content.decode()
    client.force_login(bob)
    assert client.get(f"/posts/{post.pk}/split").status_code == 403
    block_create(dave, blocked=bob)
    assert client.get(f"/posts/{post.pk}/split").status_code == 404


@pytest.mark.django_db
def test_split_api(client, dave, alice, bob, post):
    url = f"/api/v1/posts/{post.pk}/split/"
    client.force_login(dave)
    body = {"shares": [{"user": "@dave", "bps": 7000}, {"user": "@alice", "bps": 3000}]}
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["shared"] is True and [s["bps"] for s in data["shares"]] == [7000, 3000]
    assert data["shares"][1]["user"]["handle"] == "alice"
    bad = client.put(url, {"shares": [{"user": "@dave", "bps": "7000"}]}, content_type="application/json")
    assert bad.status_code == 400
    wrong = client.put(url, {"shares": [{"user": "@dave", "bps": 9000}]}, content_type="application/json")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_split"
    client.force_login(bob)
    assert client.get(url).json()["shares"][0]["user"]["handle"] == "dave"
    assert client.put(url, body, content_type="application/json").status_code == 403
    block_create(dave, blocked=bob)
    assert client.get(url).status_code == 404
