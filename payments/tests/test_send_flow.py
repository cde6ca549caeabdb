"""Sending money in the browser: form → confirm → submit, every refusal on the form, a double
submit that sends once, FX and the safety delay on the confirm step, return and cancel."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.services import freeze_account
from compliance.tests.factories import make_verified, staff_user
from core.idempotency import new_key
from core.money import Money
from payments.models import Payment, PaymentStatus, SafetyDelay
from payments.services.send import payment_send, payments_release_due, wallet_settings_update

from .factories import available, balance, fund, sender_user
from .test_wallet_pages import text_of

pytestmark = pytest.mark.django_db

SEND = "/wallet/send/"
CONFIRM = "/wallet/send/confirm/"
SUBMIT = "/wallet/send/submit/"


def form(to="@bob", amount="5.00", currency="USD", note="", key=None) -> dict:
    return {"to": to, "amount": amount, "currency": currency, "note": note, "idempotency_key": key or new_key()}


def hidden_inputs(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def confirm_then_submit(client, **values):
    """Fill the form, read the confirm page's hidden fields and submit them, as a browser does."""
    response = client.post(CONFIRM, form(**values))
    assert response.status_code == 200, text_of(response)
    fields = hidden_inputs(response.content.decode())
    return response, fields, client.post(SUBMIT, fields)


# --- The form -------------------------------------------------------------------------------------


def test_send_form_defaults_to_home_currency_and_carries_a_key(client, alice):
    alice.home_currency = "GBP"
    alice.save(update_fields=["home_currency"])
    client.force_login(alice)
    response = client.get(SEND)
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<option value="GBP"[^>]*selected', html)
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', html)
    assert 'id="people-suggestions"' in html and 'data-url="/wallet/people/"' in html
    for code in ("USD", "EUR", "GBP", "MXN", "INR", "JPY"):
        assert f'<option value="{code}"' in html


def test_send_form_prefills_from_the_query(client, alice):
    client.force_login(alice)
    html = client.get(SEND, {"to": "@bob", "amount": "12.50", "note": "dinner 🍜", "currency": "EUR"}).content.decode()
    assert 'value="@bob"' in html and 'value="12.50"' in html and "dinner 🍜" in html
    assert re.search(r'<option value="EUR"[^>]*selected', html)
    html = client.get(SEND, {"to": "bob", "currency": "XXX"}).content.decode()
    assert 'value="@bob"' in html and re.search(r'<option value="USD"[^>]*selected', html)


def test_send_pages_need_login(client):
    for url in (SEND, CONFIRM):
        assert client.get(url).status_code == 302
    assert client.post(SUBMIT, form()).status_code == 302
    assert Payment.objects.count() == 0


def test_confirm_url_by_get_goes_back_to_the_form(client, alice):
    client.force_login(alice)
    response = client.get(CONFIRM)
    assert response.status_code == 302 and response["Location"] == SEND


# --- The confirm step ------------------------------------------------------------------------------


def test_confirm_shows_recipient_amount_fee_and_the_first_payment_warning(client, alice, bob):
    bob.date_joined = timezone.now() - timedelta(days=400)
    bob.save(update_fields=["date_joined"])
    client.force_login(alice)
    key = new_key()
    response = client.post(CONFIRM, form(note="lunch 🥪", key=key))
    assert response.status_code == 200
    text = text_of(response)
    assert "Bob Builder" in text and "@bob" in text
    assert f"Joined {bob.date_joined:%B %Y}" in text and "New account" not in text
    assert "You send $5.00" in text and "Fee $0.00" in text and "@bob gets $5.00" in text
    assert "lunch 🥪" in text
    assert (
        "You have never paid @bob before. Only send money to people you know — payments to scammers are hard to recover."
        in text
    )
    assert "Exchange rate" not in text and "Safety delay" not in text
    # The same key goes on to the submit form: a double click there sends once.
    assert hidden_inputs(response.content.decode())["idempotency_key"] == key
    assert 'action="/wallet/send/submit/"' in response.content.decode()
    assert Payment.objects.count() == 0 and balance(alice) == 100000  # nothing moved yet


def test_confirm_says_new_account_for_a_young_account(client, alice, bob):
    client.force_login(alice)
    text = text_of(client.post(CONFIRM, form()))
    assert "New account" in text


