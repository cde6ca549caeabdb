"""Security headers (issue 10, point 6): the Content-Security-Policy and its companions.

The policy is enforced (never report-only) on pages and API responses alike; no template or
static file may bring an inline script back (the scan below), and the browser tests fail on any
CSP violation (e2e/conftest.py). Production's HSTS and secure cookies are checked here with the
values the production settings compute (core/tests/test_deploy_check.py reads them in a subprocess).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.tests.factories import PASSWORD, UserFactory, verify_email
from everything.settings import env_addresses

ROOT = Path(settings.BASE_DIR)


def policy(response) -> dict[str, list[str]]:
    """The enforced Content-Security-Policy of ``response`` as {directive: [sources]}."""
    assert "Content-Security-Policy-Report-Only" not in response, "the policy must be enforced, not report-only"
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict_policy(response) -> dict[str, list[str]]:
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src", "style-src-elem"):
        assert "'self'" in csp[directive]
        assert "'unsafe-inline'" not in csp[directive], directive
        assert "'unsafe-eval'" not in csp[directive], directive
        assert not any(source.endswith(":") or source == "*" for source in csp[directive]), directive
    assert csp["style-src-attr"] == ["'unsafe-inline'"]  # style="" only: no <style>, no script
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["connect-src"][0] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    return csp


@pytest.fixture
def member(db):
    user = UserFactory()
    verify_email(user)
    return user


def test_a_page_is_served_under_the_policy(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    csp = assert_strict_policy(response)
    # No template on this page asked for a nonce, so none is offered to an injected script.
    assert not any(source.startswith("'nonce-") for source in csp["script-src"])


def test_a_signed_in_page_is_served_under_the_policy(client, member):
    client.force_login(member)
    response = client.get("/")
    assert response.status_code == 200
    assert_strict_policy(response)
    body = response.content.decode()
    assert "js/site.js" in body and "js/live.js" in body  # behaviour comes from files under 'self'


def test_an_api_response_carries_the_headers(client, member):
    client.force_login(member)
    response = client.get("/api/v1/notifications/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_strict_policy(response)


def test_an_api_refusal_carries_the_headers(client, db):
    response = client.get("/api/v1/notifications/", HTTP_ACCEPT="application/json")
    assert response.status_code in (401, 403)
    assert_strict_policy(response)


def test_the_api_docs_page_uses_a_nonce_for_its_one_inline_script(client, member):
    client.force_login(member)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = assert_strict_policy(response)
    nonces = [source for source in csp["script-src"] if source.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    assert f"'nonce-{nonce}'" in csp["style-src-elem"]
    body = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", body)
    assert inline == [f' nonce="{nonce}"']
    # A second request gets a different nonce: it is never predictable.
    again = policy(client.get("/api/docs/"))
    assert f"'nonce-{nonce}'" not in again["script-src"]


# --- Production: HSTS and secure cookies --------------------------------------------------------

# What everything/settings.py sets when DEBUG is off (asserted against the real production
# settings in core/tests/test_deploy_check.py::test_production_security_settings).
PRODUCTION_SECURITY = {
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_SSL_REDIRECT": True,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
}


def test_production_sends_hsts_and_secure_cookies(client, member, settings):
    for name, value in PRODUCTION_SECURITY.items():
        setattr(settings, name, value)
    # Plain HTTP is redirected to HTTPS before anything else happens.
    insecure = client.get("/accounts/login/")
    assert insecure.status_code == 301
    assert insecure["Location"].startswith("https://")

    # Behind the TLS-terminating proxy (X-Forwarded-Proto: https).
    https = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = client.get("/accounts/login/", **https)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert_strict_policy(page)
    assert page.cookies["csrftoken"]["secure"] is True

    response = client.post(
        "/accounts/login/",
        {"login": member.email, "password": PASSWORD, "csrfmiddlewaretoken": page.cookies["csrftoken"].value},
        **https,
    )
    assert response.status_code == 302, response.content.decode()[:500]
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True


# --- No inline script in any template or static file --------------------------------------------

SCANNED = [path for base in ("templates", "static") for path in sorted((ROOT / base).rglob("*")) if path.is_file()]
TEXT_SUFFIXES = {".html", ".txt", ".js", ".css", ".svg", ".xml"}
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"""<[a-z][^>]*\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE | re.DOTALL)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action|formaction|data)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)


