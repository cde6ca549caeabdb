"""Check pages: list, write (form → confirm → write), printable check and PDF, void, deposit."""

import re
from pathlib import Path

import pytest

from core.money import Money
from payments.models import Check, CheckStatus
from payments.services.checks import check_deposit, check_deposit_code, check_write, deposit_code_display

from .factories import balance

pytestmark = pytest.mark.django_db

CHECKS = "/wallet/checks/"


def write(user, payee="Acme Plumbing", amount=1234, **kwargs):
    return check_write(user, payee=payee, amount=Money(amount, "USD"), **kwargs)


def test_anonymous_is_sent_to_login(client):
    for url in [CHECKS, CHECKS + "new/", CHECKS + "deposit/", CHECKS + "1/", CHECKS + "1/check.pdf"]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_empty_state(client, alice):
    client.force_login(alice)
    response = client.get(CHECKS)
    assert response.status_code == 200
    assert b'data-testid="checks-empty"' in response.content


def test_write_flow_form_confirm_write(client, alice, bob):
    client.force_login(alice)
    response = client.get(CHECKS + "new/")
    assert response.status_code == 200
    key = re.search(rb'name="idempotency_key" value="([0-9a-f]+)"', response.content).group(1).decode()
    form = {"payee": "@Bob", "amount": "123.45", "currency": "USD", "memo": "Fence", "idempotency_key": key}
    response = client.post(CHECKS + "new/confirm/", form)
    assert response.status_code == 200
    text = response.content.decode()
    assert "One hundred twenty-three and 45/100" in text
    assert "The money leaves your balance now." in text
    assert "Bob Builder" in text and "@bob" in text
    assert balance(alice) == 100000 and not Check.objects.exists()  # the confirm step moves nothing
    submitted = {**form, "payee": "@bob"}
    response = client.post(CHECKS + "new/submit/", submitted)
    assert response.status_code == 302
    check = Check.objects.get()
    assert response["Location"] == f"{CHECKS}{check.pk}/"
    assert check.payee_id == bob.pk and check.amount == 12345 and check.memo == "Fence"
    assert balance(alice) == 100000 - 12345
    again = client.post(CHECKS + "new/submit/", submitted)  # a double submit writes once
    assert again.status_code == 302 and Check.objects.count() == 1
    assert balance(alice) == 100000 - 12345


def test_write_errors_are_shown_on_the_form(client, alice):
    client.force_login(alice)
    response = client.post(CHECKS + "new/confirm/", {"payee": "@nobody", "amount": "1.00", "currency": "USD"})
    assert response.status_code == 404 and b"There is no one called @nobody" in response.content
    response = client.post(CHECKS + "new/confirm/", {"payee": "Zed", "amount": "-1", "currency": "USD"})
    assert response.status_code == 400
    response = client.post(CHECKS + "new/confirm/", {"payee": "Zed", "amount": "5000.00", "currency": "USD"})
    assert response.status_code in (400, 422) and b"form-errors" in response.content
    response = client.post(CHECKS + "new/submit/", {"payee": "Zed", "amount": "abc", "currency": "USD"})
    assert response.status_code == 400
    assert not Check.objects.exists() and balance(alice) == 100000


def test_printable_check_shows_everything_and_only_to_its_writer(client, alice, bob):
    check = write(alice, memo="Garden")
    code = deposit_code_display(check_deposit_code(check))
    client.force_login(alice)
    response = client.get(f"{CHECKS}{check.pk}/")
    assert response.status_code == 200
    text = response.content.decode()
    for expected in [check.number, "Acme Plumbing", "$12.34", "Twelve and 34/100", "Garden", "Signature", code, "<svg"]:
        assert expected in text, expected
    assert 'href="/static/css/checks.css"' in text  # it carries the print rules
    from django.contrib.staticfiles import finders

    assert "@media print" in Path(finders.find("css/checks.css")).read_text()
    assert response["Cache-Control"].startswith("no-store")
    client.force_login(bob)
    assert client.get(f"{CHECKS}{check.pk}/").status_code == 404
    assert client.get(f"{CHECKS}{check.pk}/check.pdf").status_code == 404
    assert client.post(f"{CHECKS}{check.pk}/void/").status_code == 404
    assert client.get(f"{CHECKS}999999/").status_code == 404
    assert Check.objects.get().status == CheckStatus.OUTSTANDING


