import pytest
from django.core.management import call_command
from django.db import connection

from ledger.models import Account

pytestmark = pytest.mark.django_db


def test_ledger_check_passes_after_seed_demo(capsys):
    call_command("seed_demo", users=2)
    call_command("seed_demo")  # again: replays, pays nobody twice
    call_command("ledger_check")
    out = capsys.readouterr().out
    assert "ledger_check: OK — 8 accounts, 7 transfers, 1 currencies balanced (USD)" in out
    alice = Account.objects.get(owner__handle="alice")
    assert alice.balance == 1_000_00


@pytest.mark.ledger_unchecked
def test_ledger_check_fails_naming_the_account_altered_by_raw_sql(capsys):
    call_command("seed_demo")
    bob = Account.objects.get(owner__handle="bob")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET credits_posted = credits_posted + 1 WHERE id = %s", [bob.pk])
    with pytest.raises(SystemExit) as exit_info:
        call_command("ledger_check")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"account #{bob.pk} (wallet USD)" in err
    assert "currency USD" in err
    assert "FAILED" in err


def test_admin_shows_the_ledger_read_only(admin_client):
    call_command("seed_demo")
    for name in ["account", "transfer", "batch"]:
        assert admin_client.get(f"/admin/ledger/{name}/").status_code == 200
        assert admin_client.get(f"/admin/ledger/{name}/add/").status_code == 403
    account = Account.objects.get(owner__handle="carol")
    page = admin_client.get(f"/admin/ledger/account/{account.pk}/change/")
    assert page.status_code == 200
    assert b"Save" not in page.content
    assert admin_client.post(f"/admin/ledger/account/{account.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/ledger/account/?q=carol").status_code == 200
