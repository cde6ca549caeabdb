"""Review of the lending money paths: ordering of autopay, fees, payoff, concurrency, hostile input."""

from datetime import date, timedelta

import pytest

from accounts.tests.factories import UserFactory
from core.errors import DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import AccountKind
from ledger.services import system_account, transfer_post
from lending.models import InstalmentStatus, Loan, LoanStatus
from lending.services import autopay_run, instalment_autopay, loan_accept, loan_repay, loan_restructure
from payments.services.wallet import wallet_account
from payments.tests.factories import balance, fund, sender_user

from .conftest import usd_product

TODAY = date(2026, 11, 21)


def take(user, amount="300.00", term=6, key="k1"):
    return loan_accept(user, amount=Money.parse(amount, "USD"), term_months=term, idempotency_key=key, today=TODAY)


def drain(user):
    wallet = wallet_account(user, "USD")
    wallet.refresh_from_db()
    if wallet.balance > 0:
        transfer_post(
            initiator=None,
            debit=wallet,
            credit=system_account(AccountKind.FUNDING, "USD"),
            amount=wallet.balance,
            currency="USD",
            kind="test_drain",
        )


def lending_income() -> int:
    account = system_account(AccountKind.LENDING, "USD")
    account.refresh_from_db()
    return account.balance


def days(start: date, count: int):
    return [start + timedelta(days=n) for n in range(count)]


def test_a_later_instalment_is_not_collected_while_an_earlier_one_is_unpaid(alice):
    """Instalment 1 is late (with its fee); the wallet covers instalment 2 but not 1 + fee.

    Collecting 2 first moved ``interest_paid_through`` past instalment 1's period, so a payoff
    afterwards never charged instalment 1's interest: money lost to the lender.
    """
    loan = take(alice)
    drain(alice)
    first, second = loan.instalments.order_by("number")[:2]
    for day in days(first.due_date, 6):
        autopay_run(today=day)
    first.refresh_from_db()
    assert first.late_fee_charged == 500
    fund(alice, second.amount)  # enough for instalment 2, not for 1 + its fee
    autopay_run(today=second.due_date)
    second.refresh_from_db()
    assert second.status != InstalmentStatus.PAID
    # Paying off the next day collects instalment 1's interest period too.
    fund(alice, "400.00")
    payoff_day = second.due_date + timedelta(days=1)
    loan_repay(alice, loan_id=loan.pk, amount=None, idempotency_key="off", today=payoff_day)
    loan.refresh_from_db()
    loan.ledger_account.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF and loan.ledger_account.balance == 0
    # At least both months of interest (simple interest on 300.00 from TODAY) and the fee.
    assert lending_income() >= first.interest + second.interest + 500


def test_restructure_keeping_fees_still_closes_the_loan(alice):
    """A restructure without waiving fees leaves fees_outstanding; the new schedule must collect them."""
    staff = UserFactory(is_staff=True)
    loan = take(alice)
    drain(alice)
    first = loan.instalments.get(number=1)
    for day in days(first.due_date, 6):
        autopay_run(today=day)
    loan.refresh_from_db()
    assert loan.fees_outstanding == 500
    restructure_day = first.due_date + timedelta(days=7)
    loan_restructure(staff, loan_id=loan.pk, term_months=3, reason="hardship", today=restructure_day)
    fund(alice, "1000.00")
    for row in loan.instalments.filter(status=InstalmentStatus.SCHEDULED).order_by("number"):
        assert instalment_autopay(row.pk, today=row.due_date) == "paid"
    loan.refresh_from_db()
    loan.ledger_account.refresh_from_db()
    assert (loan.fees_outstanding, loan.principal_outstanding) == (0, 0)
    assert loan.status == LoanStatus.PAID_OFF
    assert loan.ledger_account.balance == 0
    # The user can take a new loan afterwards (the active one does not linger).
    take(alice, key="k2")


