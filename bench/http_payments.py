"""Payments over HTTP (issue 9, points 4 and 8): ``POST /api/v1/payments/`` on a production-style server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/http_payments.py --seconds 10

``bench/transfers.py`` imports this module to add the HTTP rows to its table (so the ratio is to
the pgbench ceiling of the same run); run alone, it seeds its own users and prints its rows.

- server: uvicorn, ``--http-workers`` workers, ``DEBUG=0`` (``bench/_server.py``);
- clients: asyncio + httpx, ``--clients`` concurrent clients (default 8, like the ceiling), each
  request authenticated the way the mobile app is — allauth headless ``X-Session-Token`` (a
  session per seeded user) — with a fresh ``Idempotency-Key``, paying 0.01–1.00 USD to another
  seeded user; TLS ends at a proxy in production, so requests carry ``X-Forwarded-Proto: https``;
- rows: uniform (payers and payees among every seeded user), hot (all traffic on the first
  ``--hot`` users), idle (one client): requests/s, p50/p99, errors (any non-201; the first of each
  status is printed with its body), deadlocks; then ``ledger_check``.

The seeded users are what a verified heavy user is, not users with checks switched off: tier 2
(document approved) KYC, a licensed country, a funded USD wallet, and an established history —
each has already paid ``CONTACTS`` people (ledger-backed payments a month old, so no first-payment
safety delay and no new-recipient risk review), and pays one of them at random.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

common.django_setup()

import _server  # noqa: E402
import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model  # noqa: E402
from django.contrib.sessions.backends.base import VALID_KEY_CHARS  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from compliance.models import DocumentStatus, KycProfile, Tier  # noqa: E402

CONTACTS = 20  # people each seeded user has paid before
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
PATH = "/api/v1/payments/"


# --- Seeding: verified, established heavy users -----------------------------------------------


def _ring(cursor, *, base: int, n: int, payers: int, batch_id: int, months_ago: int) -> None:
    """Each of the first ``payers`` of the ``n`` wallets from ``base`` has paid ``CONTACTS`` of the ``n`` 0.01 USD.

    Ledger transfers (balances updated to match) and completed payments, ``months_ago`` old.
    """
    stride = max(1, n // (CONTACTS + 1))
    cursor.execute(
        """
        WITH pairs AS (
            SELECT DISTINCT %(base)s + i AS d, %(base)s + ((i + k * %(stride)s) %% %(n)s) AS c
            FROM generate_series(0, %(payers)s - 1) AS i, generate_series(1, %(contacts)s) AS k
            WHERE (k * %(stride)s) %% %(n)s <> 0
        ), t AS (
            INSERT INTO ledger_transfer (batch_id, debit_account_id, credit_account_id, amount, currency, kind,
                                         state, metadata, created_at)
            SELECT %(batch)s, d, c, 1, 'USD', 'payment', 'posted', '{}'::jsonb, now() - %(ago)s * interval '1 month'
            FROM pairs
            RETURNING id, debit_account_id, credit_account_id
        ), moved AS (
            UPDATE ledger_account a SET debits_posted = a.debits_posted + m.out, credits_posted = a.credits_posted + m.inn
            FROM (
                SELECT id, sum(out) AS out, sum(inn) AS inn FROM (
                    SELECT debit_account_id AS id, 1 AS out, 0 AS inn FROM t
                    UNION ALL SELECT credit_account_id, 0, 1 FROM t
                ) x GROUP BY id
            ) m WHERE a.id = m.id
        )
        INSERT INTO payments_payment (sender_id, recipient_id, kind, status, amount, currency, received_amount,
                                      received_currency, usd_equivalent, note, tip_target, request_hash, review_reason,
                                      first_to_recipient, created_at, completed_at, debit_transfer_id,
                                      credit_transfer_id)
        SELECT ad.owner_id, ac.owner_id, 'payment', 'completed', 1, 'USD', 1, 'USD', 1, '', '', '', '', false,
               now() - %(ago)s * interval '1 month', now() - %(ago)s * interval '1 month', t.id, t.id
        FROM t JOIN ledger_account ad ON ad.id = t.debit_account_id JOIN ledger_account ac ON ac.id = t.credit_account_id
        """,
        {
            "base": base,
            "n": n,
            "payers": payers,
            "stride": stride,
            "contacts": CONTACTS,
            "batch": batch_id,
            "ago": months_ago,
        },
    )


def contacts_of(index: int, n: int) -> list[int]:
    """The indexes (0..n-1) the user at ``index`` has paid before (the same arithmetic as ``_ring``)."""
    stride = max(1, n // (CONTACTS + 1))
    return sorted({(index + k * stride) % n for k in range(1, CONTACTS + 1) if (k * stride) % n} - {index})


def verify(user_ids: list[int], *, weekly_limit_override: int | None = None) -> None:
    """Give each user an approved tier-2 KYC profile (document verified), replacing any they had."""
    KycProfile.objects.filter(user_id__in=user_ids).delete()
    KycProfile.objects.bulk_create(
        [
            KycProfile(
                user_id=user_id,
                legal_name=f"Bench Person {user_id}",
                date_of_birth=date(1980, 1, 1),
                address_line1="1 Bench Street",
                city="Springfield",
                country="US",
                national_id_last4="1234",
                tier=Tier.DOCUMENT,
                document_status=DocumentStatus.APPROVED,
                document_reviewed_at=timezone.now(),
                weekly_limit_override=weekly_limit_override,
            )
            for user_id in user_ids
        ],
        batch_size=2000,
    )


def prepare(*, base: int, accounts: int, hot: int, payers: int) -> list[tuple[int, str]]:
    """Make the seeded wallets' owners verified, established senders; return (owner id, handle) by index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.owner_id, u.handle FROM ledger_account a JOIN accounts_user u ON u.id = a.owner_id"
            " WHERE a.id BETWEEN %s AND %s ORDER BY a.id",
            [base, base + accounts - 1],
        )
        owners = cursor.fetchall()
    ids = [owner for owner, _ in owners]
    get_user_model().objects.filter(pk__in=ids).update(country="US", home_currency="USD", is_active=True)
    verify(ids)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_batch (request_hash, operation, created_at)"
            " VALUES ('bench', 'bench_history', now()) RETURNING id"
        )
        batch_id = cursor.fetchone()[0]
        _ring(cursor, base=base, n=accounts, payers=min(payers, accounts), batch_id=batch_id, months_ago=2)
        if hot and hot < accounts:
            _ring(cursor, base=base, n=hot, payers=hot, batch_id=batch_id, months_ago=1)
    with connection.cursor() as cursor:
        for name in ("accounts_user", "compliance_kycprofile", "ledger_account", "ledger_transfer", "payments_payment"):
            cursor.execute(f"ANALYZE {name}")
    return owners


