"""Account freezes: staff freeze and lift (audited, notified); the person appeals."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import Conflict, NotFound, NotPermitted
from notifications.services import notify

from ..errors import STATUS_URL
from ..models import AccountFreeze, FreezeAppeal
from ..selectors import active_freeze
from .common import _instance, _require_staff, _text, _when, audit_record

# --- Freezes ------------------------------------------------------------------------------


@retry_on_conflict
def freeze_account(staff, *, user, reason: str) -> AccountFreeze:
    """Staff freeze ``user``'s account: they can no longer send money until it is lifted.

    ``reason`` is shown to the person (required). Guarantees: at most one active
    freeze per user (a second answers Conflict; the database enforces it too);
    staff only, never their own account; atomic with its audit entry and the
    person's notification (which links to where they can appeal).
    """
    _require_staff(staff, "freeze accounts")
    reason = _text(reason, name="reason", label="The reason")
    if user.pk == staff.pk:
        raise NotPermitted("You cannot freeze your own account.", code="own_record")
    with transaction.atomic():
        if AccountFreeze.objects.filter(user=user, lifted_at__isnull=True).exists():
            raise Conflict(f"@{user.handle}'s account is already frozen.", code="already_frozen")
        try:
            with transaction.atomic():
                freeze = AccountFreeze.objects.create(user=user, reason=reason, created_by=staff)
        except IntegrityError:
            raise Conflict(f"@{user.handle}'s account is already frozen.", code="already_frozen") from None
        audit_record(actor=staff, action="freeze.create", target=freeze, reason=reason, data={"user": user.handle})
        notify(user, kind="compliance.frozen", data={"reason": reason, "url": STATUS_URL})
    return freeze


@retry_on_conflict
def freeze_lift(staff, *, user, reason: str) -> AccountFreeze:
    """Staff lift ``user``'s active freeze (a reason is required); open appeals are marked resolved.

    Staff only, never their own account; Conflict if the account is not frozen.
    Atomic with its audit entry and the person's notification.
    """
    _require_staff(staff, "lift freezes")
    reason = _text(reason, name="reason", label="The reason")
    if user.pk == staff.pk:
        raise NotPermitted("You cannot lift a freeze on your own account.", code="own_record")
    with transaction.atomic():
        freeze = AccountFreeze.objects.select_for_update().filter(user=user, lifted_at__isnull=True).first()
        if freeze is None:
            raise Conflict(f"@{user.handle}'s account is not frozen.", code="not_frozen")
        now = timezone.now()
        freeze.lifted_by = staff
        freeze.lifted_at = now
        freeze.lift_reason = reason
        freeze.save(update_fields=["lifted_by", "lifted_at", "lift_reason"])
        freeze.appeals.filter(resolved=False).update(resolved=True, resolved_at=now)
        audit_record(actor=staff, action="freeze.lift", target=freeze, reason=reason, data={"user": user.handle})
        notify(user, kind="compliance.unfrozen", data={"reason": reason, "url": STATUS_URL})
    return freeze


def freeze_appeal(user, *, text: str) -> FreezeAppeal:
    """A frozen person asks staff to look again (from /compliance/status/).

    One open appeal at a time (Conflict if one is waiting; the database enforces
    it too); Conflict if the account is not frozen. Text required, ≤ 2000 characters.
    """
    text = _text(text, name="text", label="Your appeal")
    with transaction.atomic():
        freeze = active_freeze(user)
        if freeze is None:
            raise Conflict("Your account is not frozen: there is nothing to appeal.", code="not_frozen")
        waiting = freeze.appeals.filter(resolved=False).first()
        if waiting is not None:
            raise Conflict(
                f"We already have your appeal from {_when(waiting.created_at)}; our team will reply. "
                "You can send another once it is answered.",
                code="appeal_waiting",
            )
        try:
            with transaction.atomic():
                return FreezeAppeal.objects.create(freeze=freeze, text=text)
        except IntegrityError:
            raise Conflict("We already have your appeal; our team will reply.", code="appeal_waiting") from None


def freeze_appeal_resolve(staff, *, appeal: FreezeAppeal | int, note: str = "") -> FreezeAppeal:
    """Staff mark an appeal answered (without lifting the freeze: that is ``freeze_lift``). Audited."""
    _require_staff(staff, "resolve appeals")
    note = _text(note, name="note", label="The note", required=False)
    pk = _instance(FreezeAppeal, appeal, what="appeal")
    with transaction.atomic():
        appeal = FreezeAppeal.objects.select_for_update().filter(pk=pk).first()
        if appeal is None:
            raise NotFound("That appeal does not exist.")
        if appeal.resolved:
            raise Conflict("That appeal is already resolved.", code="already_resolved")
        appeal.resolved = True
        appeal.resolved_at = timezone.now()
        appeal.save(update_fields=["resolved", "resolved_at"])
        audit_record(actor=staff, action="freeze_appeal.resolve", target=appeal, reason=note)
    return appeal
