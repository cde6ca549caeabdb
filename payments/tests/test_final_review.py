"""Final review: the shared input checks (payments.services.common) and bounded queries in thread requests."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Block
from core.errors import ValidationFailed
from core.money import Money
from messaging import money, services
from payments.models import Escrow, Payment
from payments.services import common, escrow, funding, requests, send

from .factories import sender_user

pytestmark = pytest.mark.django_db


def test_one_copy_of_the_shared_checks_is_used_everywhere():
    assert send._request_hash is common.request_hash
    assert funding._request_hash is common.request_hash
    assert escrow._request_hash is common.request_hash
    assert send._check_idempotency_key is common.check_idempotency_key
    assert funding.check_idempotency_key is common.check_idempotency_key
    assert escrow.check_idempotency_key is common.check_idempotency_key
    assert escrow.check_text is common.check_text
    assert requests.check_text is common.check_text


def test_request_hash_is_stable_and_order_free():
    assert common.request_hash(a=1, b="x") == common.request_hash(b="x", a=1)
    assert common.request_hash(a=1) != common.request_hash(a=2)


@pytest.mark.parametrize("key", ["", "   ", "k" * 201, 12])
def test_bad_idempotency_keys_are_refused_by_every_money_service(alice, bob, key):
    with pytest.raises(ValidationFailed) as caught:
        send.payment_send(alice, to=bob, amount=Money(100, "USD"), idempotency_key=key)
    assert caught.value.code == "invalid_idempotency_key"
    with pytest.raises(ValidationFailed) as caught:
        escrow.escrow_create(alice, seller=bob, amount=Money(100, "USD"), description="Bike", idempotency_key=key)
    assert caught.value.code == "invalid_idempotency_key"
    with pytest.raises(ValidationFailed) as caught:
        funding.topup_create(alice, card=1, amount=Money(100, "USD"), idempotency_key=key)
    assert caught.value.code == "invalid_idempotency_key"
    assert not Payment.objects.exists() and not Escrow.objects.exists()


def test_shared_text_check_keeps_its_messages():
    assert common.check_text("  hi  ", field="note", label="note", max_length=5) == "hi"
    assert common.check_text(None, field="note", label="note", max_length=5) == ""
    with pytest.raises(ValidationFailed) as caught:
        common.check_text("", field="title", label="title", max_length=5, required=True)
    assert caught.value.fields == {"title": ["Required."]}
    with pytest.raises(ValidationFailed):
        common.check_text("a\x00b", field="note", label="note", max_length=5)
    with pytest.raises(ValidationFailed):
        common.check_text("toolong", field="note", label="note", max_length=5)


def _group_of(alice, n):
    people = [sender_user(f"member{i}") for i in range(n)]
    group = services.conversation_group_create(alice, name="Crew", members=people)
    return services.membership_for(alice, group), people


def test_request_payers_resolves_a_group_in_a_fixed_number_of_queries(alice):
    membership, people = _group_of(alice, 6)
    with CaptureQueriesContext(connection) as one:
        assert money.request_payers(alice, membership, [people[0]]) == [people[0]]
    with CaptureQueriesContext(connection) as six:
        assert money.request_payers(alice, membership, people) == people
    assert len(six) == len(one)


def test_request_payers_still_refuses_a_blocked_member_either_way(alice):
    membership, people = _group_of(alice, 2)
    Block.objects.create(blocker=people[1], blocked=alice)
    with pytest.raises(services.MessagingNotAllowed) as caught:
        money.request_payers(alice, membership, [people[0], f"@{people[1].handle}"])
    assert caught.value.code == "blocked"
    with pytest.raises(ValidationFailed):
        money.request_payers(alice, membership, ["@nobody_here"])
