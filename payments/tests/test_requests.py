"""Money requests: the service rules and the HTML pages (list, new, detail, pay with its confirm step)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.services import freeze_account
from compliance.tests.factories import staff_user
from core.errors import NotFound, NotPermitted
from core.money import Money
from ledger.services import InsufficientFunds
from notifications.models import Notification
from payments.models import Payment, PaymentKind, PaymentRequest, PaymentStatus, RequestStatus
from payments.services import requests as svc
from payments.services.requests import (
    PayerInvalid,
    RemindTooSoon,
    RequestNotOpen,
    request_cancel,
    request_create,
    request_decline,
    request_pay,
    request_remind,
    requests_expire_due,
)
from payments.services.send import payment_cancel, wallet_settings_update
from payments.tasks import expire_requests

from .factories import balance, sender_user

USD = "USD"


def usd(text: str) -> Money:
    return Money.parse(text, USD)


@pytest.fixture
def events(monkeypatch):
    """Live events published by the requests service: (user_id, type)."""
    seen = []
    real = svc.event_publish

    def record(**kwargs):
        seen.append((kwargs["user_id"], kwargs["type"]))
        return real(**kwargs)

    monkeypatch.setattr(svc, "event_publish", record)
    return seen


def ask(requester, payer, amount="10.00", note="pizza 🍕"):
    (made,) = request_create(requester, payers=[payer], amount=usd(amount), note=note)
    return made


# --- Create ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_one_request_per_payer_expiring_in_30_days(alice, bob, carol, events):
    before = timezone.now()
    made = request_create(alice, payers=["@bob", carol], amount=usd("12.50"), note="Dinner")
    assert [r.payer for r in made] == [bob, carol]
    for row in made:
        assert row.requester == alice and row.amount == 1250 and row.currency == USD and row.note == "Dinner"
        assert row.status == RequestStatus.OPEN
        assert before + timedelta(days=30) <= row.expires_at <= timezone.now() + timedelta(days=30)
    for payer in (bob, carol):
        note = Notification.objects.get(recipient=payer, kind="request.new")
        assert note.title == "@alice requested $12.50"
        assert note.url == f"/wallet/requests/{note.data['request_id']}/"
    assert (bob.pk, "request.new") in events and (carol.pk, "request.new") in events


@pytest.mark.django_db
def test_create_accepts_a_comma_separated_string(alice, bob, carol):
    made = request_create(alice, payers="@bob, carol", amount=usd("1.00"))
    assert {r.payer_id for r in made} == {bob.pk, carol.pk}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payers, message",
    [
        (["@bob", "@bob"], "@bob is listed twice."),
        (["@alice"], "You cannot request money from yourself."),
        (["@bob", "@nobody", "@ghost"], "There is no one called @nobody, @ghost."),
        ([], "Add at least one person."),
        ([f"@u{i}" for i in range(21)], "You can ask at most 20 people at once; you gave 21."),
        ([12.5], "Each person is an @handle."),
    ],
)
def test_create_refuses_bad_payers(alice, bob, payers, message):
    with pytest.raises(PayerInvalid) as error:
        request_create(alice, payers=payers, amount=usd("1.00"))
    assert error.value.message == message
    assert list(error.value.fields) == ["from"]
    assert not PaymentRequest.objects.exists()


@pytest.mark.django_db
def test_create_refuses_a_too_long_note(alice, bob):
    with pytest.raises(svc.ValidationFailed, match="limit is 280"):
        request_create(alice, payers=["@bob"], amount=usd("1.00"), note="x" * 281)


@pytest.mark.django_db
def test_create_allowed_for_unverified_tier0_but_not_when_frozen(bob):
    newcomer = sender_user("newbie", tier=0)
    assert request_create(newcomer, payers=["@bob"], amount=usd("3.00"))
    freeze_account(staff_user("staffer"), user=newcomer, reason="Suspicious sign-ups")
    with pytest.raises(svc.AccountFrozen, match=r"frozen.*Suspicious sign-ups"):
        request_create(newcomer, payers=["@bob"], amount=usd("3.00"))
    assert PaymentRequest.objects.count() == 1


# --- Pay ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pay_moves_money_marks_paid_and_notifies(alice, bob, events):
    row = ask(alice, bob, "10.00")
    payment = request_pay(bob, request=row, idempotency_key="pay-1")
    assert payment.kind == PaymentKind.REQUEST and payment.request_id == row.pk
    assert payment.sender == bob and payment.recipient == alice and payment.note == "pizza 🍕"
    assert payment.status == PaymentStatus.COMPLETED
    assert balance(bob) == 99000 and balance(alice) == 101000
    row.refresh_from_db()
    assert row.status == RequestStatus.PAID and row.resolved_at is not None
    paid = Notification.objects.get(recipient=alice, kind="request.paid")
    assert paid.title == "@bob paid your request for $10.00"
    assert (alice.pk, "request.updated") in events


@pytest.mark.django_db
def test_paying_twice_pays_once(alice, bob):
    row = ask(alice, bob, "10.00")
    first = request_pay(bob, request=row.pk, idempotency_key="k1")
    # The same key (a double click, a retry) returns the same payment.
    assert request_pay(bob, request=row.pk, idempotency_key="k1").pk == first.pk
    # Another tab with another key is refused.
    with pytest.raises(RequestNotOpen, match="already paid"):
        request_pay(bob, request=row.pk, idempotency_key="k2")
    with pytest.raises(RequestNotOpen):
        request_pay(bob, request=row.pk)
    assert Payment.objects.count() == 1
    assert balance(bob) == 99000 and balance(alice) == 101000


@pytest.mark.django_db
def test_key_of_another_payment_is_refused(alice, bob):
    from core.errors import IdempotencyKeyReused
    from payments.services.send import payment_send

    payment_send(bob, to=alice, amount=usd("1.00"), idempotency_key="shared")
    row = ask(alice, bob, "10.00")
    with pytest.raises(IdempotencyKeyReused):
        request_pay(bob, request=row, idempotency_key="shared")
    row.refresh_from_db()
    assert row.status == RequestStatus.OPEN


@pytest.mark.django_db
def test_only_the_payer_pays(alice, bob, carol):
    row = ask(alice, bob)
    with pytest.raises(NotFound):
        request_pay(carol, request=row)
    with pytest.raises(NotPermitted, match="Only @bob can pay"):
        request_pay(alice, request=row)
    with pytest.raises(NotFound):
        request_pay(bob, request=10**20)
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_pay_needs_funds(alice, carol):
    row = ask(alice, carol, "10.00")
    with pytest.raises(InsufficientFunds) as error:
        request_pay(carol, request=row, idempotency_key="x")
    assert error.value.message == "You have $0.00 available in USD; $10.00 is more than that. Add money first."
    row.refresh_from_db()
    assert row.status == RequestStatus.OPEN
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_request_reopens_when_its_delayed_payment_is_cancelled(alice, bob):
    wallet_settings_update(bob, safety_delay_seconds=600)
    row = ask(alice, bob, "10.00")
    payment = request_pay(bob, request=row)
    assert payment.status == PaymentStatus.ARRIVING
    assert not Notification.objects.filter(kind="request.paid").exists()  # not arrived yet
    row.refresh_from_db()
    assert row.status == RequestStatus.PAID
    payment_cancel(bob, payment=payment)
    row.refresh_from_db()
    assert row.status == RequestStatus.OPEN
    assert balance(bob) == 100000


# --- Decline, cancel, remind ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_decline(alice, bob, carol):
    row = ask(alice, bob)
    with pytest.raises(NotFound):
        request_decline(carol, request=row)
    with pytest.raises(NotPermitted):
        request_decline(alice, request=row)
    request_decline(bob, request=row)
    row.refresh_from_db()
    assert row.status == RequestStatus.DECLINED
    assert Notification.objects.get(recipient=alice, kind="request.declined").title == (
        "@bob declined your request for $10.00"
    )
    with pytest.raises(RequestNotOpen, match=r"This request was declined\."):
        request_pay(bob, request=row)
    with pytest.raises(RequestNotOpen, match="declined"):
        request_decline(bob, request=row)


@pytest.mark.django_db
def test_cancel(alice, bob, carol, events):
    row = ask(alice, bob)
    with pytest.raises(NotFound):
        request_cancel(carol, request=row)
    with pytest.raises(NotPermitted):
        request_cancel(bob, request=row)
    request_cancel(alice, request=row)
    row.refresh_from_db()
    assert row.status == RequestStatus.CANCELLED
    assert (bob.pk, "request.updated") in events
    with pytest.raises(RequestNotOpen, match=r"This request was cancelled\."):
        request_pay(bob, request=row)
    with pytest.raises(RequestNotOpen):
        request_remind(alice, request=row)


@pytest.mark.django_db
def test_remind_at_most_once_a_day(alice, bob, carol):
    row = ask(alice, bob)
    start = timezone.now()
    with pytest.raises(NotFound):
        request_remind(carol, request=row)
    with pytest.raises(NotPermitted):
        request_remind(bob, request=row)
    request_remind(alice, request=row, now=start)
    reminder = Notification.objects.get(recipient=bob, kind="request.reminder")
    assert reminder.title == "Reminder: @alice requested $10.00"
    with pytest.raises(RemindTooSoon) as error:
        request_remind(alice, request=row, now=start + timedelta(hours=23))
    assert error.value.status == 409
    assert error.value.message.startswith("You can remind again after ")
    expected = timezone.localtime(start + timedelta(hours=24))
    assert f"{expected:%H:%M}" in error.value.message
    request_remind(alice, request=row, now=start + timedelta(hours=24, minutes=1))
    assert Notification.objects.filter(recipient=bob, kind="request.reminder").count() == 2


@pytest.mark.django_db
def test_remind_with_frozen_clock(alice, bob, monkeypatch):
    row = ask(alice, bob)
    moment = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    request_remind(alice, request=row)
    with pytest.raises(RemindTooSoon):
        request_remind(alice, request=row)
    monkeypatch.setattr(timezone, "now", lambda: moment + timedelta(days=1, seconds=1))
    request_remind(alice, request=row)


# --- Expiry --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_expire_after_30_days(alice, bob, carol):
    old = ask(alice, bob)
    paid = ask(alice, carol, "1.00")
    PaymentRequest.objects.filter(pk=paid.pk).update(status=RequestStatus.PAID)
    in_29_days = timezone.now() + timedelta(days=29)
    assert requests_expire_due(now=in_29_days) == 0
    in_31_days = timezone.now() + timedelta(days=31)
    assert requests_expire_due(now=in_31_days) == 1
    old.refresh_from_db()
    assert old.status == RequestStatus.EXPIRED and old.resolved_at == in_31_days
    with pytest.raises(RequestNotOpen, match="expired"):
        request_pay(bob, request=old)


@pytest.mark.django_db
def test_an_overdue_request_cannot_be_paid_before_the_task_runs(alice, bob):
    row = ask(alice, bob)
    PaymentRequest.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(RequestNotOpen, match="This request expired on"):
        request_pay(bob, request=row)
    with pytest.raises(RequestNotOpen, match="expired"):
        request_remind(alice, request=row)
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_expire_task(alice, bob):
    row = ask(alice, bob)
    PaymentRequest.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_requests.delay().get() == 1
    row.refresh_from_db()
    assert row.status == RequestStatus.EXPIRED


# --- Pages ----------------------------------------------------------------------------------------------------


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


@pytest.mark.django_db
def test_pages_need_login(client):
    for url in ["/wallet/requests/", "/wallet/requests/new/", "/wallet/requests/1/", "/wallet/requests/1/pay/"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_list_page_tabs_and_empty_states(client, alice, bob):
    client.force_login(bob)
    html = client.get("/wallet/requests/").content.decode()
    assert "Nobody has asked you for money." in html
    html = client.get("/wallet/requests/?tab=outgoing").content.decode()
    assert "You have not asked anyone for money yet." in html

    row = ask(alice, bob, "7.25", note="Cinema")
    html = client.get("/wallet/requests/").content.decode()
    assert "Alice Liddell asked you for $7.25" in html and "Cinema" in html
    assert f'href="/wallet/requests/{row.pk}/pay/"' in html
    assert f'action="/wallet/requests/{row.pk}/decline/"' in html
    assert '<script src="/static/js/requests.js"' in html and 'id="requests-list"' in html  # live reload
    assert "1 waiting for you to pay" in html

    client.force_login(alice)
    html = client.get("/wallet/requests/?tab=outgoing").content.decode()
    assert "You asked Bob Builder for $7.25" in html
    assert f'action="/wallet/requests/{row.pk}/remind/"' in html
    assert f'action="/wallet/requests/{row.pk}/cancel/"' in html
    assert "/pay/" not in html


@pytest.mark.django_db
def test_list_fragment_for_live_reload(client, alice, bob):
    ask(alice, bob, "3.00")
    client.force_login(bob)
    response = client.get("/wallet/requests/?tab=incoming&fragment=1")
    html = response.content.decode()
    assert response.status_code == 200 and "asked you for $3.00" in html and "<html" not in html


@pytest.mark.django_db
def test_list_page_query_count_is_bounded(client, alice, bob, django_assert_max_num_queries):
    for i in range(25):
        payer = sender_user(f"payer{i}")
        ask(alice, payer, "1.00")
        ask(payer, alice, "2.00")
    client.force_login(alice)
    for tab in ("incoming", "outgoing"):
        with django_assert_max_num_queries(10):
            response = client.get(f"/wallet/requests/?tab={tab}")
        assert response.status_code == 200
        assert response.content.decode().count('class="list-item request-row"') == 20
    assert 'rel="next"' in response.content.decode()


@pytest.mark.django_db
def test_remind_button_disabled_within_a_day(client, alice, bob):
    row = ask(alice, bob)
    client.force_login(alice)
    response = client.post(f"/wallet/requests/{row.pk}/remind/", {"next": "/wallet/requests/?tab=outgoing"})
    assert response.status_code == 302 and response.url == "/wallet/requests/?tab=outgoing"
    html = client.get("/wallet/requests/?tab=outgoing").content.decode()
    assert "We reminded @bob." in html
    assert "Reminded " in html and "disabled" in html
    assert f'action="/wallet/requests/{row.pk}/remind/"' not in html
    # Forcing it anyway answers with the reason.
    client.post(f"/wallet/requests/{row.pk}/remind/")
    html = client.get("/wallet/requests/?tab=outgoing").content.decode()
    assert "You can remind again after" in html


@pytest.mark.django_db
def test_new_request_page(client, alice, bob, carol):
    client.force_login(alice)
    html = client.get("/wallet/requests/new/?to=@bob").content.decode()
    assert 'value="@bob"' in html and 'name="idempotency_key"' in html
    key = _key(html)
    data = {"payers": "@bob, @carol", "amount": "4.50", "currency": "USD", "note": "Taxi", "idempotency_key": key}
    response = client.post("/wallet/requests/new/", data)
    assert response.status_code == 302 and response.url == "/wallet/requests/?tab=outgoing"
    # A double submit of the same form creates nothing more.
    again = client.post("/wallet/requests/new/", data)
    assert again.status_code == 302 and again["Idempotent-Replayed"] == "true"
    assert PaymentRequest.objects.filter(requester=alice, amount=450).count() == 2
    assert "You asked @bob, @carol for $4.50." in client.get(response.url).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, message",
    [
        ({"payers": "@nobody", "amount": "1.00"}, "There is no one called @nobody."),
        ({"payers": "@alice", "amount": "1.00"}, "You cannot request money from yourself."),
        ({"payers": "@bob", "amount": "-1"}, "greater than zero"),
        ({"payers": "@bob", "amount": "1.001"}, "at most 2 decimal places"),
        ({"payers": "@bob", "amount": "1e5"}, "is not an amount"),
    ],
)
def test_new_request_errors_are_shown_on_the_form(client, alice, bob, data, message):
    client.force_login(alice)
    response = client.post("/wallet/requests/new/", {"currency": "USD", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not PaymentRequest.objects.exists()


@pytest.mark.django_db
def test_detail_page_visible_to_both_sides_only(client, alice, bob, carol):
    row = ask(alice, bob, "9.99", note="Books")
    for user in (alice, bob):
        client.force_login(user)
        html = client.get(f"/wallet/requests/{row.pk}/").content.decode()
        assert "$9.99" in html and "Books" in html
    client.force_login(carol)
    assert client.get(f"/wallet/requests/{row.pk}/").status_code == 404
    assert client.get(f"/wallet/requests/{row.pk}/pay/").status_code == 404
    assert client.post(f"/wallet/requests/{row.pk}/decline/").status_code == 404
    assert client.post(f"/wallet/requests/{row.pk}/cancel/").status_code == 404
    assert client.get("/wallet/requests/99999999999999999999/").status_code == 404


@pytest.mark.django_db
def test_pay_through_the_confirm_step_once(client, alice, bob):
    row = ask(alice, bob, "10.00", note="Lunch")
    client.force_login(bob)
    response = client.get(f"/wallet/requests/{row.pk}/pay/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Pay Alice Liddell?" in html and "@alice" in html
    assert "You send" in html and "Fee" in html and "Free ($0.00)" in html
    assert "Alice Liddell receives" in html and "$10.00" in html
    assert "You have never paid @alice before." in html  # scam warning on a first payment
    key = _key(html)
    first = client.post(f"/wallet/requests/{row.pk}/pay/", {"idempotency_key": key})
    assert first.status_code == 302 and first.url == "/wallet/requests/?tab=incoming"
    second = client.post(f"/wallet/requests/{row.pk}/pay/", {"idempotency_key": key})
    assert second.status_code == 302
    assert Payment.objects.count() == 1
    assert balance(bob) == 99000 and balance(alice) == 101000
    html = client.get(first.url).content.decode()
    assert "You paid @alice $10.00." in html
    # Now the page says there is nothing to pay.
    html = client.get(f"/wallet/requests/{row.pk}/pay/").content.decode()
    assert "nothing to pay" in html and "Paid" in html


@pytest.mark.django_db
def test_pay_page_shows_the_fx_conversion(client, fx_rates, bob):
    eve = sender_user("eve", currency="EUR", display_name="Eve")
    (row,) = request_create(eve, payers=["@bob"], amount=usd("10.00"))
    client.force_login(bob)
    html = client.get(f"/wallet/requests/{row.pk}/pay/").content.decode()
    assert "Exchange rate" in html and "1 USD = 0.8955 EUR" in html and "0.5% spread" in html
    assert "€8.95" in html


@pytest.mark.django_db
def test_pay_page_shows_insufficient_funds_and_keeps_the_request(client, alice, carol):
    row = ask(alice, carol, "10.00")
    client.force_login(carol)
    key = _key(client.get(f"/wallet/requests/{row.pk}/pay/").content.decode())
    response = client.post(f"/wallet/requests/{row.pk}/pay/", {"idempotency_key": key})
    assert response.status_code == 422
    assert "You have $0.00 available in USD" in response.content.decode()
    row.refresh_from_db()
    assert row.status == RequestStatus.OPEN


@pytest.mark.django_db
def test_decline_and_cancel_buttons(client, alice, bob, carol):
    to_decline = ask(alice, bob)
    to_cancel = ask(alice, carol)
    client.force_login(bob)
    client.post(f"/wallet/requests/{to_decline.pk}/decline/")
    client.force_login(alice)
    client.post(f"/wallet/requests/{to_cancel.pk}/cancel/")
    html = client.get("/wallet/requests/?tab=outgoing").content.decode()
    assert "You cancelled your request to @carol." in html
    assert "Declined" in html and "Cancelled" in html
    # Acting again on a closed request explains why nothing happened.
    client.post(f"/wallet/requests/{to_cancel.pk}/cancel/")
    assert "This request was cancelled." in client.get("/wallet/requests/?tab=outgoing").content.decode()


@pytest.mark.django_db
def test_pay_page_says_why_someone_cannot_send_before_the_confirm_step(client, alice):
    newcomer = sender_user("newbie", tier=0)
    row = ask(alice, newcomer, "5.00")
    client.force_login(newcomer)
    response = client.get(f"/wallet/requests/{row.pk}/pay/")
    html = response.content.decode()
    assert response.status_code == 403 and "verify your identity" in html
    assert 'name="idempotency_key"' not in html


@pytest.mark.django_db
def test_frozen_payer_cannot_pay(alice, bob):
    row = ask(alice, bob)
    freeze_account(staff_user("staffer"), user=bob, reason="Chargebacks")
    with pytest.raises(svc.AccountFrozen, match="Chargebacks"):
        request_pay(bob, request=row, idempotency_key="f")
    row.refresh_from_db()
    assert row.status == RequestStatus.OPEN


@pytest.mark.django_db
def test_admin_lists_and_shows_requests_read_only(client, alice, bob, carol):
    from payments.services.requests import split_create

    split = split_create(alice, title="Dinner", total=usd("30.00"), participants=["@bob", "@carol"])
    row = split.requests.order_by("id").first()
    payment = request_pay(bob, request=row)
    client.force_login(staff_user("staffer"))
    html = client.get("/admin/payments/paymentrequest/").content.decode()
    assert "$10.00" in html and "@alice" in html
    html = client.get(f"/admin/payments/paymentrequest/{row.pk}/change/").content.decode()
    assert f"#{payment.pk} $10.00" in html and 'name="_save"' not in html
    html = client.get(f"/admin/payments/split/{split.pk}/change/").content.decode()
    assert "Dinner" in html and "$10.00" in html and 'name="_save"' not in html
    assert client.get("/admin/payments/paymentrequest/add/").status_code == 403
    assert client.post(f"/admin/payments/paymentrequest/{row.pk}/delete/").status_code == 403


# --- Real concurrency (PostgreSQL) ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_key", [True, False], ids=["one key", "a key per tab"])
def test_many_tabs_paying_one_request_pay_it_once(same_key):
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does")
    from core.errors import DomainError

    from .factories import fund

    alice, bob = sender_user("alice"), sender_user("bob")
    fund(bob, "100.00")
    row = ask(alice, bob, "10.00")
    barrier = threading.Barrier(8)
    paid, refused, errors = [], [], []

    def tab(index):
        try:
            barrier.wait()
            key = "same" if same_key else f"tab-{index}"
            paid.append(request_pay(bob, request=row.pk, idempotency_key=key).pk)
        except DomainError as error:
            refused.append(error.code)
        except BaseException as error:  # asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert Payment.objects.count() == 1
    assert balance(bob) == 9000 and balance(alice) == 1000
    if same_key:
        assert len(paid) == 8 and len(set(paid)) == 1
    else:
        assert len(paid) == 1 and refused == ["request_not_open"] * 7
