"""Moderation of posts: people report a post; staff hide (or unhide) it, or dismiss the report.

Hiding is enforced by ``social.visibility`` (a hidden post is shown to its author only);
nothing here filters posts. Every staff decision writes an audit entry
(``compliance.services.audit_record``) in the same transaction as the change.

Who may do what:

- ``post_report``: any signed-in, active person, about a post they can see that is not theirs;
- ``post_hide`` / ``post_unhide``: active staff with the ``social.change_post`` permission
  (``may_moderate_posts``);
- ``report_dismiss``: active staff with ``social.change_postreport`` (``may_decide_reports``).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance.services import audit_record
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from notifications.models import register_kind
from notifications.services import notify

from ..models import Post, PostReport, ReportReason, ReportStatus
from ..visibility import post_is_visible

DETAILS_MAX_LENGTH = 1000
HIDE_REASON_MAX_LENGTH = 300

register_kind("post.hidden", "Our team hid one of your posts: {reason}")
register_kind("post.unhidden", "Our team restored one of your posts")


class PostNotFound(NotFound):
    code = "post_not_found"
    default_message = "That post does not exist or you cannot see it."


class AlreadyReported(Conflict):
    code = "already_reported"
    default_message = "You already reported this post; our team will look at it."


class CannotReportOwnPost(ValidationFailed):
    code = "cannot_report_own_post"
    default_message = "You cannot report your own post; you can delete it instead."


class ReportNotFound(NotFound):
    code = "report_not_found"
    default_message = "That report does not exist."


def may_moderate_posts(user) -> bool:
    """Active staff allowed to change posts (hide and unhide them)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and user.has_perm("social.change_post")
    )


