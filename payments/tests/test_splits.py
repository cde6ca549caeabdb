"""Bill splits: shares that add up exactly, the documented leftover order, the split pages."""

from __future__ import annotations

import re

import pytest

from core.money import Money
from notifications.models import Notification
from payments.models import PaymentRequest, RequestStatus, Split, SplitMethod
from payments.services.requests import (
    SplitInvalid,
    equal_shares,
    request_decline,
    request_pay,
    split_create,
    split_preview,
)

from .factories import sender_user


def shares_of(split: Split) -> dict[str, int]:
    shares = {r.payer.handle: r.amount for r in split.requests.select_related("payer").order_by("id")}
    return shares | {"(creator)": split.creator_share}


def test_equal_shares_spread_the_leftover_from_the_front():
    assert equal_shares(10000, 3) == [3334, 3333, 3333]
    assert equal_shares(1000, 3) == [334, 333, 333]
    assert equal_shares(1003, 4) == [251, 251, 251, 250]
    assert equal_shares(10, 5) == [2, 2, 2, 2, 2]
    for total, count in [(1, 1), (99999, 7), (10**12 + 3, 20)]:
        parts = equal_shares(total, count)
        assert sum(parts) == total and max(parts) - min(parts) <= 1


@pytest.mark.django_db
def test_equal_100_among_three_creator_last(alice, bob, carol):
    split = split_create(alice, title="Dinner", total=Money.parse("100.00", "USD"), participants=["@bob", "@carol"])
    assert shares_of(split) == {"bob": 3334, "carol": 3333, "(creator)": 3333}
    assert split.method == SplitMethod.EQUAL and split.total == 10000


@pytest.mark.django_db
def test_equal_order_follows_the_list(alice, bob, carol):
    split = split_create(alice, title="Dinner", total=Money.parse("100.00", "USD"), participants=["@carol", "@bob"])
    assert shares_of(split) == {"carol": 3334, "bob": 3333, "(creator)": 3333}


@pytest.mark.django_db
def test_creator_takes_a_unit_only_when_everyone_else_has_one(alice, bob, carol):
    dave = sender_user("dave")
    split = split_create(
        alice, title="Taxi", total=Money.parse("10.03", "USD"), participants=["@bob", "@carol", "@dave"]
    )
    assert shares_of(split) == {"bob": 251, "carol": 251, "dave": 251, "(creator)": 250}
    assert dave


@pytest.mark.django_db
def test_equal_jpy_zero_decimals(alice, bob, carol):
    split = split_create(alice, title="Ramen", total=Money.parse("1000", "JPY"), participants=["@bob", "@carol"])
    assert shares_of(split) == {"bob": 334, "carol": 333, "(creator)": 333}
    assert {r.currency for r in split.requests.all()} == {"JPY"}


@pytest.mark.django_db
def test_equal_without_me(alice, bob, carol):
    split = split_create(
        alice, title="Gift", total=Money.parse("25.01", "USD"), participants=["@bob", "@carol"], include_me=False
    )
    assert shares_of(split) == {"bob": 1251, "carol": 1250, "(creator)": 0}


@pytest.mark.django_db
def test_split_creates_linked_requests_and_notifies(alice, bob, carol):
    split = split_create(alice, title="Cabin weekend", total=Money.parse("90.00", "USD"), participants=["bob", "carol"])
    rows = list(PaymentRequest.objects.filter(split=split))
    assert len(rows) == 2
    assert all(r.requester == alice and r.note == "Cabin weekend" and r.status == RequestStatus.OPEN for r in rows)
    assert sum(r.amount for r in rows) + split.creator_share == split.total
    assert Notification.objects.filter(kind="request.new", recipient__in=[bob, carol]).count() == 2


