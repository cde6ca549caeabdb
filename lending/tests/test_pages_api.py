import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from lending.models import Loan, LoanStatus
from payments.tests.factories import balance


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


def test_offer_disclosure_accept_and_schedule(web, alice, django_assert_max_num_queries):
    page = web.get(reverse("lending:home"))
    assert page.status_code == 200 and "2,750.00" in page.content.decode()
    shown = web.post(reverse("lending:disclosure"), {"amount": "300.00", "term_months": "6"})
    text = shown.content.decode()
    assert shown.status_code == 200
    for fact in ("8.90%", "$51.31", "$7.83", "$307.83"):
        assert fact in text
    assert text.count('data-testid="schedule-row"') == 6
    assert not Loan.objects.exists()  # nothing borrowed before accepting
    form = {"amount": "300.00", "term_months": "6", "idempotency_key": "disc-1"}
    done = web.post(reverse("lending:accept"), form)
    again = web.post(reverse("lending:accept"), form)
    assert done.status_code == 302 and again.status_code == 302
    loan = Loan.objects.get()
    assert balance(alice) == 1300_00
    with django_assert_max_num_queries(20):
        detail = web.get(reverse("lending:detail", args=[loan.pk]))
    assert detail.status_code == 200 and "-$300.00" in detail.content.decode()
    with django_assert_max_num_queries(20):
        assert web.get(reverse("lending:home")).status_code == 200


def test_bad_input_is_4xx(web):
    assert web.post(reverse("lending:disclosure"), {"amount": "abc", "term_months": "6"}).status_code == 400
    assert web.post(reverse("lending:disclosure"), {"amount": "300", "term_months": "x"}).status_code == 400
    assert web.post(reverse("lending:disclosure"), {"amount": "9000", "term_months": "6"}).status_code == 400
    assert web.get(reverse("lending:detail", args=[999])).status_code == 404


def test_pay_off_with_confirm(web, alice):
    web.post(reverse("lending:accept"), {"amount": "300.00", "term_months": "6", "idempotency_key": "a"})
    loan = Loan.objects.get()
    confirm = web.post(reverse("lending:repay_confirm", args=[loan.pk]), {"payoff": "1"})
    assert confirm.status_code == 200 and "$300.00" in confirm.content.decode()
    assert (
        web.post(reverse("lending:repay", args=[loan.pk]), {"payoff": "1", "idempotency_key": "p"}).status_code == 302
    )
    loan.refresh_from_db()
    assert loan.status == LoanStatus.PAID_OFF
    assert web.post(reverse("lending:repay_confirm", args=[loan.pk]), {"amount": "zz"}).status_code == 400


def test_api_flow(client, alice):
    client.force_login(alice)
    offer = client.get("/api/v1/loans/offer/").json()
    assert offer["eligible"] and offer["limit"] == "2750.00"
    quote = client.post("/api/v1/loans/quote/", {"amount": "300.00", "term_months": 6}, content_type="application/json")
    assert quote.json()["total_of_payments"] == "307.83"
    assert (
        client.post(
            "/api/v1/loans/", {"amount": "300.00", "term_months": 6}, content_type="application/json"
        ).status_code
        == 400
    )
    headers = {"HTTP_IDEMPOTENCY_KEY": "api-1"}
    made = client.post(
        "/api/v1/loans/", {"amount": "300.00", "term_months": 6}, content_type="application/json", **headers
    )
    assert made.status_code == 201, made.content
    loan_id = made.json()["id"]
    assert (
        client.post(
            "/api/v1/loans/", {"amount": "300.00", "term_months": 6}, content_type="application/json", **headers
        ).json()["id"]
        == loan_id
    )
    assert Loan.objects.count() == 1
    bad = client.post(
        f"/api/v1/loans/{loan_id}/repay/", {"amount": 5}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r0"
    )
    assert bad.status_code == 400
    paid = client.post(
        f"/api/v1/loans/{loan_id}/repay/", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r1"
    )
    assert paid.status_code == 200 and paid.json()["loan"]["status"] == "paid_off"
    assert client.get("/api/v1/loans/999/").status_code == 404
    assert (
        client.post(
            "/api/v1/loans/quote/",
            {"amount": "1", "term_months": 6, "currency": "XXX"},
            content_type="application/json",
        ).status_code
        == 400
    )


def test_admin_book_and_write_off(client, alice):
    from core.money import Money
    from lending.services import loan_accept

    loan = loan_accept(alice, amount=Money(300_00, "USD"), term_months=6, idempotency_key="x")
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    assert client.get("/admin/lending/loan/").status_code == 200
    assert client.get("/admin/lending/loan/?delinquent=yes").status_code == 200
    assert client.get(f"/admin/lending/loan/{loan.pk}/change/").status_code == 200
    url = reverse("admin:lending_loan_write_off", args=[loan.pk])
    assert client.post(url, {"reason": ""}).status_code == 200  # reason required
    assert client.post(url, {"reason": "fraud"}).status_code == 302
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WRITTEN_OFF
    restructure = reverse("admin:lending_loan_restructure", args=[loan.pk])
    assert (
        client.post(restructure, {"reason": "x", "term_months": "12"}).status_code == 200
    )  # closed: refused on the form
