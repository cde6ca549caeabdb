"""The card page (/cards/) and the demo shop: owner only, empty states, controls, reveal after
re-authentication, the demo checkout end to end, and bounded queries."""

from __future__ import annotations

import re
import time
from urllib.parse import unquote

import pytest

from accounts.tests.factories import PASSWORD
from cards.models import Authorization, AuthorizationStatus, Card, CardStatus
from cards.tests.factories import authorize, card_for, merchant, with_details
from compliance.models import AuditEntry
from payments.tests.factories import available, balance, fund, sender_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder(db):
    """A tier-1 user with $500.00 and a card."""
    user = sender_user("holly", display_name="Holly Holder")
    fund(user, "500.00")
    card = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first()
    if card is None:
        card = card_for(user)
    return user, with_details(card)


@pytest.fixture
def other(db):
    user = sender_user("otto")
    fund(user, "500.00")
    card = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first() or card_for(user)
    return user, card


def _login(client, user):
    client.force_login(user)
    return client


def _reauthenticate(client):
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


# --- Empty states --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/cards/")
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_needs_tier_links_to_verification(client):
    user = sender_user("tina", tier=0)
    fund(user, "500.00")
    page = _login(client, user).get("/cards/").content.decode()
    assert 'data-state="needs_tier"' in page and "/compliance/verify/" in page
    assert not Card.objects.filter(user=user).exists()


def test_needs_balance_says_the_threshold_and_links_to_add_money(client):
    user = sender_user("nina")
    fund(user, "50.00")
    page = _login(client, user).get("/cards/").content.decode()
    assert 'data-state="needs_balance"' in page
    assert "Your card arrives when your balance reaches $100.00" in page
    assert "/wallet/add/" in page


def test_eligible_gets_a_card_with_the_button(client, settings):
    user = sender_user("elle")
    fund(user, "50.00")  # below the threshold: nothing issued
    settings.CARDS_ISSUE_THRESHOLD = 5000  # now the balance is enough, but no card yet
    _login(client, user)
    page = client.get("/cards/").content.decode()
    assert 'data-state="eligible"' in page and "Get your card" in page
    response = client.post("/cards/request/")
    assert response.status_code == 302
    card = Card.objects.get(user=user)
    page = client.get("/cards/").content.decode()
    assert f"•••• {card.last4}" in page and card.expiry in page
    # Asking again is refused with a message, not a 500.
    again = client.post("/cards/request/", follow=True)
    assert again.status_code == 200 and Card.objects.filter(user=user).count() == 1


def test_request_when_not_eligible_shows_the_reason(client):
    user = sender_user("poor")
    fund(user, "10.00")
    response = _login(client, user).post("/cards/request/", follow=True)
    assert response.status_code == 200
    assert not Card.objects.filter(user=user).exists()
    assert 'data-state="needs_balance"' in response.content.decode()


# --- The card ------------------------------------------------------------------------------------


def test_card_face_shows_last4_expiry_holder_and_never_the_number(client, holder):
    user, card = holder
    page = _login(client, user).get("/cards/").content.decode()
    assert f"•••• {card.last4}" in page and card.expiry in page and "Holly Holder" in page
    assert 'data-testid="card-status">Active' in page
    assert card.plain_number not in page and card.plain_number[:12] not in page
    assert f">{card.plain_cvv}<" not in page


def test_fragment_is_just_the_card_area(client, holder):
    user, card = holder
    response = _login(client, user).get("/cards/?fragment=1")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and f"•••• {card.last4}" in body


