"""Statements: ledger lines with running balances, month boundaries in the user's zone, CSV export, API."""

import csv
import io
from contextlib import contextmanager
from datetime import UTC, date, datetime
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from core.money import Money
from ledger.models import AccountKind
from ledger.services import TransferSpec, system_account, transfer_post, transfers_post
from payments.models import CashOut, CashOutSpeed, FundingCard, MovementStatus, TopUp
from payments.services.send import payment_return, payment_send, wallet_settings_update
from payments.services.wallet import wallet_account
from payments.statements import month_period, period_parse, statement_get, statement_lines
from payments.views.statements import csv_safe

from .factories import fund, sender_user

pytestmark = pytest.mark.django_db

# The site's URLs plus the statements API (in case it is not wired into payments/api_urls.py yet).
urlpatterns = [
    path("api/v1/", include("payments.api.statements")),
    path("", include("everything.urls")),
]


@contextmanager
def frozen(*args):
    """Pretend the clock says ``datetime(*args)`` UTC (created_at columns included)."""
    moment = datetime(*args, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield moment


def pay(sender, to, amount, note="", currency="USD", **kwargs):
    return payment_send(sender, to=to, amount=Money.parse(amount, currency), note=note, **kwargs)


def statement(user, month, currency="USD"):
    return statement_get(user, currency=currency, period=month_period(user, month))


def lines(user, month, currency="USD"):
    return statement_lines(statement(user, month, currency))


@pytest.fixture
def december(alice, bob):
    """alice (funded in November) and bob trade in December 2026 and January 2027, all in UTC."""
    with frozen(2026, 12, 3, 15, 0):
        first = pay(alice, bob, "25.00", "rent 🏠")
    with frozen(2026, 12, 10, 9, 30):
        pay(bob, alice, "10.00", "pizza")
    with frozen(2026, 12, 20, 12, 0):
        payment_return(bob, payment=first)
    with frozen(2027, 1, 5, 8, 0):
        pay(alice, bob, "5.00", "coffee")
    return first


def test_lines_have_signed_amounts_descriptions_and_a_running_balance(alice, bob, december):
    december_lines = lines(alice, "2026-12")
    assert [(line.amount, line.balance) for line in december_lines] == [
        (-2500, 97500),
        (1000, 98500),
        (2500, 101000),
    ]
    assert [line.description for line in december_lines] == [
        "Payment to @bob · rent 🏠",
        "Payment from @bob · pizza",
        "Returned by @bob · rent 🏠",
    ]
    assert [line.counterparty for line in december_lines] == [bob, bob, bob]
    assert december_lines[0].reference == f"payment-{december.pk}"
    assert december_lines[0].url == f"/wallet/payments/{december.pk}/"
    bob_lines = lines(bob, "2026-12")
    assert [line.description for line in bob_lines] == [
        "Payment from @alice · rent 🏠",
        "Payment to @alice · pizza",
        "Returned to @alice · rent 🏠",
    ]


def test_opening_and_closing_balances_carry_across_months(alice, bob, december):
    today = date.today()
    november = statement(alice, f"{today:%Y-%m}")
    assert (november.opening, november.total_in, november.total_out, november.closing) == (0, 100000, 0, 100000)
    assert [line.description for line in statement_lines(november)] == ["Money added"]

    dec = statement(alice, "2026-12")
    assert (dec.opening, dec.total_in, dec.total_out, dec.closing, dec.line_count) == (100000, 3500, 2500, 101000, 3)

    jan = statement(alice, "2027-01")
    assert (jan.opening, jan.closing, jan.line_count) == (101000, 100500, 1)
    assert [(line.amount, line.balance) for line in statement_lines(jan)] == [(-500, 100500)]

    # The closing balance of the latest month is the wallet's real balance.
    account = wallet_account(alice, "USD")
    assert jan.closing == account.balance

    empty = statement(alice, "2027-02")
    assert (empty.opening, empty.closing, empty.line_count) == (100500, 100500, 0)


def test_month_boundaries_are_in_the_users_time_zone(alice, bob):
    alice.time_zone = "America/New_York"
    alice.save(update_fields=["time_zone"])
    with frozen(2026, 12, 1, 3, 0):  # 22:00 on 30 November in New York; already December in UTC
        pay(alice, bob, "7.00", "late night")
    assert [line.amount for line in lines(alice, "2026-11")][-1] == -700
    assert lines(alice, "2026-12") == []
    assert [line.amount for line in lines(bob, "2026-12")] == [700]  # bob lives in UTC
    period = month_period(alice, "2026-12")
    assert period.start_at.isoformat() == "2026-12-01T00:00:00-05:00"
    assert period.end_at.isoformat() == "2027-01-01T00:00:00-05:00"


def test_pending_holds_are_listed_apart_and_not_in_the_balance(alice, carol):
    wallet_settings_update(alice, safety_delay_seconds=600)
    payment = pay(alice, carol, "40.00", "first time")
    assert payment.status == "arriving"
    mine = statement(alice, f"{date.today():%Y-%m}")
    assert [(p.amount, p.balance, p.pending) for p in mine.pending] == [(-4000, None, True)]
    assert mine.pending[0].description == "Payment to @carol (arriving) · first time"
    assert mine.closing == 100000  # still all there: a hold is not a posting
    assert [line.amount for line in statement_lines(mine)] == [100000]

    theirs = statement(carol, f"{date.today():%Y-%m}")
    assert [(p.amount, p.description) for p in theirs.pending] == [
        (4000, "Payment from @alice (arriving) · first time")
    ]
    assert theirs.closing == 0 and theirs.line_count == 0


def test_fx_payment_descriptions_on_both_sides(alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    pay(alice, eve, "10.00", "dinner")
    (mine,) = [line for line in lines(alice, f"{date.today():%Y-%m}") if line.amount < 0]
    assert mine.amount == -1000
    assert mine.description == "Payment to @eve · dinner · converted: €8.95 arrived at 1 USD = 0.8955 EUR"
    (theirs,) = lines(eve, f"{date.today():%Y-%m}", "EUR")
    assert (theirs.amount, theirs.balance, theirs.currency) == (895, 895, "EUR")
    assert theirs.description == "Payment from @alice · dinner · sent as $10.00"


def test_top_ups_cash_outs_fees_and_other_kinds_are_described(alice):
    card = FundingCard.objects.create(
        user=alice, brand="visa", last4="4242", exp_month=12, exp_year=2030, fingerprint="f" * 64, number_encrypted="x"
    )
    wallet = wallet_account(alice, "USD")
    top_up = TopUp.objects.create(user=alice, card=card, amount=5000, currency="USD", status=MovementStatus.COMPLETED)
    transfer = transfer_post(
        initiator=alice,
        debit=system_account(AccountKind.FUNDING, "USD"),
        credit=wallet,
        amount=5000,
        currency="USD",
        kind="top_up",
        metadata={"top_up": top_up.pk},
    )
    TopUp.objects.filter(pk=top_up.pk).update(transfer=transfer)
    cash_out = CashOut.objects.create(
        user=alice, card=card, amount=2000, fee=30, currency="USD", speed=CashOutSpeed.INSTANT
    )
    payout, _fee = transfers_post(
        initiator=alice,
        transfers=[
            TransferSpec(
                wallet, system_account(AccountKind.FUNDING, "USD"), 2000, "USD", "cash_out", {"cash_out": cash_out.pk}
            ),
            TransferSpec(
                wallet, system_account(AccountKind.FEES, "USD"), 30, "USD", "cash_out_fee", {"cash_out": cash_out.pk}
            ),
        ],
    )
    CashOut.objects.filter(pk=cash_out.pk).update(transfer=payout, status=MovementStatus.COMPLETED)
    transfer_post(
        initiator=None,
        debit=system_account(AccountKind.INTEREST_EXPENSE, "USD"),
        credit=wallet,
        amount=1,
        currency="USD",
        kind="savings_bonus",
    )
    got = [(line.description, line.amount, line.counterparty_label) for line in lines(alice, f"{date.today():%Y-%m}")]
    assert got == [
        ("Money added", 100000, ""),
        ("Added money from Visa •••• 4242", 5000, "Visa •••• 4242"),
        ("Cash out to Visa •••• 4242 (instant)", -2000, "Visa •••• 4242"),
        ("Instant cash-out fee", -30, "Visa •••• 4242"),
        ("Savings bonus", 1, ""),
    ]


def test_other_peoples_money_is_never_in_a_statement(alice, bob, carol):
    pay(alice, carol, "3.00", "secret sauce")
    month = f"{date.today():%Y-%m}"
    assert all("carol" not in line.description for line in lines(bob, month))
    assert [line.amount for line in lines(bob, month)] == [100000]


def test_a_currency_never_held_is_an_empty_statement(alice):
    st = statement(alice, f"{date.today():%Y-%m}", "JPY")
    assert (st.account, st.opening, st.closing, st.line_count, st.pending) == (None, 0, 0, 0, [])


def test_pages_carry_the_running_balance(alice):
    for _ in range(5):
        fund(alice, "1.00")
    st = statement(alice, f"{date.today():%Y-%m}")
    whole = statement_lines(st)
    assert [line.balance for line in statement_lines(st, offset=2, limit=2)] == [w.balance for w in whole[2:4]]
    assert whole[-1].balance == st.closing == 100500


# --- Periods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("", "2026-11-30", "start date"),
        ("2026-11-01", None, "end date"),
        ("2026-11-31", "2026-12-01", "not a date"),
        ("01/11/2026", "2026-12-01", "not a date"),
        ("2026-12-01", "2026-11-01", "after the end"),
        ("2020-01-01", "2025-01-01", "at most 5 years"),
        ("0001-01-01", "0001-01-02", "between 1970"),
        ("9999-12-30", "9999-12-31", "between 1970"),
        ("２０２６-11-01", "2026-11-02", "not a date"),
    ],
)
def test_bad_periods_are_refused_with_a_reason(alice, start, end, words):
    from payments.statements import InvalidPeriod

    with pytest.raises(InvalidPeriod) as err:
        period_parse(alice, start=start, end=end)
    assert words in err.value.message
    assert err.value.status == 400


