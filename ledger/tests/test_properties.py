"""Property: any sequence of ledger operations keeps every invariant and matches a simple model."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from ledger import services
from ledger.models import Account, AccountKind
from ledger.selectors import ledger_verify

N = 4
account_index = st.integers(0, N - 1)
amount = st.integers(1, 3_000)

operation = st.one_of(
    st.tuples(st.just("transfer"), account_index, account_index, amount),
    st.tuples(st.just("hold"), account_index, account_index, amount),
    st.tuples(st.just("post"), st.integers(0, 20), st.one_of(st.none(), amount), st.booleans()),
    st.tuples(st.just("void"), st.integers(0, 20)),
    st.tuples(st.just("expire"), st.integers(0, 20)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
)


class Model:
    """What the counters should be, computed the slow obvious way."""

    def __init__(self, accounts, opening):
        self.c = {a.pk: [0, opening[i], 0, 0] for i, a in enumerate(accounts)}  # dp, cp, dpe, cpe

    def available(self, pk):
        dp, cp, dpe, _ = self.c[pk]
        return cp - dp - dpe


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opening=st.lists(st.integers(0, 5_000), min_size=N, max_size=N), ops=st.lists(operation, max_size=25))
@pytest.mark.django_db
def test_random_operations_keep_the_invariants(make_user, opening, ops):
    from datetime import timedelta

    from django.utils import timezone

    accounts = [services.account_open(owner=make_user(), kind=AccountKind.WALLET, currency="USD") for _ in range(N)]
    funding = services.system_account(AccountKind.FUNDING, "USD")
    for account, value in zip(accounts, opening, strict=True):
        if value:
            services.transfer_post(
                initiator=None, debit=funding, credit=account, amount=value, currency="USD", kind="d"
            )
    model = Model(accounts, opening)
    holds = []  # [transfer, remaining]
    posted = []  # posted transfers between our accounts, with a reversed flag

    for op in ops:
        kind = op[0]
        if kind in ("transfer", "hold"):
            _, i, j, value = op
            if i == j:
                continue
            debit, credit = accounts[i].pk, accounts[j].pk
            ok = model.available(debit) >= value
            call = services.transfer_post if kind == "transfer" else services.hold_create
            try:
                t = call(initiator=None, debit=debit, credit=credit, amount=value, currency="USD", kind=kind)
            except services.InsufficientFunds:
                assert not ok
                continue
            assert ok
            if kind == "transfer":
                model.c[debit][0] += value
                model.c[credit][1] += value
                posted.append([t, False])
            else:
                model.c[debit][2] += value
                model.c[credit][3] += value
                holds.append([t, value])
        elif kind in ("post", "void", "expire") and holds:
            entry = holds[op[1] % len(holds)]
            hold, remaining = entry
            d, c = hold.debit_account_id, hold.credit_account_id
            try:
                if kind == "post":
                    _, _, value, release_rest = op
                    t = services.hold_post(initiator=None, hold=hold, amount=value, release_rest=release_rest)
                    moved = t.amount
                    released = remaining - moved if release_rest else 0
                    assert value is None or value <= remaining
                    posted.append([t, False])
                elif kind == "void":
                    services.hold_void(initiator=None, hold=hold)
                    moved, released = 0, remaining
                else:
                    expired = services.hold_expire(hold=hold, now=timezone.now() + timedelta(days=30))
                    assert bool(expired) == (remaining > 0)
                    if not expired:
                        continue
                    moved, released = 0, remaining
            except services.HoldNotPending:
                assert remaining == 0
                continue
            except services.HoldAmountExceeded:
                assert op[2] is not None and op[2] > remaining
                continue
            assert remaining > 0
            model.c[d][2] -= moved + released
            model.c[d][0] += moved
            model.c[c][3] -= moved + released
            model.c[c][1] += moved
            entry[1] = remaining - moved - released
        elif kind == "reverse" and posted:
            entry = posted[op[1] % len(posted)]
            t, reversed_already = entry
            d, c = t.debit_account_id, t.credit_account_id
            try:
                services.transfer_reverse(initiator=None, transfer=t)
            except services.AlreadyReversed:
                assert reversed_already
                continue
            except services.InsufficientFunds:
                assert model.available(c) < t.amount
                continue
            except DomainError as error:  # pragma: no cover - would be a bug
                raise AssertionError(error) from error
            assert not reversed_already
            entry[1] = True
            model.c[c][0] += t.amount
            model.c[d][1] += t.amount

    for account in accounts:
        fresh = Account.objects.get(pk=account.pk)
        actual = [fresh.debits_posted, fresh.credits_posted, fresh.debits_pending, fresh.credits_pending]
        assert actual == model.c[account.pk]
        assert fresh.available >= 0
    report = ledger_verify()
    assert report.ok, report.problems
