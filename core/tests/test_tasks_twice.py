"""Every Celery task of ours is safe to run twice (issue 10, point 2).

Celery acknowledges late (``CELERY_TASK_ACKS_LATE``) and a worker that dies mid-task has its
task redelivered (``CELERY_TASK_REJECT_ON_WORKER_LOST``, the broker's visibility timeout), so any
task may run a second time after it did its work. Each task registered by our apps has an entry
in ``CASES``: it sets up the state the task acts on, runs the task (through Celery, eagerly), checks
that the first run did the work, runs it again and asserts the second run changed nothing — every
row of every table of ours is the same (so no second ledger transfer, notification, accrual,
charge, card…), no second e-mail was sent and the ledger still balances. A task without an entry
fails the suite, like the authorisation matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.utils import timezone

from everything.celery import app as celery_app

pytestmark = pytest.mark.django_db


# --- What the second run must leave alone -------------------------------------------------------


def _our_models() -> list:
    base = Path(settings.BASE_DIR).resolve()
    models = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if base in path.parents and ".venv" not in path.parts:
            models += [m for m in config.get_models() if not m._meta.proxy]
    return models


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table of our apps (the test database is small), plus the mail sent."""
    state = {m._meta.label: list(m.objects.order_by("pk").values()) for m in _our_models()}
    state["mail.outbox"] = [(m.subject, tuple(m.to)) for m in mail.outbox]
    return state


def changes(before: dict, after: dict) -> list[str]:
    return [
        f"{label}: {len(before[label])} → {len(after[label])} rows"
        if len(before[label]) != len(after[label])
        else f"{label}: rows changed"
        for label in before
        if before[label] != after[label]
    ]


# --- The cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    setup: Callable[[], dict]  # builds the state; returns what ``check`` needs (and "args", "at")
    check: Callable[[object, dict], None]  # asserts the FIRST run did its work (result, context)


def _users():
    from payments.tests.factories import fund, sender_user

    alice = sender_user("alice")
    fund(alice, "1000.00")
    bob = sender_user("bob")
    fund(bob, "1000.00")
    return alice, bob


def _usd(text: str):
    from core.money import Money

    return Money.parse(text, "USD")


def setup_release_due_payments():
    from payments.models import SafetyDelay
    from payments.services.send import payment_send, wallet_settings_update

    alice, _ = _users()
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    payment = payment_send(alice, to="@bob", amount=_usd("5.00"))
    return {"payment": payment, "at": timezone.now() + timedelta(minutes=11)}


def check_release_due_payments(result, ctx):
    from payments.models import PaymentStatus

    ctx["payment"].refresh_from_db()
    assert result == 1 and ctx["payment"].status == PaymentStatus.COMPLETED


def setup_settle_due_cash_outs():
    from payments import processor
    from payments.services.funding import card_link, cashout_create

    alice, _ = _users()
    card = card_link(alice, number=processor.APPROVE, exp_month=12, exp_year=timezone.now().year + 3, cvc="123")
    cashout = cashout_create(alice, card=card, amount=_usd("10.00"), speed="standard", idempotency_key="co-1")
    return {"cashout": cashout, "at": cashout.settle_after + timedelta(seconds=1)}


def check_settle_due_cash_outs(result, ctx):
    from payments.models import MovementStatus

    ctx["cashout"].refresh_from_db()
    assert result >= 1 and ctx["cashout"].status == MovementStatus.COMPLETED


def setup_expire_requests():
    from payments.services.requests import request_create

    alice, bob = _users()
    (made,) = request_create(alice, payers=[bob], amount=_usd("10.00"), note="pizza")
    return {"request": made, "at": timezone.now() + timedelta(days=31)}


def check_expire_requests(result, ctx):
    from payments.models import RequestStatus

    ctx["request"].refresh_from_db()
    assert result == 1 and ctx["request"].status == RequestStatus.EXPIRED


def setup_auto_release_escrows():
    from payments.services.escrow import escrow_create

    alice, bob = _users()
    held = escrow_create(alice, seller=bob, amount=_usd("40.00"), description="Vintage lamp")
    return {"escrow": held, "at": timezone.now() + timedelta(days=8)}


def check_auto_release_escrows(result, ctx):
    from payments.models import EscrowStatus

    ctx["escrow"].refresh_from_db()
    assert result == 1 and ctx["escrow"].status == EscrowStatus.RELEASED


def setup_return_stale_checks():
    from core.money import Money
    from payments.services.checks import check_write

    alice, _ = _users()
    check = check_write(alice, payee="Acme Plumbing", amount=Money(500, "USD"))
    return {"check": check, "at": timezone.now() + timedelta(days=181)}