def test_no_scam_warning_once_paid_before(client, alice, bob):
    payment_send(alice, to="@bob", amount=Money.parse("1.00", "USD"))
    client.force_login(alice)
    response = client.post(CONFIRM, form())
    assert 'data-testid="scam-warning"' not in response.content.decode()


def test_confirm_of_an_fx_payment_shows_the_rate_and_exactly_what_arrives(client, alice, fx_rates):
    sender_user("eve", currency="EUR", display_name="Eve Euro")
    client.force_login(alice)
    text = text_of(client.post(CONFIRM, form(to="@eve", amount="10.00")))
    assert "Exchange rate 1 USD = 0.8955 EUR" in text
    assert "Mid-market 1 USD = 0.9 EUR, less our 0.5% spread" in text
    assert "@eve gets €8.95" in text


def test_confirm_shows_the_safety_delay_for_a_new_person(client, alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    client.force_login(alice)
    text = text_of(client.post(CONFIRM, form()))
    assert "arrives in 1 hour; you can cancel it until then" in text


def test_back_from_confirm_keeps_values_and_key(client, alice, bob):
    client.force_login(alice)
    key = new_key()
    html = client.post(SEND, form(amount="7.25", note="keep me", key=key)).content.decode()
    assert 'value="7.25"' in html and "keep me" in html and f'value="{key}"' in html


# --- Submit -------------------------------------------------------------------------------------


def test_send_confirm_submit_moves_money_and_shows_the_payment(client, alice, bob):
    client.force_login(alice)
    _, fields, response = confirm_then_submit(client, note="pizza 🍕")
    payment = Payment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("payments:detail", args=[payment.pk])
    assert payment.status == PaymentStatus.COMPLETED and payment.note == "pizza 🍕"
    assert payment.idempotency_key == fields["idempotency_key"]
    assert balance(alice) == 99500 and balance(bob) == 100500
    page = client.get(response["Location"])
    assert "You sent $5.00 to @bob." in text_of(page)


def test_a_double_submit_sends_once(client, alice, bob):
    client.force_login(alice)
    _, fields, first = confirm_then_submit(client)
    second = client.post(SUBMIT, fields)
    assert second.status_code == first.status_code == 302
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert balance(alice) == 99500 and balance(bob) == 100500


def test_submit_with_the_same_key_and_another_amount_is_refused_on_the_page(client, alice, bob):
    client.force_login(alice)
    _, fields, _ = confirm_then_submit(client)
    response = client.post(SUBMIT, {**fields, "amount": "6.00"})
    assert response.status_code == 422
    assert "text/html" in response["Content-Type"]
    assert "already used to send a different payment, so nothing was sent" in text_of(response)
    assert hidden_inputs(response.content.decode())["idempotency_key"] != fields["idempotency_key"]
    assert Payment.objects.count() == 1 and balance(alice) == 99500


def test_a_refused_submit_releases_the_key_for_a_corrected_one(client, carol, bob):
    fund(carol, "3.00")
    client.force_login(carol)
    key = new_key()
    response = client.post(SUBMIT, form(amount="5.00", key=key))
    assert response.status_code == 422
    assert "You have $3.00 available in USD; $5.00 is more than that. Add money first." in text_of(response)
    response = client.post(SUBMIT, form(amount="2.00", key=key))
    assert response.status_code == 302
    assert balance(carol) == 100 and Payment.objects.get().amount == 200


def test_submit_without_a_key_still_sends_once_per_click(client, alice, bob):
    client.force_login(alice)
    values = form()
    values.pop("idempotency_key")
    response = client.post(SUBMIT, values)
    assert response.status_code == 302 and Payment.objects.count() == 1


def test_submit_checks_the_form_again(client, alice, bob):
    client.force_login(alice)
    response = client.post(SUBMIT, form(amount="-5"))
    assert response.status_code == 400 and "greater than zero" in text_of(response)
    assert Payment.objects.count() == 0


# --- Every refusal on the form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("1e5", "USD", "is not an amount"),
        ("-1", "USD", "The amount must be greater than zero."),
        ("0", "USD", "The amount must be greater than zero."),
        ("0.00", "USD", "The amount must be greater than zero."),
        ("1.234", "USD", "USD amounts have at most 2 decimal places."),
        ("abc", "USD", "is not an amount"),
        ("1.5", "JPY", "JPY amounts are whole numbers, with no decimals."),
        ("", "USD", "Enter an amount."),
        ("1,50", "USD", "is not an amount"),
        ("99999999999999999999", "USD", "The amount is too large."),
        ("NaN", "USD", "is not an amount"),
    ],
)
def test_bad_amounts_are_refused_on_the_form(client, alice, bob, amount, currency, message):
    client.force_login(alice)
    response = client.post(CONFIRM, form(amount=amount, currency=currency))
    assert response.status_code == 400
    assert message in text_of(response)
    assert 'id="send-form"' in response.content.decode()  # the form again, values kept
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("@nobody", "There is no one called @nobody."),
        ("@alice", "You cannot pay yourself."),
        ("", "Choose someone to pay: type their @handle."),
        ("@", "Choose someone to pay: type their @handle."),
    ],
)
def test_bad_recipients_are_refused_on_the_form(client, alice, bob, to, message):
    client.force_login(alice)
    response = client.post(CONFIRM, form(to=to))
    assert response.status_code == 400
    assert message in text_of(response)