def inline_script_problems(text: str) -> list[str]:
    """What in ``text`` (a template or static file) the policy would refuse to run."""
    problems = []
    for match in SCRIPT_TAG.finditer(text):
        attributes = match.group(1)
        if re.search(r"\bsrc\s*=", attributes) or re.search(r"""\btype\s*=\s*["']application/json["']""", attributes):
            continue
        if re.search(r"\bnonce\s*=", attributes):
            continue  # only the API docs page: its nonce is checked by a test above
        problems.append(f"inline <script{attributes}>")
    problems += [f"event handler attribute {m.group(0)[-30:]!r}" for m in HANDLER_ATTRIBUTE.finditer(text)]
    problems += [
        f"javascript: URL near {text[max(m.start() - 20, 0) : m.end()]!r}" for m in JAVASCRIPT_URL.finditer(text)
    ]
    problems += [
        f"<style{m.group(1)}> element"
        for m in STYLE_ELEMENT.finditer(text)
        if not re.search(r"\bnonce\s*=", m.group(1))
    ]
    return problems


def test_the_scan_recognises_what_the_policy_refuses():
    assert inline_script_problems("<script>alert(1)</script>") == ["inline <script>"]
    assert inline_script_problems('<button onclick="go()">') != []
    assert inline_script_problems("<form\n  onsubmit='return confirm()'>") != []
    assert inline_script_problems('<a href="JavaScript:go()">') != []
    assert inline_script_problems("<p>Works without JavaScript: the form posts.</p>") == []
    assert inline_script_problems("<style>body{}</style>") != []
    allowed = (
        '<script src="/static/js/site.js" defer></script>'
        '<script type="application/json" id="data">{}</script>'
        '<a class="once" data-confirm="Leave?" href="/">x</a><span style="width: 5%">'
    )
    assert inline_script_problems(allowed) == []


def test_no_template_or_static_file_has_an_inline_script():
    assert len(SCANNED) > 100  # the scan really walks the project's templates and static files
    found = {}
    for path in SCANNED:
        if path.suffix not in TEXT_SUFFIXES:
            continue
        problems = inline_script_problems(path.read_text(encoding="utf-8"))
        if path.suffix in {".js", ".css"}:
            # Code may build markup; it must not build handlers or javascript: URLs either.
            problems = [p for p in problems if not p.startswith(("<style", "inline <script"))]
        if path.relative_to(ROOT).as_posix() == "templates/drf_spectacular/swagger_ui.html":
            continue  # nonced (see above)
        if problems:
            found[path.relative_to(ROOT).as_posix()] = problems
    assert found == {}, "inline scripts/styles the Content-Security-Policy refuses:\n" + "\n".join(
        f"  {path}: {problems}" for path, problems in found.items()
    )


# --- ADMINS from the environment ------------------------------------------------------------------


def test_admins_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("ADMINS", "Ops <ops@example.com>, b@example.com")
    assert env_addresses("ADMINS") == [("Ops", "ops@example.com"), ("b@example.com", "b@example.com")]
    monkeypatch.setenv("ADMINS", "  ")
    assert env_addresses("ADMINS") == []
    monkeypatch.delenv("ADMINS")
    assert env_addresses("ADMINS") == []


@pytest.mark.parametrize("value", ["ops", "ops@example.com, nobody", "Ops <@example.com>", "a@b@c"])
def test_a_malformed_admins_value_is_refused_at_startup(monkeypatch, value):
    monkeypatch.setenv("ADMINS", value)
    with pytest.raises(ImproperlyConfigured, match="ADMINS"):
        env_addresses("ADMINS")
