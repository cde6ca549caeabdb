"""Freezes: staff freeze and lift (with reasons, audited, notified); the person appeals."""

import pytest
from django.db import IntegrityError, transaction

from compliance import services
from compliance.models import AccountFreeze, AuditEntry, FreezeAppeal, ImmutableError
from core.errors import Conflict, NotPermitted, ValidationFailed
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_freeze_is_audited_and_the_person_is_told(sender, staff):
    freeze = services.freeze_account(staff, user=sender, reason="Unusual activity on your account")
    assert services.active_freeze(sender) == freeze
    entry = AuditEntry.objects.get(action="freeze.create")
    assert entry.actor == staff and entry.reason == "Unusual activity on your account"
    note = Notification.objects.get(recipient=sender, kind="compliance.frozen")
    assert note.title == "Sending from your account is paused: Unusual activity on your account"
    assert note.url == "/compliance/status/"


def test_freeze_needs_a_reason(sender, staff):
    with pytest.raises(ValidationFailed):
        services.freeze_account(staff, user=sender, reason="  ")


def test_only_staff_freeze_and_never_themselves(sender, big_sender, staff):
    with pytest.raises(NotPermitted):
        services.freeze_account(big_sender, user=sender, reason="I don't like them")
    with pytest.raises(NotPermitted):
        services.freeze_account(staff, user=staff, reason="oops")
    assert not AccountFreeze.objects.exists()


def test_one_active_freeze_per_user(sender, staff, checker):
    services.freeze_account(staff, user=sender, reason="First")
    with pytest.raises(Conflict):
        services.freeze_account(checker, user=sender, reason="Second")
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountFreeze.objects.create(user=sender, reason="Direct", created_by=checker)


def test_lift_needs_a_reason_is_audited_and_resolves_appeals(sender, staff, checker):
    services.freeze_account(staff, user=sender, reason="Check")
    appeal = services.freeze_appeal(sender, text="That was my rent, honest.")
    with pytest.raises(ValidationFailed):
        services.freeze_lift(checker, user=sender, reason="")
    freeze = services.freeze_lift(checker, user=sender, reason="Documents checked")
    assert freeze.lifted_by == checker and freeze.lift_reason == "Documents checked"
    assert services.active_freeze(sender) is None
    appeal.refresh_from_db()
    assert appeal.resolved and appeal.resolved_at
    assert AuditEntry.objects.filter(action="freeze.lift", actor=checker, reason="Documents checked").exists()
    assert Notification.objects.filter(recipient=sender, kind="compliance.unfrozen").exists()
    # Frozen again later: a new freeze row, the old one stays as history.
    services.freeze_account(staff, user=sender, reason="Again")
    assert AccountFreeze.objects.filter(user=sender).count() == 2


def test_lifting_when_not_frozen_is_a_conflict(sender, staff):
    with pytest.raises(Conflict):
        services.freeze_lift(staff, user=sender, reason="nothing")


def test_non_staff_cannot_lift(sender, big_sender, staff):
    services.freeze_account(staff, user=sender, reason="Check")
    with pytest.raises(NotPermitted):
        services.freeze_lift(big_sender, user=sender, reason="Let them go")
    with pytest.raises(NotPermitted):
        services.freeze_lift(sender, user=sender, reason="Let me go")


def test_appeal_one_at_a_time_and_only_when_frozen(sender, staff):
    with pytest.raises(Conflict):
        services.freeze_appeal(sender, text="Why?")
    services.freeze_account(staff, user=sender, reason="Check")
    with pytest.raises(ValidationFailed):
        services.freeze_appeal(sender, text="   ")
    appeal = services.freeze_appeal(sender, text="Please look again.")
    with pytest.raises(Conflict) as caught:
        services.freeze_appeal(sender, text="Hello?")
    assert "already have your appeal" in caught.value.message
    services.freeze_appeal_resolve(staff, appeal=appeal, note="Called them")
    assert AuditEntry.objects.filter(action="freeze_appeal.resolve").exists()
    second = services.freeze_appeal(sender, text="More information attached.")
    assert FreezeAppeal.objects.filter(freeze=second.freeze).count() == 2


def test_audit_record_accepts_instances_strings_and_system(sender, staff):
    entry = services.audit_record(actor=staff, action="payment.reverse", target="payment:42", reason="Duplicate")
    assert (entry.target_type, entry.target_id, entry.target_repr) == ("payment", "42", "payment:42")
    entry = services.audit_record(actor=None, action="system.note", target=sender, data={"n": 1})
    assert entry.actor is None and entry.target_type == "accounts.user" and entry.data == {"n": 1}
    with pytest.raises(ValidationFailed):
        services.audit_record(actor=staff, action="")


def test_audit_entries_are_append_only(staff):
    entry = services.audit_record(actor=staff, action="test.action", reason="why")
    entry.reason = "changed"
    with pytest.raises(ImmutableError):
        entry.save()
    with pytest.raises(ImmutableError):
        entry.delete()
    with pytest.raises(ImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="changed")
    with pytest.raises(ImmutableError):
        AuditEntry.objects.all().delete()
    entry.refresh_from_db()
    assert entry.reason == "why"
