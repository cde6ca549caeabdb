"""Lending actions: accept a loan, autopay an instalment, repay early or pay off, restructure, write off.

The double entry (all amounts in the loan's currency; "loan" = the borrower's ledger account of
kind "loan", which may go negative: its balance is minus what they owe — principal + unpaid fees):

=========================  ======================  ======================  ===========================
event                      debit                   credit                  amount
=========================  ======================  ======================  ===========================
disbursement               loan (user)             wallet (user)           principal
instalment (autopay)       wallet                  loan                    principal part (+ unpaid fee)
                           wallet                  LENDING (system)        interest part
late fee                   loan                    LENDING                 product late fee
early repayment / payoff   wallet                  loan                    fees + principal paid
                           wallet                  LENDING                 interest to the day
restructure                loan                    LENDING                 interest to the day, capitalised
                           LENDING                 loan                    fees waived (if chosen)
write-off                  LENDING                 loan                    everything still owed
=========================  ======================  ======================  ===========================

So the LENDING system account's balance (credits − debits) is the net lending income: interest
and fees earned, less write-offs and waivers; the loan account returns to zero when a loan ends.
The legs of one event are one ``transfers_post`` batch (all or none) with an idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.services import audit_record
from core.errors import Conflict, IdempotencyKeyReused, NotFound, NotPermitted, Unprocessable, ValidationFailed
from core.money import Money, format_money
from ledger.models import AccountKind
from ledger.services import InsufficientFunds, TransferSpec, account_open, system_account, transfers_post
from notifications.services import notify
from payments.services.wallet import wallet_account

from .models import (
    OPEN_INSTALMENT_STATUSES,
    AdjustmentKind,
    ChargeOutcome,
    Instalment,
    InstalmentCharge,
    InstalmentStatus,
    Loan,
    LoanAdjustment,
    LoanPayment,
    LoanStatus,
    PaymentKind,
)
from .schedule import Disclosure, add_months, amortise, disclosure_build, interest_for_days
from .selectors import eligibility, instalments_due

RETRY_DAYS = 5  # autopay tries on the due date and then daily; after 5 more failed days, a late fee


# --- Errors ------------------------------------------------------------------------------------


class NotEligible(Unprocessable):
    code = "loan_not_eligible"
    default_message = "There is no loan offer for you right now."


class InvalidLoanRequest(ValidationFailed):
    code = "invalid_loan_request"


class LoanNotActive(Conflict):
    code = "loan_not_active"
    default_message = "This loan is already closed."


class LoanNotFound(NotFound):
    code = "loan_not_found"
    default_message = "That loan does not exist."


def _today() -> date:
    return timezone.now().date()


# --- Offer, disclosure, acceptance ---------------------------------------------------------------


def loan_quote(user, *, amount: Money, term_months: int, today: date | None = None) -> Disclosure:
    """The disclosure of a loan of ``amount`` over ``term_months`` — or a clear refusal. Moves nothing."""
    offer = eligibility(user, currency=amount.currency)
    if not offer.eligible:
        raise NotEligible(" ".join(offer.reasons) or None)
    product = offer.product
    if isinstance(term_months, bool) or not isinstance(term_months, int) or term_months not in product.terms:
        terms = ", ".join(str(t) for t in product.terms)
        raise InvalidLoanRequest(f"Choose a term of {terms} months.", fields={"term_months": ["Not offered."]})
    if amount.amount < product.min_amount or amount.amount > offer.limit:
        message = (
            f"Choose an amount from {format_money(product.min_amount, amount.currency)} "
            f"to {format_money(offer.limit, amount.currency)}."
        )
        raise InvalidLoanRequest(message, fields={"amount": [message]})
    start = today or _today()
    return disclosure_build(
        principal=amount.amount,
        currency=amount.currency,
        apr=product.apr,
        term_months=term_months,
        late_fee=product.late_fee,
        first_due=add_months(start, 1),
    )


def loan_accept(user, *, amount: Money, term_months: int, idempotency_key: str, today: date | None = None) -> Loan:
    """Accept the disclosed loan: disburse the principal into the wallet and store the schedule.

    Atomic (ledger transfer, loan and instalment rows together) and idempotent per (user, key):
    the same key and terms return the same loan; other terms with that key are refused.
    One active loan per user and currency (a database constraint).
    """
    if not idempotency_key:
        raise ValidationFailed("An idempotency key is needed.", code="idempotency_key_missing")
    existing = Loan.objects.filter(user=user, application_key=idempotency_key).first()
    if existing is not None:
        if (existing.principal, existing.currency, existing.term_months) != (
            amount.amount,
            amount.currency,
            term_months,
        ):
            raise IdempotencyKeyReused()
        return existing
    start = today or _today()
    disclosure = loan_quote(user, amount=amount, term_months=term_months, today=start)
    product = eligibility(user, currency=amount.currency).product
    try:
        with transaction.atomic():
            loan_account = account_open(
                owner=user, kind=AccountKind.LOAN, currency=amount.currency, must_not_go_negative=False
            )
            batch_transfers = transfers_post(
                initiator=user,
                transfers=[
                    TransferSpec(
                        loan_account,
                        wallet_account(user, amount.currency),
                        amount.amount,
                        amount.currency,
                        "loan_disbursement",
                        {"term_months": term_months},
                    )
                ],
                idempotency_key=f"lending:accept:{idempotency_key}",
                operation="loan_disbursement",
            )
            loan = Loan.objects.create(
                user=user,
                product=product,
                currency=amount.currency,
                ledger_account=loan_account,
                principal=amount.amount,
                apr=product.apr,
                term_months=term_months,
                monthly_payment=disclosure.monthly_payment,
                finance_charge=disclosure.finance_charge,
                late_fee=product.late_fee,
                principal_outstanding=amount.amount,
                interest_paid_through=start,
                application_key=idempotency_key,
                disbursed_at=timezone.now(),
                disbursement=batch_transfers[0],
            )
            _store_rows(loan, disclosure.rows)
            notify(
                user,
                kind="loan.disbursed",
                data={"loan": loan.pk, "amount": format_money(amount.amount, amount.currency)},
            )
    except IntegrityError:
        existing = Loan.objects.filter(user=user, application_key=idempotency_key).first()
        if existing is not None:
            return existing
        raise Conflict(f"You already have an active {amount.currency} loan.", code="loan_already_active") from None
    return loan


def _store_rows(loan: Loan, rows) -> None:
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            number=row.number,
            due_date=row.due_date,
            amount=row.amount,
            principal=row.principal,
            interest=row.interest,
        )
        for row in rows
    )


def _lock_loan(loan_id: int) -> Loan:
    loan = Loan.objects.select_for_update().filter(pk=loan_id).first()
    if loan is None:
        raise LoanNotFound()
    return loan


def _close_if_done(loan: Loan) -> None:
    if loan.principal_outstanding == 0 and loan.fees_outstanding == 0:
        loan.instalments.filter(status__in=OPEN_INSTALMENT_STATUSES).update(status=InstalmentStatus.CANCELLED)
        loan.status = LoanStatus.PAID_OFF
        loan.closed_at = timezone.now()
        notify(loan.user, kind="loan.paid_off", data={"loan": loan.pk})


# --- Autopay -----------------------------------------------------------------------------------


def instalment_autopay(instalment_id: int, *, today: date | None = None) -> str:
    """Try to collect one due instalment from the wallet (a system action, safe to repeat).

    At most one attempt per instalment and day and at most one successful charge (unique
    rows + the ledger key ``lending:instalment:<id>:paid``), under a lock on the loan row.
    Returns "paid", "failed", "late_fee" (failed, and the late fee was charged) or "skipped".
    """
    day = today or _today()
    with transaction.atomic():
        instalment = Instalment.objects.filter(pk=instalment_id).only("loan_id").first()
        if instalment is None:
            return "skipped"
        loan = _lock_loan(instalment.loan_id)
        instalment = Instalment.objects.get(pk=instalment_id)
        if (
            loan.status != LoanStatus.ACTIVE
            or instalment.status not in OPEN_INSTALMENT_STATUSES
            or instalment.due_date > day
            or InstalmentCharge.objects.filter(instalment=instalment, attempted_on=day).exists()
        ):
            return "skipped"
        others = loan.instalments.filter(status__in=OPEN_INSTALMENT_STATUSES).exclude(pk=instalment.pk)
        # The last open instalment also collects any fee no instalment carries (e.g. kept by a restructure),
        # so the loan closes at zero when it is paid.
        last = not others.exists()
        fee = loan.fees_outstanding if last else min(instalment.late_fee_charged, loan.fees_outstanding)
        total = instalment.amount + fee
        if others.filter(number__lt=instalment.number).exists():
            # Instalments are collected in order: paying a later one first would move interest_paid_through
            # past an unpaid period, whose interest a payoff would then never charge.
            return _autopay_failed(loan, instalment, day=day, total=total, message="An earlier instalment is unpaid.")
        wallet = wallet_account(loan.user, loan.currency)
        legs = [
            TransferSpec(wallet, loan.ledger_account_id, instalment.principal + fee, loan.currency, "loan_principal")
            if instalment.principal + fee
            else None,
            TransferSpec(
                wallet,
                system_account(AccountKind.LENDING, loan.currency),
                instalment.interest,
                loan.currency,
                "loan_interest",
            )
            if instalment.interest
            else None,
        ]
        try:
            with transaction.atomic():
                made = transfers_post(
                    initiator=None,
                    transfers=[leg for leg in legs if leg],
                    idempotency_key=f"lending:instalment:{instalment.pk}:paid",
                    operation="loan_instalment",
                )
        except InsufficientFunds:
            return _autopay_failed(loan, instalment, day=day, total=total)
        InstalmentCharge.objects.create(
            instalment=instalment, attempted_on=day, outcome=ChargeOutcome.PAID, amount=total
        )
        LoanPayment.objects.create(
            loan=loan,
            kind=PaymentKind.INSTALMENT,
            instalment=instalment,
            amount=total,
            fees=fee,
            interest=instalment.interest,
            principal=instalment.principal,
            idempotency_key=f"instalment:{instalment.pk}",
            batch_id=made[0].batch_id,
        )
        instalment.status = InstalmentStatus.PAID
        instalment.paid_at = timezone.now()
        instalment.save(update_fields=["status", "paid_at"])
        loan.principal_outstanding -= instalment.principal
        loan.fees_outstanding -= fee
        loan.interest_paid_through = max(loan.interest_paid_through, instalment.due_date)
        _close_if_done(loan)
        loan.save()
        notify(
            loan.user,
            kind="loan.instalment_paid",
            data={"loan": loan.pk, "number": instalment.number, "amount": format_money(total, loan.currency)},
        )
        return "paid"


def _autopay_failed(
    loan: Loan, instalment: Instalment, *, day: date, total: int, message: str = "Not enough money in the wallet."
) -> str:
    InstalmentCharge.objects.create(
        instalment=instalment,
        attempted_on=day,
        outcome=ChargeOutcome.FAILED,
        amount=total,
        message=message,
    )
    days_late = (day - instalment.due_date).days
    if days_late >= RETRY_DAYS and instalment.status != InstalmentStatus.LATE:  # once, even when the fee is 0
        fee = loan.late_fee
        if fee:
            made = transfers_post(
                initiator=None,
                transfers=[
                    TransferSpec(
                        loan.ledger_account_id,
                        system_account(AccountKind.LENDING, loan.currency),
                        fee,
                        loan.currency,
                        "loan_late_fee",
                    )
                ],
                idempotency_key=f"lending:instalment:{instalment.pk}:late_fee",
                operation="loan_late_fee",
            )
            assert made
            loan.fees_outstanding += fee
            loan.save(update_fields=["fees_outstanding"])
        instalment.status = InstalmentStatus.LATE
        instalment.late_fee_charged = fee
        instalment.save(update_fields=["status", "late_fee_charged"])
        notify(
            loan.user,
            kind="loan.late_fee",
            data={
                "loan": loan.pk,
                "number": instalment.number,
                "fee": format_money(fee, loan.currency),
                "amount": format_money(total + fee, loan.currency),
            },
        )
        return "late_fee"
    if days_late == 0:
        notify(
            loan.user,
            kind="loan.instalment_failed",
            data={"loan": loan.pk, "number": instalment.number, "amount": format_money(total, loan.currency)},
        )
    return "failed"


def autopay_run(*, today: date | None = None) -> dict[str, int]:
    """Attempt every open instalment due on or before today (Celery beat; safe to run twice at once)."""
    day = today or _today()
    counts: dict[str, int] = {}
    for instalment_id in list(instalments_due(today=day)):
        outcome = instalment_autopay(instalment_id, today=day)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- Early repayment and payoff ------------------------------------------------------------------


@dataclass(frozen=True)
class PayoffQuote:
    currency: str
    fees: int
    interest: int
    principal: int
    interest_days: int
    interest_from: date
    day: date

    @property
    def total(self) -> int:
        return self.fees + self.interest + self.principal

    @property
    def minimum_early(self) -> int:
        """The least an early repayment may be: fees, interest to the day, and one minor unit of principal."""
        return self.fees + self.interest + 1


def payoff_quote(loan: Loan, *, today: date | None = None) -> PayoffQuote:
    """What paying everything off on ``today`` costs: unpaid fees + interest to that day + principal.

    Interest to the day is simple interest, actual/365, on the outstanding principal from
    ``interest_paid_through`` (lending.schedule.interest_for_days, ROUND_HALF_UP).
    """
    day = today or _today()
    days = max((day - loan.interest_paid_through).days, 0)
    return PayoffQuote(
        currency=loan.currency,
        fees=loan.fees_outstanding,
        interest=interest_for_days(loan.principal_outstanding, loan.apr, days),
        principal=loan.principal_outstanding,
        interest_days=days,
        interest_from=loan.interest_paid_through,
        day=day,
    )


def loan_repay(
    user, *, loan_id: int, amount: int | None, idempotency_key: str, today: date | None = None
) -> LoanPayment:
    """Repay early (``amount``) or pay off (``amount=None``) from the wallet, at any time.

    The money settles unpaid fees, then interest to today, then principal. A payoff closes the
    loan; an early repayment re-spreads the remaining principal over the same number of open
    instalments, the first due on the next due date after today (its interest counted by days).
    Atomic; idempotent per (loan, key): the same key and amount return the first payment.
    """
    if not idempotency_key:
        raise ValidationFailed("An idempotency key is needed.", code="idempotency_key_missing")
    day = today or _today()
    with transaction.atomic():
        loan = Loan.objects.select_for_update().filter(pk=loan_id, user=user).first()
        if loan is None:
            raise LoanNotFound()
        previous = LoanPayment.objects.filter(loan=loan, idempotency_key=idempotency_key).first()
        if previous is not None:
            if amount is not None and previous.amount != amount:
                raise IdempotencyKeyReused()
            return previous
        if loan.status != LoanStatus.ACTIVE:
            raise LoanNotActive()
        quote = payoff_quote(loan, today=day)
        if amount is None or amount == quote.total:
            kind, amount = PaymentKind.PAYOFF, quote.total
        else:
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise InvalidLoanRequest("Enter an amount.", fields={"amount": ["Enter an amount."]})
            if amount > quote.total:
                message = f"That is more than you owe today ({format_money(quote.total, loan.currency)})."
                raise InvalidLoanRequest(message, fields={"amount": [message]})
            if amount < quote.minimum_early:
                message = (
                    f"Pay at least {format_money(quote.minimum_early, loan.currency)}: unpaid fees and interest "
                    "to today come first."
                )
                raise InvalidLoanRequest(message, fields={"amount": [message]})
            kind = PaymentKind.EARLY
        principal = amount - quote.fees - quote.interest
        wallet = wallet_account(user, loan.currency)
        legs = []
        if principal + quote.fees:
            legs.append(
                TransferSpec(wallet, loan.ledger_account_id, principal + quote.fees, loan.currency, "loan_principal")
            )
        if quote.interest:
            legs.append(
                TransferSpec(
                    wallet,
                    system_account(AccountKind.LENDING, loan.currency),
                    quote.interest,
                    loan.currency,
                    "loan_interest",
                )
            )
        made = transfers_post(
            initiator=user,
            transfers=legs,
            idempotency_key=f"lending:repay:{loan.pk}:{idempotency_key}",
            operation=f"loan_{kind}",
        )
        payment = LoanPayment.objects.create(
            loan=loan,
            kind=kind,
            amount=amount,
            fees=quote.fees,
            interest=quote.interest,
            principal=principal,
            idempotency_key=idempotency_key,
            batch_id=made[0].batch_id,
        )
        loan.principal_outstanding -= principal
        loan.fees_outstanding = 0
        loan.interest_paid_through = day
        if loan.principal_outstanding == 0:
            _close_if_done(loan)
        else:
            _respread(loan, day=day)
        loan.save()
        return payment


def _respread(loan: Loan, *, day: date, months: int | None = None) -> None:
    """Replace the open instalments by a new schedule of the outstanding principal (lock held)."""
    open_rows = list(loan.instalments.filter(status__in=OPEN_INSTALMENT_STATUSES).order_by("due_date", "number"))
    count = months or max(len(open_rows), 1)
    future = [row.due_date for row in open_rows if row.due_date > day]
    first_due = future[0] if future and months is None else add_months(day, 1)
    last_number = loan.instalments.order_by("-number").values_list("number", flat=True).first() or 0
    Instalment.objects.filter(pk__in=[row.pk for row in open_rows]).update(status=InstalmentStatus.CANCELLED)
    rows = amortise(
        loan.principal_outstanding,
        loan.apr,
        count,
        first_due=first_due,
        first_period_days=(first_due - day).days,
        number_from=last_number + 1,
    )
    _store_rows(loan, rows)
    loan.monthly_payment = rows[0].amount


# --- Staff actions -------------------------------------------------------------------------------


def _check_staff(actor, reason: str) -> str:
    if not getattr(actor, "is_staff", False):
        raise NotPermitted("Only staff may do this.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason.", code="reason_required", fields={"reason": ["Required."]})
    return reason


def loan_write_off(actor, *, loan_id: int, reason: str) -> LoanAdjustment:
    """Write off everything still owed (LENDING → loan), cancel the open instalments, audit it.

    Atomic; a closed loan is refused, so it happens once.
    """
    reason = _check_staff(actor, reason)
    with transaction.atomic():
        loan = _lock_loan(loan_id)
        if loan.status != LoanStatus.ACTIVE:
            raise LoanNotActive()
        owed = loan.principal_outstanding + loan.fees_outstanding
        batch_id = None
        if owed:
            made = transfers_post(
                initiator=actor,
                transfers=[
                    TransferSpec(
                        system_account(AccountKind.LENDING, loan.currency),
                        loan.ledger_account_id,
                        owed,
                        loan.currency,
                        "loan_write_off",
                        {"reason": reason[:200]},
                    )
                ],
                idempotency_key=f"lending:loan:{loan.pk}:write_off",
                operation="loan_write_off",
            )
            batch_id = made[0].batch_id
        data = {"principal": loan.principal_outstanding, "fees": loan.fees_outstanding, "amount": owed}
        loan.instalments.filter(status__in=OPEN_INSTALMENT_STATUSES).update(status=InstalmentStatus.CANCELLED)
        loan.principal_outstanding = loan.fees_outstanding = 0
        loan.status = LoanStatus.WRITTEN_OFF
        loan.closed_at = timezone.now()
        loan.save()
        adjustment = LoanAdjustment.objects.create(
            loan=loan, kind=AdjustmentKind.WRITE_OFF, reason=reason, actor=actor, data=data, batch_id=batch_id
        )
        audit_record(actor=actor, action="lending.write_off", target=loan, reason=reason, data=data)
        return adjustment


def loan_restructure(
    actor, *, loan_id: int, term_months: int, reason: str, waive_fees: bool = False, today: date | None = None
) -> LoanAdjustment:
    """Re-spread a loan over ``term_months`` from today, with its reason, audited.

    Interest to today is capitalised (loan → LENDING) and, with ``waive_fees``, unpaid fees are
    waived (LENDING → loan), as one ledger batch; the open instalments are replaced by a new
    schedule of the new principal, first due a month from today. Atomic.
    """
    reason = _check_staff(actor, reason)
    if isinstance(term_months, bool) or not isinstance(term_months, int) or not 1 <= term_months <= 60:
        raise InvalidLoanRequest("A term of 1 to 60 months.", fields={"term_months": ["1 to 60."]})
    day = today or _today()
    with transaction.atomic():
        loan = _lock_loan(loan_id)
        if loan.status != LoanStatus.ACTIVE:
            raise LoanNotActive()
        quote = payoff_quote(loan, today=day)
        lending = system_account(AccountKind.LENDING, loan.currency)
        legs = []
        if quote.interest:
            legs.append(
                TransferSpec(
                    loan.ledger_account_id, lending, quote.interest, loan.currency, "loan_interest_capitalised"
                )
            )
        waived = loan.fees_outstanding if waive_fees else 0
        if waived:
            legs.append(TransferSpec(lending, loan.ledger_account_id, waived, loan.currency, "loan_fee_waiver"))
        batch_id = None
        if legs:
            number = loan.adjustments.count() + 1
            made = transfers_post(
                initiator=actor,
                transfers=legs,
                idempotency_key=f"lending:loan:{loan.pk}:restructure:{number}",
                operation="loan_restructure",
            )
            batch_id = made[0].batch_id
        loan.principal_outstanding += quote.interest
        loan.fees_outstanding -= waived
        loan.interest_paid_through = day
        data = {
            "term_months": term_months,
            "interest_capitalised": quote.interest,
            "fees_waived": waived,
            "principal": loan.principal_outstanding,
        }
        if loan.principal_outstanding:
            _respread(loan, day=day, months=term_months)
        loan.term_months = term_months  # the term now in force; the original stays in the adjustment's history
        loan.save()
        adjustment = LoanAdjustment.objects.create(
            loan=loan, kind=AdjustmentKind.RESTRUCTURE, reason=reason, actor=actor, data=data, batch_id=batch_id
        )
        audit_record(actor=actor, action="lending.restructure", target=loan, reason=reason, data=data)
        return adjustment