def test_five_years_is_allowed(alice):
    period = period_parse(alice, start="2020-03-01", end="2025-02-28")
    assert (period.start, period.end) == (date(2020, 3, 1), date(2025, 2, 28))


# --- The HTML page ----------------------------------------------------------------------------------


def test_statement_page_shows_summary_lines_and_navigation(client, alice, bob, december):
    client.force_login(alice)
    page = client.get("/wallet/statements/?month=2026-12&currency=USD")
    assert page.status_code == 200
    html = page.content.decode()
    assert "December 2026" in html
    assert "$1,000.00" in html and "$1,010.00" in html  # opening, closing
    assert "+$35.00" in html and "-$25.00" in html  # in, out
    assert "Payment to @bob · rent 🏠" in html
    assert "Returned by @bob" in html
    assert "?month=2026-11&amp;currency=USD" in html  # previous month
    assert 'href="/wallet/statements/export.csv?start=2026-12-01&amp;end=2026-12-31&amp;currency=USD"' in html


def test_statement_page_defaults_to_this_month_and_has_an_empty_state(client, carol):
    client.force_login(carol)
    page = client.get("/wallet/statements/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No money moved in your USD wallet" in html
    assert f"{date.today():%B %Y}" in html


@pytest.mark.parametrize("query", ["month=2026-13", "month=nope", "month=0000-01", "currency=XYZ", "month=2026-1-1"])
def test_statement_page_bad_input_is_a_400_page(client, alice, query):
    client.force_login(alice)
    page = client.get(f"/wallet/statements/?{query}")
    assert page.status_code == 400
    assert "We could not make that statement" in page.content.decode()


def test_statement_page_needs_login(client):
    page = client.get("/wallet/statements/")
    assert page.status_code == 302
    assert "/accounts/login/" in page["Location"]


def _make_lines(alice, bob, count):
    for i in range(count):
        if i % 2:
            pay(bob, alice, "1.00", f"n{i}")
        else:
            pay(alice, bob, "1.00", f"n{i}")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        else:
            assert response.status_code == 200
    return len(ctx.captured_queries)


def test_statement_page_and_csv_query_counts_do_not_grow_with_lines(
    client, alice, bob, fx_rates, django_assert_max_num_queries
):
    client.force_login(alice)
    month = f"{date.today():%Y-%m}"
    url = f"/wallet/statements/?month={month}"
    start, end = f"{date.today():%Y-%m}-01", f"{date.today():%Y-%m-%d}"
    csv_url = f"/wallet/statements/export.csv?start={start}&end={end}&currency=USD"
    _make_lines(alice, bob, 4)
    few_page, few_csv = _queries(client, url), _queries(client, csv_url)
    _make_lines(alice, bob, 46)
    assert statement(alice, month).line_count == 51  # funding + 50 payments
    with django_assert_max_num_queries(15):
        page = client.get(url)
    assert page.content.decode().count('class="statement-line"') == 51
    assert _queries(client, url) == few_page
    assert _queries(client, csv_url) == few_csv


# --- CSV export ------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_has_header_signed_rows_and_an_attachment_name(client, alice, bob, december):
    client.force_login(alice)
    response = client.get("/wallet/statements/export.csv?start=2026-12-01&end=2027-01-31&currency=USD")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == 'attachment; filename="everything-statement-USD-2026-12-01-2027-01-31.csv"'
    )
    rows = _csv(response)
    assert rows[0] == ["date", "description", "counterparty", "reference", "amount", "currency", "balance"]
    assert rows[1] == [
        "2026-12-03 15:00",
        "Payment to @bob · rent 🏠",
        "bob",
        f"payment-{december.pk}",
        "-25.00",
        "USD",
        "975.00",
    ]
    assert [row[4] for row in rows[1:]] == ["-25.00", "10.00", "25.00", "-5.00"]
    assert [row[6] for row in rows[1:]] == ["975.00", "985.00", "1010.00", "1005.00"]


