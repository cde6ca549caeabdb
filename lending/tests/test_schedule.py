from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from lending.schedule import add_months, amortise, annuity_payment, disclosure_build, interest_for_days


def test_hand_computed_300_over_6_months():
    d = disclosure_build(
        principal=30000, currency="USD", apr=Decimal("0.089"), term_months=6, late_fee=500, first_due=date(2026, 12, 21)
    )
    # 300 × (0.089/12) / (1 − (1 + 0.089/12)^−6) = 51.3097… → 51.31
    assert d.monthly_payment == 5131
    assert [r.amount for r in d.rows] == [5131] * 5 + [5128]
    assert [r.interest for r in d.rows] == [223, 186, 149, 112, 75, 38]
    assert d.finance_charge == 783
    assert d.total_of_payments == 30783


def test_zero_apr_and_month_ends():
    assert annuity_payment(1000, Decimal(0), 3) == 333
    rows = amortise(1000, Decimal(0), 3, first_due=date(2027, 1, 31))
    assert [r.principal for r in rows] == [333, 333, 334]
    assert [r.due_date for r in rows] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)


def test_interest_for_days_actual_365_half_up():
    # 1,000.00 × 8.9% × 10 / 365 = 2.4383… → 2.44
    assert interest_for_days(100000, Decimal("0.089"), 10) == 244
    assert interest_for_days(100000, Decimal("0.089"), 0) == 0


@settings(max_examples=400, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10**11),
    months=st.sampled_from([1, 3, 6, 12, 24, 60]),
    apr=st.decimals(min_value=0, max_value=Decimal("0.99999"), places=5),
    first_period_days=st.one_of(st.none(), st.integers(min_value=1, max_value=31)),
)
def test_schedules_sum_exactly(principal, months, apr, first_period_days):
    rows = amortise(principal, apr, months, first_due=date(2026, 1, 31), first_period_days=first_period_days)
    assert len(rows) == months
    assert sum(r.principal for r in rows) == principal
    assert all(r.principal >= 0 and r.interest >= 0 and r.amount == r.principal + r.interest for r in rows)
    assert rows[-1].balance_after == 0
    if first_period_days is None:
        d = disclosure_build(
            principal=principal, currency="USD", apr=apr, term_months=months, late_fee=0, first_due=date(2026, 1, 31)
        )
        assert sum(r.amount for r in d.rows) == d.total_of_payments == principal + d.finance_charge
