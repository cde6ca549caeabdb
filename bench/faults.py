"""Fault drill (issue 10, point 2): kill things while money moves; afterwards nothing is lost or doubled.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench_faults REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/faults.py --accounts 200000 --seconds 40

PostgreSQL and Redis (a scratch database whose name contains "bench"; the Redis database's Celery
queue is emptied first). What it does:

1. migrates, seeds N funded USD savings accounts (bench/accrual.py's seeding; reused when N exist)
   and marks them accrued up to ``--days`` days before the last complete day;
2. starts the production-style ASGI server (bench/_server.py, 2 uvicorn workers) and a real Celery
   worker (``celery -A everything worker --concurrency 2``) with a short visibility timeout
   (``--visibility-timeout``) so a lost task comes back within the drill;
3. runs the bank workload (bench/bank.py --faults) against the server as a subprocess, and queues
   the accrual task (savings.tasks.accrue_interest) through Redis;
4. meanwhile: SIGKILLs the Celery worker (its whole process group) while the accrual holds its
   lock and starts a new worker; SIGKILLs one uvicorn worker process (the supervisor must start a
   new one); restarts PostgreSQL (``--restart-postgres-cmd``; by default
   ``pg_ctlcluster --skip-systemctl-redirect <major> main restart`` when running as root with
   pg_ctlcluster and a local server — otherwise it says so and the step is "not possible");
5. afterwards checks: bank.py exited 0 (its own invariants: money conserved, every acknowledged
   payment once, ledger_check), every account accrued exactly once for each day (none missing
   after the redelivery, none twice), nothing half-done (no pending ledger transfer past its
   timeout once the sweeps ran, no open payment without its pending hold; requests abandoned in
   progress are counted, not failed), and the ledger's invariants (ledger_check).

Prints a summary and exits 0 iff every check held; ``--json`` ends with one JSON verdict line.
Writes the ``faults`` section of docs/benchmarks.md unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

common.django_setup()

import _server  # noqa: E402
import accrual as bench_accrual  # noqa: E402  (bench/accrual.py: the seeding)
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from savings import accrual  # noqa: E402
from savings.models import SavingsAccount, SavingsProduct, SavingsRate  # noqa: E402

ROOT = common.ROOT


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] faults: {message}", flush=True)


# --- Processes ------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may contain spaces: split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def uvicorn_workers(port: int) -> tuple[int | None, list[int]]:
    """(the uvicorn supervisor started by this process, its worker processes)."""
    for pid in _children(os.getpid()):
        line = _cmdline(pid)
        if "uvicorn" in line and f"--port {port}" in line:
            return pid, sorted(c for c in _children(pid) if "spawn_main" in _cmdline(c))
    return None, []


class Worker:
    """A Celery worker in its own process group (so a SIGKILL takes its pool with it)."""

    def __init__(self, env: dict[str, str], name: str):
        self.log = tempfile.NamedTemporaryFile(prefix=f"faults-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "everything", "worker", "--concurrency", "2",
             "--loglevel", "INFO", "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while " ready." not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start; its output:\n{self.text()[-3000:]}")
            time.sleep(0.3)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


# --- PostgreSQL -----------------------------------------------------------------------------------


def default_restart_command() -> tuple[str | None, str]:
    """The restart command for a local Debian cluster, or None and why not."""
    host = urlsplit(os.environ["DATABASE_URL"]).hostname or "localhost"
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None, f"PostgreSQL is at {host}, not on this machine"
    if os.geteuid() != 0:
        return None, "not running as root"
    if not shutil.which("pg_ctlcluster"):
        return None, "pg_ctlcluster not found (not a Debian/Ubuntu PostgreSQL)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    if not Path(f"/etc/postgresql/{major}/main").is_dir():
        return None, f"no cluster {major}/main in /etc/postgresql"
    return f"pg_ctlcluster --skip-systemctl-redirect {major} main restart", ""


def restart_postgres(command: str) -> tuple[bool, str]:
    connections.close_all()
    started = time.monotonic()
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        return False, f"`{command}` exited {result.returncode}: {(result.stderr or result.stdout).strip()[-300:]}"
    deadline = time.monotonic() + 60
    while True:
        try:
            connections.close_all()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True, f"`{command}`: back in {time.monotonic() - started:.1f} s"
        except Exception as error:
            if time.monotonic() > deadline:
                return False, f"PostgreSQL did not come back after `{command}`: {error}"
            time.sleep(0.5)


def _query(sql: str, params=None):
    """One query on a fresh connection attempt (survives a PostgreSQL restart in between)."""
    for attempt in range(20):
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params or [])
                return cursor.fetchall()
        except Exception:
            connections.close_all()
            if attempt == 19:
                raise
            time.sleep(0.5)
    return []


# --- The accrual ----------------------------------------------------------------------------------


def prepare_accounts(count: int, days: int) -> list[dt.date]:
    """N savings accounts accrued through ``days`` days before the last complete day; the days to accrue."""
    product, _ = SavingsProduct.objects.get_or_create(currency="USD")
    SavingsRate.objects.get_or_create(
        product=product, effective_from=bench_accrual.FIRST_DAY, defaults={"apy": Decimal("0.045")}
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE savings_interestaccrual, savings_interestpayout")
    seeded = SavingsAccount.objects.filter(opened_at=bench_accrual.OPENED).count()
    if seeded != count or SavingsAccount.objects.count() != count:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE savings_savingsgoal, savings_savingsaccount CASCADE")
        started = time.monotonic()
        bench_accrual.seed(count)
        log(f"seeded {count:,} savings accounts in {time.monotonic() - started:.0f} s")
    else:
        log(f"reusing the {count:,} savings accounts seeded earlier")
    last = accrual.last_complete_day()
    due = [last - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    SavingsAccount.objects.update(accrued_through=due[0] - dt.timedelta(days=1))
    return due


def accrual_lock_held() -> bool:
    rows = _query(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s", [accrual._LOCK_ACCRUAL & 0xFFFFFFFF]
    )
    return bool(rows and rows[0][0])


def accrual_state(days: list[dt.date], count: int) -> dict:
    rows = _query(
        "SELECT day, count(*), count(DISTINCT account_id) FROM savings_interestaccrual WHERE day = ANY(%s) GROUP BY day",
        [days],
    )
    per_day = {day: (n, distinct) for day, n, distinct in rows}
    behind = _query("SELECT count(*) FROM savings_savingsaccount WHERE accrued_through IS DISTINCT FROM %s", [days[-1]])
    return {
        "rows": sum(n for n, _ in per_day.values()),
        "expected": count * len(days),
        "duplicates": sum(n - distinct for n, distinct in per_day.values()),
        "missing": sum(count - per_day.get(day, (0, 0))[1] for day in days),
        "behind": behind[0][0],
    }


def wait_accrual(days: list[dt.date], count: int, timeout: float) -> bool:
    """True once every account is accrued through the last day (within ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        state = accrual_state(days, count)
        if state["behind"] == 0 and state["missing"] == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


# --- Afterwards -----------------------------------------------------------------------------------


def half_done() -> tuple[dict[str, int], int]:
    """What a crash could leave behind, counted (all must be 0), and the abandoned requests.

    A request whose worker was killed leaves its idempotency record "in progress": not half-done
    money (the service under it is atomic and keyed), and by design (core.idempotency) a retry
    with the same key after ABANDONED_AFTER runs it again; the rest are pruned after a week.
    They are reported, not failed.
    """
    now = timezone.now()
    overdue = _query("SELECT count(*) FROM ledger_transfer WHERE state = 'pending' AND timeout_at < %s", [now])
    orphan = _query(
        """SELECT count(*) FROM payments_payment p LEFT JOIN ledger_transfer t ON t.id = p.hold_id
           WHERE p.status IN ('arriving', 'in_review') AND (t.id IS NULL OR t.state <> 'pending')"""
    )
    from core.idempotency import ABANDONED_AFTER

    stuck = _query(
        "SELECT count(*) FROM core_idempotencyrecord WHERE state = 'in_progress' AND created_at < %s",
        [now - ABANDONED_AFTER],
    )
    return {
        "pending transfers past their timeout": overdue[0][0],
        "open payments without a pending hold": orphan[0][0],
    }, stuck[0][0]


def run_tasks_through_worker(names: list[str], timeout: float = 120) -> None:
    """What beat would have run meanwhile, sent to the worker and awaited."""
    from everything.celery import app

    results = [app.send_task(name) for name in names]
    for result in results:
        result.get(timeout=timeout, propagate=False)


def ledger_ok() -> tuple[bool, list[str]]:
    from ledger.selectors import ledger_verify

    connections.close_all()
    report = ledger_verify()
    return report.ok, list(report.problems)[:10]


# --- Main -----------------------------------------------------------------------------------------


def purge_broker() -> None:
    """Empty the Celery queue and the unacknowledged set of this Redis database (left by an earlier drill)."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200_000, help="savings accounts in the accrual run")
    parser.add_argument("--days", type=int, default=3, help="days the accrual run catches up")
    parser.add_argument("--seconds", type=float, default=40, help="length of the bank workload")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--port", type=int, default=8311)
    parser.add_argument(
        "--visibility-timeout", type=int, default=10, help="seconds before Redis redelivers a lost task"
    )
    parser.add_argument("--restart-postgres-cmd", default=None, help="shell command restarting PostgreSQL")
    parser.add_argument("--no-restart-postgres", action="store_true", help="skip the PostgreSQL restart")
    parser.add_argument("--no-bank", action="store_true", help="skip the bank workload (accrual and kills only)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--json", action="store_true", help="end with one JSON line: the verdict")
    args = parser.parse_args()
    # A SIGTERM (e.g. from timeout) unwinds through the finally blocks: no server or worker left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    common.require_services(postgres=True, redis=True)
    if connection.vendor != "postgresql":
        sys.exit("faults: DATABASE_URL must name a PostgreSQL database.")
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        sys.exit("faults: Celery is eager here (REDIS_URL unset, or run under pytest): tasks must go to a worker.")
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    purge_broker()
    days = prepare_accounts(args.accounts, args.days)
    log(f"accrual to run: {days[0]} … {days[-1]} for {args.accounts:,} accounts")

    steps: dict[str, dict] = {}
    failures: list[str] = []
    env = _server.server_env({"CELERY_VISIBILITY_TIMEOUT": str(args.visibility_timeout)})

    restart_cmd, why_not = args.restart_postgres_cmd, ""
    if args.no_restart_postgres:
        restart_cmd, why_not = None, "skipped (--no-restart-postgres)"
    elif restart_cmd is None:
        restart_cmd, why_not = default_restart_command()

    workers: list[Worker] = []
    bank = None
    bank_out = tempfile.NamedTemporaryFile(prefix="faults-bank-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        with _server.server(
            workers=2, port=args.port, env={"CELERY_VISIBILITY_TIMEOUT": args.visibility_timeout}
        ) as url:
            workers.append(Worker(env, "faults1"))
            workers[-1].wait_ready()
            log(f"server {url} and a Celery worker are up")
            if not args.no_bank:
                command = [sys.executable, "bench/bank.py", "--base-url", url, "--faults", "--no-docs", "--json",
                           "--seconds", str(args.seconds), "--clients", str(args.clients), "--users", str(args.users)]  # fmt: skip
                bank = subprocess.Popen(command, cwd=ROOT, env=env, stdout=bank_out, stderr=subprocess.STDOUT)
                log("bank workload started: " + " ".join(shlex.quote(c) for c in command[1:]))
                time.sleep(min(5, args.seconds / 4))  # let it get going

            # 1. The Celery worker, killed while the accrual holds its lock.
            from savings.tasks import accrue_interest

            accrue_interest.delay()
            deadline = time.monotonic() + 60
            while not accrual_lock_held() and time.monotonic() < deadline:
                time.sleep(0.05)
            mid = accrual_lock_held()
            time.sleep(0.3)
            before = accrual_state(days, args.accounts)
            workers[-1].kill()
            log(f"SIGKILLed the Celery worker {'mid-accrual' if mid else '(the accrual was not seen running)'}; "
                f"{before['rows']:,} of {before['expected']:,} accrual rows were committed")  # fmt: skip
            workers.append(Worker(env, "faults2"))
            workers[-1].wait_ready()
            steps["celery worker killed"] = {"mid_accrual": mid, "rows_at_kill": before["rows"]}

            # 2. One uvicorn worker.
            _supervisor, pids = uvicorn_workers(args.port)
            if not pids:
                failures.append("uvicorn: no worker process found to kill")
                steps["uvicorn worker killed"] = {"ok": False}
            else:
                victim = pids[0]
                os.kill(victim, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    _, now_pids = uvicorn_workers(args.port)
                    if victim not in now_pids and len(now_pids) == len(pids):
                        break
                    time.sleep(0.2)
                _, now_pids = uvicorn_workers(args.port)
                restarted = victim not in now_pids and len(now_pids) == len(pids)
                log(
                    f"SIGKILLed uvicorn worker {victim}: {'replaced by ' + str(sorted(set(now_pids) - set(pids))) if restarted else 'NOT replaced'}"
                )
                steps["uvicorn worker killed"] = {"ok": restarted, "killed": victim, "now": now_pids}
                if not restarted:
                    failures.append(f"uvicorn: the supervisor did not replace the killed worker {victim}")

            # 3. PostgreSQL.
            if restart_cmd:
                ok, detail = restart_postgres(restart_cmd)
                log(f"PostgreSQL restart: {detail}")
                steps["postgresql restarted"] = {"ok": ok, "detail": detail}
                if not ok:
                    failures.append(f"PostgreSQL restart failed: {detail}")
            else:
                log(f"PostgreSQL restart: not done ({why_not})")
                steps["postgresql restarted"] = {"ok": None, "detail": f"not done: {why_not}"}

            # 4. The accrual comes back (redelivered after the visibility timeout) and finishes.
            redelivered = wait_accrual(days, args.accounts, args.visibility_timeout + 120)
            steps["celery worker killed"]["redelivered"] = redelivered
            if not redelivered and steps["postgresql restarted"]["ok"]:
                # The restart can fail the redelivered run itself (a task that raises is acknowledged):
                # the hourly beat run catches up, as in production. Send it as beat would.
                log("accrual incomplete after the PostgreSQL restart: sending the hourly run, as beat would")
                run_tasks_through_worker(["savings.tasks.accrue_interest"])
                steps["celery worker killed"]["beat_rerun"] = wait_accrual(days, args.accounts, 60)
            elif not redelivered:
                failures.append("accrual: the killed worker's task was not redelivered")
            if bank is not None:
                try:
                    bank.wait(timeout=args.seconds + 300)
                except subprocess.TimeoutExpired:
                    bank.kill()
                    bank.wait()
            # What beat would have done meanwhile (safety delays, expired holds), then the checks.
            run_tasks_through_worker(["ledger.tasks.expire_due_holds", "payments.tasks.release_due_payments"])
    finally:
        for worker in workers:
            worker.stop()
        if bank is not None and bank.poll() is None:
            bank.kill()
            bank.wait()

    connections.close_all()
    state = accrual_state(days, args.accounts)
    accrual_ok = state["duplicates"] == 0 and state["missing"] == 0 and state["behind"] == 0
    steps["accrual"] = {"ok": accrual_ok, **state}
    if not accrual_ok:
        failures.append(f"accrual: {state}")
    bank_text = Path(bank_out.name).read_text(errors="replace")
    bank_out.close()
    os.unlink(bank_out.name)
    if bank is not None:
        verdict = None
        for line in reversed(bank_text.splitlines()):
            with contextlib.suppress(ValueError):
                verdict = json.loads(line)
                break
        steps["bank"] = {"ok": bank.returncode == 0, "exit": bank.returncode, "verdict": verdict}
        if bank.returncode != 0:
            failures.append(
                f"bank.py exited {bank.returncode}; its last lines:\n" + "\n".join(bank_text.splitlines()[-25:])
            )
    else:
        steps["bank"] = {"ok": None, "detail": "skipped (--no-bank)"}
    leftovers, abandoned = half_done()
    steps["half-done"] = {"ok": not any(leftovers.values()), **leftovers, "abandoned in-progress requests": abandoned}
    failures += [f"half-done: {what}: {n}" for what, n in leftovers.items() if n]
    ok_ledger, problems = ledger_ok()
    steps["ledger_check"] = {"ok": ok_ledger, "problems": problems}
    if not ok_ledger:
        failures.append("ledger_check failed: " + "; ".join(problems))

    elapsed = time.monotonic() - started
    passed = not failures
    rows = [
        ["bank workload (bench/bank.py --faults)", _mark(steps["bank"]["ok"]), f"exit {steps['bank'].get('exit', '–')}"],
        ["Celery worker SIGKILLed, new worker", "done", ("mid-accrual" if steps["celery worker killed"]["mid_accrual"] else "accrual not seen running") + ("; task redelivered" if steps["celery worker killed"].get("redelivered") else "; NOT redelivered")],
        ["uvicorn worker SIGKILLed, replaced", _mark(steps["uvicorn worker killed"]["ok"]), ""],
        ["PostgreSQL restarted", _mark(steps["postgresql restarted"]["ok"]), steps["postgresql restarted"]["detail"]],
        ["accrual exactly once per account and day", _mark(accrual_ok), f"{state['rows']:,} rows of {state['expected']:,}; {state['duplicates']} twice, {state['missing']} missing"],
        ["nothing half-done", _mark(steps["half-done"]["ok"]), ", ".join(f"{k}: {v}" for k, v in leftovers.items()) + f" (abandoned in-progress requests, retried or pruned: {abandoned})"],
        ["ledger_check", _mark(ok_ledger), "; ".join(problems)],
    ]  # fmt: skip
    table = common.table(["check", "result", "detail"], rows)
    print()
    print(table)
    print(f"\nfaults: {'PASSED' if passed else 'FAILED'} in {elapsed:.0f} s")
    for failure in failures:
        print(f"  FAIL {failure}", file=sys.stderr)
    if not args.no_docs:
        common.write_section(
            "faults",
            f"{args.accounts:,} savings accounts accruing {len(days)} days, the bank workload for "
            f"{args.seconds:.0f} s ({args.clients} clients, {args.users} users), visibility timeout "
            f"{args.visibility_timeout} s. Verdict: **{'passed' if passed else 'FAILED'}** in {elapsed:.0f} s.\n\n"
            + table,
            title="Faults",
        )
    if args.json:
        print(json.dumps({"faults": "passed" if passed else "failed", "seconds": round(elapsed, 1),
                          "failures": failures, "steps": steps}, default=str))  # fmt: skip
    return 0 if passed else 1


def _mark(ok: bool | None) -> str:
    return "not done" if ok is None else ("ok" if ok else "FAILED")


if __name__ == "__main__":
    sys.exit(main())
