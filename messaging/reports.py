"""Reporting a message or a conversation to staff, and what staff may do about it.

Members report (``report_create``); staff work a queue in the admin
(``messaging.admin.ReportAdmin``). Staff never browse conversations: for a report
they see only the reported message with the 5 messages before and after it, or
for a conversation report the last 10 messages up to the moment it was reported
(``report_context``). Every such view writes an audit entry
(``report_context_view``), and so does every decision (dismiss, mark actioned,
remove the message).

HTML: ``/messages/<conversation_id>/report/`` (``messaging:report_conversation``)
and ``/messages/<conversation_id>/messages/<message_id>/report/``
(``messaging:report_message``); ``urlpatterns`` below is included by
``messaging/urls.py``.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.db import models, transaction
from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from compliance.services import audit_record
from core.errors import Conflict, DomainError, NotFound, NotPermitted, ValidationFailed
from notifications.services import notify

from .attachments import attachment_storage
from .models import Message, MessageKind, Report, ReportStatus
from .search import conversation_title
from .services import MessageNotFound, membership_for, message_card_changed, message_for

DETAILS_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 500
CONTEXT_AROUND = 5  # messages before and after a reported message
CONTEXT_CONVERSATION = 10  # last messages of a reported conversation


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    SCAM = "scam", "Scam or fraud"
    HARASSMENT = "harassment", "Harassment or bullying"
    HATE = "hate", "Hate speech"
    OTHER = "other", "Something else"


class ReportNotFound(NotFound):
    code = "report_not_found"
    default_message = "That report does not exist."


# --- Members ----------------------------------------------------------------------------------


def _reason(value: object) -> str:
    if not isinstance(value, str) or value not in ReportReason.values:
        raise ValidationFailed(
            "Choose why you are reporting this.",
            code="invalid_reason",
            fields={"reason": [f"One of: {', '.join(ReportReason.values)}."]},
        )
    return value


def _details(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed("Details are text.", fields={"details": ["Must be text."]})
    text = value.replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) > DETAILS_MAX_LENGTH:
        raise ValidationFailed(
            f"Details have at most {DETAILS_MAX_LENGTH:,} characters (these have {len(text):,}).",
            fields={"details": [f"At most {DETAILS_MAX_LENGTH} characters."]},
        )
    return text


def report_create(user, *, conversation, message=None, reason: str, details: str = "") -> Report:
    """A member reports a conversation, or one message of it, to staff.

    Guarantees: only an active member may report (anyone else gets 404, as if the
    conversation did not exist); a message must belong to that conversation (404
    otherwise), not be deleted, not be a system notice and not be the reporter's
    own. ``reason`` is one of ``ReportReason``; ``details`` at most 2,000
    characters. At most one OPEN report per reporter and message (or per reporter
    and conversation, for a conversation report): reporting again returns the open
    one unchanged (``report.created`` is False). Serialised on the reporter's
    membership row, so a double submit cannot make two.
    """
    reason = _reason(reason)
    details = _details(details)
    with transaction.atomic():
        membership = membership_for(user, conversation, lock=True)
        conv = membership.conversation
        target = None
        if message is not None:
            try:
                target, _ = message_for(user, message)
            except MessageNotFound:
                raise MessageNotFound() from None
            if target.conversation_id != conv.pk:
                raise MessageNotFound()
            if target.deleted_at is not None:
                raise Conflict("That message was deleted.", code="message_deleted")
            if target.kind == MessageKind.SYSTEM:
                raise ValidationFailed("Notices about the conversation can't be reported.", code="cannot_report")
            if target.sender_id == user.pk:
                raise ValidationFailed("You can't report your own message.", code="cannot_report")
        existing = Report.objects.filter(
            reporter=user, conversation=conv, message=target, status=ReportStatus.OPEN
        ).first()
        if existing is not None:
            existing.created = False
            return existing
        report = Report.objects.create(reporter=user, conversation=conv, message=target, reason=reason, details=details)
    report.created = True
    return report


# --- Staff ------------------------------------------------------------------------------------


def may_view_reports(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and (user.has_perm("messaging.view_report") or user.has_perm("messaging.change_report"))
    )


def may_decide_reports(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and user.has_perm("messaging.change_report")
    )


def _report(value, *, lock: bool = False) -> Report:
    pk = getattr(value, "pk", value)
    if isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) <= 19:
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise ReportNotFound()
    rows = Report.objects.select_related("conversation", "message", "reporter")
    if lock:
        rows = rows.select_for_update(of=("self",))
    report = rows.filter(pk=pk).first()
    if report is None:
        raise ReportNotFound()
    return report


def _note(value: object, *, required: bool = True) -> str:
    text = " ".join(str(value or "").split()) if isinstance(value, str) or value is None else None
    if text is None:
        raise ValidationFailed("The note is text.", fields={"note": ["Must be text."]})
    if required and not text:
        raise ValidationFailed("Write a note about your decision.", fields={"note": ["Required."]})
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationFailed(
            f"The note has at most {NOTE_MAX_LENGTH} characters.", fields={"note": [f"At most {NOTE_MAX_LENGTH}."]}
        )
    return text


def report_context(report: Report) -> list[Message]:
    """The messages staff may see for ``report``, oldest first (no audit: use ``report_context_view``).

    A message report: the reported message with the 5 messages before and the 5
    after it in its conversation. A conversation report: the last 10 messages up to
    the moment of the report. Nothing else of the conversation, ever. Four queries.
    """
    rows = (
        Message.objects.filter(conversation_id=report.conversation_id)
        .select_related("sender")
        .prefetch_related("attachments")
    )
    if report.message_id:
        before = list(rows.filter(id__lt=report.message_id).order_by("-id")[:CONTEXT_AROUND])
        after = list(rows.filter(id__gt=report.message_id).order_by("id")[:CONTEXT_AROUND])
        reported = list(rows.filter(id=report.message_id))
        return [*reversed(before), *reported, *after]
    latest = rows.filter(created_at__lte=report.created_at).order_by("-id")[:CONTEXT_CONVERSATION]
    return list(reversed(list(latest)))


def report_context_view(staff, *, report) -> tuple[Report, list[Message]]:
    """What a staff member sees of a report, recorded in the audit trail.

    Only staff allowed to view reports; every call writes
    ``messaging.report_view`` with the ids of the messages shown, in the same
    transaction (no entry, no view).
    """
    if not may_view_reports(staff):
        raise NotPermitted("Only staff who handle reports can see them.", code="staff_only")
    with transaction.atomic():
        found = _report(report)
        shown = report_context(found)
        audit_record(
            actor=staff,
            action="messaging.report_view",
            target=found,
            data={"message_ids": [m.pk for m in shown], "conversation_id": found.conversation_id},
        )
    return found, shown


def _close(staff, report: Report, *, status: str, note: str) -> None:
    report.status = status
    report.handled_by = staff
    report.handled_at = timezone.now()
    report.resolution_note = note
    report.save(update_fields=["status", "handled_by", "handled_at", "resolution_note"])
    notify(
        report.reporter,
        kind="messaging.report_reviewed",
        data={"title": "We reviewed your report. Thank you for helping keep Everything safe.", "report": report.pk},
    )


def _decide(staff, *, report, status: str, note: str, action: str) -> Report:
    if not may_decide_reports(staff):
        raise NotPermitted("Only staff who handle reports can decide them.", code="staff_only")
    note = _note(note)
    with transaction.atomic():
        found = _report(report, lock=True)
        if found.status != ReportStatus.OPEN:
            raise Conflict("That report was already handled.", code="report_already_handled")
        _close(staff, found, status=status, note=note)
        audit_record(
            actor=staff,
            action=action,
            target=found,
            reason=note,
            data={"status": status, "message_id": found.message_id, "conversation_id": found.conversation_id},
        )
    return found


def report_dismiss(staff, *, report, note: str) -> Report:
    """Close an open report with no action (a note is required). Audited; the reporter is told it was reviewed."""
    return _decide(staff, report=report, status=ReportStatus.DISMISSED, note=note, action="messaging.report_dismiss")


def report_mark_actioned(staff, *, report, note: str) -> Report:
    """Close an open report as acted upon (a note says what was done). Audited; the reporter is told."""
    return _decide(staff, report=report, status=ReportStatus.ACTIONED, note=note, action="messaging.report_action")


def message_remove_by_staff(staff, *, report, reason: str) -> Message:
    """Staff delete a reported text message for everyone: the same tombstone as the sender's delete.

    Guarantees: only staff who may decide reports; only the message a report names
    (staff can remove nothing else), only a text message, once (409 after).
    The body, reactions and attachments go (files removed on commit), ``deleted_at``
    is set, every member gets ``message.updated``; every open report of that
    message is marked actioned with the reason; one audit entry
    ``messaging.message_remove``. Atomic.
    """
    if not may_decide_reports(staff):
        raise NotPermitted("Only staff who handle reports can remove messages.", code="staff_only")
    reason = _note(reason)
    with transaction.atomic():
        found = _report(report, lock=True)
        if not found.message_id:
            raise ValidationFailed("This report is about a whole conversation, not one message.", code="no_message")
        message = Message.objects.select_for_update().get(pk=found.message_id)
        if message.deleted_at is not None:
            raise Conflict("That message is already deleted.", code="message_deleted")
        if message.kind != MessageKind.TEXT:
            raise ValidationFailed(
                "Only text messages can be removed; act on a payment or request in the payments admin.",
                code="not_removable",
            )
        names = [a.file.name for a in message.attachments.all() if a.file]
        message.attachments.all().delete()
        message.reactions.all().delete()
        message.body = ""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "deleted_at"])
        closed = []
        for other in Report.objects.select_for_update().filter(message=message, status=ReportStatus.OPEN):
            _close(staff, other, status=ReportStatus.ACTIONED, note=f"Message removed: {reason}"[:NOTE_MAX_LENGTH])
            closed.append(other.pk)
        audit_record(
            actor=staff,
            action="messaging.message_remove",
            target=found,
            reason=reason,
            data={
                "message_id": message.pk,
                "conversation_id": message.conversation_id,
                "sender_id": message.sender_id,
                "reports_closed": closed,
                "attachments_removed": len(names),
            },
        )
        message_card_changed(message)  # publishes message.updated (the tombstone) to every member on commit
        storage = attachment_storage()
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
    return message


# --- HTML -------------------------------------------------------------------------------------


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label="What is wrong?",
        choices=ReportReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why you are reporting this."},
    )
    details = forms.CharField(
        label="Anything else we should know? (optional)",
        required=False,
        max_length=DETAILS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": DETAILS_MAX_LENGTH}),
        help_text="Our safety team reads every report. The people you report are not told who reported them.",
    )


def conversation_url(conversation_id: int) -> str:
    try:
        return reverse("messaging:conversation", args=[conversation_id])
    except NoReverseMatch:
        return f"/messages/{conversation_id}/"


def _report_page(request, conversation_id: int, message_id: int | None):
    user = request.user
    try:
        membership = membership_for(user, conversation_id)
        message = None
        if message_id is not None:
            message, _ = message_for(user, message_id)
            if message.conversation_id != membership.conversation_id:
                raise MessageNotFound()
    except NotFound:
        raise Http404("No such conversation.") from None
    conversation = membership.conversation
    form = ReportForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            report = report_create(
                user,
                conversation=conversation,
                message=message,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
            )
        except NotFound:
            raise Http404("No such conversation.") from None
        except DomainError as exc:
            for name, problems in (exc.fields or {}).items():
                if name in form.fields:
                    form.add_error(name, problems)
            error = exc.message
        else:
            return render(
                request,
                "messaging/reports/done.html",
                {"report": report, "conversation": conversation, "back_url": conversation_url(conversation.pk)},
            )
    return render(
        request,
        "messaging/reports/form.html",
        {
            "form": form,
            "error": error,
            "conversation": conversation,
            "title": conversation_title(conversation, user),
            "message": message,
            "back_url": conversation_url(conversation.pk),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
@login_required
def report_conversation_page(request, conversation_id: int):
    """Report a whole conversation (a member only; anyone else gets 404)."""
    return _report_page(request, conversation_id, None)


@require_http_methods(["GET", "POST"])
@login_required
def report_message_page(request, conversation_id: int, message_id: int):
    """Report one message of a conversation (a member only; anyone else gets 404)."""
    return _report_page(request, conversation_id, message_id)


urlpatterns = [
    path("<int:conversation_id>/report/", report_conversation_page, name="report_conversation"),
    path(
        "<int:conversation_id>/messages/<int:message_id>/report/",
        report_message_page,
        name="report_message",
    ),
]


__all__ = [
    "ReportForm",
    "ReportReason",
    "may_decide_reports",
    "may_view_reports",
    "message_remove_by_staff",
    "report_context",
    "report_context_view",
    "report_create",
    "report_dismiss",
    "report_mark_actioned",
    "urlpatterns",
]