@pytest.mark.django_db
def test_custom_shares_must_add_up_exactly(alice, bob, carol):
    total = Money.parse("100.00", "USD")
    split = split_create(
        alice,
        title="Groceries",
        total=total,
        participants=["@bob", "@carol"],
        method="custom",
        shares={"@bob": "50.00", "carol": "30.00", "@alice": "20.00"},
    )
    assert shares_of(split) == {"bob": 5000, "carol": 3000, "(creator)": 2000}

    with pytest.raises(SplitInvalid) as error:
        split_preview(
            alice,
            title="x",
            total=total,
            participants=["@bob", "@carol"],
            method="custom",
            shares={"@bob": "50.00", "@carol": "30.00", "@alice": "19.99"},
        )
    assert error.value.message == (
        "The shares add up to $99.99, $0.01 less than the total of $100.00. Make them add up exactly."
    )
    with pytest.raises(SplitInvalid, match=r"add up to \$110.00, \$10.00 more than the total"):
        split_preview(
            alice,
            title="x",
            total=total,
            participants=["@bob"],
            method="custom",
            shares={"@bob": "60.00", "@alice": "50.00"},
            include_me=True,
        )
    assert Split.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "shares, message",
    [
        ({"@bob": "0", "@carol": "100.00"}, "greater than zero"),
        ({"@bob": "-5.00", "@carol": "105.00"}, "greater than zero"),
        ({"@bob": "50.001", "@carol": "49.999"}, "at most 2 decimal places"),
        ({"@bob": "100.00"}, "Give an amount for @carol."),
        ({"@bob": "50.00", "@carol": "25.00", "@zed": "25.00"}, "@zed is not in the split."),
        ({"@bob": 50, "@carol": "50.00"}, 'must be an amount like "12.50"'),
        (None, "Give each person's amount."),
    ],
)
def test_custom_shares_refused(alice, bob, carol, shares, message):
    with pytest.raises(SplitInvalid) as error:
        split_create(
            alice,
            title="x",
            total=Money.parse("100.00", "USD"),
            participants=["@bob", "@carol"],
            method="custom",
            shares=shares,
            include_me=False,
        )
    assert message in error.value.message
    assert not Split.objects.exists() and not PaymentRequest.objects.exists()


@pytest.mark.django_db
def test_split_refusals(alice, bob, carol):
    def make(**kwargs):
        args = {"title": "Pizza", "total": Money.parse("0.02", "USD"), "participants": ["@bob", "@carol"]}
        return split_create(alice, **(args | kwargs))

    with pytest.raises(SplitInvalid, match=r"\$0.02 cannot be split among 3 people"):
        make()
    with pytest.raises(SplitInvalid, match="Choose equal or custom"):
        make(method="thirds")
    with pytest.raises(Exception, match="leave yourself out"):
        make(participants=["@alice", "@bob"])
    with pytest.raises(Exception, match="@bob is listed twice"):
        make(participants=["@bob", "@bob"])
    with pytest.raises(Exception, match="Enter a title"):
        make(title="  ")
    with pytest.raises(SplitInvalid, match="include_me must be true or false"):
        make(include_me="yes")
    assert not Split.objects.exists()


# --- Pages ------------------------------------------------------------------------------------------------


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


@pytest.mark.django_db
def test_split_page_shows_who_paid(client, alice, bob, carol):
    dave = sender_user("dave", display_name="Dave")
    split = split_create(
        alice, title="Dinner", total=Money.parse("100.00", "USD"), participants=["@bob", "@carol", "@dave"]
    )
    by_payer = {r.payer.handle: r for r in split.requests.select_related("payer")}
    request_pay(bob, request=by_payer["bob"])
    request_decline(dave, request=by_payer["dave"])

    client.force_login(alice)
    html = client.get(f"/wallet/splits/{split.pk}/").content.decode()
    assert "Dinner" in html and "1 of 3 paid" in html and "$25.00 received" in html
    assert re.search(r'data-payer="bob" data-status="paid"', html)
    assert re.search(r'data-payer="carol" data-status="open"', html)
    assert re.search(r'data-payer="dave" data-status="declined"', html)
    assert "Own share" in html and "in the order they were listed" in html

    # Participants see it too; anyone else gets a 404.
    client.force_login(carol)
    html = client.get(f"/wallet/splits/{split.pk}/").content.decode()
    assert "@alice split $100.00" in html
    assert f'href="/wallet/requests/{by_payer["carol"].pk}/pay/"' in html
    client.force_login(sender_user("mallory"))
    assert client.get(f"/wallet/splits/{split.pk}/").status_code == 404
    assert client.get("/wallet/splits/999999/").status_code == 404


@pytest.mark.django_db
def test_split_list_page(client, alice, bob, carol, django_assert_max_num_queries):
    client.force_login(bob)
    assert "No splits yet." in client.get("/wallet/splits/").content.decode()
    for i in range(5):
        split_create(alice, title=f"Bill {i}", total=Money.parse("10.00", "USD"), participants=["@bob", "@carol"])
    with django_assert_max_num_queries(8):
        html = client.get("/wallet/splits/").content.decode()
    assert html.count("Split by @alice") == 5 and "0 of 2 paid" in html


