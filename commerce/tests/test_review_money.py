"""Money review: mixed-currency carts, lock order, bad input, idempotency edges."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.models import Order, OrderStatus, ShopDebt
from commerce.services import (
    cart_add,
    checkout_pay,
    checkout_quote,
    dispute_open,
    dispute_resolve,
    order_confirm_received,
    order_refund,
    order_release,
)
from commerce.services.checkout import pay_amount_for
from core.errors import IdempotencyKeyReused, NotFound, ValidationFailed
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import AccountKind, Batch, Transfer
from ledger.services import system_account, transfer_post
from payments.services.fx import fx_quote
from payments.services.wallet import wallet_account
from payments.tests.factories import balance, load_test_rates, sender_user

from .factories import (
    ADDRESS,
    buyer_user,
    make_listing,
    make_order,
    private_media,  # noqa: F401
    seller_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


def net(kind, currency) -> int:
    account = system_account(kind, currency)
    account.refresh_from_db()
    return account.credits_posted - account.debits_posted


def wallet(user, currency) -> int:
    account = wallet_account(user, currency)
    account.refresh_from_db()
    return account.balance


def spend_all(user, currency="USD"):
    account = wallet_account(user, currency)
    account.refresh_from_db()
    if account.balance:
        transfer_post(
            initiator=user,
            debit=account,
            credit=system_account(AccountKind.FUNDING, currency),
            amount=account.balance,
            currency=currency,
            kind="test_cash_out",
        )


# --- mixed-currency cart --------------------------------------------------------------------


def test_two_shops_in_two_currencies_one_checkout_one_batch_exact_escrow():
    load_test_rates()
    carol = seller_user("carol")
    pierre = seller_user("pierre", currency="EUR", country="FR")
    mug = make_listing(carol.shop, title="Mug", price="12.00", stock=3, shipping="3.00")
    scarf = make_listing(pierre.shop, title="Scarf", price="9.00", currency="EUR", stock=2, shipping="1.00")
    bob = buyer_user("bob", funds="100.00")  # USD only
    cart_add(bob, listing=mug)
    cart_add(bob, listing=scarf, quantity=2)

    quote = checkout_quote(bob, address=ADDRESS)
    assert quote.pay_currency == "USD" and quote.is_fx
    eur_total = {g.currency: g.total for g in quote.groups}["EUR"]
    assert eur_total >= 1900  # 2 x 9.00 + shipping
    eur_pay, _ = pay_amount_for(eur_total, "EUR", "USD")
    assert quote.pay_total == 1500 + eur_pay
    # The EUR part: the smallest USD amount that covers the EUR total.
    assert fx_quote(send=Money(eur_pay, "USD"), to_currency="EUR").receive.amount >= (eur_total)
    assert fx_quote(send=Money(eur_pay - 1, "USD"), to_currency="EUR").receive.amount < eur_total

    orders = checkout_pay(bob, address=ADDRESS, idempotency_key="mixed")
    assert len(orders) == 2
    by_currency = {o.currency: o for o in orders}
    usd, eur = by_currency["USD"], by_currency["EUR"]
    assert (usd.total, usd.paid_currency, usd.paid_amount) == (1500, "USD", 1500)
    assert (eur.total, eur.paid_currency, eur.paid_amount) == (eur_total, "USD", eur_pay)
    assert balance(bob) == 10000 - 1500 - eur_pay
    assert net(AccountKind.ESCROW, "USD") == 1500
    assert net(AccountKind.ESCROW, "EUR") == eur_total
    assert net(AccountKind.FX_POOL, "USD") == eur_pay
    assert net(AccountKind.FX_POOL, "EUR") == -eur_total
    # One batch for the whole checkout.
    batch_ids = set(Transfer.objects.filter(metadata__order__in=[usd.pk, eur.pk]).values_list("batch_id", flat=True))
    assert len(batch_ids) == 1
    assert Batch.objects.get(pk=batch_ids.pop()).idempotency_key == f"checkout:{usd.checkout_id}:pay"

    # Replay: same orders, nothing moves.
    before = Transfer.objects.count()
    again = checkout_pay(bob, address=ADDRESS, idempotency_key="mixed")
    assert sorted(o.pk for o in again) == sorted(o.pk for o in orders)
    assert Transfer.objects.count() == before

    # Each order releases in its own currency; a refund of the EUR order returns EUR.
    order_refund(pierre, order=eur, amount=500)
    assert wallet(bob, "EUR") == 500
    order_confirm_received(bob, order=eur)
    order_confirm_received(bob, order=usd)
    assert net(AccountKind.ESCROW, "USD") == 0
    assert net(AccountKind.ESCROW, "EUR") == 0
    assert wallet(carol, "USD") == 1500 - 38  # 2.5 % of 15.00 = 0.375 → 0.38
    eur_fee = (2 * (eur_total - 500) * 250 + 10_000) // 20_000  # half up
    assert wallet(pierre, "EUR") == eur_total - 500 - eur_fee
    assert net(AccountKind.FEES, "USD") == 38 and net(AccountKind.FEES, "EUR") == eur_fee


def test_mixed_currency_cart_paid_from_a_third_currency():
    load_test_rates()
    carol = seller_user("carol")
    pierre = seller_user("pierre", currency="EUR", country="FR")
    mug = make_listing(carol.shop, price="10.00", stock=3)
    scarf = make_listing(pierre.shop, price="10.00", currency="EUR", stock=3)
    gail = buyer_user("gail", funds="100.00", currency="GBP", country="GB")
    cart_add(gail, listing=mug)
    cart_add(gail, listing=scarf)
    quote = checkout_quote(gail, address=ADDRESS)
    assert quote.pay_currency == "GBP" and quote.fx_rate is None  # two different rates
    orders = checkout_pay(gail, address=ADDRESS, idempotency_key="gbp")
    assert {(o.currency, o.total, o.paid_currency) for o in orders} == {("USD", 1000, "GBP"), ("EUR", 1000, "GBP")}
    assert wallet(gail, "GBP") == 10000 - quote.pay_total == 10000 - sum(o.paid_amount for o in orders)
    assert net(AccountKind.ESCROW, "USD") == 1000 and net(AccountKind.ESCROW, "EUR") == 1000
    assert net(AccountKind.FX_POOL, "GBP") == quote.pay_total


# --- bad input never 500s -------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["5", -1, 0, 1.5, True, 10**20])
def test_refund_amount_is_validated(amount):
    carol = seller_user("carol")
    order = make_order(buyer_user("bob"), make_listing(carol.shop, price="20.00"))
    with pytest.raises(ValidationFailed):
        order_refund(carol, order=order, amount=amount)
    order.refresh_from_db()
    assert order.refunded == 0 and net(AccountKind.ESCROW, "USD") == 2000


def test_refund_beyond_what_is_left_and_someone_elses_order():
    carol = seller_user("carol")
    order = make_order(buyer_user("bob"), make_listing(carol.shop, price="20.00"))
    order_refund(carol, order=order, amount=1500)
    with pytest.raises(ValidationFailed):
        order_refund(carol, order=order, amount=501)
    mallory = seller_user("mallory")
    for bad in (order.pk, order.pk + 1000, "1", None, 2**70):
        with pytest.raises(NotFound):
            order_refund(mallory, order=bad, amount=1)
    order.refresh_from_db()
    assert order.refunded == 1500


@pytest.mark.parametrize(
    "buy_now", [("1", 1), (None, 1), (1, 0), (1, -3), (1, 10**9), (1, "2"), (1, 1.0), (10**30, 1), (1,), "x"]
)
def test_checkout_bad_buy_now_is_refused_cleanly(buy_now):
    listing = make_listing(seller_user("carol").shop, price="5.00")
    bob = buyer_user("bob")
    if isinstance(buy_now, tuple) and len(buy_now) == 2 and buy_now[0] == 1:
        buy_now = (listing.pk, buy_now[1])
    with pytest.raises((ValidationFailed, NotFound)):
        checkout_pay(bob, buy_now=buy_now, address=ADDRESS, idempotency_key="bad")
    assert Order.objects.count() == 0 and balance(bob) == 10000


def test_checkout_key_reused_with_another_body_is_refused():
    carol = seller_user("carol")
    a = make_listing(carol.shop, price="5.00")
    b = make_listing(carol.shop, price="6.00")
    bob = buyer_user("bob")
    checkout_pay(bob, buy_now=(a.pk, 1), address=ADDRESS, idempotency_key="k1")
    with pytest.raises(IdempotencyKeyReused):
        checkout_pay(bob, buy_now=(b.pk, 1), address=ADDRESS, idempotency_key="k1")
    with pytest.raises(IdempotencyKeyReused):
        checkout_pay(bob, buy_now=(a.pk, 2), address=ADDRESS, idempotency_key="k1")
    assert Order.objects.count() == 1 and balance(bob) == 10000 - 500


@pytest.mark.parametrize("refund_amount", ["5", 0, -1, 2000, 10**20, 1.5])
def test_split_amount_is_validated(refund_amount):
    carol = seller_user("carol")
    bob = buyer_user("bob")
    staff = sender_user("staffer", is_staff=True)
    order = make_order(bob, make_listing(carol.shop, price="20.00"))
    dispute = dispute_open(bob, order=order, reason="Broken")
    with pytest.raises(ValidationFailed):
        dispute_resolve(staff, dispute=dispute, outcome="split", refund_amount=refund_amount, note="n")
    with pytest.raises(NotFound):
        dispute_resolve(staff, dispute=dispute.pk + 99, outcome="release", note="n")
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPUTED and net(AccountKind.ESCROW, "USD") == 2000


# --- lock order (PostgreSQL: real FOR UPDATE in the SQL) -----------------------------------


def _first(queries, *needles) -> int:
    for i, query in enumerate(queries):
        sql = query["sql"]
        if all(n in sql for n in needles):
            return i
    return -1


def test_refund_after_release_locks_shopdebt_before_ledger_accounts():
    """Release locks order → ShopDebt → accounts; a refund after release must do the same, or a
    refund on one order and a release of another order of the same shop deadlock."""
    skip_unless_postgres()
    carol = seller_user("carol")
    bob = buyer_user("bob")
    order = make_order(bob, make_listing(carol.shop, price="20.00"))
    order_confirm_received(bob, order=order)
    spend_all(carol)
    with CaptureQueriesContext(connection) as ctx:
        order_refund(carol, order=order, amount=1000)
    queries = ctx.captured_queries
    debt_lock = _first(queries, '"commerce_shopdebt"', "FOR UPDATE")
    account_lock = _first(queries, '"ledger_account"', "FOR NO KEY UPDATE")
    assert 0 <= debt_lock < account_lock
    assert ShopDebt.objects.get(shop=carol.shop).amount == 1000


def test_dispute_resolve_locks_the_order_before_the_dispute():
    """dispute_open and a seller's full refund (which closes the dispute) lock order → dispute;
    staff resolving must not lock dispute → order."""
    skip_unless_postgres()
    carol = seller_user("carol")
    bob = buyer_user("bob")
    staff = sender_user("staffer", is_staff=True)
    order = make_order(bob, make_listing(carol.shop, price="20.00"))
    dispute = dispute_open(bob, order=order, reason="Never arrived")
    with CaptureQueriesContext(connection) as ctx:
        dispute_resolve(staff, dispute=dispute, outcome="refund", note="Refund it")
    queries = ctx.captured_queries
    order_lock = _first(queries, '"commerce_order"', "FOR UPDATE")
    dispute_lock = _first(queries, '"commerce_dispute"', "FOR UPDATE")
    assert 0 <= order_lock < dispute_lock


# --- races (PostgreSQL) ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_refund_after_release_races_release_of_another_order_of_the_shop():
    skip_unless_postgres()
    carol = seller_user("carol")
    bob = buyer_user("bob", funds="500.00")
    mug = make_listing(carol.shop, price="20.00", stock=50)
    first = make_order(bob, mug)
    order_confirm_received(bob, order=first)  # carol +19.50
    spend_all(carol)
    order_refund(carol, order=first, amount=1000)  # all advanced: debt 10.00
    others = [make_order(bob, mug) for _ in range(3)]

    def act(i):
        if i == 0:
            return order_refund(carol, order=first, amount=1000)  # carol has 0 → advanced again
        return order_release(others[i - 1])

    _results, errors = run_threads(4, act)
    assert errors == []
    debt = ShopDebt.objects.get(shop=carol.shop)
    recovered = sum(
        t.metadata.get("recovered", 0)
        for t in Transfer.objects.filter(kind="order_fee", metadata__order__in=[o.pk for o in others])
    )
    from commerce.models import Refund

    advanced = sum(Refund.objects.filter(order=first).values_list("advanced", flat=True))
    assert debt.amount == advanced - recovered >= 0
    assert net(AccountKind.ESCROW, "USD") == 0
    first.refresh_from_db()
    assert first.refunded == 2000 and first.status == OrderStatus.REFUNDED


@pytest.mark.django_db(transaction=True)
def test_staff_resolve_races_seller_full_refund_money_moves_once():
    skip_unless_postgres()
    carol = seller_user("carol")
    bob = buyer_user("bob")
    staff = sender_user("staffer", is_staff=True)
    order = make_order(bob, make_listing(carol.shop, price="20.00"))
    dispute = dispute_open(bob, order=order, reason="Broken")

    def act(i):
        if i == 0:
            return dispute_resolve(staff, dispute=dispute.pk, outcome="release", note="Seller wins")
        return order_refund(carol, order=order.pk, amount=None)

    results, errors = run_threads(2, act)
    # Either the seller's full refund wins (the dispute closes; staff is refused), or staff
    # release first and the seller then refunds in full after release (0.50 advanced).
    assert all(getattr(e, "code", "") == "dispute_not_open" for e in errors)
    assert len(results) + len(errors) == 2
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and order.refunded == 2000
    assert net(AccountKind.ESCROW, "USD") == 0
    assert balance(bob) == 10000 and wallet(carol, "USD") == 0
    debt = ShopDebt.objects.filter(shop=carol.shop).values_list("amount", flat=True).first() or 0
    assert net(AccountKind.FEES, "USD") == 0  # the fee taken (0.50) was advanced back, or never taken
    assert debt == (50 if errors == [] else 0)
