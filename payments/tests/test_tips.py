"""Tips: the tip service other apps call, and the creator's tip page at /@handle/tip."""

from __future__ import annotations

import re

import pytest

from core.errors import ValidationFailed
from core.money import Money
from ledger.services import InsufficientFunds
from notifications.models import Notification
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services.send import RecipientInvalid, wallet_settings_update
from payments.services.tips import tip_send

from .factories import balance, sender_user


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


# --- Service ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tip_is_a_payment_of_kind_tip_and_notifies_the_creator(alice, bob):
    payment = tip_send(alice, creator="@bob", amount=usd("3.00"), note="Great post!", target="post:12")
    assert payment.kind == PaymentKind.TIP and payment.tip_target == "post:12"
    assert payment.status == PaymentStatus.COMPLETED and payment.note == "Great post!"
    assert balance(alice) == 99700 and balance(bob) == 100300
    tip = Notification.objects.get(recipient=bob, kind="tip.received")
    assert tip.title == "@alice tipped you $3.00"
    assert tip.data["target"] == "post:12" and tip.url == "/posts/12"  # a tip on a post leads to the post


@pytest.mark.django_db
def test_tip_is_idempotent(alice, bob):
    first = tip_send(alice, creator=bob, amount=usd("5.00"), target="profile", idempotency_key="tip-1")
    again = tip_send(alice, creator=bob, amount=usd("5.00"), target="profile", idempotency_key="tip-1")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1 and balance(bob) == 100500
    assert Notification.objects.filter(kind="tip.received").count() == 1


@pytest.mark.django_db
def test_tip_refusals(alice, bob, carol):
    with pytest.raises(RecipientInvalid, match=r"You cannot tip yourself\."):
        tip_send(alice, creator=alice, amount=usd("1.00"))
    with pytest.raises(RecipientInvalid, match=r"You cannot tip yourself\."):
        tip_send(alice, creator="@ALICE", amount=usd("1.00"))
    with pytest.raises(RecipientInvalid, match=r"There is no one called @ghost\."):
        tip_send(alice, creator="@ghost", amount=usd("1.00"))
    with pytest.raises(ValidationFailed, match='looks like "profile" or "post:12"'):
        tip_send(alice, creator=bob, amount=usd("1.00"), target="post 12; drop table")
    with pytest.raises(ValidationFailed, match="Enter an amount"):
        tip_send(alice, creator=bob, amount="1.00")
    with pytest.raises(InsufficientFunds, match=r"You have \$0\.00 available"):
        tip_send(carol, creator=bob, amount=usd("1.00"))
    assert not Payment.objects.exists()
    assert not Notification.objects.filter(kind="tip.received").exists()


@pytest.mark.django_db
def test_delayed_tip_does_not_announce_a_tip_before_it_arrives(alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=600)
    payment = tip_send(alice, creator=bob, amount=usd("2.00"))
    assert payment.status == PaymentStatus.ARRIVING
    assert not Notification.objects.filter(kind="tip.received").exists()


