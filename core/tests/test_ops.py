"""Operations (issue 10, point 9): /healthz, request ids in structured logs, the nightly ledger check."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.tests.factories import UserFactory
from core.logging import JsonFormatter, RequestIdFilter, request_id_var
from core.middleware import RequestIdMiddleware
from core.tasks import CELERY_HEARTBEAT_KEY, LEDGER_CHECK_KEY, celery_heartbeat
from ledger.selectors import LedgerReport
from notifications.models import Notification

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-ops"}}
UNREACHABLE_REDIS = "redis://127.0.0.1:1/8"  # nothing listens on port 1: connection refused


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A private cache: parallel workers sharing one Redis must not clear our heartbeat."""
    settings.CACHES = LOCMEM
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_answers(settings, monkeypatch):
    """Redis configured and answering, whatever this run's REDIS_URL."""
    import redis

    settings.REDIS_URL = "redis://127.0.0.1:6379/8"
    monkeypatch.setattr(redis.Redis, "ping", lambda self, **kwargs: True)


class Collect(logging.Handler):
    def __init__(self, formatter=None):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        if formatter:
            self.setFormatter(formatter)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record):
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def collect():
    """Attach a collecting handler (with the request-id filter) to a logger for the test."""
    attached = []

    def attach(name: str = "", formatter=None) -> Collect:
        handler = Collect(formatter)
        logger = logging.getLogger(name)
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        return handler

    yield attach
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


# --- /healthz ------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_ok_without_login(client, settings):
    if settings.REDIS_URL:  # the Redis run: the real Redis is pinged, the heartbeat is fresh
        cache.set(CELERY_HEARTBEAT_KEY, time.time())
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok", body
    assert body["checks"]["database"] == {"status": "ok"}
    expected = "ok" if settings.REDIS_URL else "not_configured"
    assert body["checks"]["redis"]["status"] == expected
    assert body["checks"]["celery"]["status"] == expected
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_with_a_fresh_heartbeat_and_ledger_check_is_ok(client, redis_answers):
    cache.set(CELERY_HEARTBEAT_KEY, time.time() - 30)
    cache.set(LEDGER_CHECK_KEY, {"ok": True, "at": time.time() - 3600})
    body = client.get("/healthz").json()
    assert body["status"] == "ok", body
    assert body["checks"]["redis"] == {"status": "ok"}
    assert body["checks"]["celery"]["status"] == "ok"
    assert 25 <= body["checks"]["celery"]["age_seconds"] <= 300
    assert body["checks"]["ledger_check"]["status"] == "ok"


@pytest.mark.django_db
def test_the_heartbeat_task_makes_celery_ok(client, redis_answers):
    assert client.get("/healthz").json()["checks"]["celery"]["status"] == "stale"  # never beaten
    celery_heartbeat.delay()
    assert client.get("/healthz").json()["checks"]["celery"]["status"] == "ok"


@pytest.mark.django_db
def test_a_stale_heartbeat_is_degraded_but_200(client, redis_answers):
    cache.set(CELERY_HEARTBEAT_KEY, time.time() - 6 * 60)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["celery"]["status"] == "stale"
    assert body["checks"]["celery"]["age_seconds"] >= 6 * 60


@pytest.mark.django_db
def test_redis_down_is_degraded_but_200(client, settings):
    settings.REDIS_URL = UNREACHABLE_REDIS
    cache.set(CELERY_HEARTBEAT_KEY, time.time())
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] == {"status": "error"}
    assert body["checks"]["database"] == {"status": "ok"}
    assert "127.0.0.1:1" not in response.content.decode()


@pytest.mark.django_db
def test_database_down_is_503_without_details(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server failed: password authentication failed for user "secret-user"')

    with monkeypatch.context() as patch:  # undone before the suite's own ledger check reads the database
        patch.setattr(connection, "cursor", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "error"}
    assert "secret-user" not in response.content.decode()


@pytest.mark.django_db
def test_a_failed_ledger_check_makes_healthz_degraded(client):
    cache.set(LEDGER_CHECK_KEY, {"ok": False, "at": time.time()})
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["checks"]["ledger_check"]["status"] == "failed"


@pytest.mark.django_db
def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405


# --- request ids ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_valid_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-DEF-123")
    assert response["X-Request-ID"] == "abc-DEF-123"


@pytest.mark.django_db
def test_a_request_id_is_made_when_missing(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert str(uuid.UUID(first)) == first
    assert str(uuid.UUID(second)) == second
    assert first != second


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["has space", "semi;colon", "x" * 65, "under_score", "é"])
def test_an_invalid_request_id_is_replaced(client, bad):
    returned = client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
    assert returned != bad
    assert str(uuid.UUID(returned)) == returned


def test_every_log_record_of_the_request_carries_its_id(collect):
    handler = collect("core.tests.ops")
    log = logging.getLogger("core.tests.ops")

    def view(request):
        log.info("inside the view")
        log.warning("and again")
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="req-42"))
    assert response["X-Request-ID"] == "req-42"
    log.info("after the request")
    assert [(r.getMessage(), r.request_id) for r in handler.records] == [
        ("inside the view", "req-42"),
        ("and again", "req-42"),
        ("after the request", "-"),
    ]
    assert request_id_var.get() is None