def may_decide_reports(user) -> bool:
    """Active staff allowed to change post reports (dismiss them)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and user.has_perm("social.change_postreport")
    )


def _pk(value) -> int:
    pk = getattr(value, "pk", value)
    if isinstance(pk, str) and pk.isascii() and pk.isdigit():
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise PostNotFound()
    return pk


def _reason(value: object) -> str:
    if not isinstance(value, str) or value not in ReportReason.values:
        raise ValidationFailed(
            "Choose why you are reporting this post.",
            code="invalid_reason",
            fields={"reason": [f"One of: {', '.join(ReportReason.values)}."]},
        )
    return value


def _text(value: object, *, field: str, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed("This must be text.", fields={field: ["Must be text."]})
    text = value.replace("\x00", "").replace("\r\n", "\n").strip()
    if required and not text:
        raise ValidationFailed("Give a reason.", code="reason_required", fields={field: ["Required."]})
    if len(text) > limit:
        raise ValidationFailed(
            f"At most {limit:,} characters (this has {len(text):,}).", fields={field: [f"At most {limit} characters."]}
        )
    return text


def post_report(reporter, *, post, reason: str, details: str = "") -> PostReport:
    """``reporter`` reports ``post`` (a ``Post`` or its id) to staff; returns the open ``PostReport``.

    Guarantees: only a post the reporter can see right now (``social.visibility``; anything
    else, deleted or hidden included, is ``PostNotFound``, 404 — existence is never leaked);
    never one's own post (``CannotReportOwnPost``, 400); ``reason`` is one of
    ``ReportReason`` (400 ``invalid_reason``), ``details`` at most 1,000 characters. One
    report per person and post: a second answers ``AlreadyReported`` (409
    ``already_reported``) and changes nothing, even after staff closed the first. Atomic.
    Any signed-in, active person may call it.
    """
    if reporter is None or not getattr(reporter, "is_authenticated", False) or not reporter.is_active:
        raise NotPermitted("Log in first.", code="not_authenticated")
    reason = _reason(reason)
    details = _text(details, field="details", limit=DETAILS_MAX_LENGTH)
    found = Post.objects.filter(pk=_pk(post)).first()
    if found is None or not post_is_visible(reporter, found):
        raise PostNotFound()
    if found.author_id == reporter.pk:
        raise CannotReportOwnPost()
    try:
        with transaction.atomic():
            if PostReport.objects.filter(post_id=found.pk, reporter_id=reporter.pk).exists():
                raise AlreadyReported()
            return PostReport.objects.create(post=found, reporter=reporter, reason=reason, details=details)
    except IntegrityError:  # a concurrent identical report won
        raise AlreadyReported() from None


def _post_for_staff(post) -> Post:
    found = Post.objects.select_for_update().filter(pk=_pk(post)).first()
    if found is None:
        raise PostNotFound("That post does not exist.")
    return found


def post_hide(staff, *, post, reason: str) -> Post:
    """Staff hide ``post`` (a ``Post`` or its id) from everyone but its author; returns the post.

    Guarantees, in one transaction: ``hidden_at``/``hidden_by``/``hidden_reason`` are set,
    every open report of the post is closed as "hidden" (resolved by ``staff``), one audit
    entry ``social.post_hide`` is written, and the author is notified ``post.hidden`` with the
    reason. A reason is required (at most 300 characters). Hiding a hidden post is a
    ``Conflict`` (409 ``already_hidden``); a deleted post too (409 ``post_deleted``). Only
    ``may_moderate_posts`` staff (403 ``staff_only``).
    """
    if not may_moderate_posts(staff):
        raise NotPermitted("Only staff who moderate posts can hide them.", code="staff_only")
    reason = _text(reason, field="reason", limit=HIDE_REASON_MAX_LENGTH, required=True)
    with transaction.atomic():
        found = _post_for_staff(post)
        if found.deleted_at is not None:
            raise Conflict("That post was deleted by its author.", code="post_deleted")
        if found.hidden_at is not None:
            raise Conflict("That post is already hidden.", code="already_hidden")
        now = timezone.now()
        found.hidden_at, found.hidden_by, found.hidden_reason = now, staff, reason
        found.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        closed = PostReport.objects.filter(post_id=found.pk, status=ReportStatus.OPEN).update(
            status=ReportStatus.HIDDEN, resolved_at=now, resolved_by=staff
        )
        audit_record(
            actor=staff, action="social.post_hide", target=found, reason=reason, data={"reports_closed": closed}
        )
        notify(
            found.author,
            kind="post.hidden",
            data={"reason": reason, "post_id": found.pk, "url": f"/posts/{found.pk}"},
        )
    return found


def post_unhide(staff, *, post) -> Post:
    """Staff make a hidden ``post`` visible again; returns it.

    Guarantees, in one transaction: the hidden fields are cleared, one audit entry
    ``social.post_unhide`` (with the former reason) is written and the author is notified
    ``post.unhidden``. Reports closed by the hiding stay closed. A post that is not hidden:
    ``Conflict`` (409 ``not_hidden``). Only ``may_moderate_posts`` staff (403).
    """
    if not may_moderate_posts(staff):
        raise NotPermitted("Only staff who moderate posts can unhide them.", code="staff_only")
    with transaction.atomic():
        found = _post_for_staff(post)
        if found.hidden_at is None:
            raise Conflict("That post is not hidden.", code="not_hidden")
        former = found.hidden_reason
        found.hidden_at, found.hidden_by, found.hidden_reason = None, None, ""
        found.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        audit_record(actor=staff, action="social.post_unhide", target=found, data={"former_reason": former})
        notify(found.author, kind="post.unhidden", data={"post_id": found.pk, "url": f"/posts/{found.pk}"})
    return found


def report_dismiss(staff, *, report) -> PostReport:
    """Staff close an open ``report`` (a ``PostReport`` or its id) without acting on the post.

    Guarantees: status becomes "dismissed" with ``resolved_at``/``resolved_by``; one audit
    entry ``social.report_dismiss``; atomic. The reporter is not notified. A report already
    closed: ``Conflict`` (409 ``report_closed``); unknown: 404. Only ``may_decide_reports``
    staff (403).
    """
    if not may_decide_reports(staff):
        raise NotPermitted("Only staff who handle reports can dismiss them.", code="staff_only")
    pk = getattr(report, "pk", report)
    if isinstance(pk, str) and pk.isascii() and pk.isdigit():
        pk = int(pk)
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2**63:
        raise ReportNotFound()
    with transaction.atomic():
        found = PostReport.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            raise ReportNotFound()
        if found.status != ReportStatus.OPEN:
            raise Conflict("That report is already closed.", code="report_closed")
        found.status, found.resolved_at, found.resolved_by = ReportStatus.DISMISSED, timezone.now(), staff
        found.save(update_fields=["status", "resolved_at", "resolved_by"])
        audit_record(actor=staff, action="social.report_dismiss", target=found, data={"post_id": found.post_id})
    return found
