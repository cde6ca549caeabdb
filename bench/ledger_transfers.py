"""Throughput of ledger.services.transfer_post: prints figures, asserts nothing.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench \\
        .venv/bin/python bench/ledger_transfers.py --accounts 100 --threads 4 --transfers 500

Uses (and migrates) the database DATABASE_URL names; run it on a scratch database.
"""

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "everything.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from ledger import services  # noqa: E402
from ledger.models import AccountKind  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--transfers", type=int, default=500, help="per thread")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    User = get_user_model()
    funding = services.system_account(AccountKind.FUNDING, "USD")
    ids = []
    run = random.randint(0, 10**6)
    for i in range(args.accounts):
        user = User.objects.create_user(handle=f"b{run}_{i}"[:15], email=f"b{run}_{i}@example.com", password=None)
        account = services.account_open(owner=user, kind=AccountKind.WALLET, currency="USD")
        services.transfer_post(initiator=None, debit=funding, credit=account, amount=10**7, currency="USD", kind="d")
        ids.append(account.pk)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(args.transfers):
            a, b = rng.sample(ids, 2)
            services.transfer_post(
                initiator=None, debit=a, credit=b, amount=rng.randint(1, 100), currency="USD", kind="p"
            )
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = args.threads * args.transfers
    print(f"database: {connection.vendor}; accounts: {args.accounts}; threads: {args.threads}")
    print(
        f"{total} transfers in {elapsed:.2f} s = {total / elapsed:.0f} transfers/s ({elapsed / total * 1000:.2f} ms each)"
    )


if __name__ == "__main__":
    main()
