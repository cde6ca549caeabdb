"""Card purchases in the wallet feed, through ``payments.selectors.activity_feed``."""

from __future__ import annotations

import pytest

from cards.feed import register_feed_source
from cards.models import Card, CardStatus
from cards.network import card_capture, card_refund, card_reverse
from cards.tests.factories import authorize, card_for, merchant, network_id, with_details
from payments.selectors import activity_feed, feed_filters
from payments.tests.factories import fund, sender_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registered():
    register_feed_source()


@pytest.fixture
def card(db):
    user = sender_user("feedy")
    fund(user, "500.00")
    found = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first() or card_for(user)
    return with_details(found)


def _card_items(user, **kwargs):
    return [i for i in activity_feed(user, **kwargs).items if i.source == "card"]


def test_the_filter_is_offered():
    assert ("card", "Card") in feed_filters()


def test_pending_captured_refunded_reversed_declined(card):
    shop = merchant("Feed Cafe")
    pending = authorize(shop, card, 1200)
    captured = authorize(shop, card, 2000)
    card_capture(
        shop,
        authorization_id=captured["authorization_id"],
        amount=None,
        network_transaction_id=network_id(),
        final=True,
    )
    card_refund(shop, authorization_id=captured["authorization_id"], amount=200, network_transaction_id=network_id())
    reversed_ = authorize(shop, card, 700)
    card_reverse(shop, authorization_id=reversed_["authorization_id"], network_transaction_id=network_id())
    declined = authorize(shop, card, 300, cvv="000" if card.plain_cvv != "000" else "111")

    items = {i.id: i for i in _card_items(card.user)}
    p = items[pending["authorization_id"]]
    assert (p.title, p.kind, p.kind_label, p.direction) == ("Feed Cafe", "card", "Card purchase", "out")
    assert p.amount == -1200 and p.status_label == "Pending" and not p.is_void and p.url == "/cards/"
    c = items[captured["authorization_id"]]
    assert c.amount == -1800 and c.status_label == "Captured" and c.detail == "Refunded $2.00" and not c.is_void
    r = items[reversed_["authorization_id"]]
    assert r.is_void and r.amount == -700 and r.status_label == "Reversed"
    d = items[declined["authorization_id"]]
    assert d.is_void and d.detail == "Declined: Wrong CVV"
    # Newest first.
    assert next(i.id for i in _card_items(card.user)) == declined["authorization_id"]


def test_only_the_holders_purchases_search_and_filter(card):
    shop = merchant("Search Shop")
    authorize(shop, card, 500, merchant_name="Moonbucks")
    authorize(shop, card, 600, merchant_name="Bookery")
    other = sender_user("nosy")
    assert _card_items(other) == []
    assert [i.title for i in _card_items(card.user, query="moon")] == ["Moonbucks"]
    only_cards = activity_feed(card.user, feed_filter="card").items
    assert only_cards and all(i.source == "card" for i in only_cards)


def test_pages_with_a_cursor_and_one_query(card, django_assert_num_queries):
    shop = merchant("Paging Shop")
    for _ in range(5):
        authorize(shop, card, 100)
    first = activity_feed(card.user, feed_filter="card", page_size=3)
    assert len(first.items) == 3 and first.next_cursor
    second = activity_feed(card.user, feed_filter="card", page_size=3, cursor=first.next_cursor)
    assert len(second.items) == 2
    assert not {i.id for i in first.items} & {i.id for i in second.items}
    with django_assert_num_queries(1):
        activity_feed(card.user, feed_filter="card")


def test_the_wallet_page_shows_pending_then_captured(client, card):
    shop = merchant("Wallet Cafe")
    result = authorize(shop, card, 450)
    client.force_login(card.user)
    page = client.get("/wallet/").content.decode()
    assert "Wallet Cafe" in page and "Card purchase" in page and 'data-status="pending"' in page
    card_capture(shop, authorization_id=result["authorization_id"], amount=None, network_transaction_id=network_id())
    page = client.get("/wallet/?filter=card").content.decode()
    assert 'data-status="captured"' in page and "Captured" in page and "Wallet Cafe" in page
    assert card.plain_number not in page
