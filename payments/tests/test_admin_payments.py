"""Admin of payments, wallets, FX rates and wallet settings; the staff reversal with its audit entry."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory
from compliance.models import AuditEntry
from core.errors import NotPermitted, ValidationFailed
from core.money import Money
from ledger.models import AccountKind, Transfer
from ledger.services import system_account, transfer_post
from notifications.models import Notification
from payments.models import FxRate, Payment, PaymentStatus, WalletSettings
from payments.services.send import payment_return, payment_send, wallet_settings_update
from payments.services.staff import PaymentNotReversible, payment_reverse_by_staff
from payments.services.wallet import wallet_account

from .factories import balance, sender_user

pytestmark = pytest.mark.django_db


def pay(sender, to, amount="25.00", note="lunch", currency="USD"):
    return payment_send(sender, to=to, amount=Money.parse(amount, currency), note=note)


@pytest.fixture
def staff_admin(admin_user):
    return admin_user


@pytest.fixture
def payment(alice, bob):
    return pay(alice, bob)


# --- Changelists -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["payment", "wallet", "fxrate", "walletsettings"])
def test_changelists_load_for_staff_with_bounded_queries(
    admin_client, alice, bob, carol, fx_rates, django_assert_max_num_queries, model
):
    for i in range(6):
        pay(alice, bob, "1.00", f"n{i}")
        pay(bob, alice, "2.00", f"m{i}")
    wallet_settings_update(alice, safety_delay_seconds=600)
    wallet_settings_update(bob, safety_delay_seconds=3600)
    with django_assert_max_num_queries(14):
        response = admin_client.get(f"/admin/payments/{model}/")
    assert response.status_code == 200


def test_non_staff_are_sent_to_the_admin_login(client, alice, payment):
    client.force_login(alice)
    for url in [
        "/admin/payments/payment/",
        f"/admin/payments/payment/{payment.pk}/reverse/",
        "/admin/payments/fxrate/upload-csv/",
        "/admin/payments/wallet/",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_payment_list_shows_and_searches(admin_client, alice, bob, payment):
    page = admin_client.get("/admin/payments/payment/").content.decode()
    assert "$25.00" in page and "@alice" in page and "@bob" in page
    assert admin_client.get("/admin/payments/payment/?q=lunch").context["cl"].result_count == 1
    assert admin_client.get("/admin/payments/payment/?q=bob").context["cl"].result_count == 1
    assert admin_client.get("/admin/payments/payment/?q=nobody").context["cl"].result_count == 0
    assert admin_client.get(f"/admin/payments/payment/?q={payment.pk}").status_code == 200
    assert admin_client.get("/admin/payments/payment/?status__exact=completed&kind__exact=payment").status_code == 200


def test_payment_is_read_only(admin_client, payment):
    page = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "Reverse payment…" in html
    assert "lunch" in html
    assert admin_client.post(f"/admin/payments/payment/{payment.pk}/change/", {"note": "edited"}).status_code == 403
    assert admin_client.get("/admin/payments/payment/add/").status_code == 403
    assert admin_client.post(f"/admin/payments/payment/{payment.pk}/delete/").status_code == 403
    payment.refresh_from_db()
    assert payment.note == "lunch"


# --- Reversal ------------------------------------------------------------------------------------------


def test_reversal_needs_a_reason(admin_client, alice, bob, payment):
    url = f"/admin/payments/payment/{payment.pk}/reverse/"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "@alice" in html and "@bob" in html and "$25.00" in html
    for reason in ["", "   ", "x" * 301]:
        response = admin_client.post(url, {"reason": reason})
        assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert (balance(alice), balance(bob)) == (97500, 102500)
    assert not AuditEntry.objects.filter(action="payment.reverse").exists()


def test_reversal_moves_the_money_back_once_and_is_audited(admin_client, admin_user, alice, bob, payment):
    url = f"/admin/payments/payment/{payment.pk}/reverse/"
    response = admin_client.post(url, {"reason": "Reported as sent by mistake (ticket 42)"})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/payments/payment/{payment.pk}/change/"
    assert (balance(alice), balance(bob)) == (100000, 100000)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.RETURNED and payment.returned_at is not None
    last = payment.events.order_by("-id").first()
    assert (last.status, last.actor, last.message) == (
        "returned",
        admin_user,
        "Reversed by staff: Reported as sent by mistake (ticket 42)",
    )
    reversal = Transfer.objects.get(reverses_id=payment.credit_transfer_id)
    assert reversal.kind == "staff_reversal" and reversal.initiator == admin_user
    entry = AuditEntry.objects.get(action="payment.reverse")
    assert entry.actor == admin_user
    assert entry.reason == "Reported as sent by mistake (ticket 42)"
    assert (entry.target_type, entry.target_id) == ("payments.payment", str(payment.pk))
    assert Notification.objects.filter(recipient=alice, kind="payment.reversed_sent").exists()
    assert Notification.objects.filter(recipient=bob, kind="payment.reversed_received").exists()
    assert "was reversed" in admin_client.get(response["Location"]).content.decode()

    again = admin_client.post(url, {"reason": "twice"})
    assert again.status_code == 409
    assert "only once" in again.content.decode()
    assert (balance(alice), balance(bob)) == (100000, 100000)
    assert AuditEntry.objects.filter(action="payment.reverse").count() == 1
    # The change page no longer offers it.
    assert "Reverse payment…" not in admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()


def test_a_returned_payment_cannot_be_reversed(admin_user, alice, bob, payment):
    payment_return(bob, payment=payment)
    with pytest.raises(PaymentNotReversible):
        payment_reverse_by_staff(admin_user, payment=payment, reason="late")
    assert (balance(alice), balance(bob)) == (100000, 100000)


def test_reversal_is_refused_when_the_recipient_spent_the_money(admin_client, alice, bob, carol, payment):
    transfer_post(  # bob cashes out: 5.00 left, less than the 25.00 to give back
        initiator=bob,
        debit=wallet_account(bob, "USD"),
        credit=system_account(AccountKind.FUNDING, "USD"),
        amount=102000,
        currency="USD",
        kind="cash_out",
    )
    response = admin_client.post(f"/admin/payments/payment/{payment.pk}/reverse/", {"reason": "fraud report"})
    assert response.status_code == 422
    assert "@bob no longer has $25.00 available" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert (balance(alice), balance(bob)) == (97500, 500)
    assert not AuditEntry.objects.filter(action="payment.reverse").exists()


def test_fx_payment_reversal_undoes_both_legs(admin_user, alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    payment = pay(alice, eve, "10.00")
    assert balance(eve, "EUR") == 895
    payment_reverse_by_staff(admin_user, payment=payment.pk, reason="wrong person")
    assert balance(alice) == 100000
    assert balance(eve, "EUR") == 0
    assert Transfer.objects.filter(kind="staff_reversal").count() == 2


def test_only_completed_payments_can_be_reversed(admin_client, admin_user, alice, carol):
    wallet_settings_update(alice, safety_delay_seconds=600)
    arriving = pay(alice, carol, "5.00")
    assert arriving.status == PaymentStatus.ARRIVING
    page = admin_client.get(f"/admin/payments/payment/{arriving.pk}/reverse/")
    assert page.status_code == 200
    assert "only a completed payment can be reversed" in page.content.decode()
    assert 'name="reason"' not in page.content.decode()
    with pytest.raises(PaymentNotReversible):
        payment_reverse_by_staff(admin_user, payment=arriving, reason="no")


def test_reversal_service_checks_staff_and_reason(alice, bob, payment):
    with pytest.raises(NotPermitted):
        payment_reverse_by_staff(alice, payment=payment, reason="I want it back")
    plain_staff = UserFactory(handle="helpdesk", is_staff=True)
    with pytest.raises(NotPermitted):
        payment_reverse_by_staff(plain_staff, payment=payment, reason="no permission")
    plain_staff.user_permissions.add(Permission.objects.get(codename="change_payment"))
    plain_staff = type(plain_staff).objects.get(pk=plain_staff.pk)  # fresh permission cache
    with pytest.raises(ValidationFailed):
        payment_reverse_by_staff(plain_staff, payment=payment, reason="  ")
    payment_reverse_by_staff(plain_staff, payment=payment, reason="ok")
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.RETURNED


def test_staff_without_the_permission_cannot_open_the_reverse_page(client, payment):
    staff = UserFactory(handle="viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(staff)
    assert client.get(f"/admin/payments/payment/{payment.pk}/change/").status_code == 200
    assert "Reverse payment…" not in client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert client.get(f"/admin/payments/payment/{payment.pk}/reverse/").status_code == 403
    assert client.post(f"/admin/payments/payment/{payment.pk}/reverse/", {"reason": "x"}).status_code == 403


def test_reverse_action_goes_to_the_reason_page_for_one_payment(admin_client, alice, bob, payment):
    other = pay(alice, bob, "2.00")
    response = admin_client.post(
        "/admin/payments/payment/", {"action": "reverse_selected", "_selected_action": [payment.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/payments/payment/{payment.pk}/reverse/"
    response = admin_client.post(
        "/admin/payments/payment/",
        {"action": "reverse_selected", "_selected_action": [payment.pk, other.pk]},
        follow=True,
    )
    assert "Choose exactly one payment" in response.content.decode()
    assert Payment.objects.filter(status=PaymentStatus.RETURNED).count() == 0


def test_unknown_payment_reverse_page_is_404(admin_client, db):
    assert admin_client.get("/admin/payments/payment/999999/reverse/").status_code == 404
    assert admin_client.get(f"/admin/payments/payment/{2**70}/reverse/").status_code == 404


# --- Wallets -----------------------------------------------------------------------------------------------


def test_wallets_show_balances_and_are_read_only(admin_client, alice, bob, carol):
    wallet_settings_update(alice, safety_delay_seconds=600)
    pay(alice, carol, "40.00")  # a hold: pending out for alice, pending in for carol
    page = admin_client.get("/admin/payments/wallet/").content.decode()
    assert "@alice" in page and "@bob" in page
    assert "$1,000.00" in page and "$960.00" in page and "$40.00" in page
    found = admin_client.get("/admin/payments/wallet/?q=alice@example.com").content.decode()
    assert "@alice" in found and "@bob" not in found
    assert admin_client.get("/admin/payments/wallet/?currency__exact=USD").status_code == 200
    assert admin_client.get("/admin/payments/wallet/add/").status_code == 403
    from payments.models import Wallet

    wallet = Wallet.objects.get(owner=alice)
    detail = admin_client.get(f"/admin/payments/wallet/{wallet.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.post(f"/admin/payments/wallet/{wallet.pk}/delete/").status_code == 403


def test_wallet_list_holds_only_customer_wallets(admin_client, alice):
    from payments.models import Wallet

    assert set(Wallet.objects.values_list("kind", flat=True)) == {"wallet"}
    rows = admin_client.get("/admin/payments/wallet/").context["cl"].result_list
    assert [(row.kind, row.owner.handle) for row in rows] == [("wallet", "alice")]


# --- FX rates ------------------------------------------------------------------------------------------------


def test_fxrate_add_records_a_new_row_by_the_staff_member(admin_client, admin_user, fx_rates):
    response = admin_client.post(
        "/admin/payments/fxrate/add/",
        {"base": "USD", "quote": "EUR", "rate": "0.93", "as_of_0": "", "as_of_1": "", "source": "desk"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = FxRate.objects.filter(source="desk").get()
    assert row.rate == Decimal("0.93")
    assert row.created_by == admin_user and row.as_of is not None
    entry = AuditEntry.objects.get(action="fx_rate.set")
    assert entry.actor == admin_user and entry.target_id == str(row.pk)
    # Never edited or deleted.
    assert admin_client.post(f"/admin/payments/fxrate/{row.pk}/change/", {"rate": "5"}).status_code == 403
    assert admin_client.post(f"/admin/payments/fxrate/{row.pk}/delete/").status_code == 403
    assert 'name="_save"' not in admin_client.get(f"/admin/payments/fxrate/{row.pk}/change/").content.decode()
    listing = admin_client.get("/admin/payments/fxrate/?base__exact=USD&quote__exact=EUR").content.decode()
    assert "USD → EUR" in listing and "0.93" in listing


@pytest.mark.parametrize(
    "data",
    [
        {"base": "USD", "quote": "USD", "rate": "1"},
        {"base": "USD", "quote": "EUR", "rate": "0"},
        {"base": "USD", "quote": "EUR", "rate": "-2"},
        {"base": "USD", "quote": "EUR", "rate": "abc"},
        {"base": "USD", "quote": "EUR", "rate": "0.0000000000001"},
        {"base": "USD", "quote": "XYZ", "rate": "1"},
    ],
)
def test_fxrate_add_refuses_nonsense_on_the_form(admin_client, db, data):
    response = admin_client.post("/admin/payments/fxrate/add/", {**data, "as_of_0": "", "as_of_1": "", "source": ""})
    assert response.status_code == 200  # the form again, with its errors
    assert "errornote" in response.content.decode()
    assert not FxRate.objects.exists()


def test_fxrate_changelist_shows_the_current_rates(admin_client, fx_rates):
    page = admin_client.get("/admin/payments/fxrate/").content.decode()
    assert "Current rates" in page
    assert "1 USD = 150 JPY" in page
    assert "1 EUR = 1.11111111 USD" in page
    assert "Upload CSV" in page


def _upload(admin_client, content: bytes, name="rates.csv", source=""):
    return admin_client.post(
        "/admin/payments/fxrate/upload-csv/",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "source": source},
        follow=True,
    )


def test_fxrate_csv_upload_records_rows_and_says_how_many(admin_client, admin_user):
    page = admin_client.get("/admin/payments/fxrate/upload-csv/")
    assert page.status_code == 200 and 'type="file"' in page.content.decode()
    response = _upload(admin_client, b"base,quote,rate,as_of\nUSD,EUR,0.92,2026-11-20T09:00:00Z\nUSD,JPY,151\n")
    assert "Recorded 2 rates from rates.csv." in response.content.decode()
    assert FxRate.objects.count() == 2
    assert set(FxRate.objects.values_list("source", "created_by")) == {("csv:rates.csv", admin_user.pk)}
    entry = AuditEntry.objects.get(action="fx_rates.load")
    assert entry.actor == admin_user and entry.data["count"] == 2


def test_fxrate_csv_upload_error_names_the_line_and_records_nothing(admin_client):
    response = _upload(admin_client, b"base,quote,rate\nUSD,EUR,0.92\nUSD,GBP,cheap\n")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Line 3:" in html and "Nothing was recorded" in html
    assert not FxRate.objects.exists()
    assert not AuditEntry.objects.filter(action="fx_rates.load").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"base,quote,rate\n" + b"USD,EUR,0.92\n" * 90_000, "larger than 1 MB"),
        (b"\xff\xfebase,quote,rate\n", "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_fxrate_csv_upload_refuses_bad_files(admin_client, content, words):
    response = _upload(admin_client, content)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not FxRate.objects.exists()


def test_fxrate_upload_needs_the_add_permission(client, db):
    staff = UserFactory(handle="viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_fxrate"))
    client.force_login(staff)
    assert client.get("/admin/payments/fxrate/").status_code == 200
    assert client.get("/admin/payments/fxrate/upload-csv/").status_code == 403


# --- Wallet settings ----------------------------------------------------------------------------------------------


def test_wallet_settings_are_view_only(admin_client, alice):
    row = wallet_settings_update(alice, safety_delay_seconds=3600)
    page = admin_client.get("/admin/payments/walletsettings/").content.decode()
    assert "1 hour" in page
    assert (
        admin_client.post(f"/admin/payments/walletsettings/{row.pk}/change/", {"safety_delay_seconds": 0}).status_code
        == 403
    )
    assert WalletSettings.objects.get(pk=row.pk).safety_delay_seconds == 3600
