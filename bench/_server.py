"""The production-style server of the benchmarks: uvicorn with several workers, DEBUG off.

    with server(workers=2, port=8301) as base_url:
        ...  # base_url is "http://127.0.0.1:8301"

It runs ``uvicorn everything.asgi:application --workers N --host 127.0.0.1 --port P
--no-access-log --lifespan off`` against the current ``DATABASE_URL``/``REDIS_URL`` (and
anything else in this process's environment), waits until the server answers, and on exit stops
the whole process group (SIGTERM, then SIGKILL after a grace period). Nothing else is started.

The environment is production's, with only what a benchmark on plain HTTP at 127.0.0.1 needs:
the bench stand-ins for the secrets (``_common._BENCH_SECRETS``), ``ALLOWED_HOSTS`` for the
loopback, per-user rate limits off (``RATE_LIMITS_ENABLED=0``: a benchmark's user sends far
more than a person would), and no HTTPS redirect (TLS ends at a proxy in production: clients
send ``X-Forwarded-Proto: https``, see ``FORWARDED_HTTPS``). ``env`` overrides or adds variables.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

# What a TLS-terminating proxy adds in production (settings.SECURE_PROXY_SSL_HEADER): with it the
# request is "secure", so secure cookies and HSTS behave as they do behind the real proxy.
FORWARDED_HTTPS = {"X-Forwarded-Proto": "https"}


def server_env(env: dict | None = None) -> dict[str, str]:
    """The environment the server runs with (DEBUG off, bench secrets, loopback hosts)."""
    merged = dict(os.environ)
    merged.update(
        {
            "DJANGO_SETTINGS_MODULE": "everything.settings",
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name, value in common._BENCH_SECRETS.items():
        merged.setdefault(name, value)
    merged.setdefault("DB_POOL_MAX", "4")  # docs/operations.md: the ASGI server runs with a pool
    merged.setdefault("RATE_LIMITS_ENABLED", "0")  # per-user abuse limits would refuse a benchmark's load
    merged.pop("PYTEST_CURRENT_TEST", None)
    merged.update({key: str(value) for key, value in (env or {}).items()})
    return merged


def command(*, workers: int, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "everything.asgi:application",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--lifespan",
        "off",
    ]


def _answers(port: int) -> bool:
    """True when an HTTP request to the server gets any response at all."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def server(
    *, workers: int, port: int, env: dict | None = None, timeout: float = 60, log_path: str | None = None
) -> Iterator[str]:
    """Run uvicorn with ``workers`` workers on 127.0.0.1:``port``; yield its base URL; stop it.

    ``log_path``: keep the server's output in that file (by default a temporary file, deleted).
    """
    if not _port_free(port):
        raise RuntimeError(f"bench: port {port} is already in use; pick another (--port)")
    if log_path:
        log = open(log_path, "w+b")  # noqa: SIM115
    else:
        log = tempfile.NamedTemporaryFile(prefix=f"bench-uvicorn-{port}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command(workers=workers, port=port),
        cwd=common.ROOT,
        env=server_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers are stopped with it
    )
    try:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"bench: uvicorn did not start (exit {process.poll()}); its output:\n" + _tail(log.name)
                )
            time.sleep(0.2)
        # Every worker imports Django on its own: give the last ones time to listen too.
        time.sleep(min(0.5 * workers, 3))
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)
        log.close()
        if process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL, None):
            print(f"bench: uvicorn exited {process.returncode}; its output:\n{_tail(log.name)}", file=sys.stderr)
        if not log_path:
            with contextlib.suppress(OSError):
                os.unlink(log.name)


def _stop(process: subprocess.Popen, grace: float = 10) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def _tail(path: str, size: int = 4000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-size:]
    except OSError:
        return ""