def test_an_inactive_recipient_is_refused(client, alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    client.force_login(alice)
    response = client.post(CONFIRM, form())
    assert response.status_code == 400 and "That person cannot receive money." in text_of(response)


def test_a_long_note_is_refused_and_emoji_count_as_one(client, alice, bob):
    client.force_login(alice)
    response = client.post(CONFIRM, form(note="x" * 281))
    assert response.status_code == 400
    assert "The note is 281 characters; the limit is 280." in text_of(response)
    assert client.post(CONFIRM, form(note="🍕" * 280)).status_code == 200


def test_insufficient_funds_is_shown_on_the_form(client, carol, bob):
    fund(carol, "3.00")
    client.force_login(carol)
    response = client.post(CONFIRM, form(amount="5.00"))
    assert response.status_code == 422
    assert "You have $3.00 available in USD; $5.00 is more than that. Add money first." in text_of(response)


def test_insufficient_funds_in_another_currency(client, alice, bob, fx_rates):
    client.force_login(alice)
    response = client.post(CONFIRM, form(amount="5.00", currency="EUR"))
    assert response.status_code == 422
    assert "You have €0.00 available in EUR" in text_of(response)


def test_unverified_sender_is_told_how_to_verify(client, bob):
    newcomer = sender_user("newbie", tier=0)
    fund(newcomer, "10.00")
    client.force_login(newcomer)
    response = client.post(CONFIRM, form())
    assert response.status_code == 403
    assert "Before you can send money, verify your identity" in text_of(response)
    response = client.post(SUBMIT, form())
    assert response.status_code == 403 and Payment.objects.count() == 0


def test_frozen_sender_is_refused_with_the_reason(client, alice, bob):
    freeze_account(staff_user("staffer"), user=alice, reason="We need to check a payment.")
    client.force_login(alice)
    response = client.post(CONFIRM, form())
    assert response.status_code == 403
    text = text_of(response)
    assert "Your account is frozen" in text and "We need to check a payment." in text
    assert client.post(SUBMIT, form()).status_code == 403
    assert balance(alice) == 100000


def test_sender_outside_licensed_regions_is_refused(client, bob):
    abroad = sender_user("abroad", country="BR")
    fund(abroad, "10.00")
    client.force_login(abroad)
    response = client.post(CONFIRM, form())
    assert response.status_code == 403 and "not available in Brazil yet" in text_of(response)


def test_weekly_limit_is_shown_on_the_form(client, alice, bob):
    fund(alice, "500.00")
    client.force_login(alice)
    response = client.post(SUBMIT, form(amount="1000.01"))
    assert response.status_code == 422
    assert "You can send $1,000.00 every 7 days" in text_of(response)
    assert balance(alice) == 150000


def test_no_fx_rate_is_shown_on_the_form(client, alice):
    sender_user("eve", currency="EUR")
    client.force_login(alice)
    response = client.post(CONFIRM, form(to="@eve"))
    assert response.status_code == 422
    assert "We have no exchange rate from USD to EUR yet." in text_of(response)


def test_fx_send_through_the_form(client, alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    client.force_login(alice)
    _, _, response = confirm_then_submit(client, to="@eve", amount="10.00")
    assert response.status_code == 302
    assert balance(alice) == 99000 and balance(eve, "EUR") == 895


# --- Safety delay, cancel, return -------------------------------------------------------------------


def test_safety_delay_arrives_after_the_delay_unless_cancelled(client, alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    client.force_login(alice)
    _, _, response = confirm_then_submit(client)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.ARRIVING
    assert "is on its way; you can cancel it until it arrives" in text_of(client.get(response["Location"]))
    assert available(alice) == 99500 and balance(bob) == 100000

    assert payments_release_due(now=timezone.now() + timedelta(minutes=9)) == 0
    assert payments_release_due(now=timezone.now() + timedelta(minutes=11)) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert balance(alice) == 99500 and balance(bob) == 100500


def test_cancel_during_the_delay_keeps_the_money(client, alice, bob, carol):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_DAY)
    payment = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    url = reverse("payments:cancel", args=[payment.pk])

    client.force_login(carol)  # a stranger
    assert client.post(url, {"idempotency_key": new_key()}).status_code == 404
    client.force_login(bob)  # the recipient may not cancel
    response = client.post(url, {"idempotency_key": new_key()})
    assert response.status_code == 403 and "Only the person who sent this payment can cancel it." in text_of(response)

    client.force_login(alice)
    response = client.post(url, {"idempotency_key": new_key()}, follow=True)
    assert "Cancelled: $5.00 stays in your wallet." in text_of(response)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert available(alice) == 100000 and balance(bob) == 100000
    assert payments_release_due(now=timezone.now() + timedelta(days=2)) == 0
    response = client.post(url, {"idempotency_key": new_key()})
    assert response.status_code == 409 and "Only a payment that is still arriving can be cancelled." in text_of(
        response
    )


def test_return_once_only(client, alice, bob):
    payment = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"), note="oops")
    url = reverse("payments:return", args=[payment.pk])
    client.force_login(bob)
    response = client.post(url, {"idempotency_key": new_key()}, follow=True)
    assert "You sent $5.00 back to @alice." in text_of(response)
    assert "Returned" in text_of(response)
    assert balance(alice) == 100000 and balance(bob) == 100000
    again = client.post(url, {"idempotency_key": new_key()})
    assert again.status_code == 409
    assert "Only a completed payment you received can be returned, and only once." in text_of(again)
    assert balance(alice) == 100000 and balance(bob) == 100000


def test_a_double_click_on_return_replays(client, alice, bob):
    payment = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    url = reverse("payments:return", args=[payment.pk])
    client.force_login(bob)
    key = new_key()
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})
    assert first.status_code == second.status_code == 302 and second["Idempotent-Replayed"] == "true"
    assert balance(alice) == 100000 and balance(bob) == 100000


