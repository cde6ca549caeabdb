"""API fuzzing (issue 10): schemathesis drives every operation of ``/api/schema/`` over HTTP.

One live server for the module, in-process on the suite's test database (SQLite or PostgreSQL,
whichever the run uses; DEBUG off as under every test, so paths no URL pattern matches get the
API's JSON 404), seeded once with ``seed_demo`` and signed in once as the demo user dave (he has a
wallet, a card, a shop with listings and followers) through allauth's headless app API
(``X-Session-Token``). Afterwards the database is flushed and its pre-fuzz content (the data
migrations' rows) restored, so the tests after this module find it as they expect. Each operation gets
``FUZZ_EXAMPLES`` generated requests (default 5 here; ``make fuzz`` runs 100), valid and invalid
alike, with a fixed seed (derandomized), and every answer must:

- not be a 5xx;
- have a status code the schema documents for the operation;
- have the documented content type, and a body that conforms to the documented schema.

Mutating operations change the demo data as they go (it is a fuzz); at the end the site's ledger
must still balance (``manage.py ledger_check``): whatever the fuzz sent, no money was made or lost.
"""

from __future__ import annotations

import io
import json
import os
import urllib.request

import pytest
import schemathesis
from django.apps import apps
from django.core import serializers
from django.core.management import call_command
from django.db import connections
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
HANDLE = "dave"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


DEMO_PASSWORD = "everything-demo"  # seed_demo's published demo password


def _snapshot(alias: str) -> str:
    """Every row of the database as JSON (at the start: what the data migrations put there)."""
    tables = set(connections[alias].introspection.table_names())
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy and m._meta.db_table in tables]
    rows = [row for model in models for row in model._base_manager.using(alias).order_by("pk")]
    return serializers.serialize("json", rows)


@pytest.fixture(scope="module")
def fuzz_site(django_db_setup, django_db_blocker):
    """The seeded site served by Django's live-server thread; yields its base URL."""
    with django_db_blocker.unblock():
        before = {alias: _snapshot(alias) for alias in connections}
        call_command("seed_demo", stdout=io.StringIO())
        # An in-memory SQLite database is shared with the server thread (as LiveServerTestCase does).
        shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
        for connection in shared.values():
            connection.inc_thread_sharing()
        server = LiveServerThread("127.0.0.1", _StaticFilesHandler, connections_override=shared, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        try:
            if server.error:
                raise server.error
            yield f"http://127.0.0.1:{server.port}"
        finally:
            server.terminate()
            for connection in shared.values():
                connection.dec_thread_sharing()
            for alias, content in before.items():
                call_command("flush", database=alias, interactive=False, verbosity=0, inhibit_post_migrate=True)
                connections[alias].creation.deserialize_db_from_string(content)


@pytest.fixture(scope="module")
def fuzz_headers(fuzz_site):
    body = json.dumps({"username": HANDLE, "password": DEMO_PASSWORD}).encode()
    request = urllib.request.Request(  # noqa: S310 - the module's own live server
        f"{fuzz_site}/_allauth/app/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return {"X-Session-Token": json.load(response)["meta"]["session_token"]}


def openapi_document() -> dict:
    """The OpenAPI document /api/schema/ serves, built in-process at collection time (the site runs
    the same code), so that each operation is its own test."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "suppress-health-check": ["all"],
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)

#: Path values that exist on the seeded site (seed_demo: five people, dave's shop, low ids), so that
#: the fuzz reaches the code behind the lookups and not only their 404s.
REAL_PATH_VALUES = {
    "id": st.integers(min_value=1, max_value=12),
    "image_id": st.integers(min_value=1, max_value=4),
    "item_id": st.integers(min_value=1, max_value=4),
    "handle": st.sampled_from(["alice", "bob", "carol", "dave", "erin"]),
    "slug": st.just("daves-records"),
    "currency": st.sampled_from(["USD", "EUR", "GBP"]),
    "tag": st.sampled_from(["climbing", "ceramics", "foodtrucks"]),
}


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Half the path values from the schema's own strategy, half that exist on the site."""
    names = [parameter.name for parameter in context.operation.path_parameters]
    if not names or not all(name in REAL_PATH_VALUES for name in names):
        return strategy
    return st.one_of(strategy, st.fixed_dictionaries({name: REAL_PATH_VALUES[name] for name in names}))


# pytest-django sets up the test database only for a run that holds a test marked django_db; this
# test (and the ledger one) carry the mark, the fuzz tests do not (their requests must commit).
@pytest.mark.django_db
def test_the_site_serves_the_fuzzed_schema(fuzz_site):
    with urllib.request.urlopen(f"{fuzz_site}/api/schema/?format=json", timeout=30) as response:  # noqa: S310
        served = json.load(response)
    assert served == openapi_document()


@schema.parametrize()
def test_api_operation_conforms(case, fuzz_site, fuzz_headers):
    case.call_and_validate(base_url=fuzz_site, headers=fuzz_headers, checks=CHECKS, timeout=30)


@pytest.mark.django_db
def test_ledger_balances_after_the_fuzz(fuzz_site, django_db_blocker):
    """Runs after the operations (same module, defined last): the fuzzed site's books still balance."""
    from ledger.selectors import ledger_verify

    with django_db_blocker.unblock():
        report = ledger_verify()
    assert report.ok, "\n".join(report.problems)
