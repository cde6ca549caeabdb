"""Fixtures for the browser tests (DESIGN §7).

The site runs as a black box in a subprocess (daphne, websockets included) on its
own SQLite file, in-memory channel layer and eager Celery, whatever database the
rest of the suite uses. Playwright drives Debian's /usr/bin/chromium: Playwright's
own browser download cannot work here.

Without /usr/bin/chromium every browser test is skipped, except under CI=true,
where a missing browser is a failure.

No fixture here touches the Django test database: e2e tests must not request `db`.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT = 30.0
DEFAULT_TIMEOUT_MS = 15_000
# Every page reports Content-Security-Policy violations to the console with this prefix; any
# violation (or Chromium's own "Refused to ..." message) fails the test (docs/operations.md).
CSP_VIOLATION_PREFIX = "CSP violation:"
CSP_REPORTER = (
    "document.addEventListener('securitypolicyviolation', function (e) {"
    f" console.error('{CSP_VIOLATION_PREFIX} ' + e.effectiveDirective + ' blocked '"
    " + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber); });"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session", autouse=True)
def _require_chromium() -> None:
    """Skip (or, under CI=true, fail) every browser test when the browser is missing."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (install it: apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if problem:
        if _in_ci():
            pytest.fail(f"browser tests cannot run under CI=true: {problem}", pytrace=False)
        pytest.skip(f"browser tests skipped: {problem}")


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory) -> Path:
    """One temp dir for the run: the live server's database, mail and media, and failure screenshots."""
    return tmp_path_factory.mktemp("e2e")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "everything.settings",
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{workdir / 'e2e.sqlite3'}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(workdir / "mail"),
            "MEDIA_ROOT": str(workdir / "media"),
            "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


DEMO_PASSWORD = "everything-demo"  # seed_demo's published demo password


def manage(workdir: Path, *args: str) -> str:
    """Run ``manage.py <args>`` against the e2e site in ``workdir``; fail the test if it fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_server_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"manage.py {args[0]} failed for the e2e server:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


@contextmanager
def serve(workdir: Path, *, seed: bool = False) -> Iterator[str]:
    """Migrate the SQLite file in ``workdir`` (and ``seed_demo`` it if asked), then serve the site
    with daphne on a free port; yields its URL and stops the server afterwards."""
    (workdir / "mail").mkdir(exist_ok=True)
    (workdir / "media").mkdir(exist_ok=True)
    manage(workdir, "migrate", "--noinput")
    if seed:
        manage(workdir, "seed_demo")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "everything.asgi:application"],
            cwd=ROOT,
            env=_server_env(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(url, server, log_path)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def demo_site(tmp_path_factory, name: str) -> Iterator[str]:
    """A module's own site with the demo people (``seed_demo``): ``yield from demo_site(...)`` in a fixture."""
    with serve(tmp_path_factory.mktemp(name), seed=True) as url:
        yield url


def wait_for_js(page, expression: str, *, timeout: float = DEFAULT_TIMEOUT_MS) -> None:
    """Wait until ``expression`` is truthy in the page. Playwright's ``wait_for_function`` compiles
    its predicate with ``eval`` inside the page, which the site's Content-Security-Policy (no
    'unsafe-eval') refuses; ``page.evaluate`` goes through the debugging protocol, which it does not."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as exc:  # the page navigated mid-evaluation: ask the next one
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise PlaywrightTimeoutError(f"timed out after {timeout} ms waiting for {expression!r}")
        page.wait_for_timeout(50)


def log_in(page, handle: str) -> None:
    """Log ``handle`` in with the demo password through the login form."""
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(handle)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator("form:has(input[name=login])").locator(
            "button[type=submit], input[type=submit], button:not([type])"
        ).first.click()
    assert "/accounts/login/" not in page.url, f"{handle} could not log in:\n" + page.locator("body").inner_text()


@pytest.fixture(scope="session")
def live_server_url(e2e_dir: Path) -> Iterator[str]:
    """The session's site: a fresh SQLite file, migrated, served by daphne; yields its base URL."""
    with serve(e2e_dir) as url:
        yield url


