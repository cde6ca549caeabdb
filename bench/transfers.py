"""Transfers against their ceiling (issue 9, points 2, 3, 4 and 8): prints tables, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/transfers.py --seconds 30

- ceiling: ``pgbench`` (8 clients, prepared statements) running exactly the SQL one
  ``ledger.services.transfer_post`` sends — captured from Django on this database at start-up and
  turned into a pgbench script (BEGIN; SET LOCAL lock_timeout; look the idempotency key up;
  insert the batch; lock both accounts FOR NO KEY UPDATE in id order; update both counters;
  insert the transfer; COMMIT) — over random account pairs;
- service: 8 worker processes (each its own ``django.setup()`` and connection) calling
  ``transfer_post`` with an idempotency key over random pairs for the same time;
- both again with all traffic on ``--hot`` accounts (default 100) instead of ``--accounts``
  (default 10,000): throughput and deadlocks (``pg_stat_database.deadlocks`` before/after);
- http: ``POST /api/v1/payments/`` under the same traffic against uvicorn with several workers,
  ``DEBUG=0`` (``bench/http_payments.py``, ``bench/_server.py``; needs ``REDIS_URL``; ``--no-http``
  skips it), then ``ledger_check``;
- all with one client on an idle database: the latency of one transfer with nobody else.

Each measured run follows a warm-up of ``--warmup`` seconds. The ratios are taken within the run.
PostgreSQL only, on a scratch database whose name contains "bench" (it is migrated and written
to; accounts are seeded with a few set-based statements). Writes the ``transfers`` section of
docs/benchmarks.md unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import multiprocessing
import os
import pstats
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

common.django_setup()  # in the main process and in every spawned worker

import _server  # noqa: E402
import http_payments  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from ledger import services  # noqa: E402
from ledger.models import AccountKind  # noqa: E402

BALANCE = 10**13  # every seeded wallet: far above any card threshold, never runs out
CAPTURE_AMOUNT = 987_654  # an amount no other literal of the SQL contains


# --- Seeding --------------------------------------------------------------------------------


def seed(count: int, tag: str) -> int:
    """``count`` users with a funded USD wallet each, in a few statements; returns the first account id.

    The wallets' ids are consecutive (checked), so a pgbench script can pick them by arithmetic.
    Every wallet is funded by a real transfer from the funding account, so ledger_check holds.
    """
    User = get_user_model()
    funding = services.system_account(AccountKind.FUNDING, "USD")
    template = User.objects.create_user(handle=f"{tag}t", email=f"{tag}t@bench.invalid", password=None)
    columns = [f.column for f in User._meta.concrete_fields if f.column not in ("id", "handle", "email")]
    copied = ", ".join(f"t.{c}" for c in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO accounts_user (handle, email, {", ".join(columns)})
            SELECT %s || g.i, %s || g.i || '@bench.invalid', {copied}
            FROM accounts_user t, generate_series(1, %s) AS g(i) WHERE t.id = %s
            """,
            [tag, tag, count, template.pk],
        )
        cursor.execute("LOCK TABLE ledger_account IN SHARE ROW EXCLUSIVE MODE")  # consecutive ids
        cursor.execute(
            """
            INSERT INTO ledger_account (owner_id, kind, currency, name, debits_posted, credits_posted,
                                        debits_pending, credits_pending, must_not_go_negative, created_at)
            SELECT u.id, 'wallet', 'USD', '', 0, %s, 0, 0, true, now()
            FROM accounts_user u WHERE u.handle LIKE %s AND u.id <> %s ORDER BY u.id
            RETURNING id
            """,
            [BALANCE, f"{tag}%", template.pk],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        if ids != list(range(ids[0], ids[0] + count)):
            raise RuntimeError("the seeded account ids are not consecutive; run on an otherwise idle database")
        cursor.execute(
            "INSERT INTO ledger_batch (request_hash, operation, created_at) VALUES ('bench', 'bench_seed', now())"
            " RETURNING id"
        )
        batch_id = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO ledger_transfer (batch_id, debit_account_id, credit_account_id, amount, currency, kind,
                                         state, metadata, created_at)
            SELECT %s, %s, a.id, a.credits_posted, 'USD', 'bench_seed', 'posted', '{}'::jsonb, now()
            FROM ledger_account a WHERE a.id BETWEEN %s AND %s
            """,
            [batch_id, funding.pk, ids[0], ids[-1]],
        )
        cursor.execute(
            "UPDATE ledger_account SET debits_posted = debits_posted + %s WHERE id = %s",
            [BALANCE * count, funding.pk],
        )
    with connection.cursor() as cursor:
        for table in ("accounts_user", "ledger_account", "ledger_batch", "ledger_transfer"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return ids[0]


# --- The SQL of one transfer, as Django sends it ----------------------------------------------

_TIMESTAMP = re.compile(
    r"'\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}(?::?\d{2})?)?'(?:::timestamptz)?"
)


_HASH = re.compile(r"'[0-9a-f]{64}'")


def _literal(value: int) -> re.Pattern:
    return re.compile(rf"(?<![\w.'\-:]){value}(?![\w.'\-])")


def capture_transfer_sql(debit: int, credit: int, key: str) -> list[str]:
    """The statements one ``transfer_post`` sends, as pgbench commands.

    Literal values become pgbench variables: ``:d``/``:c`` the debit/credit ids, ``:amt`` the
    amount, ``:batch_id`` the batch the INSERT returned (``\\gset``), the idempotency key a unique
    string per transaction, timestamps ``now()``. Anything that could not be mapped fails loudly.
    """
    # The service binds the hot statements' parameters on the server (prepared, like pgbench -M
    # prepared); while queries are captured it binds on the client, so they come with literals.
    for attempt in range(5):  # the batch id must not look like an account id
        with CaptureQueriesContext(connection) as captured:
            transfer = services.transfer_post(
                initiator=None,
                debit=debit,
                credit=credit,
                amount=CAPTURE_AMOUNT,
                currency="USD",
                kind="p",
                idempotency_key=f"{key}-{attempt}",
            )
        batch_id = transfer.batch_id
        if batch_id not in (debit, credit, CAPTURE_AMOUNT):
            break
    key = f"{key}-{attempt}"
    commands = []
    for query in captured.captured_queries:
        sql = query["sql"].strip().rstrip(";")
        sql = sql.replace(
            f"'{key}'", "('pgb' || CAST(:tag AS text) || '-' || CAST(:client_id AS text) || '-' || CAST(:k AS text))"
        )
        sql = _TIMESTAMP.sub("now()", sql)
        sql = _HASH.sub("'" + "0" * 64 + "'", sql)  # the request's sha256: its value costs nothing
        for value, variable in ((batch_id, ":batch_id"), (debit, ":d"), (credit, ":c"), (CAPTURE_AMOUNT, ":amt")):
            sql = _literal(value).sub(variable, sql)
        if re.search(r'INSERT INTO "ledger_batch".*RETURNING', sql):
            if not re.search(r'RETURNING ("ledger_batch"\.)?"?id"?$', sql):
                raise RuntimeError(f"unexpected batch INSERT: {sql}")
            sql += " \\gset batch_"
        else:
            sql += ";"
        commands.append(sql)
    text = "\n".join(commands)
    if key in text or str(CAPTURE_AMOUNT) in text or ":batch_id" not in text:
        raise RuntimeError("could not turn the captured SQL into a pgbench script:\n" + text)
    return commands


def pgbench_script(low_first: list[str], high_first: list[str], base: int, accounts: int) -> str:
    """A pgbench transaction over a random pair of ``accounts`` consecutive ids from ``base``.

    ``low_first`` was captured with debit id < credit id and ``high_first`` the other way round;
    statements that differ (the counter UPDATEs, made in id order) are chosen by ``\\if``.
    """
    if len(low_first) != len(high_first):
        raise RuntimeError("the two captured transfers sent a different number of statements")
    lines = [
        f"\\set n {accounts}",
        "\\set a random(0, :n - 1)",
        "\\set b random(0, :n - 2)",
        "\\if :b >= :a",
        "\\set b :b + 1",
        "\\endif",
        f"\\set d {base} + :a",
        f"\\set c {base} + :b",
        "\\set amt random(1, 100)",
        "\\set k random(1, 1000000000000)",
    ]
    explicit = low_first[0].upper().startswith("BEGIN")  # Django >= 4.2 logs BEGIN and COMMIT itself
    if not explicit:
        lines.append("BEGIN;")
    for one, other in zip(low_first, high_first, strict=True):
        if one == other:
            lines.append(one)
        else:
            lines += ["\\if :d < :c", one, "\\else", other, "\\endif"]
    if not explicit:
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


# --- The ceiling: pgbench -----------------------------------------------------------------------


def _pgbench_connection() -> tuple[list[str], dict[str, str]]:
    settings = connection.settings_dict
    args = ["-h", settings.get("HOST") or "127.0.0.1", "-p", str(settings.get("PORT") or 5432)]
    if settings.get("USER"):
        args += ["-U", settings["USER"]]
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = settings["PASSWORD"]
    return [*args, settings["NAME"]], env


def run_pgbench(script: str, *, clients: int, seconds: float, warmup: float, tag: str) -> dict:
    target, env = _pgbench_connection()
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        path = Path(tmp) / "transfer.sql"
        path.write_text(script)
        common_args = [
            "pgbench",
            "--no-vacuum",
            "--protocol=prepared",
            f"--client={clients}",
            f"--jobs={min(clients, os.cpu_count() or 1)}",
            f"--file={path}",
            f"--define=tag={tag}",
        ]
        if warmup:
            subprocess.run(
                [*common_args, f"--time={max(round(warmup), 1)}", *target],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        deadlocks = _deadlocks()
        done = subprocess.run(
            [*common_args, f"--time={int(seconds)}", "--log", f"--log-prefix={tmp}/log", *target],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        deadlocks = _deadlocks() - deadlocks
        latencies, failed = [], 0
        for log in Path(tmp).glob("log.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1e6)
                else:
                    failed += 1
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or match is None:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
        aborted = re.search(r"number of failed transactions: (\d+)", done.stdout)
        failed += int(aborted.group(1)) if aborted else 0
    return {
        "tps": float(match.group(1)) if match else 0.0,
        "p50": common.percentile(latencies, 50),
        "p99": common.percentile(latencies, 99),
        "count": len(latencies),
        "errors": failed + (1 if done.returncode else 0),
        "deadlocks": deadlocks,
    }


def _deadlocks() -> int:
    time.sleep(0.6)  # backends report their counters about once a second and when they exit
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


# --- The service: worker processes calling ledger.services ---------------------------------------


def _one_transfer(rng: random.Random, base: int, accounts: int, key: str) -> None:
    a = rng.randrange(accounts)
    b = rng.randrange(accounts - 1)
    if b >= a:
        b += 1
    services.transfer_post(
        initiator=None,
        debit=base + a,
        credit=base + b,
        amount=rng.randint(1, 100),
        currency="USD",
        kind="p",
        idempotency_key=key,
    )


def _service_worker(index, base, accounts, seconds, warmup, tag, barrier, results) -> None:
    rng = random.Random(f"{tag}-{index}")
    n = 0
    until = time.perf_counter() + warmup
    try:
        while time.perf_counter() < until:
            _one_transfer(rng, base, accounts, f"w{tag}-{index}-{n}")
            n += 1
    except BaseException:
        barrier.abort()  # the others and the main process stop waiting
        raise
    barrier.wait()
    latencies, errors = [], Counter()
    started = time.perf_counter()
    until = started + seconds
    while (before := time.perf_counter()) < until:
        try:
            _one_transfer(rng, base, accounts, f"s{tag}-{index}-{n}")
        except Exception as error:  # counted, and the run goes on
            errors[type(error).__name__] += 1
        else:
            latencies.append(time.perf_counter() - before)
        n += 1
    elapsed = time.perf_counter() - started
    connection.close()
    results.put((latencies, dict(errors), elapsed))


def run_service(*, base: int, accounts: int, workers: int, seconds: float, warmup: float, tag: str) -> dict:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: django.setup(), own connection
    barrier = context.Barrier(workers + 1)
    results = context.Queue()
    deadlocks = _deadlocks()
    processes = [
        context.Process(
            target=_service_worker, args=(i, base, accounts, seconds, warmup, f"{tag}w{i}", barrier, results)
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    outcomes = [results.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join()
    deadlocks = _deadlocks() - deadlocks
    latencies = [x for outcome in outcomes for x in outcome[0]]
    errors = sum((Counter(outcome[1]) for outcome in outcomes), Counter())
    elapsed = max(outcome[2] for outcome in outcomes)
    if errors:
        print(f"service errors: {dict(errors)}", file=sys.stderr)
    return {
        "tps": len(latencies) / elapsed,
        "p50": common.percentile(latencies, 50),
        "p99": common.percentile(latencies, 99),
        "count": len(latencies),
        "errors": sum(errors.values()),
        "deadlocks": deadlocks,
    }


def profile_service(*, base: int, accounts: int, seconds: float, tag: str) -> str:
    """cProfile of one in-process worker (no contention): where the Python time of a transfer goes."""
    rng = random.Random(tag)
    for n in range(50):  # warm-up
        _one_transfer(rng, base, accounts, f"pw{tag}-{n}")
    profiler = cProfile.Profile()
    count = 0
    until = time.perf_counter() + seconds
    profiler.enable()
    while time.perf_counter() < until:
        _one_transfer(rng, base, accounts, f"p{tag}-{count}")
        count += 1
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print(f"{count} transfers in {seconds:.0f} s, one process, under cProfile", file=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


# --- Main -------------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return seconds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="each measured run")
    parser.add_argument("--warmup", type=float, default=3, help="before each measured run")
    parser.add_argument("--clients", type=int, default=8, help="pgbench clients = service worker processes")
    parser.add_argument("--accounts", type=int, default=10_000, help="uniform traffic over this many accounts")
    parser.add_argument("--hot", type=int, default=100, help="hot traffic over this many accounts (0: skip)")
    parser.add_argument("--idle-seconds", type=float, default=5, help="one-client runs (0: skip)")
    parser.add_argument("--profile", type=float, default=0, metavar="SECONDS", help="then cProfile one worker")
    parser.add_argument("--show-sql", action="store_true", help="print the pgbench script")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    http_payments.add_arguments(parser)
    args = parser.parse_args()

    common.require_services(postgres=True, redis=args.http)
    if shutil.which("pgbench") is None:
        sys.exit("bench: pgbench is not on PATH (Debian: apt-get install postgresql-client).")
    if connection.vendor != "postgresql":
        sys.exit("bench: DATABASE_URL must name a PostgreSQL database.")
    call_command("migrate", verbosity=0)

    tag = "t" + secrets.token_hex(3)  # handles are at most 15 characters
    started = time.perf_counter()
    base = seed(args.accounts, tag)
    print(
        f"seeded {args.accounts:,} funded wallets (ids {base}–{base + args.accounts - 1}) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    low_first = capture_transfer_sql(base, base + 1, f"cap{tag}-1")
    high_first = capture_transfer_sql(base + 3, base + 2, f"cap{tag}-2")

    def script(accounts: int) -> str:
        return pgbench_script(low_first, high_first, base, accounts)

    if args.show_sql:
        print(script(args.accounts))

    runs = []  # (traffic, path, result)
    http = (
        http_payments.Setup(base=base, accounts=args.accounts, hot=args.hot, payers=args.http_payers)
        if args.http
        else None
    )
    server = _server.server(workers=args.http_workers, port=args.http_port) if http else contextlib.nullcontext()

    def measure(label: str, accounts: int, clients: int, seconds: float) -> None:
        ceiling = run_pgbench(script(accounts), clients=clients, seconds=seconds, warmup=args.warmup, tag=tag)
        runs.append((label, f"ceiling: pgbench, {clients} client{'s' * (clients > 1)}", ceiling, ceiling))
        print(f"{label}: ceiling {ceiling['tps']:,.0f}/s", flush=True)
        service = run_service(
            base=base, accounts=accounts, workers=clients, seconds=seconds, warmup=args.warmup, tag=f"{tag}r{len(runs)}"
        )
        runs.append((label, f"service: {clients} process{'es' * (clients > 1)}", service, ceiling))
        print(f"{label}: service {service['tps']:,.0f}/s", flush=True)
        if http:
            result = http_payments.run_http(
                base_url, http.traffic(accounts), clients=clients, seconds=seconds, warmup=args.warmup, seed=label
            )
            path = f"http: {clients} client{'s' * (clients > 1)}, uvicorn × {args.http_workers}"
            runs.append((label, path, result, ceiling))
            print(f"{label}: http {result['tps']:,.0f}/s", flush=True)

    with server as base_url:
        measure(f"uniform, {args.accounts:,} accounts", args.accounts, args.clients, args.seconds)
        if args.hot:
            measure(f"hot, {args.hot:,} accounts", args.hot, args.clients, args.seconds)
        if args.idle_seconds:
            measure(f"idle, {args.accounts:,} accounts", args.accounts, 1, args.idle_seconds)
    ledger_ok = http_payments.ledger_check() if http else None

    main_table = common.table(
        ["traffic", "path", "transfers/s", "p50 ms", "p99 ms", "errors", "deadlocks", "÷ ceiling"],
        [
            (
                label,
                path,
                result["tps"],
                _ms(result["p50"]),
                _ms(result["p99"]),
                result["errors"],
                result["deadlocks"],
                result["tps"] / ceiling["tps"] if ceiling["tps"] else float("nan"),
            )
            for label, path, result, ceiling in runs
        ],
    )
    print()
    print(main_table)
    body = [
        f"{args.clients} clients, {args.seconds:.0f} s per run ({args.idle_seconds:.0f} s for the one-client "
        f"idle runs), each after a {args.warmup:.0f} s warm-up; "
        "`÷ ceiling` is the path's transfers/s over pgbench's in the same traffic of this run.",
        "",
        main_table,
    ]
    if args.hot:
        uniform = {path.split(":")[0]: result for label, path, result, _ in runs if label.startswith("uniform")}
        hot = {path.split(":")[0]: result for label, path, result, _ in runs if label.startswith("hot")}
        hot_table = common.table(
            ["path", "uniform transfers/s", "hot transfers/s", "hot ÷ uniform", "deadlocks (hot)"],
            [
                (
                    path,
                    uniform[path]["tps"],
                    hot[path]["tps"],
                    hot[path]["tps"] / uniform[path]["tps"],
                    hot[path]["deadlocks"],
                )
                for path in ("ceiling", "service", "http")
                if path in uniform and path in hot
            ],
        )
        print()
        print(hot_table)
        body += ["", f"Hot accounts ({args.hot} accounts) against uniform traffic ({args.accounts:,}):", "", hot_table]
    if http:
        idle = {path.split(":")[0]: result for label, path, result, _ in runs if label.startswith("idle")}
        body += [
            "",
            f"HTTP: `POST /api/v1/payments/` with an `Idempotency-Key`, {args.clients} concurrent asyncio + httpx "
            f"clients (one for idle) signed in with allauth headless `X-Session-Token`, against uvicorn with "
            f"{args.http_workers} workers and `DEBUG=0` (`bench/http_payments.py`, `bench/_server.py`); errors are "
            "any answer but 201. "
            + (
                f"Idle: one payment over HTTP takes {_ms(idle['http']['p50']):.2f} ms (p50), "
                f"{idle['http']['p50'] / idle['ceiling']['p50']:.1f} × the ceiling's single-client latency. "
                if "http" in idle and idle["ceiling"]["p50"]
                else ""
            )
            + f"`ledger_check` afterwards: {'passed' if ledger_ok else 'FAILED'}.",
        ]
    body += [
        "",
        "The pgbench script (captured from Django on this database, literals turned into variables):",
        "",
        "```",
        script(args.accounts).rstrip(),
        "```",
    ]
    if not args.no_docs:
        common.write_section("transfers", "\n".join(body), title="Transfers against their ceiling")

    if args.profile:
        print()
        print(profile_service(base=base, accounts=args.accounts, seconds=args.profile, tag=f"{tag}p"))


if __name__ == "__main__":
    main()
