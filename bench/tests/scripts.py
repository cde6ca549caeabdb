"""Running a bench script as a black box from a test: a scratch database, a free port, its verdict."""

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_env(suffix: str, what: str) -> dict[str, str]:
    """This process's environment with DATABASE_URL pointed at ``<the test database's name><suffix>``
    (the script creates and migrates it); skips unless the run has PostgreSQL and Redis."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); {what} is PostgreSQL-only")
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL")
    parts = urlsplit(url)
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(DATABASE_URL=parts._replace(path=parts.path.rstrip("/") + suffix).geturl(), PYTHONUNBUFFERED="1")
    return env


def run_script(script: str, args: list[str], env: dict[str, str], *, timeout: float):
    """Run ``bench/<script> <args>``; (the finished process, its last JSON line) — asserts there is one."""
    command = [sys.executable, str(BENCH / script), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=BENCH.parent)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON verdict (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done, json.loads(lines[-1])