def check_return_stale_checks(result, ctx):
    from payments.models import CheckStatus

    ctx["check"].refresh_from_db()
    assert result == 1 and ctx["check"].status == CheckStatus.STALE


def setup_expire_overdue_reviews():
    from compliance.models import RiskReview
    from payments.services.send import payment_send
    from payments.tests.factories import fund, sender_user

    payer = sender_user("payer", tier=2)
    fund(payer, "50000.00")
    sender_user("payee")
    payment = payment_send(payer, to="@payee", amount=_usd("4000.00"))
    review = RiskReview.objects.get(subject=f"payment:{payment.pk}")
    return {"payment": payment, "review": review, "at": review.deadline + timedelta(seconds=1)}


def check_expire_overdue_reviews(result, ctx):
    from compliance.models import ReviewStatus
    from payments.models import PaymentStatus

    ctx["review"].refresh_from_db()
    ctx["payment"].refresh_from_db()
    assert result == 1 and ctx["review"].status == ReviewStatus.EXPIRED
    assert ctx["payment"].status != PaymentStatus.IN_REVIEW


def setup_expire_due_holds():
    from ledger.models import AccountKind
    from ledger.services import hold_create, system_account
    from payments.services.wallet import wallet_account

    alice, _ = _users()
    hold = hold_create(
        initiator=None,
        debit=wallet_account(alice, "USD"),
        credit=system_account(AccountKind.FUNDING, "USD"),
        amount=700,
        currency="USD",
        kind="test_hold",
        timeout=timedelta(minutes=5),
    )
    return {"hold": hold, "at": timezone.now() + timedelta(minutes=6)}


def check_expire_due_holds(result, ctx):
    from ledger.models import Transfer, TransferState

    assert result == 1
    assert Transfer.objects.filter(pending=ctx["hold"], state=TransferState.EXPIRED, amount=700).count() == 1


def _savings_account(user):
    from savings.services import savings_account_open

    account, _ = savings_account_open(user, currency="USD")
    return account


def setup_accrue_interest():
    from decimal import Decimal

    from savings.models import SavingsAccount, SavingsProduct, SavingsRate

    alice, _ = _users()
    start = timezone.now() - timedelta(days=3)
    product, _ = SavingsProduct.objects.get_or_create(currency="USD")
    SavingsRate.objects.get_or_create(
        product=product, effective_from=start.date() - timedelta(days=30), defaults={"apy": Decimal("0.045")}
    )
    with time_machine.travel(start, tick=False):
        account = _savings_account(alice)
        _fund_savings(alice, account, 50_000)
    return {"account": SavingsAccount.objects.get(pk=account.pk)}


def _fund_savings(user, account, amount):
    from ledger.models import AccountKind
    from ledger.services import system_account, transfer_post

    transfer_post(
        initiator=None,
        debit=system_account(AccountKind.FUNDING, "USD"),
        credit=account.ledger_account,
        amount=amount,
        currency="USD",
        kind="test_funding",
    )


def check_accrue_interest(result, ctx):
    from savings.models import InterestAccrual

    rows = InterestAccrual.objects.filter(account=ctx["account"])
    assert result >= 2 and rows.count() == result
    assert rows.values("day").distinct().count() == result and rows.filter(amount__gt=0).exists()


def setup_pay_interest():
    from decimal import Decimal

    from savings.accrual import accruals_catch_up, month_start, previous_month
    from savings.models import SavingsProduct, SavingsRate

    alice, _ = _users()
    this_month = month_start(timezone.now().date())
    last_month = previous_month(this_month)
    opened = timezone.datetime.combine(previous_month(last_month), timezone.datetime.min.time(), tzinfo=UTC)
    product, _ = SavingsProduct.objects.get_or_create(currency="USD")
    SavingsRate.objects.get_or_create(
        product=product, effective_from=opened.date() - timedelta(days=1), defaults={"apy": Decimal("0.5")}
    )
    with time_machine.travel(opened, tick=False):
        account = _savings_account(alice)
        _fund_savings(alice, account, 10_000_000)
    accruals_catch_up(max_days=120)
    return {"account": account}


def check_pay_interest(result, ctx):
    from ledger.models import Transfer
    from savings.models import InterestPayout

    payouts = InterestPayout.objects.filter(account=ctx["account"])
    assert result >= 1 and payouts.count() == result
    assert Transfer.objects.filter(kind="savings_interest", credit_account=ctx["account"].ledger_account).count() >= 1


