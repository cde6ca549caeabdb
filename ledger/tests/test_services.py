from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import IdempotencyKeyReused
from core.money import MAX_AMOUNT_MINOR, InvalidAmount, UnknownCurrency
from ledger import services
from ledger.models import Account, AccountKind, Batch, ImmutableError, Transfer, TransferState
from ledger.selectors import balances_for_owner, ledger_verify, open_holds
from ledger.services import TransferSpec

pytestmark = pytest.mark.django_db


def refresh(*accounts):
    return [Account.objects.get(pk=a.pk) for a in accounts]


def counters(account):
    a = Account.objects.get(pk=account.pk)
    return (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)


class TestAccounts:
    def test_account_open_is_idempotent(self, make_user):
        user = make_user()
        first = services.account_open(owner=user, kind=AccountKind.WALLET, currency="USD")
        again = services.account_open(owner=user, kind=AccountKind.WALLET, currency="usd")
        assert first.pk == again.pk
        assert first.must_not_go_negative

    def test_system_accounts_are_created_on_demand_once_per_kind_and_currency(self):
        fees = services.system_account(AccountKind.FEES, "USD")
        assert services.system_account(AccountKind.FEES, "USD").pk == fees.pk
        assert services.system_account(AccountKind.FEES, "EUR").pk != fees.pk
        assert fees.owner is None and not fees.must_not_go_negative

    def test_kinds_cannot_be_mixed_up(self, make_user):
        with pytest.raises(services.InvalidTransfer):
            services.account_open(owner=make_user(), kind=AccountKind.FUNDING, currency="USD")
        with pytest.raises(services.InvalidTransfer):
            services.system_account(AccountKind.WALLET, "USD")

    def test_unknown_currency_refused(self, make_user):
        with pytest.raises(UnknownCurrency):
            services.account_open(owner=make_user(), kind=AccountKind.WALLET, currency="XXX")


