"""How many queries ``POST /api/v1/payments/`` costs: bounded, and the same for the 1st and the 50th payment.

The HTTP benchmark (``bench/http_payments.py``) measures this path; these tests keep its round
trips from creeping up. They count queries, never time.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.testing import session_queries
from payments.models import Payment, PaymentStatus

from .factories import balance

pytestmark = pytest.mark.django_db(transaction=False)

PAYMENTS = "/api/v1/payments/"
# Authentication, the idempotency record (insert, then the stored response), the recipient and
# blocks, the sending checks (freeze, KYC, paid-before), the payment with its limit usage, ledger
# posting (wallets in one query), event and notification. Lower it when a change saves queries.
MAX_QUERIES = 34


def _send(api, to: str, amount: str = "1.00"):
    return api.post(
        PAYMENTS,
        json.dumps({"to": to, "amount": amount, "currency": "USD"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


def _signed_in(client: APIClient, user) -> APIClient:
    """Signed in through the session, as the app's X-Session-Token is (not force_authenticate)."""
    client.force_login(user)
    return client


def test_a_payment_to_an_established_payee_is_bounded(alice, bob, django_assert_max_num_queries):
    api = _signed_in(APIClient(enforce_csrf_checks=False), alice)
    assert _send(api, "@bob").status_code == 201  # warm: bob is now someone alice has paid
    with django_assert_max_num_queries(MAX_QUERIES + session_queries()):
        response = _send(api, "@bob", "2.50")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == PaymentStatus.COMPLETED
    assert balance(alice) == 100000 - 350 and balance(bob) == 100000 + 350


def test_the_query_count_does_not_grow_with_history(alice, bob):
    api = _signed_in(APIClient(), alice)
    assert _send(api, "@bob").status_code == 201
    with CaptureQueriesContext(connection) as first:
        assert _send(api, "@bob").status_code == 201
    for _ in range(10):
        assert _send(api, "@bob", "0.01").status_code == 201
    with CaptureQueriesContext(connection) as later:
        assert _send(api, "@bob").status_code == 201
    assert len(later) == len(first)
    assert Payment.objects.filter(sender=alice).count() == 13


def test_both_wallets_are_read_in_one_query(alice, bob):
    api = _signed_in(APIClient(), alice)
    assert _send(api, "@bob").status_code == 201
    with CaptureQueriesContext(connection) as captured:
        assert _send(api, "@bob").status_code == 201
    wallet_reads = [
        q["sql"]
        for q in captured.captured_queries
        if (q["sql"] or "").startswith("SELECT") and 'FROM "ledger_account"' in q["sql"] and "FOR" not in q["sql"]
    ]
    assert len(wallet_reads) == 1, wallet_reads