def sessions_for(user_ids: list[int]) -> list[str]:
    """A signed-in session per user, as allauth headless login leaves it: the X-Session-Token of each."""
    User = get_user_model()
    backend = settings.AUTHENTICATION_BACKENDS[0]
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)}
    store = DbSessionStore()  # only to encode: new keys are random (32 of 36 characters), not looked up
    expires = timezone.now() + timedelta(days=1)
    rows, keys = [], []
    for user_id in user_ids:
        key = get_random_string(32, VALID_KEY_CHARS)
        data = {
            SESSION_KEY: str(user_id),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: users[user_id].get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=2000)
    return keys


# --- The load generator ------------------------------------------------------------------------


class Traffic:
    """Who pays whom: a payer among the first ``payers`` users (those with a session), paying one of
    their past payees among the first ``population`` users."""

    def __init__(self, owners: list[tuple[int, str]], tokens: list[str], *, payers: int, population: int) -> None:
        self.handles = [handle for _, handle in owners[:population]]
        self.tokens = tokens[:payers]
        self.contacts = [contacts_of(i, population) for i in range(len(self.tokens))]

    def pick(self, rng: random.Random) -> tuple[str, str]:
        i = rng.randrange(len(self.tokens))
        return self.tokens[i], self.handles[rng.choice(self.contacts[i])]


async def _client(base_url, traffic, rng, *, until_warm, until, latencies, statuses, failures) -> None:
    headers = {**_server.FORWARDED_HTTPS, "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, limits=httpx.Limits(max_connections=1)
    ) as client:
        while (before := time.perf_counter()) < until:
            token, payee = traffic.pick(rng)
            body = {"to": f"@{payee}", "amount": f"{rng.randint(1, 100) / 100:.2f}", "currency": "USD"}
            try:
                response = await client.post(
                    PATH, json=body, headers={"X-Session-Token": token, "Idempotency-Key": str(uuid.uuid4())}
                )
                status = response.status_code
            except httpx.HTTPError as error:
                status, response = type(error).__name__, None
            after = time.perf_counter()
            if before < until_warm:
                if status != 201 and status not in failures:  # a warm-up error is still worth seeing
                    failures[status] = response.text[:500] if response is not None else ""
                continue
            statuses[status] += 1
            if status == 201:
                latencies.append(after - before)
            elif status not in failures:
                failures[status] = response.text[:500] if response is not None else ""


