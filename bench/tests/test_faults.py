"""The fault drill (bench/faults.py) at a small size: nothing lost, doubled or left half-done.

A black-box test: ``bench/faults.py`` as a subprocess against a scratch database derived from the
test run's (``<name>_bench_faults``, created and migrated by the script), with its own server,
Celery workers and bank workload. It needs PostgreSQL and Redis, so it skips on SQLite (the
``postgres`` marker) and without ``REDIS_URL``; CI sets both. PostgreSQL is restarted only when
the test runs serially (no ``PYTEST_XDIST_WORKER``: a restart would break the other workers'
connections) and the script can (root, pg_ctlcluster); ``FAULTS_RESTART_POSTGRES=0`` skips it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BENCH = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.postgres
@pytest.mark.serial  # it restarts PostgreSQL: bin/test runs it alone
def test_a_small_fault_drill_keeps_every_invariant():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL (DATABASE_URL); the fault drill is PostgreSQL-only")
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    parts = urlsplit(url)
    scratch = parts._replace(path=parts.path.rstrip("/") + "_bench_faults").geturl()
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(DATABASE_URL=scratch, PYTHONUNBUFFERED="1")
    restart = "PYTEST_XDIST_WORKER" not in os.environ and os.environ.get("FAULTS_RESTART_POSTGRES", "1") != "0"
    command = [
        sys.executable, "bench/faults.py", "--accounts", "20000", "--days", "3", "--seconds", "15",
        "--clients", "4", "--users", "20", "--port", str(_free_port()), "--no-docs", "--json",
    ]  # fmt: skip
    if not restart:
        command.append("--no-restart-postgres")
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=BENCH.parent)
    finally:
        if restart:  # PostgreSQL may have restarted under this process: reconnect on next use
            from django.db import connections

            connections.close_all()
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON verdict (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    verdict = json.loads(lines[-1])
    assert done.returncode == 0 and verdict["faults"] == "passed", (
        f"{verdict['failures']}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    steps = verdict["steps"]
    assert steps["accrual"]["duplicates"] == 0 and steps["accrual"]["missing"] == 0
    assert steps["uvicorn worker killed"]["ok"] is True
    assert steps["bank"]["exit"] == 0
    if restart and steps["postgresql restarted"]["ok"] is None:
        # Not possible here (not root, no pg_ctlcluster, remote server): said so, not failed.
        assert steps["postgresql restarted"]["detail"].startswith("not done")
