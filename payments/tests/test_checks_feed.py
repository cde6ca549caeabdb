"""Checks in the wallet activity feed: out for the writer, in for the depositor, void once returned."""

import pytest

from core.money import Money
from payments.selectors import Filter, activity_feed, feed_filters
from payments.services.checks import check_deposit, check_deposit_code, check_void, check_write
from payments.services.send import payment_send

pytestmark = pytest.mark.django_db


def test_written_deposited_and_voided_checks_in_the_feed(alice, bob):
    deposited = check_write(alice, payee="@bob", amount=Money(1234, "USD"), memo="Fence")
    check_deposit(bob, number=deposited.number, code=check_deposit_code(deposited))
    voided = check_write(alice, payee="Acme", amount=Money(500, "USD"))
    check_void(alice, check=voided)
    open_check = check_write(alice, payee="Zed", amount=Money(200, "USD"))
    payment_send(alice, to="@bob", amount=Money(100, "USD"))

    items = activity_feed(alice).items
    checks = [i for i in items if i.source == "check"]
    assert [c.id for c in checks] == [open_check.pk, voided.pk, deposited.pk]
    by_id = {c.id: c for c in checks}
    assert by_id[deposited.pk].amount == -1234 and by_id[deposited.pk].direction == "out"
    assert by_id[deposited.pk].status == "deposited" and not by_id[deposited.pk].is_void
    assert by_id[voided.pk].is_void and by_id[voided.pk].status == "voided"
    assert not by_id[open_check.pk].is_void and by_id[open_check.pk].url == f"/wallet/checks/{open_check.pk}/"
    assert any(i.source == "payment" for i in items)

    bob_items = [i for i in activity_feed(bob).items if i.source == "check"]
    assert len(bob_items) == 1
    assert bob_items[0].amount == 1234 and bob_items[0].direction == "in" and bob_items[0].counterparty == alice

    only = activity_feed(alice, feed_filter=Filter.CHECKS).items
    assert {i.source for i in only} == {"check"} and len(only) == 3
    assert [i.id for i in activity_feed(alice, feed_filter=Filter.CHECKS, query="fence").items] == [deposited.pk]
    assert ("checks", "Checks") in feed_filters()
    assert not [i for i in activity_feed(alice, feed_filter=Filter.SENT).items if i.source == "check"]


def test_feed_pages_through_checks_with_a_fixed_number_of_queries(alice, django_assert_max_num_queries):
    for i in range(30):
        check_write(alice, payee=f"P{i}", amount=Money(10 + i, "USD"))
    with django_assert_max_num_queries(6):
        first = activity_feed(alice, feed_filter=Filter.CHECKS, page_size=25)
    assert len(first.items) == 25 and first.next_cursor
    second = activity_feed(alice, feed_filter=Filter.CHECKS, cursor=first.next_cursor, page_size=25)
    assert len(second.items) == 5
    assert not {i.id for i in first.items} & {i.id for i in second.items}


def test_wallet_page_shows_checks(client, alice):
    check_write(alice, payee="Acme Plumbing", amount=Money(1234, "USD"))
    client.force_login(alice)
    response = client.get("/wallet/?filter=checks")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-source="check"' in text and "Acme Plumbing" in text and "-$12.34" in text