def test_pdf_is_a_pdf_with_the_number(client, alice):
    check = write(alice)
    client.force_login(alice)
    response = client.get(f"{CHECKS}{check.pk}/check.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert check.number.encode() in response.content


def test_void_asks_first_and_moves_nothing_until_confirmed(client, alice, bob):
    check = write(alice)
    client.force_login(alice)
    response = client.get(f"{CHECKS}{check.pk}/void/")
    assert response.status_code == 200
    assert b'data-testid="confirm-void"' in response.content and b"$12.34" in response.content
    check.refresh_from_db()
    assert check.status == CheckStatus.OUTSTANDING  # a GET never voids
    client.force_login(bob)
    assert client.get(f"{CHECKS}{check.pk}/void/").status_code == 404  # someone else's check


def test_void_from_the_page(client, alice):
    check = write(alice)
    client.force_login(alice)
    response = client.post(f"{CHECKS}{check.pk}/void/", {"idempotency_key": "v1"})
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.status == CheckStatus.VOIDED and balance(alice) == 100000
    page = client.get(f"{CHECKS}{check.pk}/")
    assert b'data-testid="check-void"' not in page.content and b"Voided" in page.content


def test_deposit_through_the_qr_link_and_confirm_step(client, alice, bob):
    check = write(alice, memo="Lunch")
    code = check_deposit_code(check)
    client.force_login(bob)
    response = client.get(f"{CHECKS}deposit/?number={check.number}&code={code}")
    assert response.status_code == 200
    assert f'value="{check.number}"'.encode() in response.content and f'value="{code}"'.encode() in response.content
    response = client.post(CHECKS + "deposit/", {"number": check.number, "code": code})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Alice Liddell" in text and "$12.34" in text and "Lunch" in text
    assert balance(bob) == 100000  # nothing moved yet
    response = client.post(CHECKS + "deposit/submit/", {"number": check.number, "code": code, "idempotency_key": "d1"})
    assert response.status_code == 302
    assert balance(bob) == 100000 + 1234
    listing = client.get(CHECKS).content.decode()
    assert check.number in listing and "+$12.34" in listing
    client.force_login(alice)
    listing = client.get(CHECKS).content.decode()
    assert "Deposited by @bob" in listing


def test_deposit_errors_are_clear_and_generic_for_wrong_codes(client, alice, bob):
    check = write(alice)
    code = check_deposit_code(check)
    client.force_login(bob)
    wrong = ("A" if code[0] != "A" else "B") + code[1:]
    response = client.post(CHECKS + "deposit/", {"number": check.number, "code": wrong})
    assert response.status_code == 404
    assert b"No outstanding check matches that number and code." in response.content
    client.force_login(alice)
    response = client.post(CHECKS + "deposit/", {"number": check.number, "code": code})
    assert response.status_code == 422 and b"void it instead" in response.content
    check_deposit(bob, number=check.number, code=code)
    client.force_login(bob)
    response = client.post(CHECKS + "deposit/submit/", {"number": check.number, "code": code, "idempotency_key": "x"})
    assert response.status_code == 409 and b"already been deposited" in response.content
    assert balance(bob) == 100000 + 1234


def test_list_query_count_does_not_grow(client, alice, bob, django_assert_max_num_queries):
    for i in range(25):
        check = write(alice, amount=100 + i)
        if i % 2:
            check_deposit(bob, number=check.number, code=check_deposit_code(check))
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        response = client.get(CHECKS)
    assert response.status_code == 200 and response.content.count(b'data-testid="check-row"') == 20
    client.force_login(bob)
    with django_assert_max_num_queries(12):
        response = client.get(CHECKS)
    assert response.content.count(b'data-testid="check-row"') == 12
