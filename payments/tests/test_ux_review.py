"""Fixes from a browser walk-through of the wallet, requests, statements and compliance pages.

Each test is one thing a person noticed: a button that led to a bare HTML fragment, a limit
refusal that came only after "Send", a form a frozen person could fill in but never send,
staff handles shown to customers, times without a time zone, card names in lower case.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import services as compliance
from compliance.models import RiskReview
from compliance.services import freeze_account
from compliance.tests.factories import staff_user
from core.money import Money
from payments.models import FundingCard, MovementStatus, Payment, PaymentRequest, TopUp
from payments.services.requests import request_create
from payments.services.send import payment_send, wallet_settings_update

from .factories import balance, fund, sender_user

pytestmark = pytest.mark.django_db

CONFIRM = "/wallet/send/confirm/"


def text_of(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")


def send_form(**overrides) -> dict:
    return {"to": "@bob", "amount": "5.00", "currency": "USD", "note": "", "idempotency_key": "ux-key", **overrides}


def use_up_limit(user, to, *, leave: str) -> None:
    """Send ``user``'s tier-1 limit (1,000.00 a week) down to ``leave`` USD, keeping money in the wallet."""
    fund(user, "1000.00")
    spend = Money.parse("1000.00", "USD").amount - Money.parse(leave, "USD").amount
    payment_send(user, to=to, amount=Money(spend, "USD"), note="rent")


# --- Requests list: the row buttons come back to the page, never to the live fragment ----------


def test_live_reloaded_request_rows_post_back_to_the_page_not_the_fragment(client, alice, bob):
    request_create(alice, payers=[bob], amount=Money.parse("7.25", "USD"), note="Cinema")
    client.force_login(bob)
    fragment = client.get("/wallet/requests/?tab=incoming&page=1&fragment=1").content.decode()
    nexts = re.findall(r'name="next" value="([^"]*)"', fragment)
    assert nexts and all("fragment" not in value for value in nexts)
    assert all(value.startswith("/wallet/requests/?tab=incoming") for value in nexts)

    row = PaymentRequest.objects.get(payer=bob)
    response = client.post(f"/wallet/requests/{row.pk}/decline/", {"next": nexts[0].replace("&amp;", "&")})
    assert response.status_code == 302 and "fragment" not in response.url
    page = client.get(response.url)
    assert "<html" in page.content.decode() and "You declined @alice's request." in text_of(page)


def test_request_detail_times_are_in_the_users_time_zone(client, alice, bob):
    bob.time_zone = "Asia/Tokyo"
    bob.save(update_fields=["time_zone"])
    (row,) = request_create(alice, payers=[bob], amount=Money.parse("3.00", "USD"), note="Tea")
    client.force_login(bob)
    text = text_of(client.get(f"/wallet/requests/{row.pk}/"))
    asked = timezone.localtime(row.created_at, timezone.get_fixed_timezone(9 * 60)).strftime("%H:%M")
    assert f"{asked} JST" in text
    assert "a.m." not in text and "p.m." not in text


# --- Limits are said before the confirm step, not after "Send" -----------------------------------


def test_over_the_weekly_limit_is_refused_on_the_first_form(client, alice, bob, carol):
    use_up_limit(alice, carol, leave="5.00")
    client.force_login(alice)
    response = client.post(CONFIRM, send_form(amount="50.00"))
    assert response.status_code == 422
    text = text_of(response)
    assert 'data-testid="confirm"' not in response.content.decode()
    assert "you have $5.00 left" in text and "raise your limit to $10,000.00" in text
    assert "$5.00 left of your 7-day limit." in text
    # Within what is left, the confirm step shows as before.
    assert client.post(CONFIRM, send_form(amount="5.00")).status_code == 200


def test_paying_a_request_over_the_limit_disables_the_pay_button(client, alice, bob, carol):
    use_up_limit(bob, carol, leave="1.00")
    (row,) = request_create(alice, payers=[bob], amount=Money.parse("20.00", "USD"), note="Dinner")
    client.force_login(bob)
    response = client.get(f"/wallet/requests/{row.pk}/pay/")
    assert response.status_code == 422
    html = response.content.decode()
    assert "you have $1.00 left" in text_of(response)
    assert re.search(r'data-testid="pay-button"', html) and re.search(r"<button[^>]*disabled[^>]*>\s*Pay", html)


def test_paying_a_request_without_the_money_says_so_before_confirming(client, alice):
    poor = sender_user("poor")
    (row,) = request_create(alice, payers=[poor], amount=Money.parse("20.00", "USD"), note="Dinner")
    client.force_login(poor)
    response = client.get(f"/wallet/requests/{row.pk}/pay/")
    assert response.status_code == 422 and "Add money first" in text_of(response)
    html = response.content.decode()
    assert re.search(r"<button[^>]*disabled[^>]*>\s*Pay", html) and 'href="/wallet/add/"' in html
    # The amount and who gets it stay in view.
    assert "Alice Liddell receives" in text_of(response)


def test_a_tip_over_the_limit_is_refused_before_its_confirm_step(client, alice, bob, carol):
    use_up_limit(alice, bob, leave="2.00")
    client.force_login(alice)
    response = client.post("/@carol/tip", {"amount": "10", "note": "", "target": "profile"})
    assert response.status_code == 422 and "you have $2.00 left" in text_of(response)
    assert Payment.objects.filter(recipient=carol).count() == 0


# --- No send form for someone who cannot send --------------------------------------------------------