@pytest.mark.django_db
def test_tip_in_another_currency_converts(alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    payment = tip_send(alice, creator=eve, amount=usd("10.00"))
    assert payment.received_currency == "EUR" and payment.received_amount == 895
    assert Notification.objects.get(recipient=eve, kind="tip.received").title == "@alice tipped you €8.95"


# --- The tip page --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tip_page_needs_login(client, bob):
    response = client.get("/@bob/tip")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_tip_page_unknown_handle_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/@nobody/tip").status_code == 404
    assert client.post("/@nobody/tip", {"preset": "3"}).status_code == 404
    assert client.post("/wallet/tips/@nobody/confirm/", {"amount": "3", "currency": "USD"}).status_code == 404


@pytest.mark.django_db
def test_tip_page_shows_the_creator_and_presets(client, alice, bob):
    client.force_login(alice)
    html = client.get("/@bob/tip?target=post:7").content.decode()
    assert "Bob Builder" in html and "@bob" in html and 'class="avatar' in html
    for preset in ("1", "3", "5", "10"):
        assert f'name="preset" value="{preset}"' in html
    assert 'name="amount"' in html and 'name="note"' in html and 'value="post:7"' in html
    assert 'name="idempotency_key"' in html


@pytest.mark.django_db
def test_jpy_senders_get_yen_sized_presets(client, bob):
    kenji = sender_user("kenji", currency="JPY")
    client.force_login(kenji)
    html = client.get("/@bob/tip").content.decode()
    assert 'name="preset" value="500"' in html and "¥500" in html and "JPY" in html


@pytest.mark.django_db
def test_tip_flow_with_confirm_step_tips_once(client, alice, bob):
    client.force_login(alice)
    key = _key(client.get("/@bob/tip").content.decode())
    confirm = client.post("/@bob/tip", {"preset": "5", "note": "Love it", "target": "profile", "idempotency_key": key})
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "Tip Bob Builder?" in html
    assert "You send" in html and "$5.00" in html and "Free ($0.00)" in html and "Bob Builder receives" in html
    assert "You have never paid @bob before." in html  # the scam warning on a first payment
    assert f'value="{key}"' in html  # the same key travels to the confirm form
    assert not Payment.objects.exists()  # nothing moved yet

    data = {"amount": "5.00", "currency": "USD", "note": "Love it", "target": "profile", "idempotency_key": key}
    done = client.post("/wallet/tips/@bob/confirm/", data)
    assert done.status_code == 302
    payment = Payment.objects.get()
    assert done.url == f"/wallet/tips/{payment.pk}/"
    assert payment.kind == PaymentKind.TIP and payment.tip_target == "profile" and payment.note == "Love it"
    # A double submit replays the first answer and tips once.
    again = client.post("/wallet/tips/@bob/confirm/", data)
    assert again.status_code == 302 and again["Location"] == done.url
    assert Payment.objects.count() == 1 and balance(bob) == 100500

    html = client.get(done.url).content.decode()
    assert "You tipped Bob Builder $5.00" in html
    # Someone else cannot open this success page.
    client.force_login(bob)
    assert client.get(done.url).status_code == 404


@pytest.mark.django_db
def test_tip_custom_amount_and_errors(client, alice, bob):
    client.force_login(alice)
    html = client.post("/@bob/tip", {"amount": "2.50", "preset": ""}).content.decode()
    assert "Tip $2.50" in html
    for amount, message in [("", "Choose or type an amount."), ("-3", "greater than zero"), ("1.234", "decimal")]:
        response = client.post("/@bob/tip", {"amount": amount})
        assert response.status_code == 400 and message in response.content.decode()


@pytest.mark.django_db
def test_tip_confirm_shows_fx(client, alice, fx_rates):
    sender_user("eve", currency="EUR", display_name="Eve")
    client.force_login(alice)
    html = client.post("/@eve/tip", {"preset": "10"}).content.decode()
    assert "1 USD = 0.8955 EUR" in html and "Eve receives" in html and "€8.95" in html


@pytest.mark.django_db
def test_tipping_yourself_is_refused_clearly(client, alice):
    client.force_login(alice)
    html = client.get("/@alice/tip").content.decode()
    assert "you cannot tip yourself" in html and 'name="preset"' not in html
    response = client.post("/@alice/tip", {"preset": "3"})
    assert response.status_code == 400 and "You cannot tip yourself." in response.content.decode()
    response = client.post("/wallet/tips/@alice/confirm/", {"amount": "3", "currency": "USD"})
    assert response.status_code == 400 and "You cannot tip yourself." in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_tip_confirm_without_money_shows_the_error(client, carol, bob):
    client.force_login(carol)
    response = client.post("/wallet/tips/@bob/confirm/", {"amount": "3.00", "currency": "USD", "idempotency_key": "k"})
    assert response.status_code == 422
    assert "You have $0.00 available in USD" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_tip_page_refuses_a_frozen_sender_before_confirming(client, alice, bob):
    from compliance.services import freeze_account
    from compliance.tests.factories import staff_user

    freeze_account(staff_user("staffer"), user=alice, reason="Under investigation")
    client.force_login(alice)
    response = client.post("/@bob/tip", {"preset": "3"})
    assert response.status_code == 403 and "Under investigation" in response.content.decode()


@pytest.mark.django_db
def test_tip_page_refuses_a_bad_target(client, alice, bob):
    client.force_login(alice)
    response = client.post("/@bob/tip", {"preset": "3", "target": "<script>"})
    assert response.status_code == 400 and "looks like" in response.content.decode()