def setup_autopay_due_instalments():
    from lending.services import loan_accept
    from lending.tests.conftest import usd_product

    usd_product()
    alice, _ = _users()
    loan = loan_accept(alice, amount=_usd("300.00"), term_months=6, idempotency_key="k1")
    first = loan.instalments.get(number=1)
    at = timezone.datetime.combine(first.due_date, timezone.datetime.min.time(), tzinfo=UTC)
    return {"instalment": first, "at": at + timedelta(hours=12)}


def check_autopay_due_instalments(result, ctx):
    from lending.models import InstalmentStatus

    ctx["instalment"].refresh_from_db()
    assert result == {"paid": 1} and ctx["instalment"].status == InstalmentStatus.PAID


def setup_expire_due_authorizations():
    from cards.tests.factories import authorize, card_for, merchant
    from payments.tests.factories import fund, sender_user

    holder = sender_user("holder")
    fund(holder, "200.00")
    card = card_for(holder)
    auth_id = authorize(merchant("Test Shop"), card, 6000)["authorization_id"]
    return {"auth_id": auth_id, "at": timezone.now() + timedelta(days=8)}


def check_expire_due_authorizations(result, ctx):
    from cards.models import Authorization, AuthorizationStatus

    assert result == 1 and Authorization.objects.get(pk=ctx["auth_id"]).status == AuthorizationStatus.EXPIRED


def setup_issue_card_if_eligible():
    from payments.tests.factories import fund, sender_user

    user = sender_user("rich")
    fund(user, "5000.00")  # on_commit never fires in this test transaction: the task has not run yet
    return {"user": user, "args": (user.pk,)}


def check_issue_card_if_eligible(result, ctx):
    from cards.models import Card

    assert result is not None and list(Card.objects.filter(user=ctx["user"]).values_list("pk", flat=True)) == [result]


def setup_auto_release_due_orders():
    from commerce.services.orders import order_ship
    from commerce.tests.factories import buyer_user, make_listing, make_order, seller_user

    carol = seller_user("carol")
    bob = buyer_user("bob", funds="100.00")
    mug = make_listing(carol.shop, title="Everything mug", price="12.00", stock=2, shipping="3.00")
    order = make_order(bob, mug)
    order_ship(carol, order=order)
    return {"order": order, "at": timezone.now() + timedelta(days=14, minutes=1)}


def check_auto_release_due_orders(result, ctx):
    ctx["order"].refresh_from_db()
    assert result == 1 and ctx["order"].status == "released"


def setup_renew_due_subscriptions():
    from payments.tests.factories import fund, sender_user
    from social.services.subscriptions import subscription_start
    from social.tests.factories import make_creator, make_tier

    dave = sender_user("dave")
    make_creator(dave)
    tier = make_tier(dave, name="Supporter", price=500)
    fan = sender_user("fan")
    fund(fan, "100.00")
    sub = subscription_start(fan, tier=tier, idempotency_key="k1")
    sub.refresh_from_db()
    return {"sub": sub, "at": sub.next_attempt_at + timedelta(seconds=1)}


def check_renew_due_subscriptions(result, ctx):
    ctx["sub"].refresh_from_db()
    assert result == 1 and ctx["sub"].periods_paid == 2


def setup_fan_out_new_post():
    from accounts.models import Follow
    from accounts.tests.factories import UserFactory
    from social.tests.factories import make_post

    author = UserFactory(handle="author")
    for n in range(3):
        Follow.objects.create(follower=UserFactory(handle=f"fan{n}"), followee=author)
    post = make_post(author)
    return {"args": (post.pk,)}


def check_fan_out_new_post(result, ctx):
    assert result == 3


def setup_prune_idempotency_records():
    from core.models import IdempotencyRecord

    alice, _ = _users()
    old = IdempotencyRecord.objects.create(user=alice, key="old", method="POST", path="/x/")
    IdempotencyRecord.objects.create(user=alice, key="new", method="POST", path="/x/")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    return {}


def check_prune_idempotency_records(result, ctx):
    from core.models import IdempotencyRecord

    assert result == 1 and list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def setup_celery_heartbeat():
    return {}


def check_celery_heartbeat(result, ctx):
    from django.core.cache import cache

    from core.tasks import CELERY_HEARTBEAT_KEY

    assert cache.get(CELERY_HEARTBEAT_KEY) == result


def setup_ledger_check():
    from compliance.tests.factories import staff_user

    staff_user("ops")
    _users()
    return {}


def check_ledger_check(result, ctx):
    from notifications.models import Notification

    assert result is True and not Notification.objects.exists()


