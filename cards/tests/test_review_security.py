"""Security review of the card pages, the cardholder API and the merchant API: a buyer cannot
block another buyer's demo order through the shared demo merchant, a deactivated demo merchant
stops taking payments, and no error report (Django's, or anything that uses its filter) carries a
card number or CVV."""

from __future__ import annotations

import re
import sys
import time
from unittest import mock

import pytest
from django.core.signals import got_request_exception
from django.shortcuts import render as real_render
from django.template import TemplateDoesNotExist
from django.views.debug import ExceptionReporter
from django.views.decorators.debug import sensitive_variables

from cards.models import Authorization, AuthorizationStatus, Card, CardStatus, Merchant
from cards.tests.factories import card_for, merchant, with_details
from payments.tests.factories import fund, sender_user

pytestmark = pytest.mark.django_db


def _holder(handle: str):
    user = sender_user(handle)
    fund(user, "500.00")
    card = Card.objects.filter(user=user).exclude(status=CardStatus.CANCELLED).first() or card_for(user)
    return user, with_details(card)


def _pay(client, card, *, key, **overrides):
    body = {
        "item": "latte",
        "number": " ".join(re.findall("....", card.plain_number)),
        "expiry": f"{card.exp_month:02d}/{card.exp_year % 100:02d}",
        "cvv": card.plain_cvv,
        "idempotency_key": key,
    }
    body.update(overrides)
    return client.post("/cards/demo-shop/", body)


@sensitive_variables()  # like the real card_authorize: its own frame is hidden
def _crashing_authorize(*args, **kwargs):
    raise RuntimeError("boom")


class _Reports:
    """Django's error report (as mailed to ADMINS / sent to an error tracker) of each crash."""

    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, sender, request=None, **kwargs):
        reporter = ExceptionReporter(request, *sys.exc_info(), is_email=True)
        # The HTML report is the one with every frame's local variables.
        self.texts.append(reporter.get_traceback_text() + reporter.get_traceback_html())


@pytest.fixture
def reports():
    receiver = _Reports()
    got_request_exception.connect(receiver)
    yield receiver.texts
    got_request_exception.disconnect(receiver)


# --- The shared demo merchant ----------------------------------------------------------------------


def test_a_buyer_cannot_squat_the_network_id_of_another_buyers_capture(client):
    """The checkout's form key is the buyer's: "capture-<order>" must not become the network id
    "demo-capture-<order>" that the other buyer's "Complete the order" uses."""
    bea, bea_card = _holder("bea")
    mal, mal_card = _holder("mal")
    client.force_login(bea)
    assert _pay(client, bea_card, key="b" * 20).status_code == 302
    order = Authorization.objects.get(card=bea_card)
    client.force_login(mal)
    for action in ("capture", "reverse", "refund"):
        # Mal's own card, a wrong CVV: a decline costs nothing and is recorded under the id.
        _pay(client, mal_card, key=f"{action}-{order.pk}", cvv="000" if mal_card.plain_cvv != "000" else "111")
    client.force_login(bea)
    assert client.post(f"/cards/demo-shop/orders/{order.pk}/capture/").status_code == 302
    order.refresh_from_db()
    assert order.status == AuthorizationStatus.CAPTURED and order.captured_amount == 525


def test_the_same_form_key_of_two_buyers_are_two_checkouts(client):
    bea, bea_card = _holder("bea")
    mal, mal_card = _holder("mal")
    client.force_login(bea)
    assert _pay(client, bea_card, key="s" * 20).status_code == 302
    client.force_login(mal)
    response = _pay(client, mal_card, key="s" * 20)
    assert response.status_code == 302, response.content[:300]
    assert Authorization.objects.filter(card=mal_card, status=AuthorizationStatus.PENDING).count() == 1


