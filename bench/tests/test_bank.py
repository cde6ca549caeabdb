"""The bank workload (bench/bank.py): its history checker can fail, and a small run passes.

The run is a black-box test: ``bench/bank.py`` as a subprocess against its own live server and a
scratch database derived from the test run's (``<name>_bench_bank``, created and migrated by the
script). It needs PostgreSQL and Redis, so it skips on SQLite (the ``postgres`` marker) and
without ``REDIS_URL``; CI sets both.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

import bank  # noqa: E402

from bench.tests.scripts import free_port, run_script, scratch_env  # noqa: E402


def _op(kind, actor, key, *, outcome="ok", status=201, to=None, amount=None, target=None, result=None):
    return {
        "kind": kind,
        "actor": actor,
        "key": key,
        "outcome": outcome,
        "status": status,
        "to": to,
        "amount": amount,
        "target": target,
        "result": result,
    }


def _payment(pid, sender, recipient, amount, key, status="completed", kind="payment"):
    return {
        "id": pid,
        "sender": sender,
        "recipient": recipient,
        "amount": amount,
        "currency": "USD",
        "received_amount": amount,
        "received_currency": "USD",
        "status": status,
        "key": key,
        "kind": kind,
    }


@pytest.fixture
def history():
    """A consistent run: ann pays bob 5.00 (bob returns it), bob pays cat 2.50, one refusal, one request paid."""
    ops = [
        _op("pay", "ann", "k1", to="bob", amount=500, result=_result(1, "ann", "bob", 500)),
        _op("return", "bob", "k2", status=200, target=1),
        _op("pay", "bob", "k3", to="cat", amount=250, result=_result(2, "bob", "cat", 250)),
        _op("pay", "cat", "k4", outcome="refused", status=422, to="ann", amount=99_999),
        _op("request", "ann", "k5", to="cat", amount=100, result={"ids": [7]}),
        _op("pay_request", "cat", "k6", to="ann", amount=100, target=7, result=_result(3, "cat", "ann", 100)),
    ]
    snapshot = {
        "start": {"ann": 10_000, "bob": 10_000, "cat": 10_000},
        "accounts": [
            _account("ann", 10_100),
            _account("bob", 9_750),
            _account("cat", 10_150),
        ],
        "payments": [
            _payment(1, "ann", "bob", 500, "k1", status="returned"),
            _payment(2, "bob", "cat", 250, "k3"),
            _payment(3, "cat", "ann", 100, "k6", kind="request"),
        ],
        "ledger_ok": True,
    }
    return ops, snapshot


def _result(pid, sender, recipient, amount, status="completed"):
    return {"id": pid, "from": sender, "to": recipient, "amount": amount, "currency": "USD", "status": status}


def _account(owner, balance, available=None):
    return {
        "owner": owner,
        "currency": "USD",
        "balance": balance,
        "available": balance if available is None else available,
    }


def test_a_consistent_history_passes(history):
    ops, snapshot = history
    assert bank.check_history(ops, snapshot) == []


def test_a_key_that_made_two_payments_is_reported(history):
    ops, snapshot = history
    snapshot["payments"].append(_payment(4, "bob", "cat", 250, "k3"))  # the retry paid again
    snapshot["accounts"] = [_account("ann", 10_100), _account("bob", 9_500), _account("cat", 10_400)]
    failures = bank.check_history(ops, snapshot)
    assert any("idempotency key k3 of @bob made 2 payments" in f for f in failures), failures


def test_an_acknowledged_payment_missing_from_the_database_is_reported(history):
    ops, snapshot = history
    del snapshot["payments"][1]  # bob's acknowledged payment to cat is gone, money back where it was
    snapshot["accounts"] = [_account("ann", 10_100), _account("bob", 10_000), _account("cat", 9_900)]
    failures = bank.check_history(ops, snapshot)
    assert any("acknowledged payment 2 (key k3) is not in the database" in f for f in failures), failures


def test_money_created_and_a_negative_wallet_are_reported(history):
    ops, snapshot = history
    snapshot["accounts"][0] = _account("ann", 10_200, available=-5)
    failures = bank.check_history(ops, snapshot)
    assert any("money not conserved in USD: 30000 at the start, 30100 at the end" in f for f in failures), failures
    assert any("negative wallet: @ann" in f for f in failures), failures
    assert any("@ann's wallet holds 10200, its payments say 10100" in f for f in failures), failures


def test_a_payment_for_a_refused_request_and_a_double_return_are_reported(history):
    ops, snapshot = history
    snapshot["payments"].append(_payment(5, "cat", "ann", 99_999, "k4", status="returned"))
    ops.append(_op("return", "bob", "k7", status=200, target=1))  # a second acknowledged return of payment 1
    failures = bank.check_history(ops, snapshot)
    assert any("payment 5 exists but its request was refused (422, key k4)" in f for f in failures), failures
    assert any("payment 1 was returned 2 times" in f for f in failures), failures
    assert any("payment 5 is returned, but no return of it was asked for" in f for f in failures), failures


def test_a_payment_unlike_what_was_asked_and_a_failed_ledger_check_are_reported(history):
    ops, snapshot = history
    changed = copy.deepcopy(snapshot)
    changed["payments"][1]["recipient"] = "ann"
    changed["ledger_ok"] = False
    failures = bank.check_history(ops, changed)
    assert any("payment 2 is 250 USD to @ann, but 250 USD to @cat was asked" in f for f in failures), failures
    assert "ledger_check failed" in failures


def test_an_indeterminate_op_is_a_failure_only_without_faults(history):
    ops, snapshot = history
    ops.append(_op("pay", "ann", "k9", outcome="info", status=None, to="bob", amount=1))
    assert any("never got a definitive answer" in f for f in bank.check_history(ops, snapshot))
    assert bank.check_history(ops, snapshot, faults=True) == []
    ops.append(_op("pay", "ann", "k10", outcome="error", status=500, to="bob", amount=1))
    assert "pay (key k10) answered 500" in bank.check_history(ops, snapshot, faults=True)


@pytest.mark.postgres
def test_a_small_bank_run_keeps_every_invariant():
    env = scratch_env("_bench_bank", "the bank workload")
    args = ["--users", "12", "--clients", "6", "--seconds", "10", "--seed", "ci", "--port", str(free_port())]
    done, verdict = run_script("bank.py", [*args, "--no-docs", "--json"], env, timeout=240)
    assert verdict["ok"] is True and verdict["failures"] == [], done.stderr[-3000:]
    assert done.returncode == 0
    assert verdict["ops"] > 0 and verdict["users"] == 12
