"""Set-based daily interest accrual (savings.accrual): prints figures, asserts nothing.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench \\
        .venv/bin/python bench/accrual.py --accounts 1000000 --runs 3

Seeds N funded USD savings accounts straight in SQL (users, ledger accounts, one funding
transfer each, and for 1% of them a transfer after the accrued day so the end-of-day balance
has something to subtract), then times ``accrual_run_day`` for ``--runs`` consecutive days: each
run accrues one day for all N accounts (one INSERT … SELECT … ON CONFLICT DO NOTHING and one
UPDATE). ``--payout`` also times the monthly payout of those accounts (chunks of 100 through
ledger.services.transfers_post) — use a smaller N for that.

PostgreSQL only, on a scratch database whose name contains "bench": it migrates it and empties
the savings tables first (the ledger and the users it leaves; they only grow).
"""

import argparse
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "everything.settings")

import django

django.setup()

import time_machine  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from ledger import services  # noqa: E402
from ledger.models import AccountKind  # noqa: E402
from savings import accrual  # noqa: E402
from savings.models import SavingsProduct, SavingsRate  # noqa: E402

FIRST_DAY = dt.date(2026, 1, 1)
OPENED = dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.UTC)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def seed(count: int) -> None:
    """N users, savings ledger accounts, savings accounts and funding transfers, in a few statements."""
    User = get_user_model()
    funding = services.system_account(AccountKind.FUNDING, "USD")
    tag = "b" + _base36(int(time.time()) % 36**4).rjust(4, "0")  # handles are ≤ 15 characters
    template = User.objects.create_user(handle=f"{tag}t", email=f"{tag}t@bench.invalid", password=None)
    columns = [f.column for f in User._meta.concrete_fields if f.column not in ("id", "handle", "email")]
    copied = ", ".join(f"t.{c}" for c in columns)
    amount_sql = "(100000 + (g.i::bigint * 7919) %% 10000000)"  # 1,000.00 to 101,000.00, varied
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO accounts_user (handle, email, {", ".join(columns)})
            SELECT %s || g.i, %s || g.i || '@bench.invalid', {copied}
            FROM accounts_user t, generate_series(1, %s) AS g(i) WHERE t.id = %s
            """,
            [tag, tag, count, template.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO ledger_account (owner_id, kind, currency, name, debits_posted, credits_posted,
                                        debits_pending, credits_pending, must_not_go_negative, created_at)
            SELECT u.id, 'savings', 'USD', '', 0, {amount_sql}, 0, 0, true, %s
            FROM accounts_user u JOIN LATERAL (SELECT substr(u.handle, %s)::int AS i) g ON true
            WHERE u.handle LIKE %s AND u.id <> %s
            """,
            [OPENED, len(tag) + 1, f"{tag}%", template.pk],
        )
        cursor.execute(
            "INSERT INTO ledger_batch (request_hash, operation, created_at) VALUES ('bench', 'bench_seed', %s)"
            " RETURNING id",
            [OPENED],
        )
        batch_id = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO ledger_transfer (batch_id, debit_account_id, credit_account_id, amount, currency, kind,
                                         state, metadata, created_at)
            SELECT %s, %s, a.id, a.credits_posted, 'USD', 'bench_seed', 'posted', '{}'::jsonb, %s
            FROM ledger_account a JOIN accounts_user u ON u.id = a.owner_id
            WHERE a.kind = 'savings' AND u.handle LIKE %s
            """,
            [batch_id, funding.pk, OPENED, f"{tag}%"],
        )
        cursor.execute(
            "UPDATE ledger_account SET debits_posted = debits_posted + "
            "(SELECT COALESCE(SUM(amount), 0) FROM ledger_transfer WHERE batch_id = %s) WHERE id = %s",
            [batch_id, funding.pk],
        )
        cursor.execute(
            """
            INSERT INTO savings_savingsaccount (user_id, currency, ledger_account_id, roundups_enabled, opened_at)
            SELECT a.owner_id, 'USD', a.id, false, %s
            FROM ledger_account a JOIN accounts_user u ON u.id = a.owner_id
            WHERE a.kind = 'savings' AND u.handle LIKE %s
            """,
            [OPENED, f"{tag}%"],
        )
    # 1% of the accounts move money "today" (after every accrued day): subtracted from the balance.
    mover_ids = list(
        connection.cursor().execute(
            "SELECT ledger_account_id FROM savings_savingsaccount ORDER BY id LIMIT %s", [max(count // 100, 1)]
        )
    )
    for (account_id,) in mover_ids:
        services.transfer_post(initiator=None, debit=account_id, credit=funding, amount=1, currency="USD", kind="b")
    with connection.cursor() as cursor:
        for table in ("accounts_user", "ledger_account", "ledger_transfer", "savings_savingsaccount"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="days accrued, one run each")
    parser.add_argument("--payout", action="store_true", help="also time the monthly payout")
    args = parser.parse_args()

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Run on a scratch PostgreSQL database whose name contains 'bench' (see the docstring).")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE savings_interestaccrual, savings_interestpayout, savings_savingsgoal, savings_savingsaccount"
        )
    product, _ = SavingsProduct.objects.get_or_create(currency="USD")
    SavingsRate.objects.get_or_create(product=product, effective_from=FIRST_DAY, defaults={"apy": Decimal("0.045")})

    started = time.perf_counter()
    seed(args.accounts)
    print(f"seeded {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s")

    per_run = []
    for i in range(args.runs):
        day = FIRST_DAY + dt.timedelta(days=i)
        started = time.perf_counter()
        rows = accrual.accrual_run_day(day)
        seconds = time.perf_counter() - started
        per_run.append(seconds)
        print(f"{day}: {rows:,} accruals in {seconds:.2f} s ({seconds / args.accounts * 1e6:.1f} s per million)")
    best, mean = min(per_run), sum(per_run) / len(per_run)
    print(
        f"accrual, {args.accounts:,} accounts: best {best:.2f} s, mean {mean:.2f} s per run; "
        f"{mean / args.accounts * 1e6:.1f} s per million accounts"
    )
    started = time.perf_counter()
    again = accrual.accrual_run_day(FIRST_DAY)
    print(f"re-run of an accrued day: {again} rows in {time.perf_counter() - started:.2f} s")

    if args.payout:
        month = FIRST_DAY.replace(day=1)
        with connection.cursor() as cursor:  # pretend the whole month was accrued
            cursor.execute("UPDATE savings_savingsaccount SET accrued_through = %s", [dt.date(2026, 1, 31)])
        with time_machine.travel(dt.datetime(2026, 2, 1, 6, 0, tzinfo=dt.UTC), tick=True):
            started = time.perf_counter()
            run = accrual.payouts_post_month(month)
            seconds = time.perf_counter() - started
        print(
            f"payout {month:%Y-%m}: {run.payouts:,} payouts, {run.transfers:,} transfers in {seconds:.1f} s "
            f"({seconds / max(run.payouts, 1) * 1e6:.0f} s per million)"
        )


if __name__ == "__main__":
    main()