def test_payoff_after_late_fee_closes_at_zero_and_autopay_stops(alice):
    loan = take(alice)
    drain(alice)
    first = loan.instalments.get(number=1)
    for day in days(first.due_date, 9):
        autopay_run(today=day)
        autopay_run(today=day)
    loan.refresh_from_db()
    assert loan.fees_outstanding == 500  # the late fee once, however many runs
    fund(alice, "400.00")
    day = first.due_date + timedelta(days=9)
    payment = loan_repay(alice, loan_id=loan.pk, amount=None, idempotency_key="p", today=day)
    # interest from TODAY (nothing paid yet) to the day: 300.00 × 8.9% × 39/365 = 2.8528… → 2.85
    assert (payment.fees, payment.interest, payment.principal) == (500, 285, 300_00)
    loan.refresh_from_db()
    loan.ledger_account.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF and loan.ledger_account.balance == 0
    assert not loan.instalments.filter(status__in=[InstalmentStatus.SCHEDULED, InstalmentStatus.LATE]).exists()
    before = balance(alice)
    assert autopay_run(today=day + timedelta(days=40)) == {}
    assert balance(alice) == before
    with pytest.raises(DomainError):
        loan_repay(alice, loan_id=loan.pk, amount=None, idempotency_key="p2", today=day)


def test_accept_twice_with_the_same_key_and_other_key(alice):
    loan = take(alice)
    assert take(alice).pk == loan.pk
    with pytest.raises(DomainError):
        take(alice, key="other")
    assert Loan.objects.filter(user=alice).count() == 1
    assert balance(alice) == 1300_00


@pytest.mark.django_db(transaction=True)
def test_two_tabs_accept_at_once_with_different_keys_disburse_once():
    skip_unless_postgres()
    usd_product()
    user = sender_user("tabs")
    fund(user, "1000.00")

    def run(index):
        from django.db import connection

        try:
            return take(user, key=f"tab-{index}").pk
        finally:
            connection.close()

    results, errors = run_threads(2, run)
    assert len(results) + len(errors) == 2
    assert all(isinstance(e, DomainError) for e in errors), errors
    assert Loan.objects.filter(user=user).count() == 1
    assert balance(user) == 1300_00


@pytest.mark.django_db(transaction=True)
def test_two_tabs_accept_at_once_with_the_same_key_disburse_once():
    skip_unless_postgres()
    usd_product()
    user = sender_user("tabs2")
    fund(user, "1000.00")

    def run(_):
        from django.db import connection

        try:
            return take(user, key="same").pk
        finally:
            connection.close()

    results, errors = run_threads(2, run)
    assert not errors
    assert len(set(results)) == 1
    assert balance(user) == 1300_00


@pytest.mark.django_db(transaction=True)
def test_payoff_and_autopay_at_once_charge_once():
    skip_unless_postgres()
    usd_product()
    user = sender_user("race")
    fund(user, "1000.00")
    loan = take(user)
    due = loan.instalments.get(number=1).due_date

    def run(index):
        from django.db import connection

        try:
            if index == 0:
                return autopay_run(today=due)
            return loan_repay(user, loan_id=loan.pk, amount=None, idempotency_key="po", today=due).pk
        finally:
            connection.close()

    _results, errors = run_threads(2, run)
    assert all(isinstance(e, DomainError) for e in errors), errors
    loan.refresh_from_db()
    loan.ledger_account.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF and loan.ledger_account.balance == 0
    # Whatever the order, the borrower paid 300.00 + one month of interest once: the instalment's
    # 2.23 then a zero-day payoff, or a payoff first (30 days simple: 2.19) and no instalment.
    assert balance(user) in (1000_00 - 223, 1000_00 - 219)


# --- HTTP: hostile input never 500s, someone else's loan is 404 -----------------------------------