def test_csv_dates_are_in_the_users_time_zone(client, alice, bob):
    alice.time_zone = "Asia/Tokyo"
    alice.save(update_fields=["time_zone"])
    with frozen(2026, 12, 31, 20, 0):  # 1 January, 05:00 in Tokyo
        pay(alice, bob, "2.00")
    client.force_login(alice)
    rows = _csv(client.get("/wallet/statements/export.csv?start=2027-01-01&end=2027-01-01&currency=USD"))
    assert [row[0] for row in rows[1:]] == ["2027-01-01 05:00"]
    assert _csv(client.get("/wallet/statements/export.csv?start=2026-12-31&end=2026-12-31&currency=USD"))[1:] == []


def test_csv_injection_guard(client, alice):
    transfer_post(
        initiator=None,
        debit=system_account(AccountKind.FUNDING, "USD"),
        credit=wallet_account(alice, "USD"),
        amount=100,
        currency="USD",
        kind="adjustment",
        metadata={"note": '=HYPERLINK("http://evil.example","click")'},
    )
    client.force_login(alice)
    today = f"{date.today():%Y-%m-%d}"
    rows = _csv(client.get(f"/wallet/statements/export.csv?start={today}&end={today}&currency=USD"))
    assert rows[-1][1] == '\'=HYPERLINK("http://evil.example","click")'
    for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"]:
        assert csv_safe(text) == "'" + text
    assert csv_safe("Payment to @bob") == "Payment to @bob"