class TestTransfer:
    def test_moves_money_and_updates_both_counters(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 10_000)
        t = services.transfer_post(initiator=None, debit=a, credit=b, amount=2_500, currency="USD", kind="payment")
        assert t.state == TransferState.POSTED
        a, b = refresh(a, b)
        assert (a.balance, b.balance) == (7_500, 2_500)
        assert counters(b) == (0, 2_500, 0, 0)

    def test_insufficient_funds_leaves_no_trace(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        batches, transfers = Batch.objects.count(), Transfer.objects.count()
        with pytest.raises(services.InsufficientFunds) as info:
            services.transfer_post(initiator=None, debit=a, credit=b, amount=1_001, currency="USD", kind="payment")
        assert info.value.code == "insufficient_funds"
        assert "$10.00 available" in info.value.message
        assert (Batch.objects.count(), Transfer.objects.count()) == (batches, transfers)
        assert counters(a) == (0, 1_000, 0, 0) and counters(b) == (0, 0, 0, 0)

    def test_exact_balance_can_be_spent(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        services.transfer_post(initiator=None, debit=a, credit=b, amount=1_000, currency="USD", kind="payment")
        assert refresh(a)[0].balance == 0

    @pytest.mark.parametrize("amount", [0, -5, 1.5, "100", True, None, MAX_AMOUNT_MINOR + 1])
    def test_bad_amounts_refused(self, wallet, fund, amount):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        with pytest.raises(InvalidAmount):
            services.transfer_post(initiator=None, debit=a, credit=b, amount=amount, currency="USD", kind="payment")
        assert counters(b) == (0, 0, 0, 0)

    def test_currency_mismatch_refused(self, wallet, fund, make_user):
        user = make_user()
        usd, eur = wallet("USD", user), wallet("EUR", user)
        fund(usd, 1_000)
        with pytest.raises(services.CurrencyMismatch):
            services.transfer_post(initiator=None, debit=usd, credit=eur, amount=100, currency="USD", kind="fx")

    def test_same_account_refused(self, wallet, fund):
        a = wallet()
        fund(a, 1_000)
        with pytest.raises(services.InvalidTransfer):
            services.transfer_post(initiator=None, debit=a, credit=a, amount=100, currency="USD", kind="payment")

    def test_unknown_account_refused(self, wallet, fund):
        a = wallet()
        fund(a, 1_000)
        with pytest.raises(services.AccountNotFound):
            services.transfer_post(initiator=None, debit=a, credit=999_999, amount=1, currency="USD", kind="x")
        with pytest.raises(services.AccountNotFound):
            services.transfer_post(initiator=None, debit=a, credit="2", amount=1, currency="USD", kind="x")

    def test_metadata_must_be_a_json_object(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        with pytest.raises(services.InvalidTransfer):
            services.transfer_post(
                initiator=None, debit=a, credit=b, amount=1, currency="USD", kind="x", metadata={"when": object()}
            )


class TestBatches:
    def test_all_or_none(self, wallet, fund):
        a, b, c = wallet(), wallet(), wallet()
        fund(a, 1_000)
        legs = [
            TransferSpec(a, b, 600, "USD", "payment"),
            TransferSpec(a, c, 600, "USD", "fee"),  # together they overdraw a
        ]
        with pytest.raises(services.InsufficientFunds):
            services.transfers_post(initiator=None, transfers=legs)
        assert counters(b) == (0, 0, 0, 0) and counters(c) == (0, 0, 0, 0)
        assert counters(a) == (0, 1_000, 0, 0)

    def test_legs_are_netted_before_the_balance_check(self, wallet, fund):
        a, b, c = wallet(), wallet(), wallet()
        fund(a, 1_000)
        made = services.transfers_post(
            initiator=None,
            transfers=[TransferSpec(a, b, 1_000, "USD", "payment"), TransferSpec(b, c, 400, "USD", "payment")],
        )
        assert [t.amount for t in made] == [1_000, 400]
        assert [x.balance for x in refresh(a, b, c)] == [0, 600, 400]
        assert len({t.batch_id for t in made}) == 1

    def test_empty_batch_refused(self):
        with pytest.raises(services.InvalidTransfer):
            services.transfers_post(initiator=None, transfers=[])


class TestIdempotency:
    def test_same_key_same_request_moves_once(self, wallet, fund, make_user):
        actor = make_user()
        a, b = wallet(user=actor), wallet()
        fund(a, 1_000)
        kwargs = dict(initiator=actor, debit=a, credit=b, amount=300, currency="USD", kind="payment")
        first = services.transfer_post(**kwargs, idempotency_key="k-1")
        again = services.transfer_post(**kwargs, idempotency_key="k-1")
        assert first.pk == again.pk
        assert refresh(b)[0].balance == 300

    def test_same_key_different_request_is_refused(self, wallet, fund, make_user):
        actor = make_user()
        a, b = wallet(user=actor), wallet()
        fund(a, 1_000)
        services.transfer_post(
            initiator=actor, debit=a, credit=b, amount=300, currency="USD", kind="payment", idempotency_key="k-2"
        )
        with pytest.raises(IdempotencyKeyReused) as info:
            services.transfer_post(
                initiator=actor, debit=a, credit=b, amount=301, currency="USD", kind="payment", idempotency_key="k-2"
            )
        assert info.value.status == 422
        assert refresh(b)[0].balance == 300

    def test_keys_are_scoped_per_initiator(self, wallet, fund, make_user):
        one, two = make_user(), make_user()
        a, b = wallet(user=one), wallet(user=two)
        fund(a, 1_000)
        fund(b, 1_000)
        services.transfer_post(
            initiator=one, debit=a, credit=b, amount=1, currency="USD", kind="p", idempotency_key="k"
        )
        services.transfer_post(
            initiator=two, debit=b, credit=a, amount=2, currency="USD", kind="p", idempotency_key="k"
        )
        assert [x.balance for x in refresh(a, b)] == [1_001, 999]

    def test_a_failed_request_does_not_burn_its_key(self, wallet, fund, make_user):
        actor = make_user()
        a, b = wallet(user=actor), wallet()
        kwargs = dict(initiator=actor, debit=a, credit=b, amount=500, currency="USD", kind="p", idempotency_key="k-3")
        with pytest.raises(services.InsufficientFunds):
            services.transfer_post(**kwargs)
        fund(a, 500)
        assert services.transfer_post(**kwargs).amount == 500

    @pytest.mark.parametrize("key", ["", "   ", "x" * 201, 12])
    def test_bad_keys_refused(self, wallet, fund, key):
        a, b = wallet(), wallet()
        fund(a, 10)
        with pytest.raises(services.ValidationFailed):
            services.transfer_post(
                initiator=None, debit=a, credit=b, amount=1, currency="USD", kind="p", idempotency_key=key
            )


class TestHolds:
    def test_hold_reserves_without_moving(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        a, b = refresh(a, b)
        assert (a.balance, a.available, b.balance, b.credits_pending) == (1_000, 300, 0, 700)
        assert list(open_holds(account=a)) == [hold]
        with pytest.raises(services.InsufficientFunds):
            services.transfer_post(initiator=None, debit=a, credit=b, amount=301, currency="USD", kind="payment")

    def test_hold_beyond_available_refused(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 100)
        with pytest.raises(services.InsufficientFunds):
            services.hold_create(initiator=None, debit=a, credit=b, amount=101, currency="USD", kind="card")
        assert counters(a) == (0, 100, 0, 0)

    def test_full_post(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        posted = services.hold_post(initiator=None, hold=hold)
        assert (posted.amount, posted.state, posted.pending_id) == (700, TransferState.POSTED, hold.pk)
        assert counters(a) == (700, 1_000, 0, 0) and counters(b) == (0, 700, 0, 0)
        with pytest.raises(services.HoldNotPending):
            services.hold_post(initiator=None, hold=hold)

    def test_partial_post_releases_the_rest(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        posted = services.hold_post(initiator=None, hold=hold, amount=450)
        assert posted.amount == 450
        assert counters(a) == (450, 1_000, 0, 0) and counters(b) == (0, 450, 0, 0)
        states = sorted(hold.resolutions.values_list("state", "amount"))
        assert states == [("posted", 450), ("voided", 250)]
        assert services.hold_remaining(hold) == 0

    def test_post_in_parts_then_void_the_rest(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        services.hold_post(initiator=None, hold=hold, amount=200, release_rest=False)
        services.hold_post(initiator=None, hold=hold, amount=300, release_rest=False)
        assert services.hold_remaining(hold) == 200
        with pytest.raises(services.HoldAmountExceeded):
            services.hold_post(initiator=None, hold=hold, amount=201)
        services.hold_void(initiator=None, hold=hold)
        assert counters(a) == (500, 1_000, 0, 0) and counters(b) == (0, 500, 0, 0)
        with pytest.raises(services.HoldNotPending):
            services.hold_void(initiator=None, hold=hold)

    def test_void_releases(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        voided = services.hold_void(initiator=None, hold=hold)
        assert (voided.state, voided.amount) == (TransferState.VOIDED, 700)
        assert counters(a) == (0, 1_000, 0, 0) and counters(b) == (0, 0, 0, 0)

    def test_expiry_after_timeout(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(
            initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card", timeout=timedelta(minutes=5)
        )
        assert services.holds_expire_due() == 0  # not yet
        later = timezone.now() + timedelta(minutes=6)
        assert services.holds_expire_due(now=later) == 1
        assert services.holds_expire_due(now=later) == 0  # idempotent
        assert counters(a) == (0, 1_000, 0, 0)
        assert hold.resolutions.get().state == TransferState.EXPIRED

    def test_no_posting_after_the_timeout(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        Transfer.objects.filter(pk=hold.pk).update(timeout_at=timezone.now() - timedelta(seconds=1))
        with pytest.raises(services.HoldExpired):
            services.hold_post(initiator=None, hold=hold)
        services.hold_void(initiator=None, hold=hold)  # releasing late is fine
        assert counters(a) == (0, 1_000, 0, 0)

    def test_expiry_task_runs(self, wallet, fund):
        from ledger.tasks import expire_due_holds

        a, b = wallet(), wallet()
        fund(a, 1_000)
        services.hold_create(
            initiator=None, debit=a, credit=b, amount=10, currency="USD", kind="card", timeout=timedelta(seconds=1)
        )
        Transfer.objects.filter(state="pending").update(timeout_at=timezone.now() - timedelta(seconds=1))
        assert expire_due_holds.delay().get() == 1
        assert refresh(a)[0].available == 1_000

    def test_hold_post_is_idempotent(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=700, currency="USD", kind="card")
        one = services.hold_post(initiator=None, hold=hold, amount=100, release_rest=False, idempotency_key="cap-1")
        two = services.hold_post(initiator=None, hold=hold, amount=100, release_rest=False, idempotency_key="cap-1")
        assert one.pk == two.pk and services.hold_remaining(hold) == 600

    def test_resolving_something_that_is_not_a_hold(self, wallet, fund):
        a = wallet()
        deposit = fund(a, 1_000)
        with pytest.raises(services.NotFound):
            services.hold_post(initiator=None, hold=deposit)
        with pytest.raises(services.NotFound):
            services.hold_void(initiator=None, hold=123_456_789)


class TestReversal:
    def test_reversal_compensates_and_references_the_original(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        payment = services.transfer_post(initiator=None, debit=a, credit=b, amount=400, currency="USD", kind="payment")
        back = services.transfer_reverse(initiator=None, transfer=payment)
        assert (back.debit_account_id, back.credit_account_id, back.reverses_id) == (b.pk, a.pk, payment.pk)
        assert [x.balance for x in refresh(a, b)] == [1_000, 0]
        Transfer.objects.get(pk=payment.pk)  # the original is untouched
        with pytest.raises(services.AlreadyReversed):
            services.transfer_reverse(initiator=None, transfer=payment)
        with pytest.raises(services.NotReversible):
            services.transfer_reverse(initiator=None, transfer=back)

    def test_reversal_needs_the_money_to_still_be_there(self, wallet, fund):
        a, b, c = wallet(), wallet(), wallet()
        fund(a, 1_000)
        payment = services.transfer_post(initiator=None, debit=a, credit=b, amount=400, currency="USD", kind="payment")
        services.transfer_post(initiator=None, debit=b, credit=c, amount=300, currency="USD", kind="payment")
        with pytest.raises(services.InsufficientFunds):
            services.transfer_reverse(initiator=None, transfer=payment)

    def test_holds_are_voided_not_reversed(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        hold = services.hold_create(initiator=None, debit=a, credit=b, amount=10, currency="USD", kind="card")
        with pytest.raises(services.NotReversible):
            services.transfer_reverse(initiator=None, transfer=hold)


class TestDatabaseGuards:
    def test_rows_are_immutable(self, wallet, fund):
        a = wallet()
        deposit = fund(a, 1_000)
        deposit.amount = 1
        with pytest.raises(ImmutableError):
            deposit.save()
        with pytest.raises(ImmutableError):
            deposit.delete()
        with pytest.raises(ImmutableError):
            deposit.batch.delete()

    def test_check_constraint_is_the_last_line_of_defence(self, wallet, fund):
        a = wallet()
        fund(a, 1_000)
        with pytest.raises(IntegrityError), transaction.atomic():
            Account.objects.filter(pk=a.pk).update(debits_posted=1_001)

    def test_invariants_hold(self, wallet, fund):
        a, b = wallet(), wallet()
        fund(a, 1_000)
        services.hold_create(initiator=None, debit=a, credit=b, amount=10, currency="USD", kind="card")
        report = ledger_verify()
        assert report.ok, report.problems
        assert report.currencies == ["USD"]


def test_balances_for_owner(make_user, fund):
    user = make_user()
    usd = services.account_open(owner=user, kind=AccountKind.WALLET, currency="USD")
    services.account_open(owner=user, kind=AccountKind.SAVINGS, currency="USD")
    fund(usd, 1_234)
    rows = balances_for_owner(owner=user)
    assert [(r.kind, r.balance) for r in rows] == [("wallet", 1_234), ("savings", 0)]


def test_nan_metadata_is_refused_before_the_database_sees_it(wallet, fund):
    a, b = wallet(), wallet()
    fund(a, 10)
    with pytest.raises(services.InvalidTransfer):
        services.transfer_post(
            initiator=None, debit=a, credit=b, amount=1, currency="USD", kind="x", metadata={"rate": float("nan")}
        )