def test_a_deactivated_demo_merchant_takes_no_payment(client):
    bea, card = _holder("bea")
    client.force_login(bea)
    assert _pay(client, card, key="d" * 20).status_code == 302
    order = Authorization.objects.get(card=card)
    Merchant.objects.filter(is_demo=True).update(is_active=False)
    response = _pay(client, card, key="e" * 20)
    assert response.status_code == 503 and b"closed" in response.content
    assert Authorization.objects.filter(card=card).count() == 1
    client.post(f"/cards/demo-shop/orders/{order.pk}/capture/")
    order.refresh_from_db()
    assert order.status == AuthorizationStatus.PENDING


# --- Error reports -----------------------------------------------------------------------------


def _assert_no_card_details(texts, card):
    assert texts, "no error report was made"
    for text in texts:
        assert card.plain_number not in text
        assert " ".join(re.findall("....", card.plain_number)) not in text
        assert f"'{card.plain_cvv}'" not in text and f"&#x27;{card.plain_cvv}&#x27;" not in text


def test_demo_shop_crash_report_has_no_number_or_cvv(client, reports):
    bea, card = _holder("bea")
    client.force_login(bea)
    with (
        mock.patch("cards.views.network.card_authorize", _crashing_authorize),
        pytest.raises(RuntimeError),
    ):
        _pay(client, card, key="r" * 20)
    _assert_no_card_details(reports, card)


def test_merchant_api_crash_report_has_no_number_or_cvv(client, reports):
    _bea, card = _holder("bea")
    shop = merchant("Crashy Shop")
    body = {
        "number": card.plain_number,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "cvv": card.plain_cvv,
        "amount": "1.00",
        "currency": "USD",
        "network_transaction_id": "crash-1",
    }
    with (
        mock.patch("cards.network_api.network.card_authorize", _crashing_authorize),
        pytest.raises(RuntimeError),
    ):
        client.post(
            "/api/v1/network/authorizations/", body, content_type="application/json", HTTP_X_MERCHANT_KEY=shop.api_key
        )
    _assert_no_card_details(reports, card)


def _recently_reauthenticated(client, user):
    session = client.session
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [{"method": "password", "at": time.time(), "reauthenticated": True}]
    session.save()


def test_reveal_page_crash_report_has_no_number_or_cvv(client, reports):
    bea, card = _holder("bea")
    client.force_login(bea)
    _recently_reauthenticated(client, bea)

    def broken_render(request, template_name, context=None, status=None):
        return real_render(request, "cards/no-such-template.html", context, status=status)

    with mock.patch("cards.views.render", broken_render), pytest.raises(TemplateDoesNotExist):
        client.get(f"/cards/{card.pk}/reveal/")
    _assert_no_card_details(reports, card)


def test_reveal_api_crash_report_has_no_number_or_cvv(client, reports):
    bea, card = _holder("bea")
    client.force_login(bea)
    _recently_reauthenticated(client, bea)

    def broken_response(data=None, status=None, **kwargs):
        raise RuntimeError("serialising trouble")

    with mock.patch("cards.api.Response", broken_response), pytest.raises(RuntimeError):
        client.post(f"/api/v1/cards/{card.pk}/reveal/", content_type="application/json")
    _assert_no_card_details(reports, card)


def test_an_old_or_foreign_reauthentication_record_does_not_unlock_the_reveal(client):
    bea, card = _holder("bea")
    mal, _ = _holder("mal")
    client.force_login(bea)
    session = client.session
    # A record for someone else (a session carried over), and a plain sign-in just now.
    session["account_authentication_methods_user"] = str(mal.pk)
    session["account_authentication_methods"] = [{"method": "password", "at": time.time(), "reauthenticated": True}]
    session.save()
    assert client.get(f"/cards/{card.pk}/reveal/").status_code == 302
    session = client.session
    session["account_authentication_methods_user"] = str(bea.pk)
    session["account_authentication_methods"] = [{"method": "password", "at": time.time()}]
    session.save()
    assert client.get(f"/cards/{card.pk}/reveal/").status_code == 302
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time() - 61, "reauthenticated": True},
        {"method": "password", "at": time.time()},
    ]
    session.save()
    assert client.get(f"/cards/{card.pk}/reveal/").status_code == 302