def test_csv_only_ever_holds_the_users_own_lines(client, alice, bob, carol):
    pay(alice, carol, "3.00", "for carol only")
    client.force_login(bob)
    today = f"{date.today():%Y-%m-%d}"
    body = b"".join(client.get(f"/wallet/statements/export.csv?start={today}&end={today}").streaming_content)
    assert b"carol" not in body and b"3.00" not in body
    # A currency bob never held: just the header.
    rows = _csv(client.get(f"/wallet/statements/export.csv?start={today}&end={today}&currency=EUR"))
    assert rows == [["date", "description", "counterparty", "reference", "amount", "currency", "balance"]]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "start=2026-11-01",
        "start=2026-11-01&end=2026-10-01",
        "start=2026-02-30&end=2026-03-01",
        "start=2015-01-01&end=2026-01-01",
        "start=2026-11-01&end=2026-11-30&currency=DOGE",
        "start=9999-12-31&end=9999-12-31",
        "start=%00&end=%00",
    ],
)
def test_csv_bad_dates_are_a_400_never_a_500(client, alice, query):
    client.force_login(alice)
    response = client.get(f"/wallet/statements/export.csv?{query}")
    assert response.status_code == 400
    assert "We could not make that statement" in response.content.decode()


# --- API -------------------------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_api_statement(client, alice, bob, december):
    client.force_login(alice)
    response = client.get("/api/v1/statements/?start=2026-12-01&end=2026-12-31&currency=USD")
    assert response.status_code == 200
    data = response.json()
    assert data["opening_balance"] == "1000.00" and data["closing_balance"] == "1010.00"
    assert data["total_in"] == "35.00" and data["total_out"] == "25.00"
    assert data["time_zone"] == "UTC"
    assert [(line["amount"], line["balance"], line["counterparty"]) for line in data["lines"]] == [
        ("-25.00", "975.00", "@bob"),
        ("10.00", "985.00", "@bob"),
        ("25.00", "1010.00", "@bob"),
    ]
    assert data["next"] is None

    first = client.get("/api/v1/statements/?start=2026-12-01&end=2026-12-31&currency=USD&limit=2").json()
    assert [line["balance"] for line in first["lines"]] == ["975.00", "985.00"]
    second = client.get(first["next"]).json()
    assert [line["balance"] for line in second["lines"]] == ["1010.00"]
    assert second["next"] is None


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    "query", ["start=2026-13-01&end=2027-01-01", "start=2026-12-01", "currency=XYZ", "limit=-1", "after=x"]
)
def test_api_statement_bad_input_is_400_with_the_error_shape(client, alice, query):
    client.force_login(alice)
    response = client.get(f"/api/v1/statements/?{query}")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.urls(__name__)
def test_api_statement_needs_authentication(client):
    assert client.get("/api/v1/statements/").status_code in (401, 403)
