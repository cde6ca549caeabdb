"""The audit trail (issue 10, point 8): each covered action leaves exactly one entry; staff actions
in the admin are mirrored; the trail is append-only (in the database too on PostgreSQL) and
readable, never editable, in the admin."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.test import Client

from cards.network import card_reverse
from cards.services import card_reveal
from cards.tests.factories import authorize, card_for, merchant, network_id
from compliance import services
from compliance.models import AuditEntry
from core.money import Money
from core.testing import skip_unless_postgres
from payments.services.send import payment_send
from payments.services.staff import payment_reverse_by_staff
from payments.tests.factories import fund, sender_user

from .conftest import image_upload
from .factories import staff_user

pytestmark = pytest.mark.django_db

AUDIT = "/admin/compliance/auditentry/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def only_entry(**filters) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(**filters))
    assert len(entries) == 1, entries
    return entries[0]


# --- One entry per covered action --------------------------------------------------------------


def test_card_reveal_is_recorded_with_the_holder_as_actor():
    holder = sender_user("revealer")
    card = card_for(holder)
    card_reveal(holder, card=card, authenticated_at=time.time())
    entry = only_entry(action="card.reveal")
    assert entry.actor == holder
    assert (entry.target_type, entry.target_id) == ("cards.card", str(card.pk))
    assert entry.data["last4"] == card.last4
    assert card.plain_number not in str(entry.data) and card.plain_number not in entry.target_repr


def test_kyc_decisions_are_recorded_with_staff_and_reason(sender, staff):
    profile = services.kyc_submit_document(sender, file=image_upload())
    services.kyc_document_review(staff, profile=profile, approve=False, note="Glare hides the photo")
    rejected = only_entry(action="kyc.document_reject")
    assert rejected.actor == staff and rejected.reason == "Glare hides the photo"
    assert (rejected.target_type, rejected.target_id) == ("compliance.kycprofile", str(profile.pk))

    services.kyc_submit_document(sender, file=image_upload())
    services.kyc_document_review(staff, profile=profile, approve=True)
    approved = only_entry(action="kyc.document_approve")
    assert approved.actor == staff and approved.target_id == str(profile.pk)


def test_freeze_and_lift_are_recorded_once_each(sender, staff):
    freeze = services.freeze_account(staff, user=sender, reason="Card testing pattern")
    services.freeze_lift(staff, user=sender, reason="Customer called in")
    created = only_entry(action="freeze.create")
    lifted = only_entry(action="freeze.lift")
    assert (created.actor, created.reason) == (staff, "Card testing pattern")
    assert (lifted.actor, lifted.reason) == (staff, "Customer called in")
    assert created.target_type == lifted.target_type == "compliance.accountfreeze"
    assert created.target_id == lifted.target_id == str(freeze.pk)
    assert created.data["user"] == lifted.data["user"] == sender.handle


def test_staff_payment_reversal_is_recorded():
    staff = staff_user("reverser")
    alice, bob = sender_user("alice_a"), sender_user("bob_a")
    fund(alice, "100.00")
    payment = payment_send(alice, to=bob, amount=Money.parse("25.00", "USD"), note="lunch", safety_delay=False)
    payment_reverse_by_staff(staff, payment=payment, reason="Sent to the wrong person")
    entry = only_entry(action="payment.reverse")
    assert (entry.actor, entry.reason) == (staff, "Sent to the wrong person")
    assert (entry.target_type, entry.target_id) == ("payments.payment", str(payment.pk))
    assert entry.data["amount"] == 2500 and entry.data["recipient"] == "bob_a"


def test_card_authorisation_reversal_is_recorded_once_even_when_replayed():
    holder = sender_user("shopper")
    fund(holder, "200.00")
    card = card_for(holder)
    shop = merchant("Audit Shop")
    auth = authorize(shop, card, 1500)
    ntid = network_id("rev")
    card_reverse(shop, authorization_id=auth["authorization_id"], network_transaction_id=ntid)
    card_reverse(shop, authorization_id=auth["authorization_id"], network_transaction_id=ntid)  # a replay
    entry = only_entry(action="card.authorization_reverse")
    assert entry.actor is None  # the merchant's call, not a person's: named in the data
    assert (entry.target_type, entry.target_id) == ("cards.authorization", str(auth["authorization_id"]))
    assert entry.data["merchant"] == "Audit Shop" and entry.data["released"] == 1500


# --- Every staff action in the admin ---------------------------------------------------------------


def test_a_stock_admin_change_is_mirrored_and_a_save_without_changes_is_not(staff):
    group = Group.objects.create(name="Support")
    client = logged_in(staff)
    url = f"/admin/auth/group/{group.pk}/change/"
    assert client.post(url, {"name": "Support team"}).status_code == 302
    entry = only_entry(action="admin.change")
    assert entry.actor == staff
    assert (entry.target_type, entry.target_id, entry.target_repr) == ("auth.group", str(group.pk), "Support team")
    assert "Name" in entry.data["change"]
    assert client.post(url, {"name": "Support team"}).status_code == 302  # nothing changed: nothing recorded
    assert AuditEntry.objects.filter(action="admin.change").count() == 1


def test_admin_add_and_single_delete_are_mirrored(staff):
    client = logged_in(staff)
    assert client.post("/admin/auth/group/add/", {"name": "Auditors"}).status_code == 302
    group = Group.objects.get(name="Auditors")
    added = only_entry(action="admin.add")
    assert (added.actor, added.target_type, added.target_id) == (staff, "auth.group", str(group.pk))
    assert client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}).status_code == 302
    deleted = only_entry(action="admin.delete")
    assert (deleted.actor, deleted.target_id, deleted.target_repr) == (staff, str(group.pk), "Auditors")


def test_bulk_delete_selected_records_every_object_once(staff):
    groups = [Group.objects.create(name=name) for name in ("One", "Two", "Three")]
    keep = Group.objects.create(name="Keep")
    client = logged_in(staff)
    form = {"action": "delete_selected", "_selected_action": [g.pk for g in groups]}
    page = client.post("/admin/auth/group/", form)  # the confirmation page deletes nothing
    assert page.status_code == 200 and Group.objects.count() == 4
    assert not AuditEntry.objects.filter(action="admin.delete").exists()
    assert client.post("/admin/auth/group/", {**form, "post": "yes"}).status_code == 302
    assert list(Group.objects.all()) == [keep]
    entries = AuditEntry.objects.filter(action="admin.delete")
    assert sorted(entries.values_list("target_id", flat=True)) == sorted(str(g.pk) for g in groups)
    assert {(e.actor, e.target_type) for e in entries} == {(staff, "auth.group")}
    assert sorted(entries.values_list("target_repr", flat=True)) == ["One", "Three", "Two"]


def test_bulk_delete_of_one_object_is_recorded_once(staff):
    group = Group.objects.create(name="Solo")
    form = {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"}
    assert logged_in(staff).post("/admin/auth/group/", form).status_code == 302
    assert only_entry(action="admin.delete").target_id == str(group.pk)


def test_an_admin_save_that_a_service_records_is_not_recorded_twice(staff):
    client = logged_in(staff)
    assert (
        client.post("/admin/cards/merchant/add/", {"name": "Corner Shop", "category_code": "5411"}).status_code == 302
    )
    made = only_entry(action="cards.merchant_add")
    assert made.actor == staff
    change = f"/admin/cards/merchant/{made.target_id}/change/"
    assert client.post(change, {"name": "Corner Shop 2", "category_code": "5411", "is_active": "on"}).status_code == 302
    assert only_entry(action="cards.merchant_change").actor == staff
    assert not AuditEntry.objects.filter(action__startswith="admin.").exists()  # the named entries suffice


def test_a_named_entry_from_a_rolled_back_savepoint_does_not_hide_the_admin_log(staff):
    group = Group.objects.create(name="Edge")
    with transaction.atomic():
        try:
            with transaction.atomic():
                services.audit_record(actor=staff, action="test.rolled_back", target=group)
                raise RuntimeError
        except RuntimeError:
            pass
        from django.contrib.admin.models import CHANGE, LogEntry

        LogEntry.objects.log_actions(staff.pk, [group], CHANGE, [{"changed": {"fields": ["Name"]}}])
    assert only_entry(action="admin.change").target_id == str(group.pk)
    assert not AuditEntry.objects.filter(action="test.rolled_back").exists()


# --- Read-only in the admin, append-only in the database -----------------------------------------


def test_staff_can_list_filter_search_and_open_but_never_edit(sender, staff):
    viewer = staff_user("viewer", superuser=False)  # staff without any model permission
    client = logged_in(viewer)
    services.freeze_account(staff, user=sender, reason="Check the card")
    services.freeze_lift(staff, user=sender, reason="Cleared")
    Group.objects.create(name="Noise")
    freeze = AuditEntry.objects.get(action="freeze.create")

    def listed(params):
        response = client.get(AUDIT, params)
        assert response.status_code == 200
        return set(response.context["cl"].result_list)

    everything = listed({})
    assert freeze in everything and len(everything) == AuditEntry.objects.count()
    assert listed({"action": "freeze.create"}) == {freeze}
    assert listed({"actor__id__exact": staff.pk}) == set(AuditEntry.objects.filter(actor=staff))
    assert listed({"target_type": "compliance.accountfreeze"}) == set(
        AuditEntry.objects.filter(target_id=freeze.target_id)
    )
    day = freeze.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert freeze in listed({"created_at__gte": str(day), "created_at__lt": str(day + timedelta(days=1))})
    assert listed({"created_at__lt": str(day - timedelta(days=1))}) == set()
    assert listed({"q": "Check the card"}) == {freeze}
    assert listed({"q": "maker"}) == set(AuditEntry.objects.filter(actor=staff))

    detail = client.get(f"{AUDIT}{freeze.pk}/change/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "Check the card" in body and 'name="reason"' not in body and 'name="_save"' not in body
    assert client.get(f"{AUDIT}add/").status_code == 403
    assert client.get(f"{AUDIT}{freeze.pk}/delete/").status_code == 403
    client.post(f"{AUDIT}{freeze.pk}/change/", {"reason": "edited"})
    freeze.refresh_from_db()
    assert freeze.reason == "Check the card"

    superuser = logged_in(staff)
    assert superuser.get(AUDIT).context["action_form"] is None  # no actions at all, so no bulk delete
    gone = superuser.post(AUDIT, {"action": "delete_selected", "_selected_action": [freeze.pk], "post": "yes"})
    assert gone.status_code in (200, 302)
    assert AuditEntry.objects.filter(pk=freeze.pk).exists()


def test_people_who_are_not_staff_cannot_see_the_trail(sender):
    services.audit_record(actor=None, action="test.secret", target="thing:1")
    response = logged_in(sender).get(AUDIT)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Client().get(AUDIT).status_code == 302


@pytest.mark.postgres
def test_postgres_rejects_raw_update_and_delete_of_audit_rows(staff):
    skip_unless_postgres()
    entry = services.audit_record(actor=staff, action="test.kept", target="thing:1", reason="original")
    for sql in (
        "UPDATE compliance_auditentry SET reason = 'forged' WHERE id = %s",
        "DELETE FROM compliance_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])
    entry.refresh_from_db()
    assert entry.reason == "original"
    services.audit_record(actor=staff, action="test.still_appends")  # inserting still works
    assert AuditEntry.objects.filter(action__startswith="test.").count() == 2