CASES: dict[str, Case] = {
    "cards.tasks.expire_due_authorizations": Case(setup_expire_due_authorizations, check_expire_due_authorizations),
    "cards.tasks.issue_card_if_eligible": Case(setup_issue_card_if_eligible, check_issue_card_if_eligible),
    "commerce.tasks.auto_release_due_orders": Case(setup_auto_release_due_orders, check_auto_release_due_orders),
    "compliance.tasks.expire_overdue_reviews": Case(setup_expire_overdue_reviews, check_expire_overdue_reviews),
    "core.tasks.celery_heartbeat": Case(setup_celery_heartbeat, check_celery_heartbeat),
    "core.tasks.prune_idempotency_records": Case(setup_prune_idempotency_records, check_prune_idempotency_records),
    "everything.tasks.ledger_check": Case(setup_ledger_check, check_ledger_check),
    "ledger.tasks.expire_due_holds": Case(setup_expire_due_holds, check_expire_due_holds),
    "lending.tasks.autopay_due_instalments": Case(setup_autopay_due_instalments, check_autopay_due_instalments),
    "payments.tasks.auto_release_escrows": Case(setup_auto_release_escrows, check_auto_release_escrows),
    "payments.tasks.expire_requests": Case(setup_expire_requests, check_expire_requests),
    "payments.tasks.release_due_payments": Case(setup_release_due_payments, check_release_due_payments),
    "payments.tasks.return_stale_checks": Case(setup_return_stale_checks, check_return_stale_checks),
    "payments.tasks.settle_due_cash_outs": Case(setup_settle_due_cash_outs, check_settle_due_cash_outs),
    "savings.tasks.accrue_interest": Case(setup_accrue_interest, check_accrue_interest),
    "savings.tasks.pay_interest": Case(setup_pay_interest, check_pay_interest),
    "social.tasks.fan_out_new_post": Case(setup_fan_out_new_post, check_fan_out_new_post),
    "social.tasks.renew_due_subscriptions": Case(setup_renew_due_subscriptions, check_renew_due_subscriptions),
}


def our_tasks() -> set[str]:
    """Every task registered by a module of this project (Celery's own ``celery.*`` left out)."""
    celery_app.loader.import_default_modules()  # autodiscovery: every installed app's tasks.py
    base = Path(settings.BASE_DIR).resolve()
    ours = set()
    for name, task in celery_app.tasks.items():
        module = getattr(task.run, "__module__", "") or ""
        top = module.split(".")[0]
        if top and (base / top).is_dir() and not name.startswith("celery."):
            ours.add(name)
    return ours


def test_every_task_has_a_case():
    tasks = our_tasks()
    assert len(tasks) >= 10  # autodiscovery ran
    missing = sorted(tasks - CASES.keys())
    assert not missing, f"tasks without a run-twice case in CASES: {missing}"
    gone = sorted(CASES.keys() - tasks)
    assert not gone, f"CASES entries for tasks that no longer exist: {gone}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_task_is_safe_to_run_twice(name):
    case = CASES[name]
    celery_app.loader.import_default_modules()
    task = celery_app.tasks[name]
    ctx = case.setup() or {}
    args = ctx.get("args", ())
    at = ctx.get("at", timezone.now())
    mail.outbox = []
    with time_machine.travel(at, tick=False):
        first = task.delay(*args).get()
    case.check(first, ctx)
    before = snapshot()
    with time_machine.travel(at + timedelta(seconds=1), tick=False):
        task.delay(*args).get()
    after = snapshot()
    assert not changes(before, after), f"{name} changed state when run a second time: {changes(before, after)}"


def test_a_failed_ledger_check_alerts_once_when_run_twice(monkeypatch, settings):
    """The failure path too: a redelivered nightly check neither notifies staff nor mails ADMINS again."""
    from compliance.tests.factories import staff_user
    from everything import tasks
    from ledger.selectors import LedgerReport
    from notifications.models import Notification

    settings.ADMINS = [("Ops", "ops@example.com")]
    staff = staff_user("ops")
    broken = LedgerReport(accounts=3, transfers=4, currencies=["USD"], problems=["currency USD: 10 != 9"])
    monkeypatch.setattr(tasks, "ledger_verify", lambda: broken)
    mail.outbox = []
    assert tasks.ledger_check.delay().get() is False
    assert Notification.objects.filter(recipient=staff, kind=tasks.LEDGER_CHECK_FAILED).count() == 1
    assert len(mail.outbox) == 1
    before = snapshot()
    assert tasks.ledger_check.delay().get() is False
    assert not changes(before, snapshot())
