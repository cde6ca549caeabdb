import pytest
from django.db import OperationalError, transaction

from core import db


class FakeDriverError(Exception):
    def __init__(self, sqlstate):
        self.sqlstate = sqlstate


def failing(times: int, sqlstate: str = "40P01"):
    calls = []

    @db.retry_on_conflict
    def work():
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("conflict") from FakeDriverError(sqlstate)
        return "done"

    return work, calls


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "55P03"])
def test_deadlocks_and_lock_timeouts_are_retried(sqlstate):
    work, calls = failing(2, sqlstate)
    assert work() == "done"
    assert len(calls) == 3


def test_retries_are_bounded():
    work, calls = failing(100)
    with pytest.raises(OperationalError):
        work()
    assert len(calls) == db.MAX_ATTEMPTS


def test_other_errors_are_not_retried():
    work, calls = failing(1, sqlstate="23505")
    with pytest.raises(OperationalError):
        work()
    assert len(calls) == 1


@pytest.mark.django_db
def test_inside_a_transaction_the_outer_caller_owns_the_retry():
    work, calls = failing(1)
    with pytest.raises(OperationalError), transaction.atomic():
        work()
    assert len(calls) == 1
