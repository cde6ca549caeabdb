"""Shared helpers of the benchmarks in bench/: environment checks, machine, tables, docs.

Nothing here starts a service. ``require_services`` says what to start when PostgreSQL
(``DATABASE_URL``) or Redis (``REDIS_URL``) cannot be reached, and exits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import platform
import re
import shlex
import socket
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"

# Benchmark-only stand-ins for the secrets production must set, so the benchmarks run with
# DEBUG off (DEBUG on records every query in memory, which is not what production does).
_BENCH_SECRETS = {
    "SECRET_KEY": "bench-only-secret-key-not-for-production",
    "VAULT_KEYS": "YmVuY2gtb25seS12YXVsdC1rZXktbm90LTQtcHJvZCE=",
    "VAULT_FINGERPRINT_KEY": "bench-only-fingerprint-key-not-for-production",
}


def django_setup() -> None:
    """Import path, settings and ``django.setup()``, with DEBUG off unless the caller set it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "everything.settings")
    os.environ.setdefault("DEBUG", "0")
    for name, value in _BENCH_SECRETS.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


# --- What must be running -----------------------------------------------------------------

_START_POSTGRES = (
    "Start PostgreSQL (Debian: `service postgresql start`; Docker: "
    "`docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15`) and set\n"
    "    DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench\n"
    "(a scratch database whose name contains 'bench': the benchmarks migrate it and write to it)."
)
_START_REDIS = (
    "Start Redis (Debian: `service redis-server start`; Docker: `docker run -d -p 6379:6379 redis:7`) and set\n"
    "    REDIS_URL=redis://127.0.0.1:6379/0"
)


def require_services(*, postgres: bool = True, redis: bool = False) -> None:
    """Exit with instructions when a service the benchmark needs is not configured or not up.

    The scratch database itself is created when the server is up and it is missing (its name
    must contain "bench"); nothing else is created or started.
    """
    problems = []
    if postgres:
        problems += _check_postgres()
    if redis:
        problems += _check_redis()
    if problems:
        sys.exit("bench: cannot run.\n" + "\n\n".join(problems))


def _check_postgres() -> list[str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return [f"DATABASE_URL is {'unset' if not url else 'not PostgreSQL'}. {_START_POSTGRES}"]
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        return [
            f"DATABASE_URL names the database {name!r}: use a scratch database whose name contains 'bench' "
            "(e.g. postgres://postgres@127.0.0.1:5432/everything_bench); the benchmarks migrate it and write to it."
        ]
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
        return []
    except psycopg.OperationalError as error:
        if f'database "{name}" does not exist' not in str(error):
            return [
                f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is not reachable ({error}). {_START_POSTGRES}"
            ]
    server = parts._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(server, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        print(f"bench: created the scratch database {name}")
        return []
    except psycopg.Error as error:
        return [f"Could not create the database {name!r} ({error}). Create it: createdb {shlex.quote(name)}"]


def _check_redis() -> list[str]:
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith(("redis://", "rediss://")):
        return [f"REDIS_URL is unset. {_START_REDIS}"]
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as error:
        return [f"Redis at {parts.hostname}:{parts.port or 6379} is not reachable ({error}). {_START_REDIS}"]
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        return [f"Redis at {url} answered {reply!r} to PING. {_START_REDIS}"]
    return []


# --- The machine --------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU, RAM, OS, Python and (when Django is set up on PostgreSQL) the server and its durability."""
    info = {
        "cpus": f"{os.cpu_count()} × {_cpu_model()}",
        "ram": _ram(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    try:
        from django.conf import settings
        from django.db import connection

        info["DEBUG"] = str(settings.DEBUG)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                values = {}
                for setting in ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections"):
                    cursor.execute(f"SHOW {setting}")
                    values[setting] = cursor.fetchone()[0]
            host = connection.settings_dict.get("HOST") or "socket"
            info["postgresql"] = (
                f"{values['server_version']} at {host} (synchronous_commit={values['synchronous_commit']}, "
                f"fsync={values['fsync']}, shared_buffers={values['shared_buffers']})"
            )
    except Exception:  # Django not set up, or no database: the machine is still worth describing
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine_line(info: dict[str, str] | None = None) -> str:
    info = info or machine()
    return "; ".join(f"{key} {value}" for key, value in info.items())


# --- Figures --------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(value.ljust(widths[i]) for i, value in enumerate(row)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


# --- docs/benchmarks.md ----------------------------------------------------------------------


def command_line() -> str:
    """How this script was called, as something a reader can paste (DATABASE_URL shown, not secrets)."""
    prefix = []
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            parts = urlsplit(os.environ[name])
            if parts.password:  # never write a password into the docs
                parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
            prefix.append(f"{name}={parts.geturl()}")
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return " ".join([*prefix, ".venv/bin/python", str(script), *map(shlex.quote, sys.argv[1:])])


def write_section(name: str, body: str, *, title: str | None = None, path: Path = DOCS) -> None:
    """Replace what is between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in docs/benchmarks.md.

    The section gets the date, the machine, the command and ``body``. When the markers are
    missing they are appended at the end under ``## title``.
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    content = "\n".join(
        [
            start,
            f"Measured {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by:",
            "",
            "```",
            command_line(),
            "```",
            "",
            f"Machine: {machine_line()}.",
            "",
            body.strip(),
            end,
        ]
    )
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: content, text, count=1)
    else:
        text = text.rstrip("\n") + f"\n\n## {title or name}\n\n{content}\n"
    path.write_text(text)
    print(f"bench: wrote the {name!r} section of {path.relative_to(ROOT)}")