@pytest.mark.django_db
def test_djangos_own_request_log_carries_the_id(client, collect):
    handler = collect("django.request")
    client.get("/api/v1/no-such-endpoint/", HTTP_X_REQUEST_ID="req-404")
    assert handler.records, "django.request logged nothing for a 404"
    assert {r.request_id for r in handler.records} == {"req-404"}


@pytest.mark.django_db
def test_request_bodies_never_reach_the_logs(client, collect):
    handler = collect("", JsonFormatter())
    card = "4242424242424242"
    client.post("/api/v1/no-such-endpoint/", {"number": card}, content_type="application/json")
    client.post("/accounts/login/", {"login": card, "password": card})
    assert handler.lines
    assert not [line for line in handler.lines if card in line]


# --- JSON log lines ------------------------------------------------------------------


def test_the_json_formatter_writes_one_parseable_object():
    formatter = JsonFormatter()
    record = logging.LogRecord("everything.test", logging.ERROR, __file__, 1, "paid %s", ("twice",), None)
    token = request_id_var.set("req-json")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = formatter.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR"
    assert data["logger"] == "everything.test"
    assert data["message"] == "paid twice"
    assert data["request_id"] == "req-json"
    assert data["time"].endswith("+00:00")
    assert "exc_info" not in data


def test_the_json_formatter_includes_the_exception():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RequestIdFilter().filter(record)
    data = json.loads(JsonFormatter().format(record))
    assert data["request_id"] == "-"
    assert "ValueError: boom" in data["exc_info"]
    assert "Traceback" in data["exc_info"]


def test_the_console_handler_is_configured_with_the_request_id(settings):
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["request_id"]
    assert console["formatter"] == settings.LOG_FORMAT
    assert settings.LOG_FORMAT in settings.LOGGING["formatters"]
    assert settings.LOGGING["loggers"]["django"]["handlers"] == []  # no mail_admins: it mails POST bodies


# --- nightly ledger_check ------------------------------------------------------------


@pytest.fixture
def people(db):
    return {
        "staff": UserFactory(is_staff=True),
        "superuser": UserFactory(is_staff=True, is_superuser=True),
        "retired_staff": UserFactory(is_staff=True, is_active=False),
        "customer": UserFactory(),
    }


def _kind_count(user) -> int:
    return Notification.objects.filter(recipient=user, kind="ops.ledger_check_failed").count()


def test_a_broken_ledger_alerts_every_active_staff_user(people, monkeypatch, settings, caplog, client):
    from everything import tasks

    settings.ADMINS = [("Ops", "ops@example.com")]
    broken = LedgerReport(accounts=3, transfers=4, currencies=["USD"], problems=["currency USD: 10 != 9"])
    monkeypatch.setattr(tasks, "ledger_verify", lambda: broken)
    with caplog.at_level(logging.ERROR, logger="everything.tasks"):
        assert tasks.ledger_check.delay().get() is False
    assert any("currency USD: 10 != 9" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert _kind_count(people["staff"]) == 1
    assert _kind_count(people["superuser"]) == 1
    assert _kind_count(people["retired_staff"]) == 0
    assert _kind_count(people["customer"]) == 0
    note = Notification.objects.get(recipient=people["staff"])
    assert "ledger check failed" in note.title and "1 problem" in note.title
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.com"]
    assert cache.get(LEDGER_CHECK_KEY)["ok"] is False
    assert client.get("/healthz").json()["checks"]["ledger_check"]["status"] == "failed"


def test_a_sound_ledger_alerts_no_one_and_records_the_time(people, settings, client):
    from everything import tasks

    settings.ADMINS = [("Ops", "ops@example.com")]
    before = time.time()
    assert tasks.ledger_check.delay().get() is True  # the real ledger_verify on the real (empty) ledger
    assert not Notification.objects.filter(kind="ops.ledger_check_failed").exists()
    assert mail.outbox == []
    recorded = cache.get(LEDGER_CHECK_KEY)
    assert recorded["ok"] is True and recorded["at"] >= before
    assert client.get("/healthz").json()["checks"]["ledger_check"]["status"] == "ok"


def test_the_nightly_tasks_are_scheduled(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["core.tasks.celery_heartbeat"] == 60.0
    nightly = schedule["everything.tasks.ledger_check"]
    assert nightly.hour == {3} and nightly.minute == {15}
