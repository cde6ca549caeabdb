"""Suite-wide fixtures. The ledger's invariants are checked after every database test."""

import pytest


def _uses_database(request) -> bool:
    if request.node.get_closest_marker("django_db"):
        return True
    return bool({"db", "transactional_db", "django_db_reset_sequences"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _ledger_invariants_hold(request):
    """After each test that touched the database, DESIGN §3's invariants must still hold."""
    if not _uses_database(request) or request.node.get_closest_marker("ledger_unchecked"):
        yield
        return
    # Set up the database first so this check runs before it is rolled back or flushed.
    request.getfixturevalue("_django_db_helper")
    yield
    from ledger.selectors import ledger_verify

    report = ledger_verify()
    assert report.ok, "ledger invariants broken after test:\n" + "\n".join(report.problems)