@pytest.mark.parametrize(
    "amount",
    ["-1", "0", "1e309", "NaN", "inf", "9" * 31, "300.001", "３００", "", " ", "0x10", "1_000"],
)
def test_api_accept_refuses_hostile_amounts(client, alice, amount):
    client.force_login(alice)
    response = client.post(
        "/api/v1/loans/",
        {"amount": amount, "currency": "USD", "term_months": 6},
        content_type="application/json",
        headers={"Idempotency-Key": f"h-{amount!r}"},
    )
    assert 400 <= response.status_code < 500, response.content
    assert not Loan.objects.exists()
    assert balance(alice) == 1000_00


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 300, "currency": "USD", "term_months": 6},
        {"amount": "300.00", "currency": "EUR", "term_months": 6},
        {"amount": "300.00", "currency": "XXX", "term_months": 6},
        {"amount": "300.00", "currency": "USD", "term_months": "six"},
        {"amount": "300.00", "currency": "USD", "term_months": 7},
        {"amount": "300.00", "currency": "USD", "term_months": 10**30},
        {"amount": ["300.00"], "currency": "USD", "term_months": 6},
        ["300.00"],
    ],
)
def test_api_accept_refuses_hostile_bodies(client, alice, body):
    client.force_login(alice)
    response = client.post("/api/v1/loans/", body, content_type="application/json", headers={"Idempotency-Key": "b"})
    assert 400 <= response.status_code < 500, response.content
    assert not Loan.objects.exists()


def test_api_accept_with_comma_amount_and_someone_elses_loan(client, alice, bob):
    client.force_login(alice)
    response = client.post(
        "/api/v1/loans/",
        {"amount": "1,000", "currency": "USD", "term_months": 6},
        content_type="application/json",
        headers={"Idempotency-Key": "c"},
    )
    assert response.status_code in (201, 422), response.content
    loan = take(bob, key="bob")
    for url in (f"/api/v1/loans/{loan.pk}/", f"/api/v1/loans/{10**25}/", "/api/v1/loans/abc/"):
        assert client.get(url).status_code == 404
    for pk in (loan.pk, 10**25):
        response = client.post(
            f"/api/v1/loans/{pk}/repay/", {}, content_type="application/json", headers={"Idempotency-Key": "r"}
        )
        assert response.status_code == 404
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE


@pytest.mark.parametrize("amount", ["-1", "0", "1e309", "NaN", "9" * 31, "0.001", 5, None, "１"])
def test_api_repay_refuses_hostile_amounts(client, alice, amount):
    loan = take(alice)
    client.force_login(alice)
    response = client.post(
        f"/api/v1/loans/{loan.pk}/repay/",
        {"amount": amount},
        content_type="application/json",
        headers={"Idempotency-Key": "r"},
    )
    assert 400 <= response.status_code < 500, response.content
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE and loan.principal_outstanding == 300_00


def test_pages_refuse_hostile_input(client, alice, bob):
    client.force_login(alice)
    for data in (
        {"amount": "1e309", "term_months": "6", "idempotency_key": "x1"},
        {"amount": "300.00", "term_months": "9" * 5000, "idempotency_key": "x2"},
        {"amount": "NaN", "term_months": "6", "idempotency_key": "x3"},
    ):
        assert 400 <= client.post("/loans/accept/", data).status_code < 500
        assert 400 <= client.post("/loans/disclosure/", data).status_code < 500
    assert 400 <= client.post("/loans/accept/", {"amount": "300.00", "term_months": "6"}).status_code < 500
    assert not Loan.objects.exists()
    loan = take(bob, key="bob")
    assert client.post(f"/loans/{loan.pk}/repay/", {"payoff": "1", "idempotency_key": "z"}).status_code == 404
    assert client.post(f"/loans/{loan.pk}/repay/confirm/", {"payoff": "1"}).status_code == 404
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE


def test_a_zero_late_fee_is_announced_once(alice):
    from lending.models import LoanProduct
    from notifications.models import Notification

    LoanProduct.objects.filter(currency="USD").update(late_fee=0)
    loan = take(alice)
    drain(alice)
    first = loan.instalments.get(number=1)
    outcomes = [autopay_run(today=day) for day in days(first.due_date, 10)]
    assert sum(o.get("late_fee", 0) for o in outcomes) == 1
    assert Notification.objects.filter(recipient=alice, kind="loan.late_fee").count() == 1
    loan.refresh_from_db()
    assert loan.fees_outstanding == 0
