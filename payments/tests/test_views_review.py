"""Views review: the funding confirm/refill helpers, the shared idempotency-error page and the open-requests selector."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.idempotency import new_key
from core.money import Money
from payments import processor
from payments.models import CashOut, PaymentRequest
from payments.selectors import open_requests_to_pay_count
from payments.services.funding import card_link
from payments.services.requests import request_create

from .factories import sender_user


@pytest.fixture(autouse=True)
def _fresh_processor():
    processor.reset()
    yield
    processor.reset()


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def link(user):
    return card_link(user, number=processor.APPROVE, exp_month=12, exp_year=timezone.now().year + 3, cvc="123")


@pytest.mark.django_db
def test_invalid_confirm_keeps_the_key_and_refills_the_form(alice_client, alice):
    card = link(alice)
    key = new_key()
    bad = alice_client.post(
        "/wallet/cash-out/confirm/",
        {"card": card.pk, "amount": "-5", "currency": "USD", "speed": "standard", "idempotency_key": key},
    )
    assert bad.status_code == 400 and key in bad.content.decode()
    back = alice_client.post(
        "/wallet/add/", {"card": card.pk, "amount": "7.00", "currency": "USD", "idempotency_key": key}
    )
    html = back.content.decode()
    assert back.status_code == 200 and key in html and "7.00" in html


@pytest.mark.django_db
def test_cash_out_key_reused_for_other_values_is_a_page_not_json(alice_client, alice):
    card = link(alice)
    data = {"card": card.pk, "amount": "10.00", "currency": "USD", "speed": "standard", "idempotency_key": new_key()}
    assert alice_client.post("/wallet/cash-out/submit/", data).status_code == 302
    reused = alice_client.post("/wallet/cash-out/submit/", {**data, "amount": "11.00"})
    assert reused["Content-Type"].startswith("text/html")
    assert "already used for a different cash-out" in reused.content.decode()
    assert CashOut.objects.count() == 1


@pytest.mark.django_db
def test_open_requests_to_pay_count_is_the_payers_open_unexpired_requests(alice, bob):
    carol = sender_user("carol")
    usd = Money.parse("5.00", "USD")
    request_create(alice, payers=["@bob"], amount=usd)
    request_create(carol, payers=["@bob"], amount=usd)
    request_create(bob, payers=["@alice"], amount=usd)
    now = timezone.now()
    assert open_requests_to_pay_count(bob, now) == 2
    PaymentRequest.objects.filter(payer=bob, requester=carol).update(expires_at=now - timedelta(seconds=1))
    assert open_requests_to_pay_count(bob, now) == 1
    assert open_requests_to_pay_count(carol, now) == 0