@pytest.mark.django_db
def test_split_new_preview_then_create_once(client, alice, bob, carol):
    client.force_login(alice)
    html = client.get("/wallet/splits/new/").content.decode()
    key = _key(html)
    form = {
        "title": "Dinner",
        "total": "100.00",
        "currency": "USD",
        "participants": "@bob @carol",
        "method": "equal",
        "include_me": "on",
        "idempotency_key": key,
    }
    preview = client.post("/wallet/splits/new/", form)
    html = preview.content.decode()
    assert preview.status_code == 200 and "Who pays what" in html
    assert "$33.34" in html and html.count("$33.33") == 2
    assert f'value="{key}"' in html  # the same key goes on to the create step
    assert not Split.objects.exists()

    created = client.post("/wallet/splits/create/", form)
    assert created.status_code == 302
    split = Split.objects.get()
    assert created.url == f"/wallet/splits/{split.pk}/"
    again = client.post("/wallet/splits/create/", form)
    assert again.status_code == 302 and again["Idempotent-Replayed"] == "true"
    assert Split.objects.count() == 1 and PaymentRequest.objects.count() == 2


@pytest.mark.django_db
def test_split_new_custom_shares(client, alice, bob, carol):
    client.force_login(alice)
    form = {
        "title": "Trip",
        "total": "90.00",
        "currency": "USD",
        "participants": "@bob, @carol",
        "method": "custom",
        "include_me": "on",
        "idempotency_key": "split-key-1",
    }
    # The first preview starts from equal shares, editable.
    html = client.post("/wallet/splits/new/", form).content.decode()
    assert re.search(r'name="share_bob"[^>]* value="30.00"', html)
    assert re.search(r'name="share_alice"[^>]* value="30.00"', html)
    # Shares that do not add up are refused with the difference.
    wrong = form | {"share_bob": "50.00", "share_carol": "30.00", "share_alice": "5.00"}
    response = client.post("/wallet/splits/create/", wrong)
    assert response.status_code == 400
    assert "$5.00 less than the total of $90.00" in response.content.decode()
    assert not Split.objects.exists()
    right = form | {"share_bob": "50.00", "share_carol": "30.00", "share_alice": "10.00"}
    assert client.post("/wallet/splits/create/", right).status_code == 302
    assert shares_of(Split.objects.get()) == {"bob": 5000, "carol": 3000, "(creator)": 1000}


@pytest.mark.django_db
def test_split_new_errors(client, alice, bob):
    client.force_login(alice)
    form = {"title": "Dinner", "total": "0.01", "currency": "USD", "participants": "@bob", "method": "equal"}
    response = client.post("/wallet/splits/new/", form | {"include_me": "on"})
    assert response.status_code == 400 and "cannot be split among 2 people" in response.content.decode()
    response = client.post("/wallet/splits/new/", form | {"participants": "@ghost"})
    assert response.status_code == 400 and "There is no one called @ghost." in response.content.decode()


@pytest.mark.django_db
def test_split_pages_need_login(client):
    for url in ["/wallet/splits/", "/wallet/splits/new/", "/wallet/splits/1/"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_zero_or_negative_money_objects_are_refused(alice, bob, carol):
    from core.errors import ValidationFailed
    from payments.services.requests import request_create

    with pytest.raises(ValidationFailed, match="greater than zero"):
        request_create(alice, payers=["@bob"], amount=Money(0, "USD"))
    with pytest.raises(ValidationFailed, match="greater than zero"):
        split_create(alice, title="x", total=Money(-5, "USD"), participants=["@bob"])
    with pytest.raises(SplitInvalid, match="share of @bob: The amount must be greater than zero"):
        split_create(
            alice,
            title="x",
            total=Money(100, "USD"),
            participants=["@bob", "@carol"],
            method="custom",
            shares={"@bob": Money(0, "USD"), "@carol": Money(100, "USD")},
            include_me=False,
        )
    with pytest.raises(SplitInvalid, match="is in EUR; the split is in USD"):
        split_create(
            alice,
            title="x",
            total=Money(100, "USD"),
            participants=["@bob"],
            method="custom",
            shares={"@bob": Money(100, "EUR")},
            include_me=False,
        )
    assert not PaymentRequest.objects.exists()
