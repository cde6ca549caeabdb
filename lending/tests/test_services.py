from datetime import date

import pytest

from accounts.tests.factories import UserFactory
from core.errors import DomainError
from core.money import Money
from core.testing import run_threads, skip_unless_postgres
from ledger.models import AccountKind
from ledger.services import system_account
from lending.models import ChargeOutcome, InstalmentCharge, InstalmentStatus, LoanStatus
from lending.selectors import eligibility
from lending.services import (
    autopay_run,
    instalment_autopay,
    loan_accept,
    loan_quote,
    loan_repay,
    loan_restructure,
    loan_write_off,
    payoff_quote,
)
from notifications.models import Notification
from payments.services.wallet import wallet_account
from payments.tests.factories import balance, sender_user

from .conftest import usd_product

TODAY = date(2026, 11, 21)


def lending_income(currency="USD") -> int:
    account = system_account(AccountKind.LENDING, currency)
    account.refresh_from_db()
    return account.balance


def take(user, amount="300.00", term=6, key="k1"):
    return loan_accept(user, amount=Money.parse(amount, "USD"), term_months=term, idempotency_key=key, today=TODAY)


def drain(user, leave=0):
    """Move the wallet's money out (to bob's wallet via funding) so autopay fails."""
    from ledger.services import transfer_post

    wallet = wallet_account(user, "USD")
    wallet.refresh_from_db()
    if wallet.balance - leave > 0:
        transfer_post(
            initiator=None,
            debit=wallet,
            credit=system_account(AccountKind.FUNDING, "USD"),
            amount=wallet.balance - leave,
            currency="USD",
            kind="test_drain",
        )


def test_eligibility_score_and_limit(alice):
    offer = eligibility(alice, currency="USD")
    # age 0 → 0, 1,000.00 received → 35, clean record → 20
    assert [line.points for line in offer.lines] == [0, 35, 20]
    assert offer.eligible and offer.score == 55 and offer.limit == 2_750_00


def test_no_offer_without_kyc_or_inflows(db):
    unverified = UserFactory()
    offer = eligibility(unverified, currency="USD")
    assert not offer.eligible and any("KYC" in reason for reason in offer.reasons)
    newcomer = sender_user("newcomer")
    assert not eligibility(newcomer, currency="USD").eligible
    with pytest.raises(DomainError) as error:
        loan_quote(newcomer, amount=Money(300_00, "USD"), term_months=6)
    assert error.value.code == "loan_not_eligible"


def test_quote_refuses_bad_terms_and_amounts(alice):
    for amount, term in [(300_00, 5), (50_00, 6), (3_000_00, 6)]:
        with pytest.raises(DomainError) as error:
            loan_quote(alice, amount=Money(amount, "USD"), term_months=term)
        assert error.value.status == 400


def test_accept_disburses_and_stores_schedule_idempotently(alice):
    loan = take(alice)
    assert take(alice).pk == loan.pk  # same key → same loan, nothing moves twice
    assert balance(alice) == 1300_00
    loan.ledger_account.refresh_from_db()
    assert loan.ledger_account.balance == -300_00  # the user sees minus the outstanding principal
    rows = list(loan.instalments.order_by("number"))
    assert [r.amount for r in rows] == [5131] * 5 + [5128]
    assert rows[0].due_date == date(2026, 12, 21)
    assert sum(r.amount for r in rows) == loan.principal + loan.finance_charge
    with pytest.raises(DomainError) as error:
        take(alice, key="k2")  # one active loan per currency
    assert error.value.code == "loan_not_eligible"
    with pytest.raises(DomainError):
        take(alice, amount="400.00")  # same key, other terms


def test_autopay_success_whole_loan(alice):
    loan = take(alice)
    for row in loan.instalments.order_by("number"):
        assert instalment_autopay(row.pk, today=row.due_date) == "paid"
        assert instalment_autopay(row.pk, today=row.due_date) == "skipped"
    loan.refresh_from_db()
    loan.ledger_account.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF and loan.principal_outstanding == 0
    assert loan.ledger_account.balance == 0
    assert balance(alice) == 1000_00 - 783
    assert lending_income() == 783


def test_autopay_retries_then_late_fee_then_pays(alice):
    loan = take(alice)
    drain(alice)
    first = loan.instalments.get(number=1)
    due = first.due_date
    for offset in range(5):
        day = date.fromordinal(due.toordinal() + offset)
        assert autopay_run(today=day) == {"failed": 1}
        assert autopay_run(today=day) == {"skipped": 1}  # once a day
    day5 = date.fromordinal(due.toordinal() + 5)
    assert autopay_run(today=day5) == {"late_fee": 1}
    first.refresh_from_db()
    loan.refresh_from_db()
    assert first.status == InstalmentStatus.LATE and first.late_fee_charged == 500
    assert loan.fees_outstanding == 500
    loan.ledger_account.refresh_from_db()
    assert loan.ledger_account.balance == -(300_00 + 500)
    assert Notification.objects.filter(recipient=alice, kind="loan.late_fee").count() == 1
    assert InstalmentCharge.objects.filter(instalment=first, outcome=ChargeOutcome.FAILED).count() == 6
    assert not eligibility(alice, currency="USD").eligible  # delinquent
    # Money arrives; the next day's attempt collects the instalment and the fee.
    from payments.tests.factories import fund

    fund(alice, "100.00")
    day6 = date.fromordinal(due.toordinal() + 6)
    assert autopay_run(today=day6) == {"paid": 1}
    assert balance(alice) == 100_00 - 5131 - 500
    loan.refresh_from_db()
    assert loan.fees_outstanding == 0
    assert lending_income() == 223 + 500


