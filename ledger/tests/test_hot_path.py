"""The posting hot path (issue 9): one UPDATE … RETURNING per account, fixed SQL, prepared.

The refusals must be the ones the slower lock-then-check code gave, in the same order, with
nothing left behind — even when an account earlier in id order was already updated.
"""

import pytest
from django.db import connection

from ledger import services
from ledger.models import Account, Batch, Transfer
from ledger.services import TransferSpec
from ledger.signals import balance_credited

pytestmark = pytest.mark.django_db


def counters(account):
    a = Account.objects.get(pk=account.pk)
    return (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)


def test_a_refusal_after_an_earlier_account_was_updated_leaves_no_trace(wallet, fund):
    low, high = wallet(), wallet()
    assert low.pk < high.pk  # low is updated first, then high is refused
    fund(low, 500)
    before = (Batch.objects.count(), Transfer.objects.count())
    with pytest.raises(services.InsufficientFunds) as info:
        services.transfer_post(initiator=None, debit=high, credit=low, amount=100, currency="USD", kind="payment")
    assert "$0.00 available" in info.value.message
    assert counters(low) == (0, 500, 0, 0) and counters(high) == (0, 0, 0, 0)
    assert (Batch.objects.count(), Transfer.objects.count()) == before


def test_one_account_in_two_currencies_in_one_batch_is_a_currency_mismatch(wallet, fund):
    a, b, c = wallet(), wallet(), wallet()
    fund(a, 1_000)
    legs = [TransferSpec(a, b, 100, "USD", "payment"), TransferSpec(a, c, 100, "EUR", "payment")]
    with pytest.raises(services.CurrencyMismatch) as info:
        services.transfers_post(initiator=None, transfers=legs)
    assert "EUR transfer needs two EUR accounts" in info.value.message
    assert counters(a) == (0, 1_000, 0, 0) and counters(b) == counters(c) == (0, 0, 0, 0)


def test_a_missing_account_is_reported_before_a_lack_of_money(wallet):
    empty = wallet()
    with pytest.raises(services.AccountNotFound):
        services.transfer_post(initiator=None, debit=empty, credit=10**9, amount=1, currency="USD", kind="x")
    with pytest.raises(services.AccountNotFound):
        services.transfer_post(initiator=None, debit=10**9, credit=empty, amount=1, currency="USD", kind="x")


def test_the_returned_transfers_are_saved_rows(wallet, fund):
    a, b, c = wallet(), wallet(), wallet()
    fund(a, 1_000)
    made = services.transfers_post(
        initiator=None,
        transfers=[TransferSpec(a, b, 300, "USD", "payment", {"n": 1}), TransferSpec(a, c, 200, "USD", "fee")],
    )
    stored = {t.pk: t for t in Transfer.objects.filter(pk__in=[t.pk for t in made])}
    assert [(stored[t.pk].credit_account_id, stored[t.pk].amount, stored[t.pk].metadata) for t in made] == [
        (b.pk, 300, {"n": 1}),
        (c.pk, 200, {}),
    ]
    assert all(not t._state.adding and t.created_at == stored[t.pk].created_at for t in made)
    assert made[0].batch.pk == stored[made[0].pk].batch_id


def test_balance_credited_says_before_and_after(wallet, fund, django_capture_on_commit_callbacks):
    a, b = wallet(), wallet()
    fund(a, 1_000)
    fund(b, 50)
    heard = []

    def listener(sender, credits, **kwargs):
        heard.extend(credits)

    balance_credited.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.transfer_post(initiator=None, debit=a, credit=b, amount=250, currency="USD", kind="payment")
    finally:
        balance_credited.disconnect(listener)
    assert [(c.account_id, c.owner_id, c.before, c.after) for c in heard] == [(b.pk, b.owner_id, 50, 300)]


def test_a_transfer_is_four_statements(wallet, fund, django_assert_num_queries):
    a, b = wallet(), wallet()
    fund(a, 1_000)
    # + SAVEPOINT and RELEASE: the test runs inside a transaction, so atomic() nests.
    with django_assert_num_queries(4 + 2):
        services.transfer_post(
            initiator=None, debit=a, credit=b, amount=1, currency="USD", kind="payment", idempotency_key="k-1"
        )
    # A replay: the batch INSERT the unique index refuses (and its ROLLBACK TO SAVEPOINT), then
    # the batch and its transfers are read.
    with django_assert_num_queries(6):
        services.transfer_post(
            initiator=None, debit=a, credit=b, amount=1, currency="USD", kind="payment", idempotency_key="k-1"
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_hot_statements_are_prepared_on_postgresql(wallet, fund):
    a, b = wallet(), wallet()
    fund(a, 1_000)
    for _ in range(3):
        services.transfer_post(initiator=None, debit=a, credit=b, amount=1, currency="USD", kind="payment")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(s.startswith('UPDATE "ledger_account"') for s in prepared)
    assert any(s.startswith('INSERT INTO "ledger_transfer"') for s in prepared)
