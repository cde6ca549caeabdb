"""A Jepsen-style bank workload through the real API (issue 10, point 1).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/bank.py --users 40 --clients 16 --seconds 30

- users: ``--users`` fresh users (their own handle prefix, so runs never collide), each a verified
  heavy user as in ``bench/http_payments.py`` — tier 2 KYC (a staff limit override, so the 7-day
  limit never refuses the workload), a funded USD wallet, and an established history (every pair
  has paid each other a month ago: no new-recipient review). One currency (USD): no fees, no FX;
- server: uvicorn (``bench/_server.py``: DEBUG off, per-user rate limits off; ``--db-pool``
  connections per worker, by default enough for every client), or ``--base-url`` for a server
  already running on the same ``DATABASE_URL`` (the fault script kills its workers);
- clients: ``--clients`` asyncio + httpx clients, each op as a random user (``X-Session-Token``):
  pay a random user (sometimes more than they hold, so refusals happen), return a payment they
  received, ask someone for money, pay or decline a request addressed to them. Every mutation
  carries a fresh ``Idempotency-Key``. At random a request is dropped mid-flight (the task is
  cancelled and the client closed) and RETRIED with the same key and body until a definitive
  answer (2xx or 4xx); ``409 request_in_progress`` and ``429`` are waited out. Some successes
  are replayed on purpose: a replay must answer the same. Without ``--faults`` any 5xx is a
  failure; with it 5xx and refused connections are indeterminate and retried with backoff for up
  to ``--max-wait`` seconds (an op still without an answer then stays indeterminate: it may or may
  not have happened, like Jepsen's ``:info``);
- afterwards, the history is checked against the database (``check_history``): the users' total per
  currency is unchanged; no wallet is negative (balance or available); every acknowledged payment
  exists once, with the acknowledged parties and amount; no key made two payments; no payment
  without a key we sent, and none for a key that was refused; every returned payment was ours and
  was returned by at most one acknowledged return; each wallet equals its start plus its completed
  payments in, less out; replays matched; and ``ledger_check`` passes.

Prints a table of ops by kind and outcome; ``--json`` adds one JSON line ``{"ok": ..., "failures":
[...], ...}`` at the end. Exits 0 iff every invariant held. Without ``--no-docs`` it writes the
"Bank workload" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

KINDS = ("pay", "return", "request", "pay_request", "decline")
PAYMENT_KINDS = ("pay", "pay_request")  # the ops that make a payment
CURRENCY = "USD"
START_BALANCE = 100_00  # minor units per user
logging.getLogger("httpx").setLevel(logging.WARNING)
DOCS_NOTE = (
    "What was checked afterwards against the database (`bench/bank.py`, `check_history`): the workload's "
    "total per currency is unchanged; no wallet is negative; every acknowledged payment exists exactly once "
    "with the acknowledged parties and amount; no idempotency key made two payments, no payment exists for a "
    "key that was refused or never sent; every returned payment was the workload's and was acknowledged "
    "returned at most once; each wallet equals its start plus completed payments in less out; replays of a "
    "key answered the same; `ledger_check` passed. ok: 2xx; refused: a definitive 4xx (insufficient funds, "
    "a request already paid, a payment already returned); indeterminate: no definitive answer within "
    "`--max-wait` (allowed only with `--faults`); drops: requests cut off mid-flight on purpose and retried "
    "with the same key; ops/s counts every op, refusals included."
)


def minor(text: str) -> int:
    """ "12.34" (USD) -> 1234."""
    return int(Decimal(text).scaleb(2))


# --- The history checker (pure: a list of ops and a database snapshot in, failures out) ----------
#
# An op: {"kind", "actor" (handle), "key", "outcome" ("ok" | "refused" | "info" | "error"),
#         "status" (last HTTP status or None), "target" (payment/request id or None),
#         "to" (handle the payment goes to, for pay and pay_request), "amount" (minor, asked),
#         "result" ({"id", "from", "to", "amount", "currency", "status"} of a payment; {"ids"} of requests)}
# The snapshot: {"start": {handle: minor}, "accounts": [{"owner", "currency", "balance", "available"}],
#                "payments": [{"id", "sender", "recipient", "amount", "currency", "received_amount",
#                              "received_currency", "status", "key", "kind"}],
#                "ledger_ok": bool}


def check_history(ops: list[dict], snapshot: dict, *, faults: bool = False, problems: list[str] = ()) -> list[str]:
    """Every invariant the run must keep; returns the failures (empty: all held)."""
    failures = list(problems)
    payments = snapshot["payments"]
    by_id = {p["id"]: p for p in payments}

    # Money: per currency the workload's total is unchanged; no wallet below zero.
    start_total: Counter = Counter()
    for amount in snapshot["start"].values():
        start_total[CURRENCY] += amount
    end_total: Counter = Counter()
    for account in snapshot["accounts"]:
        end_total[account["currency"]] += account["balance"]
        if account["balance"] < 0 or account["available"] < 0:
            failures.append(
                f"negative wallet: @{account['owner']} {account['currency']} balance {account['balance']}"
                f" available {account['available']}"
            )
    for currency in sorted(set(start_total) | set(end_total)):
        if start_total[currency] != end_total[currency]:
            failures.append(
                f"money not conserved in {currency}: {start_total[currency]} at the start, {end_total[currency]} at the end"
            )

    # Keys: one payment per (sender, key) at most; each payment was asked for by one of our ops.
    per_key = Counter((p["sender"], p["key"]) for p in payments)
    for (sender, key), count in per_key.items():
        if count > 1:
            failures.append(f"idempotency key {key} of @{sender} made {count} payments")
    asked = {(op["actor"], op["key"]): op for op in ops if op["kind"] in PAYMENT_KINDS}
    for p in payments:
        op = asked.get((p["sender"], p["key"]))
        if op is None:
            failures.append(f"payment {p['id']} (@{p['sender']} key {p['key']}) was never asked for")
        elif op["outcome"] == "refused":
            failures.append(f"payment {p['id']} exists but its request was refused ({op['status']}, key {p['key']})")
        elif p["recipient"] != op["to"] or p["amount"] != op["amount"] or p["currency"] != CURRENCY:
            failures.append(
                f"payment {p['id']} is {p['amount']} {p['currency']} to @{p['recipient']},"
                f" but {op['amount']} {CURRENCY} to @{op['to']} was asked (key {p['key']})"
            )

    # Every acknowledged payment exists exactly once, as acknowledged.
    seen_ids: Counter = Counter()
    for op in ops:
        if op["kind"] not in PAYMENT_KINDS or op["outcome"] != "ok":
            continue
        result = op["result"] or {}
        seen_ids[result.get("id")] += 1
        p = by_id.get(result.get("id"))
        if p is None:
            failures.append(f"acknowledged payment {result.get('id')} (key {op['key']}) is not in the database")
            continue
        if p["key"] != op["key"] or p["sender"] != op["actor"]:
            failures.append(
                f"acknowledged payment {p['id']} belongs to key {p['key']} of @{p['sender']}, not {op['key']}"
            )
        if (result.get("from"), result.get("to"), result.get("amount"), result.get("currency")) != (
            p["sender"],
            p["recipient"],
            p["amount"],
            p["currency"],
        ):
            failures.append(f"acknowledged payment {p['id']} was answered as {result}, the database has {p}")
    for payment_id, count in seen_ids.items():
        if count > 1:
            failures.append(f"payment {payment_id} was acknowledged to {count} different keys")

    # Returns: only of payments we made, each acknowledged once at most, and then really returned.
    returns = defaultdict(list)
    for op in ops:
        if op["kind"] == "return" and op["outcome"] in ("ok", "info", "error"):
            returns[op["target"]].append(op)
    for target, attempts in returns.items():
        acknowledged = {op["key"] for op in attempts if op["outcome"] == "ok"}
        if len(acknowledged) > 1:
            failures.append(f"payment {target} was returned {len(acknowledged)} times (keys {sorted(acknowledged)})")
        if acknowledged and by_id.get(target, {}).get("status") != "returned":
            failures.append(f"payment {target}: its return was acknowledged, the database says {by_id.get(target)}")
    acknowledged_ids = {
        (op["result"] or {}).get("id") for op in ops if op["kind"] in PAYMENT_KINDS and op["outcome"] == "ok"
    }
    maybe_ids = acknowledged_ids | {p["id"] for p in payments if (p["sender"], p["key"]) in asked}
    for p in payments:
        if p["status"] == "returned" and p["id"] not in returns:
            failures.append(f"payment {p['id']} is returned, but no return of it was asked for")
        if p["status"] == "returned" and p["id"] not in maybe_ids:
            failures.append(f"payment {p['id']} is returned, but it is not one of the workload's payments")
    for op in ops:
        if op["kind"] in PAYMENT_KINDS and op["outcome"] == "ok" and (op["result"] or {}).get("status") == "completed":
            p = by_id.get(op["result"]["id"])
            if p is not None and op["result"]["id"] not in returns and p["status"] != "completed":
                failures.append(
                    f"payment {p['id']} was acknowledged completed and never returned, but is {p['status']}"
                )

    # Each wallet is its start plus the completed payments in, less those out (returned ones net to 0).
    expected = dict(snapshot["start"])
    for p in payments:
        if p["status"] == "completed":
            expected[p["sender"]] = expected.get(p["sender"], 0) - p["amount"]
            expected[p["recipient"]] = expected.get(p["recipient"], 0) + p["received_amount"]
    for account in snapshot["accounts"]:
        if account["currency"] == CURRENCY and expected.get(account["owner"]) != account["balance"]:
            failures.append(
                f"@{account['owner']}'s wallet holds {account['balance']}, its payments say {expected.get(account['owner'])}"
            )

    # Every op got a definitive answer (with faults an indeterminate op is allowed); no 5xx without faults.
    for op in ops:
        if op["outcome"] == "error":
            failures.append(f"{op['kind']} (key {op['key']}) answered {op['status']}")
        elif op["outcome"] == "info" and not faults:
            failures.append(f"{op['kind']} (key {op['key']}) never got a definitive answer (last {op['status']})")
    if not snapshot.get("ledger_ok", False):
        failures.append("ledger_check failed")
    return failures


# --- The workload ----------------------------------------------------------------------------------


@dataclass
class User:
    id: int
    handle: str
    token: str


@dataclass
class World:
    """What the clients share: who can return what, which requests are open, the history and counters."""

    users: list[User]
    faults: bool
    max_wait: float
    drop_rate: float
    ops: list[dict] = field(default_factory=list)
    received: dict = field(default_factory=lambda: defaultdict(list))  # handle -> [payment ids]
    returned: list = field(default_factory=list)  # (payment id, recipient handle) returned, or maybe
    # payer handle -> [(request id, requester handle, amount)] of the open requests addressed to them
    incoming: dict = field(default_factory=lambda: defaultdict(list))
    counters: Counter = field(default_factory=Counter)
    problems: list = field(default_factory=list)
    first_errors: dict = field(default_factory=dict)


class Session:
    """One client's HTTP connection; closed and reopened when a request is dropped on purpose."""

    def __init__(self, base_url: str, timeout: float) -> None:
        import httpx

        self.base_url, self.timeout, self.httpx = base_url, timeout, httpx
        self.client = self._new()

    def _new(self):
        from _server import FORWARDED_HTTPS

        return self.httpx.AsyncClient(
            base_url=self.base_url,
            headers={**FORWARDED_HTTPS, "Content-Type": "application/json"},
            timeout=self.timeout,
            limits=self.httpx.Limits(max_connections=1),
        )

    async def reopen(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()
        self.client = self._new()

    async def close(self) -> None:
        await self.client.aclose()


async def call(world: World, session: Session, rng: random.Random, user: User, path: str, body: dict | None, key: str):
    """POST until a definitive answer; returns (outcome, status, json body or None, replayed)."""
    httpx = session.httpx
    content = json.dumps(body if body is not None else {}).encode()
    headers = {"X-Session-Token": user.token, "Idempotency-Key": key}
    deadline = time.monotonic() + world.max_wait
    backoff, attempt, status = 0.05, 0, None
    while True:
        attempt += 1
        if attempt > 1:
            world.counters["retries"] += 1
        if time.monotonic() > deadline:
            return "info", status, None, False
        try:
            request = session.client.post(path, content=content, headers=headers)
            if rng.random() < world.drop_rate:
                try:
                    response = await asyncio.wait_for(request, timeout=rng.uniform(0.001, 0.15))
                except TimeoutError:
                    world.counters["drops"] += 1
                    await session.reopen()
                    continue
            else:
                response = await request
        except httpx.TimeoutException:
            world.counters["timeouts"] += 1
            await session.reopen()
            continue
        except httpx.TransportError as error:
            world.counters["connection errors"] += 1
            world.first_errors.setdefault(type(error).__name__, str(error)[:200])
            await session.reopen()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
            continue
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        code = (data or {}).get("error", {}).get("code") if isinstance(data, dict) else None
        if status == 429 or (status == 409 and code == "request_in_progress"):
            world.counters["in progress" if status == 409 else "rate limited"] += 1
            retry_after = response.headers.get("Retry-After", "")
            wait = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 0.2
            await asyncio.sleep(min(max(wait, 0.05), 2.0) * rng.uniform(0.5, 1.0))
            continue
        if status >= 500:
            world.counters["5xx"] += 1
            world.first_errors.setdefault(status, response.text[:300])
            if not world.faults:
                return "error", status, data, False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
            continue
        if status >= 400:
            world.first_errors.setdefault(f"{status} {code}", response.text[:300])
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return ("ok" if status < 300 else "refused"), status, data, replayed


def _payment_result(data: dict) -> dict:
    return {
        "id": data["id"],
        "from": data["from"].lstrip("@"),
        "to": data["to"].lstrip("@"),
        "amount": minor(data["amount"]),
        "currency": data["currency"],
        "status": data["status"],
    }


def _amount(rng: random.Random) -> int:
    """Mostly small; one in ten likely more than the payer holds (a refusal)."""
    return rng.randint(5_000, 50_000) if rng.random() < 0.1 else rng.randint(1, 2_000)


def _pop(rng: random.Random, items: list):
    return items.pop(rng.randrange(len(items))) if items else None


async def one_op(world: World, session: Session, rng: random.Random) -> dict:
    users = world.users
    actor = rng.choice(users)
    roll = rng.random()
    key = str(uuid.uuid4())
    op = {"kind": "pay", "actor": actor.handle, "key": key, "target": None, "to": None, "amount": None, "result": None}
    path, body = None, None
    if roll < 0.15 and world.received[actor.handle]:
        payment_id = _pop(rng, world.received[actor.handle])
        op.update(kind="return", target=payment_id)
        path = f"/api/v1/payments/{payment_id}/return/"
    elif roll < 0.18 and world.returned:  # its recipient returns a returned payment again: refused
        payment_id, recipient = rng.choice(world.returned)
        actor = next(u for u in users if u.handle == recipient)
        op.update(kind="return", actor=actor.handle, target=payment_id, again=True)
        path = f"/api/v1/payments/{payment_id}/return/"
    elif roll < 0.33:
        payer = rng.choice([u for u in users if u is not actor])
        amount = rng.randint(1, 3_000)
        op.update(kind="request", to=payer.handle, amount=amount)
        path, body = (
            "/api/v1/requests/",
            {"from": [f"@{payer.handle}"], "amount": f"{amount / 100:.2f}", "currency": CURRENCY},
        )
    elif roll < 0.55 and world.incoming[actor.handle]:
        request_id, requester, amount = _pop(rng, world.incoming[actor.handle])
        if rng.random() < 0.2:
            op.update(kind="decline", target=request_id)
            path = f"/api/v1/requests/{request_id}/decline/"
        else:
            op.update(kind="pay_request", target=request_id, to=requester, amount=amount)
            path = f"/api/v1/requests/{request_id}/pay/"
    if path is None:
        payee = rng.choice([u for u in users if u is not actor])
        amount = _amount(rng)
        op.update(kind="pay", to=payee.handle, amount=amount)
        path, body = (
            "/api/v1/payments/",
            {"to": f"@{payee.handle}", "amount": f"{amount / 100:.2f}", "currency": CURRENCY},
        )

    outcome, status, data, _ = await call(world, session, rng, actor, path, body, key)
    op.update(outcome=outcome, status=status)
    if outcome == "ok":
        try:
            if op["kind"] in PAYMENT_KINDS:
                op["result"] = _payment_result(data)
                if op["result"]["status"] == "completed":
                    world.received[op["to"]].append(op["result"]["id"])
            elif op["kind"] == "return":
                world.returned.append((op["target"], actor.handle))
            elif op["kind"] == "request":
                op["result"] = {"ids": [row["id"] for row in data["results"]]}
                for request_id in op["result"]["ids"]:
                    world.incoming[op["to"]].append((request_id, actor.handle, op["amount"]))
        except (KeyError, TypeError, ValueError) as error:
            world.problems.append(f"{op['kind']} answered {status} with an unexpected body ({error!r}): {data}")
        if op.get("again"):
            world.problems.append(f"payment {op['target']} was returned again (key {key}): {status}")
        # A replay of the same key and body must answer the same (decline is not idempotent).
        if op["kind"] != "decline" and rng.random() < 0.1:
            world.counters["replays"] += 1
            again, again_status, again_data, replayed = await call(world, session, rng, actor, path, body, key)
            if again != "info" and (again_status != status or again_data != data or not replayed):
                world.problems.append(
                    f"replay of {op['kind']} key {key} answered {again_status} {again_data} (replayed={replayed}),"
                    f" first {status} {data}"
                )
    elif op["kind"] == "return" and outcome == "info":
        world.returned.append((op["target"], actor.handle))  # may have been returned: not offered again as new
    return op


async def client_loop(world: World, base_url: str, seed: str, until: float, timeout: float) -> None:
    rng = random.Random(seed)
    session = Session(base_url, timeout)
    try:
        while time.monotonic() < until:
            op = await one_op(world, session, rng)
            world.ops.append(op)
    finally:
        await session.close()


async def run_clients(world: World, base_url: str, *, clients: int, seconds: float, seed: str, timeout: float) -> float:
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(client_loop(world, base_url, f"{seed}-{i}", until, timeout) for i in range(clients)))
    return time.monotonic() - started


