"""Messaging in the admin: ONLY the reports queue.

Conversations, messages and attachments are deliberately not registered: staff
never browse conversations at will. A report's page shows the reported message
and its immediate context (``messaging.reports.report_context``), read-only, and
every look at it is written to the audit trail (``messaging.report_view``). Staff
who may change reports can dismiss one, mark it actioned (each with a note) or
remove the reported message (a tombstone); each decision is audited too.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator

from compliance.admin.base import SafeLookupsMixin
from compliance.services import audit_record
from core.errors import DomainError, NotFound

from .attachments import attachment_response
from .models import Attachment, MessageKind, Report, ReportStatus
from .reports import (
    NOTE_MAX_LENGTH,
    ReportReason,
    may_decide_reports,
    may_view_reports,
    message_remove_by_staff,
    report_context,
    report_context_view,
    report_dismiss,
    report_mark_actioned,
)


class ReportStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return ReportStatus.choices

    def queryset(self, request, queryset):
        if self.value() in ReportStatus.values:
            return queryset.filter(status=self.value())
        return queryset


class ReportReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return ReportReason.choices

    def queryset(self, request, queryset):
        if self.value() in ReportReason.values:
            return queryset.filter(reason=self.value())
        return queryset


class DecisionForm(forms.Form):
    note = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "maxlength": NOTE_MAX_LENGTH}),
        help_text="Required: what you decided and why. Recorded in the audit trail.",
    )


_REASON_LABELS = dict(ReportReason.choices)


@admin.register(Report)
class ReportAdmin(SafeLookupsMixin, admin.ModelAdmin):
    """The reports queue: open reports first, newest first; filter by status and reason."""

    change_form_template = "admin/messaging/report/change_form.html"
    list_display = ["id", "reason_label", "status", "subject", "reporter_handle", "created_at", "handled_by"]
    list_display_links = ["id", "reason_label"]
    list_filter = [ReportStatusFilter, ReportReasonFilter]
    search_fields = ["reporter__handle"]  # never message text: no searching conversations from here
    list_select_related = ["reporter", "handled_by", "conversation", "message", "message__sender"]
    list_per_page = 50
    actions = None

    # --- permissions: look and decide, never add, edit fields or delete ---

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return may_view_reports(request.user)

    def has_change_permission(self, request, obj=None):
        return may_decide_reports(request.user)

    def has_module_permission(self, request):
        return may_view_reports(request.user)

    # --- the queue ---

    def get_queryset(self, request):
        # Annotated before the admin orders by it (ModelAdmin.get_queryset would order first).
        open_first = Case(When(status=ReportStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
        return self.model._default_manager.annotate(open_first=open_first).order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ["open_first", "-created_at", "-id"]

    @admin.display(description="Reason", ordering="reason")
    def reason_label(self, obj):
        return _REASON_LABELS.get(obj.reason, obj.reason)

    @admin.display(description="Reported")
    def subject(self, obj):
        conversation = obj.conversation
        where = f"group “{Truncator(conversation.name).chars(40)}”" if conversation.is_group else "a 1:1 conversation"
        if obj.message_id:
            sender = obj.message.sender
            who = f"@{sender.handle}" if sender else "someone"
            return f"A message by {who} in {where}"
        return f"The whole of {where}"

    @admin.display(description="Reporter", ordering="reporter__handle")
    def reporter_handle(self, obj):
        return f"@{obj.reporter.handle}"

    # --- the report page: context shown read-only, audited ---

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/dismiss/", view(self.dismiss_view), name="messaging_report_dismiss"),
            path("<path:object_id>/actioned/", view(self.actioned_view), name="messaging_report_actioned"),
            path("<path:object_id>/remove-message/", view(self.remove_view), name="messaging_report_remove"),
            path(
                "<path:object_id>/attachments/<int:attachment_id>/",
                view(self.attachment_view),
                name="messaging_report_attachment",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not may_view_reports(request.user):
            raise PermissionDenied
        try:
            report, shown = report_context_view(request.user, report=object_id)
        except NotFound:
            raise Http404("No such report.") from None
        return self._render(request, report, shown, DecisionForm())

    def _render(self, request, report, shown, form, *, status: int = 200):
        opts = self.model._meta
        reported = next((m for m in shown if m.pk == report.message_id), None)
        can_decide = may_decide_reports(request.user) and report.status == ReportStatus.OPEN
        context = {
            **self.admin_site.each_context(request),
            "title": f"Report #{report.pk}",
            "subtitle": None,
            "opts": opts,
            "original": report,
            "report": report,
            "reason_label": _REASON_LABELS.get(report.reason, report.reason),
            "context_messages": shown,
            "reported": reported,
            "form": form,
            "can_decide": can_decide,
            "can_remove": can_decide
            and reported is not None
            and reported.deleted_at is None
            and reported.kind == MessageKind.TEXT,
            "has_view_permission": True,
            "has_change_permission": may_decide_reports(request.user),
            "app_label": opts.app_label,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.change_form_template, context, status=status)

    def _decision(self, request, object_id, service, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_decide_reports(request.user):
            raise PermissionDenied
        form = DecisionForm(request.POST)
        if form.is_valid():
            try:
                if service is message_remove_by_staff:
                    service(request.user, report=object_id, reason=form.cleaned_data["note"])
                else:
                    service(request.user, report=object_id, note=form.cleaned_data["note"])
            except NotFound:
                raise Http404("No such report.") from None
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:messaging_report_change", args=[object_id]))
            self.message_user(request, f"Report #{object_id}: {done}", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:messaging_report_changelist"))
        # Show the page again with the error: that is another look at the context, so audited too.
        try:
            report, shown = report_context_view(request.user, report=object_id)
        except NotFound:
            raise Http404("No such report.") from None
        return self._render(request, report, shown, form, status=400)

    def dismiss_view(self, request, object_id):
        return self._decision(request, object_id, report_dismiss, "dismissed.")

    def actioned_view(self, request, object_id):
        return self._decision(request, object_id, report_mark_actioned, "marked actioned.")

    def remove_view(self, request, object_id):
        return self._decision(
            request, object_id, message_remove_by_staff, "the message was removed for everyone and the report actioned."
        )

    def attachment_view(self, request, object_id, attachment_id: int):
        """An attachment of a message in the report's context (and nothing else), audited."""
        if not may_view_reports(request.user):
            raise PermissionDenied
        pk = int(object_id) if str(object_id).isascii() and str(object_id).isdigit() else 0
        report = Report.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
        if report is None:
            raise Http404("No such report.")
        shown_ids = {m.pk for m in report_context(report) if m.deleted_at is None}
        attachment = Attachment.objects.filter(pk=attachment_id, message_id__in=shown_ids).first()
        if attachment is None:
            raise Http404("No such attachment.")
        audit_record(
            actor=request.user,
            action="messaging.report_attachment_view",
            target=report,
            data={"attachment_id": attachment.pk, "message_id": attachment.message_id},
        )
        return attachment_response(attachment)