def test_payoff_interest_to_the_day(alice):
    loan = take(alice)
    quote = payoff_quote(loan, today=date(2026, 12, 1))
    # 300.00 × 8.9% × 10 / 365 = 0.7315… → 0.73
    assert (quote.interest_days, quote.interest, quote.total) == (10, 73, 300_73)
    payment = loan_repay(alice, loan_id=loan.pk, amount=None, idempotency_key="p1", today=date(2026, 12, 1))
    assert (
        loan_repay(alice, loan_id=loan.pk, amount=None, idempotency_key="p1", today=date(2026, 12, 1)).pk == payment.pk
    )
    loan.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF
    assert not loan.instalments.filter(status=InstalmentStatus.SCHEDULED).exists()
    assert balance(alice) == 1000_00 - 73
    assert autopay_run(today=date(2026, 12, 21)) == {}


def test_early_repayment_respreads(alice):
    loan = take(alice)
    instalment_autopay(loan.instalments.get(number=1).pk, today=date(2026, 12, 21))
    loan.refresh_from_db()
    assert loan.principal_outstanding == 300_00 - 4908
    with pytest.raises(DomainError):
        loan_repay(alice, loan_id=loan.pk, amount=1, idempotency_key="e0", today=date(2026, 12, 31))
    payment = loan_repay(alice, loan_id=loan.pk, amount=100_00, idempotency_key="e1", today=date(2026, 12, 31))
    # interest: 250.92 × 8.9% × 10/365 = 0.6118 → 0.61
    assert (payment.interest, payment.principal) == (61, 100_00 - 61)
    loan.refresh_from_db()
    open_rows = list(loan.instalments.filter(status=InstalmentStatus.SCHEDULED).order_by("number"))
    assert len(open_rows) == 5 and open_rows[0].due_date == date(2027, 1, 21)
    assert sum(r.principal for r in open_rows) == loan.principal_outstanding
    with pytest.raises(DomainError):
        loan_repay(bob_user := sender_user("mallory"), loan_id=loan.pk, amount=None, idempotency_key="x")
    assert bob_user


def test_write_off_and_restructure(alice, django_user_model):
    staff = UserFactory(is_staff=True)
    loan = take(alice)
    with pytest.raises(DomainError):
        loan_restructure(staff, loan_id=loan.pk, term_months=12, reason="")
    adjustment = loan_restructure(staff, loan_id=loan.pk, term_months=12, reason="hardship", today=date(2026, 12, 11))
    loan.refresh_from_db()
    # 20 days of interest capitalised: 300 × 0.089 × 20/365 = 1.4630 → 1.46
    assert adjustment.data["interest_capitalised"] == 146 and loan.principal_outstanding == 301_46
    assert loan.instalments.filter(status=InstalmentStatus.SCHEDULED).count() == 12
    assert loan.term_months == 12  # the loan page shows the term now in force
    loan.ledger_account.refresh_from_db()
    assert loan.ledger_account.balance == -301_46
    loan_write_off(staff, loan_id=loan.pk, reason="uncollectable")
    loan.refresh_from_db()
    loan.ledger_account.refresh_from_db()
    assert loan.status == LoanStatus.WRITTEN_OFF and loan.ledger_account.balance == 0
    assert lending_income() == 146 - 301_46
    record = next(line for line in eligibility(alice, currency="USD").lines if line.label == "Repayment record")
    assert (record.points, record.detail) == (0, "a loan written off")  # the score agrees with the refusal
    with pytest.raises(DomainError):
        loan_write_off(staff, loan_id=loan.pk, reason="again")
    from compliance.models import AuditEntry

    assert AuditEntry.objects.filter(action__startswith="lending.").count() == 2


@pytest.mark.django_db(transaction=True)
def test_autopay_twice_at_once_charges_once():
    skip_unless_postgres()
    usd_product()
    user = sender_user("conc")
    from payments.tests.factories import fund

    fund(user, "1000.00")
    loan = take(user)
    due = loan.instalments.get(number=1).due_date

    def run(_):
        from django.db import connection

        try:
            return autopay_run(today=due)
        finally:
            connection.close()

    _results, errors = run_threads(2, run)
    assert not errors
    assert InstalmentCharge.objects.filter(outcome=ChargeOutcome.PAID).count() == 1
    assert balance(user) == 1300_00 - 5131
