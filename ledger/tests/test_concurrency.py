"""Real concurrency on PostgreSQL: threads racing transfers must never break the ledger.

SQLite has no row locks (a writer locks the whole file), so these tests need
PostgreSQL; CI always runs them there (DATABASE_URL set by .ci/run).
"""

import random

import pytest
from django.db import OperationalError

from core.errors import DomainError
from core.testing import run_threads, skip_unless_postgres
from ledger import services
from ledger.models import Account, AccountKind, Batch, Transfer
from ledger.selectors import ledger_verify

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    skip_unless_postgres()


def test_eight_threads_of_random_transfers_keep_every_invariant(make_user):
    accounts = [services.account_open(owner=make_user(), kind=AccountKind.WALLET, currency="USD") for _ in range(20)]
    funding = services.system_account(AccountKind.FUNDING, "USD")
    for index, account in enumerate(accounts):
        opening = 50 if index % 4 == 0 else (0 if index % 4 == 1 else 5_000)  # some near or at zero
        if opening:
            services.transfer_post(
                initiator=None, debit=funding, credit=account, amount=opening, currency="USD", kind="d"
            )
    ids = [a.pk for a in accounts]
    total_before = sum(Account.objects.get(pk=i).balance for i in ids)

    def worker(seed):
        rng = random.Random(seed)
        outcome = {"posted": 0, "refused": 0}
        for _ in range(200):
            debit, credit = rng.sample(ids, 2)
            try:
                if rng.random() < 0.1:
                    third = rng.choice([i for i in ids if i not in (debit, credit)])
                    services.transfers_post(
                        initiator=None,
                        transfers=[
                            services.TransferSpec(debit, credit, rng.randint(1, 200), "USD", "payment"),
                            services.TransferSpec(debit, third, rng.randint(1, 20), "USD", "fee"),
                        ],
                    )
                else:
                    services.transfer_post(
                        initiator=None, debit=debit, credit=credit, amount=rng.randint(1, 400), currency="USD", kind="p"
                    )
                outcome["posted"] += 1
            except services.InsufficientFunds:
                outcome["refused"] += 1
        return outcome

    results, errors = run_threads(8, worker)
    assert not [e for e in errors if isinstance(e, OperationalError)], "a deadlock or lock timeout reached the caller"
    assert errors == []
    assert sum(r["posted"] + r["refused"] for r in results) == 1_600
    assert sum(r["posted"] for r in results) > 0
    assert all(Account.objects.get(pk=i).available >= 0 for i in ids)
    assert sum(Account.objects.get(pk=i).balance for i in ids) == total_before
    report = ledger_verify()
    assert report.ok, report.problems


def test_ten_threads_with_one_idempotency_key_move_money_once(make_user):
    actor = make_user()
    payer = services.account_open(owner=actor, kind=AccountKind.WALLET, currency="USD")
    payee = services.account_open(owner=make_user(), kind=AccountKind.WALLET, currency="USD")
    services.transfer_post(
        initiator=None,
        debit=services.system_account(AccountKind.FUNDING, "USD"),
        credit=payer,
        amount=10_000,
        currency="USD",
        kind="d",
    )

    def worker(_):
        return services.transfer_post(
            initiator=actor,
            debit=payer.pk,
            credit=payee.pk,
            amount=2_500,
            currency="USD",
            kind="payment",
            idempotency_key="double-tap",
        ).pk

    results, errors = run_threads(10, worker)
    assert errors == []
    assert len(results) == 10 and len(set(results)) == 1
    assert Account.objects.get(pk=payee.pk).balance == 2_500
    assert Batch.objects.filter(idempotency_key="double-tap").count() == 1
    assert Transfer.objects.filter(batch__idempotency_key="double-tap").count() == 1


def test_racing_posts_of_one_hold_never_move_more_than_it_holds(make_user):
    payer = services.account_open(owner=make_user(), kind=AccountKind.WALLET, currency="USD")
    payee = services.account_open(owner=make_user(), kind=AccountKind.WALLET, currency="USD")
    funding = services.system_account(AccountKind.FUNDING, "USD")
    services.transfer_post(initiator=None, debit=funding, credit=payer, amount=1_000, currency="USD", kind="d")
    hold = services.hold_create(initiator=None, debit=payer, credit=payee, amount=1_000, currency="USD", kind="card")

    def worker(_):
        try:
            services.hold_post(initiator=None, hold=hold.pk, amount=300, release_rest=False)
            return "posted"
        except DomainError as error:
            return error.code

    results, errors = run_threads(6, worker)
    assert errors == []
    assert sorted(results).count("posted") == 3  # 3 × 300 fits in 1,000; the rest are refused
    assert set(results) == {"posted", "hold_amount_exceeded"}
    assert Account.objects.get(pk=payee.pk).balance == 900
    assert services.hold_remaining(hold) == 100
