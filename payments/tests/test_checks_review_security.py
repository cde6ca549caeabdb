"""Security review of checks: a limit on wrong deposit codes (page and API share it), the deposit
code never at rest in plain text (the idempotency table) nor in an error report, and answers that
carry it are never cached."""

from __future__ import annotations

import json
import sys
import uuid
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.signals import got_request_exception
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from core.money import Money
from payments.models import Check, CheckStatus
from payments.services.checks import DEPOSIT_MAX_FAILURES, check_deposit_code, check_write

pytestmark = pytest.mark.django_db

CHECKS = "/api/v1/checks/"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def _api(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def _api_post(api, url, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(url, json.dumps(body), content_type="application/json", **headers)


def test_wrong_codes_are_limited_per_person_on_the_page_and_the_api(client, alice, bob):
    check = check_write(alice, payee="Anyone", amount=Money(700, "USD"))
    code = check_deposit_code(check)
    client.force_login(bob)
    for i in range(DEPOSIT_MAX_FAILURES):
        wrong = client.post("/wallet/checks/deposit/", {"number": check.number, "code": f"AAAAAAAAAA{i % 8 + 2}A"})
        assert wrong.status_code == 404
    # Now even the right code is refused for a while, on the page and through the API.
    locked = client.post("/wallet/checks/deposit/", {"number": check.number, "code": code})
    assert locked.status_code == 429
    submit = client.post("/wallet/checks/deposit/submit/", {"number": check.number, "code": code})
    assert submit.status_code == 429
    api = _api_post(_api(bob), CHECKS + "deposit/", {"number": check.number, "code": code})
    assert api.status_code == 429 and api.json()["error"]["code"] == "too_many_deposit_attempts"
    check.refresh_from_db()
    assert check.status == CheckStatus.OUTSTANDING
    # The count is Bob's alone: the writer still gets check_own, not 429.
    assert _api_post(_api(alice), CHECKS + "deposit/", {"number": check.number, "code": code}).status_code == 422


def test_right_codes_and_other_refusals_do_not_count(alice, bob):
    api = _api(bob)
    # Other refusals (already deposited) use a right code: they never lock.
    check = check_write(alice, payee="Anyone", amount=Money(100, "USD"))
    code = check_deposit_code(check)
    assert _api_post(api, CHECKS + "deposit/", {"number": check.number, "code": code}).status_code == 200
    for _ in range(DEPOSIT_MAX_FAILURES + 1):
        again = _api_post(api, CHECKS + "deposit/", {"number": check.number, "code": code})
        assert again.status_code == 409
    other = check_write(alice, payee="Anyone", amount=Money(100, "USD"))
    ok = _api_post(api, CHECKS + "deposit/", {"number": other.number, "code": check_deposit_code(other)})
    assert ok.status_code == 200


def test_the_deposit_code_is_not_kept_in_the_idempotency_table(alice):
    api = _api(alice)
    key = uuid.uuid4().hex
    body = {"payee": "Acme", "amount": "12.00"}
    first = _api_post(api, CHECKS, body, key=key)
    assert first.status_code == 201 and first["Cache-Control"].startswith("no-store")
    code = first.json()["deposit_code"].replace("-", "")
    for record in IdempotencyRecord.objects.all():
        stored = bytes(record.response_body).decode("utf-8", "replace")
        assert code not in stored and first.json()["deposit_code"] not in stored
    # Still idempotent by the key: same answer, one check, one debit; another body is refused.
    again = _api_post(api, CHECKS, body, key=key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.json()["deposit_code"] == first.json()["deposit_code"]
    assert Check.objects.count() == 1
    other = _api_post(api, CHECKS, {**body, "amount": "13.00"}, key=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    missing = _api_post(api, CHECKS, body)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_missing"
    detail = api.get(f"{CHECKS}{first.json()['id']}/")
    assert detail["Cache-Control"].startswith("no-store")


def _crashing_deposit(user, *, number, code):
    raise RuntimeError("boom")


def _crashing_render(request, template_name, context=None, status=None):
    raise RuntimeError("boom")


class _Reports:
    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, sender, request=None, **kwargs):
        reporter = ExceptionReporter(request, *sys.exc_info(), is_email=True)
        # The HTML report is the one with every frame's local variables.
        self.texts.append(reporter.get_traceback_text() + reporter.get_traceback_html())


@pytest.fixture
def reports():
    receiver = _Reports()
    got_request_exception.connect(receiver)
    yield receiver.texts
    got_request_exception.disconnect(receiver)


def test_crash_reports_never_carry_the_deposit_code(client, alice, bob, reports):
    check = check_write(alice, payee="Anyone", amount=Money(700, "USD"))
    code = check_deposit_code(check)
    client.force_login(bob)
    with (
        mock.patch("payments.views.checks.check_deposit_preview", _crashing_deposit),
        pytest.raises(RuntimeError),
    ):
        client.post("/wallet/checks/deposit/", {"number": check.number, "code": code})
    with (
        mock.patch("payments.views.checks.check_deposit", _crashing_deposit),
        pytest.raises(RuntimeError),
    ):
        client.post("/wallet/checks/deposit/submit/", {"number": check.number, "code": code})
    with mock.patch("payments.api.checks.check_deposit", _crashing_deposit), pytest.raises(RuntimeError):
        client.post(CHECKS + "deposit/", {"number": check.number, "code": code}, content_type="application/json")
    client.force_login(alice)
    with mock.patch("payments.views.checks.render", _crashing_render), pytest.raises(RuntimeError):
        client.get(f"/wallet/checks/{check.pk}/")
    assert len(reports) == 4
    for text in reports:
        assert code not in text