# --- Seeding and the database snapshot (Django) ----------------------------------------------------


def seed_users(count: int, tag: str) -> list[User]:
    """``count`` verified, established users with START_BALANCE USD each; their sessions."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from http_payments import sessions_for, verify

    from ledger import services
    from ledger.models import AccountKind

    UserModel = get_user_model()
    funding = services.system_account(AccountKind.FUNDING, CURRENCY)
    people = []
    for i in range(count):
        person = UserModel.objects.create_user(handle=f"{tag}{i}", email=f"{tag}{i}@bench.invalid", password=None)
        UserModel.objects.filter(pk=person.pk).update(country="US", home_currency=CURRENCY, is_active=True)
        wallet = services.account_open(owner=person, kind=AccountKind.WALLET, currency=CURRENCY)
        services.transfer_post(
            initiator=None, debit=funding, credit=wallet, amount=START_BALANCE, currency=CURRENCY, kind="bench_seed"
        )
        people.append((person, wallet))
    # A business account's limit override: the weekly limit never refuses the workload.
    verify([person.pk for person, _ in people], weekly_limit_override=10**12)
    # History: every pair paid each other 0.01 a month ago (ledger transfers and completed payments),
    # so no payment of the workload is a first one (no new-recipient review, no safety delay).
    wallets = [wallet.pk for _, wallet in people]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_batch (request_hash, operation, created_at)"
            " VALUES ('bench', 'bench_history', now()) RETURNING id"
        )
        batch_id = cursor.fetchone()[0]
        cursor.execute(
            """
            WITH pairs AS (
                SELECT d, c FROM unnest(%(ids)s::bigint[]) AS d, unnest(%(ids)s::bigint[]) AS c WHERE d <> c
            ), t AS (
                INSERT INTO ledger_transfer (batch_id, debit_account_id, credit_account_id, amount, currency, kind,
                                             state, metadata, created_at)
                SELECT %(batch)s, d, c, 1, 'USD', 'payment', 'posted', '{}'::jsonb, now() - interval '1 month'
                FROM pairs
                RETURNING id, debit_account_id, credit_account_id
            )
            INSERT INTO payments_payment (sender_id, recipient_id, kind, status, amount, currency, received_amount,
                                          received_currency, usd_equivalent, note, tip_target, request_hash,
                                          review_reason, first_to_recipient, created_at, completed_at,
                                          debit_transfer_id, credit_transfer_id)
            SELECT ad.owner_id, ac.owner_id, 'payment', 'completed', 1, 'USD', 1, 'USD', 1, '', '', '', '', false,
                   now() - interval '1 month', now() - interval '1 month', t.id, t.id
            FROM t JOIN ledger_account ad ON ad.id = t.debit_account_id
                   JOIN ledger_account ac ON ac.id = t.credit_account_id
            """,
            {"ids": wallets, "batch": batch_id},
        )
        # Each wallet paid and received count - 1 cents: the balance is unchanged.
        cursor.execute(
            "UPDATE ledger_account SET debits_posted = debits_posted + %s, credits_posted = credits_posted + %s"
            " WHERE id = ANY(%s)",
            [count - 1, count - 1, wallets],
        )
    tokens = sessions_for([person.pk for person, _ in people])
    return [User(person.pk, person.handle, token) for (person, _), token in zip(people, tokens, strict=True)]


def snapshot(users: list[User], start: dict[str, int] | None = None) -> dict:
    """The database's view of the workload's users: wallets and the payments they made (keys only)."""
    from ledger.models import Account, AccountKind
    from payments.models import Payment

    ids = [u.id for u in users]
    handles = {u.id: u.handle for u in users}
    accounts = [
        {"owner": handles[a.owner_id], "currency": a.currency, "balance": a.balance, "available": a.available}
        for a in Account.objects.filter(owner_id__in=ids, kind=AccountKind.WALLET)
    ]
    payments = [
        {
            "id": p.pk,
            "sender": handles.get(p.sender_id, f"#{p.sender_id}"),
            "recipient": handles.get(p.recipient_id, f"#{p.recipient_id}"),
            "amount": p.amount,
            "currency": p.currency,
            "received_amount": p.received_amount,
            "received_currency": p.received_currency,
            "status": p.status,
            "key": p.idempotency_key,
            "kind": p.kind,
        }
        for p in Payment.objects.filter(sender_id__in=ids, idempotency_key__isnull=False).order_by("pk")
    ]
    received_elsewhere = Payment.objects.filter(recipient_id__in=ids, idempotency_key__isnull=False).exclude(
        sender_id__in=ids
    )
    problems = [f"payment {p.pk} to a workload user from outside it" for p in received_elsewhere]
    return {
        "start": start if start is not None else {a["owner"]: a["balance"] for a in accounts},
        "accounts": accounts,
        "payments": payments,
        "problems": problems,
    }


def _when_the_database_answers(read, connection, *, wait: float = 120):
    """``read()``, retried while the database is down (the fault script may have just restarted it)."""
    from django.db import Error

    deadline = time.monotonic() + wait
    while True:
        connection.close()
        try:
            return read()
        except Error as error:
            if time.monotonic() > deadline:
                raise
            print(f"bank: the database is not answering yet ({error}); retrying", file=sys.stderr, flush=True)
            time.sleep(2)


# --- Report ---------------------------------------------------------------------------------------


def summary(ops: list[dict], counters: Counter, elapsed: float) -> tuple[str, dict]:
    outcomes = ("ok", "refused", "info", "error")
    by_kind = {kind: Counter(op["outcome"] for op in ops if op["kind"] == kind) for kind in KINDS}
    rows = [(kind, *(by_kind[kind][o] for o in outcomes), sum(by_kind[kind].values())) for kind in KINDS]
    totals = Counter(op["outcome"] for op in ops)
    rows.append(("all", *(totals[o] for o in outcomes), len(ops)))
    text = common.table(["op", "ok (2xx)", "refused (4xx)", "indeterminate", "5xx", "total"], rows)
    refusals = Counter(f"{op['kind']} {op['status']}" for op in ops if op["outcome"] == "refused")
    extra = {
        "ops": len(ops),
        "ops_per_second": round(len(ops) / elapsed, 1) if elapsed else 0.0,
        "seconds": round(elapsed, 1),
        **{name.replace(" ", "_"): counters[name] for name in sorted(counters)},
    }
    text += "\n\n" + common.table(
        ["retries", "drops", "timeouts", "connection errors", "in progress (409)", "replays", "ops/s"],
        [
            (
                counters["retries"],
                counters["drops"],
                counters["timeouts"],
                counters["connection errors"],
                counters["in progress"],
                counters["replays"],
                extra["ops_per_second"],
            )
        ],
    )
    if refusals:
        text += "\n\nRefusals: " + ", ".join(f"{name} × {count}" for name, count in sorted(refusals.items()))
    return text, extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed", default=None, help="the clients' random seed (default: random)")
    parser.add_argument("--base-url", default=None, help="an already running server on the same DATABASE_URL")
    parser.add_argument("--faults", action="store_true", help="5xx and refused connections are indeterminate")
    parser.add_argument("--port", type=int, default=8393, help="the port of the server started here")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the server started here")
    parser.add_argument(
        "--db-pool",
        type=int,
        default=None,
        help="DB_POOL_MAX of each worker of the server started here (default: clients / workers, 4 to 16)",
    )
    parser.add_argument("--drop-rate", type=float, default=0.05, help="share of requests dropped mid-flight")
    parser.add_argument("--max-wait", type=float, default=None, help="seconds to retry one op (default 120 / 60)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--json", action="store_true", help="end with one JSON line: the verdict")
    args = parser.parse_args(argv)
    if args.users < 2 or args.clients < 1:
        parser.error("needs at least 2 users and 1 client")

    common.django_setup()
    import _server
    from django.core.management import call_command

    common.require_services(postgres=True, redis=True)
    call_command("migrate", verbosity=0)
    seed = args.seed or secrets.token_hex(4)
    tag = "k" + secrets.token_hex(3)
    started = time.monotonic()
    users = seed_users(args.users, tag)
    start = snapshot(users)["start"]
    print(
        f"bank: {len(users)} users @{tag}0… with {START_BALANCE / 100:.2f} {CURRENCY} each, in "
        f"{time.monotonic() - started:.1f} s; seed {seed}",
        flush=True,
    )
    world = World(
        users=users,
        faults=args.faults,
        max_wait=args.max_wait if args.max_wait is not None else (120.0 if args.faults else 60.0),
        drop_rate=args.drop_rate,
    )
    timeout = 10.0 if args.faults else 30.0
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(tempfile.NamedTemporaryFile(prefix="bench-bank-uvicorn-", suffix=".log"))
        base_url = args.base_url or stack.enter_context(
            _server.server(
                workers=args.workers,
                port=args.port,
                log_path=log.name,
                # Every client may wait for a connection at once: a pool smaller than that makes the
                # server answer 503 after psycopg_pool's 10 s timeout when the machine is slow.
                env={"DB_POOL_MAX": args.db_pool or max(4, min(16, -(-args.clients // args.workers)))},
            )
        )
        elapsed = asyncio.run(
            run_clients(
                world, base_url.rstrip("/"), clients=args.clients, seconds=args.seconds, seed=seed, timeout=timeout
            )
        )
        log.seek(0)
        server_log = [line for line in log.read().decode(errors="replace").splitlines() if "INFO" not in line]
    from django.db import connection
    from http_payments import ledger_check

    after = _when_the_database_answers(lambda: snapshot(users, start), connection)
    after["ledger_ok"] = _when_the_database_answers(ledger_check, connection)
    failures = check_history(world.ops, after, faults=args.faults, problems=world.problems + after["problems"])
    text, extra = summary(world.ops, world.counters, elapsed)
    print(text)
    for status, body in world.first_errors.items():
        print(f"bank: first {status}: {body}", file=sys.stderr)
    if world.counters["5xx"] and server_log:  # what the server said about them
        print("bank: the server's log (INFO aside), first 80 lines:", *server_log[:80], sep="\n", file=sys.stderr)
    verdict = "every invariant held" if not failures else f"{len(failures)} invariant failure(s)"
    print(f"bank: {verdict}; ledger_check {'passed' if after['ledger_ok'] else 'FAILED'}")
    for failure in failures[:50]:
        print(f"  FAIL {failure}", file=sys.stderr)
    if not args.no_docs:
        listed = "".join(f"\n- {failure}" for failure in failures[:10])
        common.write_section(
            "bank",
            f"{args.users} users, {args.clients} clients, {elapsed:.0f} s, drop rate {args.drop_rate:.0%}"
            f"{', faults' if args.faults else ''}, seed {seed}: **{verdict}**.{listed}\n\n{text}\n\n{DOCS_NOTE}",
            title="Bank workload",
        )
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not failures,
                    "failures": failures[:200],
                    "seed": seed,
                    "users": args.users,
                    "clients": args.clients,
                    **extra,
                }
            )
        )
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