def _wait_until_serving(url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"the e2e server exited with code {server.returncode} before answering:\n{log_path.read_text()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:  # noqa: S310 - our own local server
                response.read()
            return
        except urllib.error.HTTPError:
            return  # it answered HTTP; the status is the tests' business
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
            time.sleep(0.2)
    server.terminate()
    pytest.fail(
        f"the e2e server did not answer {url}/ within {SERVER_START_TIMEOUT:.0f}s ({last_error}):\n"
        f"{log_path.read_text()}",
        pytrace=False,
    )


class Outbox:
    """The mail the live server sent, read from the file-based email backend's .log files."""

    SEPARATOR = "-" * 79

    def __init__(self, directory: Path):
        self.directory = directory

    def messages(self) -> list[email.message.EmailMessage]:
        """Every message sent so far, oldest first (newest last)."""
        files = sorted(self.directory.glob("*.log"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        found = []
        for path in files:
            for chunk in path.read_bytes().split(b"\n" + self.SEPARATOR.encode() + b"\n"):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk.lstrip(), policy=email.policy.default))
        return found

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else str(message.get_payload())

    def wait_for(self, to: str, *, timeout: float = 10.0) -> email.message.EmailMessage:
        """The newest message addressed to `to`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            for message in reversed(self.messages()):
                if to.lower() in str(message.get("To", "")).lower():
                    return message
            if time.monotonic() > deadline:
                subjects = [f"{m.get('To')}: {m.get('Subject')}" for m in self.messages()]
                raise AssertionError(f"no mail to {to} within {timeout}s; outbox holds {subjects}")
            time.sleep(0.2)

    def links(self, message: email.message.EmailMessage, pattern: str = "") -> list[str]:
        """The http(s) links in a message's body, optionally only those matching the regex `pattern`."""
        urls = re.findall(r"https?://[^\s<>\"']+", self.text(message))
        return [u for u in urls if re.search(pattern, u)]


@pytest.fixture
def outbox(live_server_url: str, e2e_dir: Path) -> Outbox:
    return Outbox(e2e_dir / "mail")


_csp_violations: list[str] = []


def _record_csp_violation(msg) -> None:
    text = msg.text
    if text.startswith(CSP_VIOLATION_PREFIX) or (text.startswith("Refused to") and "Content Security Policy" in text):
        _csp_violations.append(f"{msg.page.url if msg.page else '?'}: {text}")


class CspWatchedBrowser:
    """The Playwright browser, except that every context it makes reports CSP violations."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def _watch(self, context):
        context.add_init_script(CSP_REPORTER)
        context.on("console", _record_csp_violation)
        return context

    def new_context(self, **kwargs):
        return self._watch(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs):
        page = self._browser.new_page(**kwargs)
        self._watch(page.context)
        return page


@pytest.fixture(autouse=True)
def _no_csp_violations():
    """Fail any browser test during which a page broke the Content-Security-Policy."""
    _csp_violations.clear()
    yield
    if _csp_violations:
        found, _csp_violations[:] = list(_csp_violations), []
        pytest.fail("Content-Security-Policy violations:\n  " + "\n  ".join(found), pytrace=False)


# Playwright's sync API keeps an asyncio loop running in this thread while it is alive,
# which would make Django refuse ORM calls (SynchronousOnlyOperation) in ordinary tests
# that run later. Package scope stops it as soon as the e2e tests are done.
@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield CspWatchedBrowser(browser)
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_e2e_report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, live_server_url: str, e2e_dir: Path, request):
    """A fresh browser context (no cookies) per test; a screenshot lands in the e2e temp dir on failure."""
    context = browser.new_context(base_url=live_server_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))

    def on_websocket(ws):
        console.append(f"websocket opened: {ws.url}")
        ws.on("close", lambda ws: console.append(f"websocket closed: {ws.url}"))
        ws.on("socketerror", lambda error: console.append(f"websocket error: {error}"))

    page.on("websocket", on_websocket)
    yield page
    report = getattr(request.node, "_e2e_report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        shot = e2e_dir / f"{name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            (e2e_dir / f"{name}.html").write_text(page.content())
            print(f"\ne2e failure at {page.url}: screenshot {shot}; server log {e2e_dir / 'server.log'}")
            if console:
                print("browser console:\n  " + "\n  ".join(console[-30:]))
        except Exception as exc:  # a failed screenshot must not hide the real failure
            print(f"\n(could not save a screenshot: {exc})")
    context.close()