def test_freeze_and_unfreeze(client, holder):
    user, card = holder
    _login(client, user)
    assert client.post(f"/cards/{card.pk}/freeze/").status_code == 302
    card.refresh_from_db()
    assert card.status == CardStatus.FROZEN
    page = client.get("/cards/").content.decode()
    assert "Unfreeze" in page and 'data-testid="card-status">Frozen' in page
    assert client.post(f"/cards/{card.pk}/unfreeze/").status_code == 302
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_limits_saved_in_dollars_and_bad_values_refused(client, holder, settings):
    user, card = holder
    _login(client, user)
    response = client.post(f"/cards/{card.pk}/limits/", {"per_purchase": "250.00", "daily": "1,000.00"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.per_purchase_limit, card.daily_limit) == (25000, 100000)
    too_big = f"{settings.CARDS_MAX_PURCHASE_LIMIT / 100 + 1:.2f}"
    for body in (
        {"per_purchase": "abc", "daily": "10"},
        {"per_purchase": "-5", "daily": "10"},
        {"per_purchase": too_big, "daily": "10"},
        {"per_purchase": "10"},
    ):
        response = client.post(f"/cards/{card.pk}/limits/", body)
        assert response.status_code == 400, body
    card.refresh_from_db()
    assert (card.per_purchase_limit, card.daily_limit) == (25000, 100000)


def test_replace_has_a_confirm_step_then_cancels_the_old_card(client, holder):
    user, card = holder
    _login(client, user)
    confirm = client.get(f"/cards/{card.pk}/replace/").content.decode()
    assert "The old card stops working at once" in confirm
    assert Card.objects.get(pk=card.pk).status == CardStatus.ACTIVE  # GET changes nothing
    assert client.post(f"/cards/{card.pk}/replace/").status_code == 302
    old = Card.objects.get(pk=card.pk)
    new = Card.objects.exclude(status=CardStatus.CANCELLED).get(user=user)
    assert old.status == CardStatus.CANCELLED and new.replaces_id == old.pk
    assert f"•••• {new.last4}" in client.get("/cards/").content.decode()
    assert client.get(f"/cards/{card.pk}/replace/").status_code == 404  # the old one is gone


def test_someone_elses_card_is_404_everywhere(client, holder, other):
    user, _ = holder
    _, theirs = other
    _login(client, user)
    for url in ("freeze", "unfreeze", "replace", "reveal"):
        assert client.post(f"/cards/{theirs.pk}/{url}/").status_code == 404, url
    assert client.post(f"/cards/{theirs.pk}/limits/", {"per_purchase": "1", "daily": "1"}).status_code == 404
    assert client.get(f"/cards/{theirs.pk}/replace/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == CardStatus.ACTIVE


def test_reveal_needs_reauthentication_then_shows_the_details_and_is_audited(client, holder):
    user, card = holder
    _login(client, user)
    response = client.post(f"/cards/{card.pk}/reveal/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")
    assert f"next=/cards/{card.pk}/reveal/" in unquote(response.url)
    assert not AuditEntry.objects.filter(action="card.reveal").exists()
    # Entering the password again comes back to the reveal.
    back = client.post(response.url, {"password": PASSWORD})
    assert back.status_code == 302 and back.url == f"/cards/{card.pk}/reveal/"
    page = client.get(back.url)
    body = page.content.decode()
    grouped = " ".join(re.findall("....", card.plain_number))
    assert page.status_code == 200 and grouped in body and f">{card.plain_cvv}<" in body
    assert "no-store" in page["Cache-Control"]
    assert 'data-testid="card-revealed"' in body and "data-visible-until" in body
    assert AuditEntry.objects.filter(action="card.reveal").count() == 1
    # The ordinary page never shows it.
    assert card.plain_number not in client.get("/cards/").content.decode()


def test_reveal_refused_when_the_reauthentication_is_old(client, holder):
    user, card = holder
    _login(client, user)
    _reauthenticate(client)
    session = client.session
    records = session["account_authentication_methods"]
    for record in records:
        record["at"] = time.time() - 120
    session["account_authentication_methods"] = records
    session.save()
    response = client.get(f"/cards/{card.pk}/reveal/")
    assert response.status_code == 302 and "/reauthenticate/" in response.url


def test_signing_in_alone_does_not_unlock_the_reveal(client, holder):
    user, card = holder
    assert client.post("/accounts/login/", {"login": user.handle, "password": PASSWORD}).status_code == 302
    response = client.get(f"/cards/{card.pk}/reveal/")
    assert response.status_code == 302 and "/reauthenticate/" in response.url


def test_purchases_list_statuses_and_bounded_queries(client, holder, django_assert_max_num_queries):
    user, card = holder
    shop = merchant("Corner Books")
    approved = authorize(shop, card, 1250)
    authorize(shop, card, 900, cvv="000" if card.plain_cvv != "000" else "111")
    for _ in range(8):
        authorize(shop, card, 100)
    _login(client, user)
    client.get("/cards/")  # warm caches (sessions, content types)
    with django_assert_max_num_queries(25):
        page = client.get("/cards/").content.decode()
    assert "Corner Books" in page and "$12.50" in page
    assert "Declined: Wrong CVV" in page and "Pending" in page
    assert Authorization.objects.get(pk=approved["authorization_id"]).status == AuthorizationStatus.PENDING
    # Twice the purchases, the same number of queries (no N+1).
    for _ in range(10):
        authorize(shop, card, 100)
    with django_assert_max_num_queries(25):
        client.get("/cards/")


# --- The demo shop -------------------------------------------------------------------------------


def _pay(client, card, *, item="latte", key="k" * 20, **overrides):
    body = {
        "item": item,
        "number": " ".join(re.findall("....", card.plain_number)),
        "expiry": f"{card.exp_month:02d}/{card.exp_year % 100:02d}",
        "cvv": card.plain_cvv,
        "idempotency_key": key,
    }
    body.update(overrides)
    return client.post("/cards/demo-shop/", body)


def test_demo_shop_pays_then_captures_and_the_wallet_moves(client, holder):
    user, card = holder
    _login(client, user)
    page = client.get("/cards/demo-shop/").content.decode()
    assert "Everything Coffee Co." in page and page.count('name="item"') == 3
    before = balance(user)
    response = _pay(client, card)
    assert response.status_code == 302
    auth = Authorization.objects.get(card=card)
    assert response.url == f"/cards/demo-shop/orders/{auth.pk}/"
    assert auth.amount == 525 and auth.status == AuthorizationStatus.PENDING
    assert available(user) == before - 525 and balance(user) == before  # held, not posted
    # A double submit of the same form authorises once.
    assert _pay(client, card).url == response.url
    assert Authorization.objects.filter(card=card).count() == 1
    order = client.get(response.url).content.decode()
    assert "Payment authorised, pending" in order and "Complete the order (merchant captures)" in order
    assert card.plain_number not in order
    assert client.post(f"/cards/demo-shop/orders/{auth.pk}/capture/").status_code == 302
    auth.refresh_from_db()
    assert auth.status == AuthorizationStatus.CAPTURED and auth.captured_amount == 525
    assert balance(user) <= before - 525  # captured (a round-up may add to it)
    assert "Captured" in client.get(response.url).content.decode()
    # Capturing again is a replay: nothing more moves.
    after = balance(user)
    client.post(f"/cards/demo-shop/orders/{auth.pk}/capture/")
    assert balance(user) == after


def test_demo_shop_cancel_releases_the_hold(client, holder):
    user, card = holder
    _login(client, user)
    before = available(user)
    response = _pay(client, card, item="beans", key="r" * 20)
    auth = Authorization.objects.get(card=card)
    assert available(user) == before - 1899
    assert client.post(f"/cards/demo-shop/orders/{auth.pk}/reverse/").status_code == 302
    auth.refresh_from_db()
    assert auth.status == AuthorizationStatus.REVERSED and available(user) == before
    assert "Reversed" in client.get(response.url).content.decode()


def test_demo_shop_decline_shows_the_reason_and_moves_nothing(client, holder):
    user, card = holder
    _login(client, user)
    before = available(user)
    wrong = "000" if card.plain_cvv != "000" else "111"
    response = _pay(client, card, cvv=wrong)
    body = response.content.decode()
    assert response.status_code == 200 and "Payment declined" in body and "The CVV does not match" in body
    assert card.plain_number not in body
    assert available(user) == before
    # The page gives a fresh key: paying again with the right CVV works.
    key = re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)
    assert key != "k" * 20
    assert _pay(client, card, key=key).status_code == 302


def test_demo_shop_bad_input_is_a_400_not_a_500(client, holder):
    user, card = holder
    _login(client, user)
    for overrides in (
        {"expiry": "13/30"},
        {"expiry": "soon"},
        {"number": "abcd"},
        {"cvv": "12"},
        {"item": "caviar"},
        {"idempotency_key": "x"},
        {"number": "4" * 40},
    ):
        response = _pay(client, card, **overrides)
        assert response.status_code == 400, overrides
        assert card.plain_number not in response.content.decode()
    assert not Authorization.objects.exists()


def test_demo_order_is_only_for_its_buyer(client, holder, other):
    user, card = holder
    other_user, _ = other
    _login(client, user)
    _pay(client, card)
    auth = Authorization.objects.get(card=card)
    _login(client, other_user)
    assert client.get(f"/cards/demo-shop/orders/{auth.pk}/").status_code == 404
    assert client.post(f"/cards/demo-shop/orders/{auth.pk}/capture/").status_code == 404
    auth.refresh_from_db()
    assert auth.status == AuthorizationStatus.PENDING
    _login(client, user)
    assert client.post(f"/cards/demo-shop/orders/{auth.pk}/explode/").status_code == 404


def test_no_log_line_carries_the_number_or_cvv(client, holder, caplog):
    import logging

    user, card = holder
    _login(client, user)
    with caplog.at_level(logging.DEBUG):
        _pay(client, card)
        _pay(client, card, expiry="99/99", key="b" * 20)
        client.post(f"/cards/{card.pk}/reveal/")
        _reauthenticate(client)
        client.get(f"/cards/{card.pk}/reveal/")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert card.plain_number not in text
    assert not any(card.plain_cvv == str(arg) for r in caplog.records for arg in (r.args or ()))