def test_stranger_and_sender_cannot_return(client, alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    url = reverse("payments:return", args=[payment.pk])
    client.force_login(carol)
    assert client.post(url, {"idempotency_key": new_key()}).status_code == 404
    client.force_login(alice)
    response = client.post(url, {"idempotency_key": new_key()})
    assert response.status_code == 403
    assert "Only the person who received this payment can return it." in text_of(response)
    assert balance(bob) == 100500


def test_return_without_the_money_says_so(client, alice, bob, carol):
    payment = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    # Bob spends it all (tier 2 for the amount), then tries to give alice's payment back.
    make_verified(bob, tier=2)
    payment_send(bob, to="@carol", amount=Money.parse("1005.00", "USD"))
    client.force_login(bob)
    response = client.post(reverse("payments:return", args=[payment.pk]), {"idempotency_key": new_key()})
    assert response.status_code == 422
    assert "You need $5.00 available in your wallet to return this payment." in text_of(response)


def test_return_and_cancel_need_post(client, alice, bob):
    payment = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"))
    client.force_login(bob)
    assert client.get(reverse("payments:return", args=[payment.pk])).status_code == 405
    assert client.get(reverse("payments:cancel", args=[payment.pk])).status_code == 405


def test_confirm_shows_how_you_and_the_recipient_follow_each_other(client, alice, bob):
    from accounts.social import follow_create

    client.force_login(alice)
    assert "You don't follow each other" in text_of(client.post(CONFIRM, form(key=new_key())))
    follow_create(bob, followee=alice)
    assert "Follows you" in text_of(client.post(CONFIRM, form(key=new_key())))
    follow_create(alice, followee=bob)
    assert "You follow each other" in text_of(client.post(CONFIRM, form(key=new_key())))
