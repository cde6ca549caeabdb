"""``manage.py check --deploy`` is clean with production variables (issue 10, point 6).

Each test starts a fresh Python process with the environment an operator sets in production
(docs/operations.md: DEBUG off, a long random SECRET_KEY, ALLOWED_HOSTS and the vault keys;
DATABASE_URL and REDIS_URL unset: checks need neither), since the settings module reads the
environment once, at import.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

from core.tests.test_security_headers import PRODUCTION_SECURITY

ROOT = Path(settings.BASE_DIR)


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SECURE_", "CSRF_", "PYTEST_", "DATABASE_", "REDIS_", "ADMINS", "SERVER_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "everything.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(60),
            "ALLOWED_HOSTS": "example.com,.everything.example",
            "VAULT_KEYS": Fernet.generate_key().decode(),
            "VAULT_FINGERPRINT_KEY": secrets.token_urlsafe(40),
            "ADMINS": "Ops <ops@example.com>, oncall@example.com",
            "SERVER_EMAIL": "alerts@example.com",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # Not `python -m pytest`: "pytest" must not be imported, or the settings think they are under test.
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_check_deploy_is_clean_with_production_variables():
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert done.returncode == 0, f"check --deploy failed:\n{done.stdout}\n{done.stderr}"
    assert "System check identified no issues" in done.stdout, done.stdout + done.stderr


def test_check_deploy_notices_a_weak_setting():
    """The check really looks: a short secret key is reported (the test above could not pass by accident)."""
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(SECRET_KEY="short"))
    assert done.returncode != 0
    assert "security.W009" in done.stdout + done.stderr


READ_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
names = {names!r}
out = {{name: getattr(s, name) for name in names}}
out["CONTENT_SECURITY_POLICY"] = s.CONTENT_SECURITY_POLICY["DIRECTIVES"]
out["MIDDLEWARE"] = s.MIDDLEWARE
out["ADMINS"] = s.ADMINS
out["SERVER_EMAIL"] = s.SERVER_EMAIL
print(json.dumps(out, default=str))
"""


def test_production_security_settings():
    done = run(["-c", READ_SETTINGS.format(names=sorted(PRODUCTION_SECURITY))], production_env())
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout.strip().splitlines()[-1])
    for name, expected in PRODUCTION_SECURITY.items():
        # test_security_headers.py checks the headers and cookies these values produce.
        assert values[name] == (list(expected) if isinstance(expected, tuple) else expected), name
    middleware = values["MIDDLEWARE"]
    assert "csp.middleware.CSPMiddleware" in middleware
    assert middleware.index("django.middleware.security.SecurityMiddleware") < middleware.index(
        "csp.middleware.CSPMiddleware"
    )
    # Same-origin websockets under every browser: one wss:// source per allowed host.
    assert values["CONTENT_SECURITY_POLICY"]["connect-src"] == [
        "'self'",
        "wss://example.com",
        "wss://everything.example",
        "wss://*.everything.example",
    ]
    assert values["ADMINS"] == [["Ops", "ops@example.com"], ["oncall@example.com", "oncall@example.com"]]
    assert values["SERVER_EMAIL"] == "alerts@example.com"


def test_production_refuses_a_malformed_admins_value():
    done = run(["-c", "import django; django.setup()"], production_env(ADMINS="ops at example.com"))
    assert done.returncode != 0
    assert "ADMINS must be comma-separated email addresses" in done.stderr