async def _load(base_url: str, traffic: Traffic, *, clients: int, seconds: float, warmup: float, seed: str):
    latencies: list[float] = []
    statuses: Counter = Counter()
    failures: dict = {}
    start = time.perf_counter()
    until_warm = start + warmup
    until = until_warm + seconds
    await asyncio.gather(
        *(
            _client(
                base_url,
                traffic,
                random.Random(f"{seed}-{i}"),
                until_warm=until_warm,
                until=until,
                latencies=latencies,
                statuses=statuses,
                failures=failures,
            )
            for i in range(clients)
        )
    )
    return latencies, statuses, failures, time.perf_counter() - until_warm


def run_http(base_url: str, traffic: Traffic, *, clients: int, seconds: float, warmup: float, seed: str) -> dict:
    """``clients`` concurrent clients POSTing payments for ``seconds`` (after ``warmup``); figures like pgbench's."""
    from transfers import _deadlocks  # the same counter as the ceiling and service rows

    deadlocks = _deadlocks()
    latencies, statuses, failures, elapsed = asyncio.run(
        _load(base_url, traffic, clients=clients, seconds=seconds, warmup=warmup, seed=seed)
    )
    deadlocks = _deadlocks() - deadlocks
    for status, body in failures.items():
        print(f"http: a request answered {status}: {body}", file=sys.stderr)
    errors = sum(count for status, count in statuses.items() if status != 201)
    return {
        "tps": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50": common.percentile(latencies, 50),
        "p99": common.percentile(latencies, 99),
        "count": len(latencies),
        "errors": errors,
        "deadlocks": deadlocks,
    }


def ledger_check() -> bool:
    """``manage.py ledger_check`` in-process; prints its verdict; True when it passed."""
    try:
        call_command("ledger_check")
    except SystemExit as exit_:
        print(f"ledger_check FAILED (exit {exit_.code})", file=sys.stderr)
        return False
    print("ledger_check passed")
    return True


class Setup:
    """Everything the HTTP rows need, made once per run: users, sessions, traffic per row."""

    def __init__(self, *, base: int, accounts: int, hot: int, payers: int) -> None:
        started = time.perf_counter()
        self.owners = prepare(base=base, accounts=accounts, hot=hot, payers=payers)
        self.tokens = sessions_for([owner for owner, _ in self.owners[: max(min(payers, accounts), hot)]])
        self.accounts, self.hot, self.payers = accounts, hot, payers
        print(
            f"http: {accounts:,} verified senders with {CONTACTS} past payees each, "
            f"{len(self.tokens):,} sessions, in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

    def traffic(self, accounts: int) -> Traffic:
        """Uniform (``accounts`` = all): payers with a session, payees everyone; hot: within the first ``hot``."""
        population = min(accounts, self.accounts)
        return Traffic(self.owners, self.tokens, payers=min(population, len(self.tokens)), population=population)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("HTTP payments")
    group.add_argument("--http", action=argparse.BooleanOptionalAction, default=True, help="the HTTP rows")
    group.add_argument("--http-workers", type=int, default=2, help="uvicorn workers")
    group.add_argument("--http-port", type=int, default=8391, help="uvicorn port on 127.0.0.1")
    group.add_argument("--http-payers", type=int, default=2000, help="signed-in payers in the uniform rows")


def main() -> None:
    import secrets

    import transfers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--hot", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=5)
    add_arguments(parser)
    args = parser.parse_args()
    common.require_services(postgres=True, redis=True)
    call_command("migrate", verbosity=0)
    base = transfers.seed(args.accounts, "h" + secrets.token_hex(3))
    setup = Setup(base=base, accounts=args.accounts, hot=args.hot, payers=args.http_payers)
    rows = []
    with _server.server(workers=args.http_workers, port=args.http_port) as url:
        plan = [("uniform", args.accounts, args.clients, args.seconds)]
        if args.hot:
            plan.append(("hot", args.hot, args.clients, args.seconds))
        if args.idle_seconds:
            plan.append(("idle", args.accounts, 1, args.idle_seconds))
        for label, accounts, clients, seconds in plan:
            result = run_http(
                url, setup.traffic(accounts), clients=clients, seconds=seconds, warmup=args.warmup, seed=label
            )
            rows.append((label, clients, result))
            print(f"{label}: http {result['tps']:,.0f}/s", flush=True)
    print(
        common.table(
            ["traffic", "clients", "payments/s", "p50 ms", "p99 ms", "errors", "deadlocks"],
            [
                (label, clients, r["tps"], r["p50"] * 1000, r["p99"] * 1000, r["errors"], r["deadlocks"])
                for label, clients, r in rows
            ],
        )
    )
    ledger_check()


if __name__ == "__main__":
    main()
