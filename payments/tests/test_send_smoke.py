import pytest

from core.money import Money
from payments.models import PaymentStatus
from payments.services.send import payment_return, payment_send

from .factories import balance, sender_user


@pytest.mark.django_db
def test_send_and_return(alice, bob):
    p = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"), note="pizza 🍕", idempotency_key="k1")
    assert p.status == PaymentStatus.COMPLETED
    assert balance(alice) == 99500 and balance(bob) == 100500
    again = payment_send(alice, to="@bob", amount=Money.parse("5.00", "USD"), note="pizza 🍕", idempotency_key="k1")
    assert again.pk == p.pk and balance(alice) == 99500
    payment_return(bob, payment=p)
    assert balance(alice) == 100000 and balance(bob) == 100000


@pytest.mark.django_db
def test_fx(alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    p = payment_send(alice, to=eve, amount=Money.parse("10.00", "USD"))
    assert p.received_currency == "EUR" and p.received_amount == 895  # 10 * 0.9 * 0.995 = 8.955 -> 8.95
    assert balance(eve, "EUR") == 895
    payment_return(eve, payment=p)
    assert balance(alice) == 100000 and balance(eve, "EUR") == 0
