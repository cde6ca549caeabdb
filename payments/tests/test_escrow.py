"""Pay with protection (escrow): a ledger hold released, auto-released, refunded or disputed — each once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from accounts.models import Block
from accounts.tests.factories import UserFactory
from compliance.models import AuditEntry, LimitUsage
from compliance.services import AccountFrozen, LimitExceeded, VerificationRequired, freeze_account
from compliance.tests.factories import make_verified, staff_user
from core.errors import DomainError, IdempotencyKeyReused, NotFound, NotPermitted, ValidationFailed
from core.money import Money
from core.testing import run_threads
from ledger.models import Transfer, TransferState
from ledger.selectors import ledger_verify
from ledger.services import InsufficientFunds, holds_expire_due
from notifications.models import Notification
from payments.models import Escrow, EscrowStatus
from payments.services.escrow import (
    AUTO_RELEASE_AFTER,
    HOLD_TIMEOUT,
    EscrowDisputed,
    EscrowNotOpen,
    EscrowProtectionEnded,
    escrow_create,
    escrow_dispute_open,
    escrow_for_user,
    escrow_link_register,
    escrow_refund_by_seller,
    escrow_release,
    escrow_resolve,
    escrows_auto_release_due,
)
from payments.services.send import RecipientInvalid
from payments.services.wallet import wallet_account

from .factories import available, balance, fund, sender_user

pytestmark = pytest.mark.django_db


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def pay(buyer, seller, amount="40.00", description="Vintage lamp", **kwargs) -> Escrow:
    return escrow_create(buyer, seller=seller, amount=usd(amount), description=description, **kwargs)


def pending_in(user, currency="USD") -> int:
    account = wallet_account(user, currency)
    account.refresh_from_db()
    return account.credits_pending


def money_state(*users):
    return [(balance(u), available(u), pending_in(u)) for u in users]


@pytest.fixture
def staff(db):
    return staff_user("referee")


@pytest.fixture
def held(alice, bob):
    return pay(alice, bob)


@pytest.fixture
def disputed(held, alice):
    return escrow_dispute_open(alice, escrow=held, reason="The lamp never arrived")


# --- Create -----------------------------------------------------------------------------------------


def test_create_holds_the_buyers_money_for_the_seller(alice, bob):
    escrow = pay(alice, bob, "40.00", context="conversation:7")
    assert escrow.status == EscrowStatus.HELD
    assert escrow.amount == 4000 and escrow.currency == "USD"
    assert escrow.auto_release_at == pytest.approx(timezone.now() + AUTO_RELEASE_AFTER, abs=timedelta(seconds=30))
    # The buyer's available money drops at once; the posted balances do not move yet.
    assert balance(alice) == 100000 and available(alice) == 96000
    assert balance(bob) == 100000 and pending_in(bob) == 4000
    hold = escrow.hold
    assert hold.state == TransferState.PENDING and hold.kind == "escrow"
    assert hold.timeout_at == pytest.approx(timezone.now() + HOLD_TIMEOUT, abs=timedelta(seconds=30))
    # The seller is told, and both get the live event.
    note = Notification.objects.get(recipient=bob, kind="escrow.received")
    assert note.title == "@alice paid you $40.00 with protection — released when they confirm"
    # The limit counts it like a payment.
    assert LimitUsage.objects.filter(user=alice, reference=f"escrow:{escrow.pk}", usd_minor=4000).exists()


def test_create_publishes_escrow_updated_to_both(alice, bob, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("notifications.services._send_now", lambda user_id, event: sent.append((user_id, event)))
    with django_capture_on_commit_callbacks(execute=True):
        escrow = pay(alice, bob, context="conversation:7")
    updates = [(uid, e["data"]) for uid, e in sent if e["type"] == "escrow.updated"]
    assert {uid for uid, _ in updates} == {alice.pk, bob.pk}
    data = updates[0][1]
    assert data["id"] == escrow.pk and data["status"] == "held"
    assert data["amount"] == "$40.00" and data["context"] == "conversation:7"


def test_seller_gets_a_wallet_in_the_escrow_currency_on_demand(alice, bob, fx_rates):
    fund(alice, "50.00", "EUR")
    escrow = escrow_create(alice, seller=bob, amount=Money.parse("20.00", "EUR"), description="Book")
    assert escrow.currency == "EUR"  # no conversion, even though bob's home currency is USD
    assert pending_in(bob, "EUR") == 2000
    escrow_release(alice, escrow=escrow)
    assert balance(bob, "EUR") == 2000 and balance(alice, "EUR") == 3000


def test_create_is_idempotent_by_key(alice, bob):
    first = pay(alice, bob, idempotency_key="k-1")
    again = pay(alice, bob, idempotency_key="k-1")
    assert again.pk == first.pk
    assert Escrow.objects.count() == 1 and available(alice) == 96000
    with pytest.raises(IdempotencyKeyReused):
        pay(alice, bob, "41.00", idempotency_key="k-1")
    assert Escrow.objects.count() == 1 and available(alice) == 96000


def test_insufficient_funds_says_what_is_available(alice, bob):
    make_verified(alice, tier=2)  # a limit high enough that the money is what runs out
    with pytest.raises(InsufficientFunds, match=r"You have \$1,000\.00 available in USD; \$1,500\.00 is more"):
        pay(alice, bob, "1500.00")
    assert Escrow.objects.count() == 0 and LimitUsage.objects.count() == 0
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"description": ""}, ValidationFailed, "Enter a description."),
        ({"description": "x" * 281}, ValidationFailed, "The description is 281 characters; the limit is 280."),
        ({"amount": "0.00"}, ValidationFailed, None),
    ],
)
def test_bad_input_moves_nothing(alice, bob, kwargs, error, message):
    with pytest.raises(error, match=message):
        pay(alice, bob, **kwargs)
    assert Escrow.objects.count() == 0 and available(alice) == 100000


def test_seller_must_be_someone_else_and_active(alice, bob):
    with pytest.raises(RecipientInvalid, match="You cannot pay yourself"):
        pay(alice, alice)
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    with pytest.raises(RecipientInvalid, match="cannot receive money"):
        pay(alice, bob)
    assert Escrow.objects.count() == 0


def test_a_block_either_way_stops_it(alice, bob):
    Block.objects.create(blocker=bob, blocked=alice)
    with pytest.raises(NotPermitted, match="You can't pay @bob"):
        pay(alice, bob)
    with pytest.raises(NotPermitted, match="You can't pay @alice"):
        pay(bob, alice)
    assert Escrow.objects.count() == 0 and available(alice) == 100000


def test_frozen_unverified_and_over_the_limit_buyers_are_refused(alice, bob, carol):
    freeze_account(staff_user("staffer"), user=alice, reason="Checking a payment")
    with pytest.raises(AccountFrozen):
        pay(alice, bob)
    newcomer = sender_user("newcomer", tier=0)
    fund(newcomer, "50.00")
    with pytest.raises(VerificationRequired):
        pay(newcomer, bob)
    fund(carol, "2000.00")
    with pytest.raises(LimitExceeded):
        pay(carol, bob, "1000.01")  # tier 1: 1,000.00 USD per 7 days
    assert Escrow.objects.count() == 0 and pending_in(bob) == 0


# --- Release ----------------------------------------------------------------------------------------


def test_buyer_releases_once(alice, bob, held):
    escrow = escrow_release(alice, escrow=held)
    assert escrow.status == EscrowStatus.RELEASED and escrow.resolved_at
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]
    assert Notification.objects.filter(recipient=bob, kind="escrow.released").count() == 1
    with pytest.raises(EscrowNotOpen, match="already released to @bob"):
        escrow_release(alice, escrow=held)
    with pytest.raises(EscrowNotOpen):
        escrow_refund_by_seller(bob, escrow=held)
    with pytest.raises(EscrowNotOpen):
        escrow_dispute_open(alice, escrow=held, reason="too late")
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]
    assert Transfer.objects.filter(pending=held.hold, state=TransferState.POSTED).count() == 1


def test_seller_cannot_release_and_strangers_see_nothing(alice, bob, carol, held):
    with pytest.raises(NotPermitted, match="Only the buyer"):
        escrow_release(bob, escrow=held)
    for action in (
        lambda: escrow_release(carol, escrow=held),
        lambda: escrow_dispute_open(carol, escrow=held, reason="mine"),
        lambda: escrow_refund_by_seller(carol, escrow=held),
        lambda: escrow_for_user(carol, held.pk),
    ):
        with pytest.raises(NotFound):
            action()
    with pytest.raises(NotPermitted, match="Only the seller"):
        escrow_refund_by_seller(alice, escrow=held)
    assert escrow_for_user(alice, held.pk) == held and escrow_for_user(bob, str(held.pk)) == held
    for bad in (None, "x", -1, 2**70, True, 999999):
        with pytest.raises(NotFound):
            escrow_for_user(alice, bad)
    held.refresh_from_db()
    assert held.status == EscrowStatus.HELD and available(alice) == 96000


# --- Auto-release -----------------------------------------------------------------------------------


def test_auto_release_after_seven_days_once(alice, bob, held):
    assert escrows_auto_release_due(now=timezone.now() + timedelta(days=6)) == 0
    later = timezone.now() + AUTO_RELEASE_AFTER + timedelta(minutes=1)
    assert escrows_auto_release_due(now=later) == 1
    held.refresh_from_db()
    assert held.status == EscrowStatus.RELEASED
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]
    assert Notification.objects.filter(recipient=bob, kind="escrow.auto_released").count() == 1
    assert escrows_auto_release_due(now=later) == 0
    with pytest.raises(EscrowNotOpen):
        escrow_release(alice, escrow=held)
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]


def test_auto_release_skips_disputes_and_one_bad_row_does_not_stop_the_others(alice, bob, carol, monkeypatch):
    fund(carol, "100.00")
    first, second, third = pay(alice, bob, "10.00"), pay(carol, bob, "20.00"), pay(alice, carol, "5.00")
    escrow_dispute_open(carol, escrow=third, reason="Wrong item sent")
    from payments.services import escrow as module

    real = module._release

    def flaky(escrow, **kwargs):
        if escrow.pk == first.pk:
            raise RuntimeError("boom")
        return real(escrow, **kwargs)

    monkeypatch.setattr(module, "_release", flaky)
    assert escrows_auto_release_due(now=timezone.now() + timedelta(days=8)) == 1
    statuses = dict(Escrow.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "held", second.pk: "released", third.pk: "disputed"}
    monkeypatch.setattr(module, "_release", real)
    assert escrows_auto_release_due(now=timezone.now() + timedelta(days=8)) == 1
    assert Escrow.objects.get(pk=first.pk).status == "released"


def test_no_dispute_once_the_protection_period_is_over(alice, held, monkeypatch):
    Escrow.objects.filter(pk=held.pk).update(auto_release_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(EscrowProtectionEnded):
        escrow_dispute_open(alice, escrow=held, reason="Changed my mind")


# --- Disputes ---------------------------------------------------------------------------------------


def test_dispute_stops_the_auto_release_and_tells_the_other_side(alice, bob, held):
    escrow = escrow_dispute_open(alice, escrow=held, reason="  The lamp never arrived ")
    assert escrow.status == EscrowStatus.DISPUTED and escrow.disputed_by == alice
    assert escrow.dispute_reason == "The lamp never arrived" and escrow.disputed_at
    assert Notification.objects.filter(recipient=bob, kind="escrow.disputed").count() == 1
    assert escrows_auto_release_due(now=timezone.now() + timedelta(days=30)) == 0
    with pytest.raises(EscrowDisputed):
        escrow_release(alice, escrow=held)
    with pytest.raises(EscrowDisputed, match="already open"):
        escrow_dispute_open(bob, escrow=held, reason="Me too")
    with pytest.raises(ValidationFailed, match="Enter a reason"):
        escrow_dispute_open(alice, escrow=pay(alice, bob, "1.00"), reason="   ")
    assert money_state(alice, bob) == [(100000, 95900, 0), (100000, 100000, 4100)]


def test_dispute_then_refund_exactly_once(alice, bob, staff, disputed):
    escrow = escrow_resolve(staff, escrow=disputed, outcome="refund", note="No proof of delivery")
    assert escrow.status == EscrowStatus.REFUNDED and escrow.resolved_by == staff
    assert escrow.resolution_note == "No proof of delivery"
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]
    entry = AuditEntry.objects.get(action="escrow.refund")
    assert entry.actor == staff and entry.reason == "No proof of delivery" and entry.target_id == str(escrow.pk)
    assert not LimitUsage.objects.filter(reference=f"escrow:{escrow.pk}", released_at__isnull=True).exists()
    for user in (alice, bob):
        assert Notification.objects.filter(recipient=user, kind="escrow.resolved_refund").count() == 1
    for again in (
        lambda: escrow_resolve(staff, escrow=disputed, outcome="refund", note="again"),
        lambda: escrow_resolve(staff, escrow=disputed, outcome="release", note="changed my mind"),
        lambda: escrow_refund_by_seller(bob, escrow=disputed),
        lambda: escrow_release(alice, escrow=disputed),
    ):
        with pytest.raises(EscrowNotOpen):
            again()
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]
    assert AuditEntry.objects.filter(action__startswith="escrow.").count() == 1


def test_dispute_then_release_exactly_once(alice, bob, staff, disputed):
    escrow = escrow_resolve(staff, escrow=disputed, outcome="release", note="Tracking shows it was delivered")
    assert escrow.status == EscrowStatus.RELEASED
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]
    assert AuditEntry.objects.get(action="escrow.release").data["hold_lapsed"] is False
    with pytest.raises(EscrowNotOpen, match="already released"):
        escrow_resolve(staff, escrow=disputed, outcome="refund", note="oops")
    assert escrows_auto_release_due(now=timezone.now() + timedelta(days=61)) == 0
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]
    assert AuditEntry.objects.filter(action__startswith="escrow.").count() == 1


def test_who_may_resolve(alice, bob, held, disputed):
    for actor in (alice, bob, UserFactory(is_staff=True)):  # parties, and staff without the permission
        with pytest.raises(NotPermitted):
            escrow_resolve(actor, escrow=disputed, outcome="refund", note="mine")
    referee = UserFactory(is_staff=True)
    referee.user_permissions.add(Permission.objects.get(codename="change_escrow"))
    referee = type(referee).objects.get(pk=referee.pk)  # fresh permission cache
    with pytest.raises(ValidationFailed, match="Enter a note"):
        escrow_resolve(referee, escrow=disputed, outcome="refund", note="  ")
    with pytest.raises(ValidationFailed, match="refund or release"):
        escrow_resolve(referee, escrow=disputed, outcome="keep", note="x")
    party_staff = staff_user("partystaff")
    make_verified(party_staff, tier=1)
    fund(party_staff, "10.00")
    own = pay(party_staff, bob, "5.00")
    escrow_dispute_open(bob, escrow=own, reason="x")
    with pytest.raises(NotPermitted, match="take part in"):
        escrow_resolve(party_staff, escrow=own, outcome="refund", note="mine")
    disputed.refresh_from_db()
    assert disputed.status == EscrowStatus.DISPUTED and available(alice) == 96000
    escrow_resolve(referee, escrow=disputed, outcome="refund", note="ok")
    assert available(alice) == 100000


def test_resolve_needs_a_dispute(alice, staff, held):
    with pytest.raises(EscrowNotOpen, match="no dispute"):
        escrow_resolve(staff, escrow=held, outcome="release", note="x")
    assert held.status == EscrowStatus.HELD


def test_seller_refunds_while_held_or_disputed(alice, bob, held, disputed):
    other = pay(alice, bob, "10.00")
    escrow_refund_by_seller(bob, escrow=other)
    escrow_refund_by_seller(bob, escrow=disputed)
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]
    assert Notification.objects.filter(recipient=alice, kind="escrow.refunded").count() == 2
    with pytest.raises(EscrowNotOpen, match="already refunded to @alice"):
        escrow_refund_by_seller(bob, escrow=other)


# --- When the ledger hold lapses before a decision --------------------------------------------------


def test_ledger_expiry_of_a_disputed_hold_ends_refunded(alice, bob, staff, disputed):
    past_timeout = timezone.now() + HOLD_TIMEOUT + timedelta(minutes=1)
    assert holds_expire_due(now=past_timeout) == 1  # the ledger's own beat task got there first
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]
    assert escrows_auto_release_due(now=past_timeout) == 1
    disputed.refresh_from_db()
    assert disputed.status == EscrowStatus.REFUNDED
    assert Notification.objects.filter(kind="escrow.lapsed").count() == 2
    assert escrows_auto_release_due(now=past_timeout) == 0
    with pytest.raises(EscrowNotOpen):
        escrow_resolve(staff, escrow=disputed, outcome="release", note="late")


def test_our_task_expires_a_lapsed_hold_itself(alice, bob, disputed):
    past_timeout = timezone.now() + HOLD_TIMEOUT + timedelta(minutes=1)
    assert escrows_auto_release_due(now=past_timeout) == 1  # before the ledger's task ran
    disputed.refresh_from_db()
    assert disputed.status == EscrowStatus.REFUNDED
    assert Transfer.objects.filter(pending=disputed.hold, state=TransferState.EXPIRED).count() == 1
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]


def test_staff_release_after_the_ledger_expired_the_hold_ends_refunded(alice, bob, staff, disputed):
    holds_expire_due(now=timezone.now() + HOLD_TIMEOUT + timedelta(minutes=1))
    escrow = escrow_resolve(staff, escrow=disputed, outcome="release", note="Delivered after all")
    assert escrow.status == EscrowStatus.REFUNDED and escrow.resolved_by == staff
    entry = AuditEntry.objects.get(action="escrow.refund")
    assert entry.data["requested"] == "release" and entry.data["hold_lapsed"] is True
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]


# --- Links ------------------------------------------------------------------------------------------


def test_context_link_registry(alice, bob):
    escrow_link_register("testctx", lambda rest: f"/things/{int(rest)}/")
    escrow = pay(alice, bob, context="testctx:5")
    assert Notification.objects.get(recipient=bob, kind="escrow.received").url == "/things/5/"
    broken = pay(alice, bob, "1.00", context="testctx:nope")  # a broken builder never fails the payment
    assert broken.pk != escrow.pk


# --- Admin ------------------------------------------------------------------------------------------


def test_admin_queue_defaults_to_disputes(admin_client, alice, bob, held, django_assert_max_num_queries):
    other = pay(alice, bob, "3.00", description="Unique open thing")
    escrow_dispute_open(bob, escrow=other, reason="Buyer changed the deal")
    for i in range(5):
        escrow_dispute_open(alice, escrow=pay(alice, bob, "1.00", description=f"item {i}"), reason="x")
    with django_assert_max_num_queries(14):
        response = admin_client.get("/admin/payments/escrow/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Unique open thing" in body and "Vintage lamp" not in body
    assert "$3.00" in body
    everything = admin_client.get("/admin/payments/escrow/?status=all").content.decode()
    assert "Vintage lamp" in everything
    assert admin_client.get(f"/admin/payments/escrow/{held.pk}/change/").status_code == 200


def test_admin_buttons_resolve_with_a_note_and_are_audited(admin_client, admin_user, alice, bob, disputed):
    page = admin_client.get(f"/admin/payments/escrow/{disputed.pk}/change/").content.decode()
    refund_url = f"/admin/payments/escrow/{disputed.pk}/resolve/refund/"
    release_url = f"/admin/payments/escrow/{disputed.pk}/resolve/release/"
    assert refund_url in page and release_url in page
    confirm = admin_client.get(refund_url)
    assert confirm.status_code == 200 and "The lamp never arrived" in confirm.content.decode()
    assert admin_client.post(refund_url, {"note": "  "}).status_code == 400  # the note is required
    disputed.refresh_from_db()
    assert disputed.status == EscrowStatus.DISPUTED
    response = admin_client.post(refund_url, {"note": "Seller could not show delivery"})
    assert response.status_code == 302
    disputed.refresh_from_db()
    assert disputed.status == EscrowStatus.REFUNDED and disputed.resolved_by == admin_user
    entry = AuditEntry.objects.get(action="escrow.refund")
    assert entry.actor == admin_user and entry.reason == "Seller could not show delivery"
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]
    # A second click (the other button, an old tab) moves nothing.
    again = admin_client.post(release_url, {"note": "Actually release"})
    assert again.status_code == 409 and "already refunded" in again.content.decode()
    assert money_state(alice, bob) == [(100000, 100000, 0), (100000, 100000, 0)]
    page = admin_client.get(f"/admin/payments/escrow/{disputed.pk}/change/").content.decode()
    assert refund_url not in page
    assert admin_client.get(f"/admin/payments/escrow/{disputed.pk}/resolve/keep/").status_code == 404


def test_admin_release_button(admin_client, alice, bob, disputed):
    url = f"/admin/payments/escrow/{disputed.pk}/resolve/release/"
    assert admin_client.post(url, {"note": "Delivered"}).status_code == 302
    assert money_state(alice, bob) == [(96000, 96000, 0), (104000, 104000, 0)]
    assert AuditEntry.objects.filter(action="escrow.release").count() == 1


def test_admin_refuses_non_staff_and_staff_without_the_permission(client, alice, disputed):
    url = f"/admin/payments/escrow/{disputed.pk}/resolve/refund/"
    client.force_login(alice)
    assert client.get("/admin/payments/escrow/").status_code == 302  # to the admin login
    assert client.post(url, {"note": "mine"}).status_code == 302
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_escrow"))
    client.force_login(viewer)
    assert client.get("/admin/payments/escrow/").status_code == 200
    page = client.get(f"/admin/payments/escrow/{disputed.pk}/change/").content.decode()
    assert "/resolve/refund/" not in page
    assert client.post(url, {"note": "mine"}).status_code == 403
    disputed.refresh_from_db()
    assert disputed.status == EscrowStatus.DISPUTED
    assert not AuditEntry.objects.filter(action__startswith="escrow.").exists()


# --- Real concurrency (PostgreSQL) ------------------------------------------------------------------


def _contenders(buyer, seller, pk, later) -> list:
    """Release (buyer, twice), dispute (each side) and the auto-release task (twice)."""
    return [
        lambda: escrow_release(buyer, escrow=pk),
        lambda: escrow_dispute_open(seller, escrow=pk, reason="Buyer is lying"),
        lambda: escrows_auto_release_due(now=later),
        lambda: escrow_release(buyer, escrow=pk),
        lambda: escrow_dispute_open(buyer, escrow=pk, reason="Not as described"),
        lambda: escrows_auto_release_due(now=later),
    ]


def _race(count, actions):
    def attempt(index):
        try:
            return actions[index]()
        except DomainError as error:
            return error

    return run_threads(count, attempt, timeout=120)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_release_dispute_and_auto_release_racing_have_exactly_one_outcome():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks): set DATABASE_URL=postgres://... as .ci/run does")
    buyer, seller = sender_user("buyer"), sender_user("seller")
    fund(buyer, "100.00")
    for round_ in range(5):
        escrow = escrow_create(buyer, seller=seller, amount=Money(1000, "USD"), description=f"round {round_}")
        actions = _contenders(buyer, seller, escrow.pk, timezone.now() + AUTO_RELEASE_AFTER + timedelta(minutes=1))
        results, errors = _race(len(actions), actions)
        assert not errors, errors
        escrow.refresh_from_db()
        hold_resolutions = Transfer.objects.filter(pending_id=escrow.hold_id)
        successes = [r for r in results if isinstance(r, Escrow)] + [r for r in results if r == 1]
        assert len(successes) == 1, results
        assert all(isinstance(r, (Escrow, DomainError)) or r in (0, 1) for r in results)
        if escrow.status == EscrowStatus.DISPUTED:
            assert not hold_resolutions.exists()
            escrow_refund_by_seller(seller, escrow=escrow)
        else:
            assert escrow.status == EscrowStatus.RELEASED
            assert hold_resolutions.filter(state=TransferState.POSTED).count() == 1
    assert balance(buyer) + balance(seller) == 10000
    report = ledger_verify()
    assert report.ok, report.problems
