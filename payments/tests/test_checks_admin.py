"""The checks admin: read-only, filters, transfers linked, never the deposit code."""

import pytest

from compliance.tests.factories import staff_user
from core.money import Money
from payments.services.checks import check_deposit, check_deposit_code, check_write

pytestmark = pytest.mark.django_db

URL = "/admin/payments/check/"


def test_changelist_and_change_page(client, alice, bob):
    check = check_write(alice, payee="Acme", amount=Money(1234, "USD"))
    code = check_deposit_code(check)
    check = check_deposit(bob, number=check.number, code=code)
    other = check_write(alice, payee="Zed", amount=Money(99, "USD"))
    client.force_login(staff_user("root"))
    listing = client.get(URL)
    assert listing.status_code == 200
    text = listing.content.decode()
    assert check.number in text and "$12.34" in text and "Acme" in text
    filtered = client.get(URL + "?status__exact=outstanding").content.decode()
    assert other.number in filtered and check.number not in filtered
    assert client.get(URL + "?status__exact=%00").status_code in (200, 302)
    page = client.get(f"{URL}{check.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f"/admin/ledger/transfer/{check.write_transfer_id}/change/" in body
    assert f"/admin/ledger/transfer/{check.settle_transfer_id}/change/" in body
    for secret in (code, check.deposit_code_encrypted, code[:4] + "-"):
        assert secret not in body and secret not in text
    assert client.get(URL + "add/").status_code == 403
    assert client.post(f"{URL}{check.pk}/delete/").status_code == 403