def test_a_frozen_person_gets_no_send_form_but_the_way_to_appeal(client, alice):
    freeze_account(staff_user("staffer"), user=alice, reason="Unusual activity on your account.")
    client.force_login(alice)
    response = client.get("/wallet/send/?to=bob&amount=5")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="send-form"' not in html and 'data-testid="send-blocked"' in html
    assert 'href="/compliance/status/#freeze"' in html and "Unusual activity on your account." in text_of(response)


def test_an_unverified_person_gets_no_send_form_but_the_way_to_verify(client):
    newcomer = sender_user("newbie", tier=0)
    client.force_login(newcomer)
    response = client.get("/wallet/send/")
    html = response.content.decode()
    assert 'id="send-form"' not in html and 'href="/compliance/verify/"' in html
    # Posting anyway still answers with the refusal, on the same page.
    response = client.post(CONFIRM, send_form())
    assert response.status_code == 403 and "Before you can send money, verify your identity" in text_of(response)


def test_a_verified_person_still_gets_the_form(client, alice):
    client.force_login(alice)
    html = client.get("/wallet/send/").content.decode()
    assert 'id="send-form"' in html and 'data-testid="send-blocked"' not in html


# --- Payment detail: staff decisions are "our team", not a staff handle -------------------------------


def test_status_history_names_the_parties_but_not_the_staff_member(client, bob):
    big = sender_user("big", tier=2)
    fund(big, "4000.00")
    payment = payment_send(big, to=bob, amount=Money.parse("3500.00", "USD"), note="Car")
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    compliance.review_approve(staff_user("reviewer7"), review=review)
    assert balance(bob) == Money.parse("4500.00", "USD").amount
    client.force_login(big)
    text = text_of(client.get(f"/wallet/payments/{payment.pk}/"))
    assert "by @big" in text and "by our team" in text and "reviewer7" not in text


def test_a_safety_delayed_payment_says_the_day_it_arrives(client, alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=86400)
    payment = payment_send(alice, to=bob, amount=Money.parse("5.00", "USD"), note="")
    client.force_login(alice)
    text = text_of(client.get(f"/wallet/payments/{payment.pk}/"))
    release = timezone.localtime(payment.release_at, zoneinfo.ZoneInfo(alice.time_zone or "UTC"))
    assert payment.release_at - timezone.now() > timedelta(hours=23)
    assert f"arrives at {release.strftime('%b')} {release.day}," in text


# --- Wallet page -------------------------------------------------------------------------------------


def test_card_movements_name_the_card_with_a_capital(client, alice):
    card = FundingCard.objects.create(
        user=alice, fingerprint="fp-ux", brand="visa", last4="4242", exp_month=12, exp_year=2031, number_encrypted="x"
    )
    TopUp.objects.create(user=alice, card=card, amount=2500, currency="USD", status=MovementStatus.COMPLETED)
    client.force_login(alice)
    text = text_of(client.get("/wallet/"))
    assert "Visa •••• 4242" in text and "visa •••• 4242" not in text


def test_empty_wallet_offers_add_money_send_and_request(client, carol):
    client.force_login(carol)
    html = client.get("/wallet/").content.decode()
    empty = html[html.index('data-testid="activity-empty"') :]
    for url in ("/wallet/add/", "/wallet/send/", "/wallet/requests/new/"):
        assert f'href="{url}"' in empty


@pytest.mark.parametrize(
    "url", ["/wallet/requests/", "/wallet/splits/", "/wallet/statements/", "/compliance/status/", "/compliance/verify/"]
)
def test_wallet_sub_pages_link_back_to_the_wallet(client, alice, url):
    client.force_login(alice)
    html = client.get(url).content.decode()
    assert 'href="/wallet/">&larr; Wallet</a>' in html


def test_fx_confirm_shows_the_year_of_the_rate(client, alice, fx_rates):
    sender_user("eu", currency="EUR")
    client.force_login(alice)
    response = client.post(CONFIRM, send_form(to="@eu", amount="10.00"))
    assert response.status_code == 200
    year = timezone.localdate().year
    assert re.search(rf"rate of \w{{3}} \d{{1,2}}, {year}, \d\d:\d\d", text_of(response))


def test_a_frozen_fan_sees_why_on_the_tip_page_before_filling_it_in(client, alice, carol):
    freeze_account(staff_user("staffer"), user=alice, reason="We need to check a payment.")
    client.force_login(alice)
    response = client.get("/@carol/tip")
    html = response.content.decode()
    assert response.status_code == 200 and "We need to check a payment." in text_of(response)
    assert 'name="preset"' not in html and 'href="/compliance/status/"' in html
    # Someone who may send gets the form as before.
    client.force_login(carol)
    assert 'name="preset"' in client.get("/@alice/tip").content.decode()


def test_not_enough_money_comes_with_a_link_to_add_money(client, alice, bob):
    client.force_login(alice)
    response = client.post(CONFIRM, send_form(amount="5000.00"))
    assert response.status_code == 422
    assert 'data-testid="add-money-link"' in response.content.decode() and "Add money first" in text_of(response)


def test_return_asks_once_even_with_the_site_wide_data_confirm_handler(client, alice, bob):
    """messaging.js asks every ``form[data-confirm]`` on every page; the return form asks through site.js's
    ``data-ask`` instead, so the question comes once."""
    payment = payment_send(alice, to=bob, amount=Money.parse("5.00", "USD"), note="")
    client.force_login(bob)
    html = client.get(f"/wallet/payments/{payment.pk}/").content.decode()
    form = re.search(r'<form[^>]*action="/wallet/payments/\d+/return/"[^>]*>', html).group(0)
    assert 'data-ask="Send $5.00 back to @alice?"' in form and "data-confirm" not in form
