"""Reports: members report, staff see only the reported context (audited) and decide (audited)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission

from accounts.models import Follow
from accounts.tests.factories import UserFactory
from compliance.models import AuditEntry
from core.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from messaging import reports, services
from messaging.models import Attachment, Conversation, Message, Report, ReportStatus
from notifications.models import Notification

QUEUE = "/admin/messaging/report/"


@pytest.fixture
def people(db):
    ann = UserFactory(handle="ann", display_name="Ann Archer", verified=True)
    ben = UserFactory(handle="ben", display_name="Ben Baker", verified=True)
    cat = UserFactory(handle="cat", verified=True)
    Follow.objects.create(follower=ben, followee=ann)
    return ann, ben, cat


@pytest.fixture
def direct(people):
    ann, ben, _ = people
    return services.conversation_direct_open(ann, other=ben)


@pytest.fixture
def thread(people, direct):
    """30 messages alternating ann/ben; the 15th (index 14, by ann) is the nasty one."""
    ann, ben, _ = people
    posted = []
    for i in range(30):
        author = ann if i % 2 == 0 else ben
        body = "send me your bank password or else" if i == 14 else f"message number {i}"
        posted.append(services.message_post(author, conversation=direct, body=body))
    return posted


@pytest.fixture
def staff(db):
    return UserFactory(handle="mod", verified=True, is_staff=True, is_superuser=True)


def staff_with(*codenames, handle="limited"):
    user = UserFactory(handle=handle, verified=True, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="messaging", codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def listed(response) -> set[int]:
    return {int(pk) for pk in re.findall(r"/admin/messaging/report/(\d+)/change/", response.content.decode())}


def audit(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


# --- Members report ----------------------------------------------------------------------------


def test_report_a_message_and_a_duplicate_returns_the_open_one(people, direct, thread):
    _ann, ben, _ = people
    nasty = thread[14]
    report = reports.report_create(
        ben, conversation=direct, message=nasty, reason="scam", details="asked for my password"
    )
    assert report.created and report.status == ReportStatus.OPEN
    assert (report.reporter, report.message, report.conversation) == (
        ben,
        nasty,
        Conversation.objects.get(pk=direct.pk),
    )
    again = reports.report_create(ben, conversation=direct.pk, message=nasty.pk, reason="spam")
    assert again.pk == report.pk and not again.created and again.reason == "scam"
    # A report of the whole conversation is a different thing; its duplicate too.
    whole = reports.report_create(ben, conversation=direct, reason="harassment")
    assert whole.pk != report.pk and whole.message_id is None
    assert reports.report_create(ben, conversation=direct, reason="other").pk == whole.pk
    assert Report.objects.count() == 2
    # Once handled, a new report may be made.
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.DISMISSED)
    assert reports.report_create(ben, conversation=direct, message=nasty, reason="scam").created


def test_non_members_get_404(people, direct, thread):
    ann, ben, cat = people
    with pytest.raises(NotFound):
        reports.report_create(cat, conversation=direct, reason="spam")
    with pytest.raises(NotFound):
        reports.report_create(cat, conversation=direct, message=thread[14], reason="spam")
    other = services.conversation_direct_open(cat, other=ann)
    ann_to_cat = services.message_post(ann, conversation=other, body="hi cat")
    # ben is a member of `direct` but the message belongs to another conversation: 404.
    with pytest.raises(NotFound):
        reports.report_create(ben, conversation=direct, message=ann_to_cat, reason="spam")
    with pytest.raises(NotFound):
        reports.report_create(ben, conversation=999999, reason="spam")
    assert not Report.objects.exists()


def test_what_cannot_be_reported(people, direct, thread):
    ann, ben, _ = people
    with pytest.raises(ValidationFailed):
        reports.report_create(ann, conversation=direct, message=thread[14], reason="spam")  # your own
    with pytest.raises(ValidationFailed):
        reports.report_create(ben, conversation=direct, reason="rude")  # not a reason
    with pytest.raises(ValidationFailed):
        reports.report_create(ben, conversation=direct, reason=["spam"])
    with pytest.raises(ValidationFailed):
        reports.report_create(ben, conversation=direct, reason="other", details="x" * 2001)
    with pytest.raises(ValidationFailed):
        reports.report_create(ben, conversation=direct, reason="other", details=42)
    services.message_delete(ann, message=thread[14])
    with pytest.raises(Conflict):
        reports.report_create(ben, conversation=direct, message=thread[14], reason="spam")
    group = services.conversation_group_create(ann, name="G", members=[ben])
    notice = Message.objects.get(conversation=group, kind="system")
    with pytest.raises(ValidationFailed):
        reports.report_create(ben, conversation=group, message=notice, reason="spam")
    assert reports.report_create(ben, conversation=direct, reason="other", details="x" * 2000).created


def test_report_pages(client, people, direct, thread):
    ann, ben, cat = people
    nasty = thread[14]
    url = f"/messages/{direct.pk}/messages/{nasty.pk}/report/"
    client.force_login(ben)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "send me your bank password" in html and "Scam or fraud" in html
    response = client.post(url, {"reason": "scam", "details": "phishing"})
    assert response.status_code == 200 and "your report is sent" in response.content.decode()
    report = Report.objects.get()
    assert (report.message_id, report.reason, report.details) == (nasty.pk, "scam", "phishing")
    response = client.post(url, {"reason": "scam"})  # a resubmit
    assert "You already reported this" in response.content.decode()
    assert Report.objects.count() == 1

    response = client.post(f"/messages/{direct.pk}/report/", {"reason": "nonsense"})
    assert response.status_code == 400 and Report.objects.count() == 1
    response = client.post(f"/messages/{direct.pk}/report/", {"reason": "harassment", "details": "on and on"})
    assert response.status_code == 200 and Report.objects.count() == 2

    client.force_login(cat)
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "spam"}).status_code == 404
    assert client.get(f"/messages/{direct.pk}/report/").status_code == 404
    client.force_login(ben)
    other = services.conversation_direct_open(cat, other=ann)
    foreign = services.message_post(cat, conversation=other, body="x")
    assert client.get(f"/messages/{direct.pk}/messages/{foreign.pk}/report/").status_code == 404
    assert Report.objects.count() == 2


# --- Staff: the context, audited ----------------------------------------------------------------


def test_context_of_a_message_report_is_five_before_and_after(people, direct, thread, staff):
    ben = people[1]
    report = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam")
    _, shown = reports.report_context_view(staff, report=report.pk)
    assert [m.pk for m in shown] == [m.pk for m in thread[9:20]]
    [entry] = audit("messaging.report_view")
    assert entry.actor == staff and entry.target_id == str(report.pk) and entry.target_type == "messaging.report"
    assert entry.data["message_ids"] == [m.pk for m in thread[9:20]]
    reports.report_context_view(staff, report=report)
    assert len(audit("messaging.report_view")) == 2  # every view


def test_context_at_the_edges_and_of_a_conversation_report(people, direct, thread, staff):
    ann, ben, _ = people
    first = reports.report_create(ben, conversation=direct, message=thread[0], reason="spam")
    assert [m.pk for m in reports.report_context(first)] == [m.pk for m in thread[:6]]
    whole = reports.report_create(ben, conversation=direct, reason="harassment")
    services.message_post(ann, conversation=direct, body="written after the report")
    assert [m.pk for m in reports.report_context(whole)] == [m.pk for m in thread[-10:]]


def test_non_staff_cannot_view_or_decide(people, direct, thread):
    ann, ben, _ = people
    report = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam")
    for user in (ben, ann, UserFactory(handle="staffnoperm", is_staff=True)):
        with pytest.raises(NotPermitted):
            reports.report_context_view(user, report=report)
        with pytest.raises(NotPermitted):
            reports.report_dismiss(user, report=report, note="fine")
        with pytest.raises(NotPermitted):
            reports.message_remove_by_staff(user, report=report, reason="bad")
    viewer = staff_with("view_report", handle="viewer")
    reports.report_context_view(viewer, report=report)
    with pytest.raises(NotPermitted):
        reports.report_mark_actioned(viewer, report=report, note="x")
    assert not AuditEntry.objects.exclude(action="messaging.report_view").exists()


def test_dismiss_and_mark_actioned_are_audited_once(people, direct, thread, staff):
    ben = people[1]
    a = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam")
    b = reports.report_create(ben, conversation=direct, reason="harassment")
    with pytest.raises(ValidationFailed):
        reports.report_dismiss(staff, report=a, note="  ")
    reports.report_dismiss(staff, report=a, note="banter between friends")
    reports.report_mark_actioned(staff, report=b, note="warned the sender")
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.handled_by, a.resolution_note) == ("dismissed", staff, "banter between friends")
    assert (b.status, b.handled_by, b.resolution_note) == ("actioned", staff, "warned the sender")
    assert [e.target_id for e in audit("messaging.report_dismiss")] == [str(a.pk)]
    assert [e.reason for e in audit("messaging.report_action")] == ["warned the sender"]
    with pytest.raises(Conflict):
        reports.report_mark_actioned(staff, report=a, note="again")
    assert len(audit("messaging.report_action")) == 1
    # The reporter hears it was reviewed, never what happened to the other person.
    titles = [n.title for n in Notification.objects.filter(recipient=ben)]
    assert titles.count("We reviewed your report. Thank you for helping keep Everything safe.") == 2


def test_staff_remove_the_reported_message(people, direct, thread, staff, monkeypatch, tmp_path, settings):
    ann, ben, _ = people
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    nasty = thread[14]
    services.reaction_toggle(ben, message=nasty, emoji="😡")
    a = reports.report_create(ben, conversation=direct, message=nasty, reason="scam")
    published = []
    monkeypatch.setattr(services, "event_publish", lambda **kw: published.append(kw))
    removed = reports.message_remove_by_staff(staff, report=a, reason="phishing")
    assert removed.deleted_at is not None and removed.body == ""
    nasty.refresh_from_db()
    assert nasty.is_deleted and not nasty.reactions.exists()
    a.refresh_from_db()
    assert a.status == "actioned" and a.resolution_note == "Message removed: phishing"
    [entry] = audit("messaging.message_remove")
    assert (
        entry.data["message_id"] == nasty.pk and entry.reason == "phishing" and entry.data["reports_closed"] == [a.pk]
    )
    updates = [p for p in published if p["type"] == "message.updated"]
    assert {p["user_id"] for p in updates} == {ann.pk, ben.pk}
    assert all(p["data"]["deleted"] and p["data"]["body"] == "" for p in updates)
    with pytest.raises(Conflict):
        reports.message_remove_by_staff(staff, report=a, reason="again")
    whole = reports.report_create(ben, conversation=direct, reason="spam")
    with pytest.raises(ValidationFailed):
        reports.message_remove_by_staff(staff, report=whole, reason="no message")


# --- The admin ---------------------------------------------------------------------------------


def test_only_the_report_model_is_registered():
    registered = {model for model in admin.site._registry if model._meta.app_label == "messaging"}
    assert registered == {Report}
    assert Conversation not in admin.site._registry
    assert Message not in admin.site._registry
    assert Attachment not in admin.site._registry


def test_conversation_and_message_admin_urls_do_not_exist(client, staff):
    client.force_login(staff)
    for url in ("/admin/messaging/conversation/", "/admin/messaging/message/", "/admin/messaging/attachment/"):
        assert client.get(url).status_code == 404
    index = client.get("/admin/").content.decode()
    assert "/admin/messaging/report/" in index
    assert "/admin/messaging/conversation/" not in index and "/admin/messaging/message/" not in index


def test_queue_lists_open_reports_first_without_message_text(
    client, people, direct, thread, staff, django_assert_max_num_queries
):
    _ann, ben, _ = people
    old = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam")
    reports.report_dismiss(staff, report=old, note="ok")
    opened = [reports.report_create(ben, conversation=direct, message=thread[i], reason="spam") for i in (2, 4, 6)]
    client.force_login(staff)
    with django_assert_max_num_queries(14):
        response = client.get(QUEUE)
    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f"/admin/messaging/report/{r.pk}/change/") for r in [*reversed(opened), old]]
    assert positions == sorted(positions)  # open first, newest first; the dismissed one last
    assert "message number" not in html and "bank password" not in html  # no conversation text in the queue
    assert "A message by @ann" in html
    assert listed(client.get(QUEUE, {"status": "dismissed"})) == {old.pk}
    assert listed(client.get(QUEUE, {"reason": "spam"})) == {r.pk for r in opened}
    assert not audit("messaging.report_view")  # the list shows no conversation


def test_queue_query_count_does_not_grow(client, people, direct, thread, staff, django_assert_max_num_queries):
    ben = people[1]
    for i in range(0, 30, 2):
        reports.report_create(ben, conversation=direct, message=thread[i], reason="spam")
    client.force_login(staff)
    with django_assert_max_num_queries(14):
        assert client.get(QUEUE).status_code == 200


def test_report_page_shows_only_the_context_and_is_audited(client, people, direct, thread, staff):
    ann, ben, _ = people
    report = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam", details="<b>help</b>")
    services.message_post(ann, conversation=direct, body="<script>alert(1)</script>")  # outside the context
    client.force_login(staff)
    response = client.get(f"{QUEUE}{report.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    shown = [m.pk for m in thread[9:20]]
    for m in thread:
        assert (f'data-message-id="{m.pk}"' in html) == (m.pk in shown)
    assert "send me your bank password" in html and "message number 8" not in html and "message number 20" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;b&gt;help&lt;/b&gt;" in html
    [entry] = audit("messaging.report_view")
    assert entry.actor == staff and entry.data["message_ids"] == shown
    client.get(f"{QUEUE}{report.pk}/change/")
    assert len(audit("messaging.report_view")) == 2
    assert client.get(f"{QUEUE}999999/change/").status_code == 404


def test_decisions_from_the_admin(client, people, direct, thread, staff):
    ben = people[1]
    a = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam")
    b = reports.report_create(ben, conversation=direct, message=thread[12], reason="spam")
    c = reports.report_create(ben, conversation=direct, reason="hate")
    client.force_login(staff)
    assert client.get(f"{QUEUE}{a.pk}/dismiss/").status_code == 405
    response = client.post(f"{QUEUE}{a.pk}/dismiss/", {"note": ""})
    assert response.status_code == 400
    a.refresh_from_db()
    assert a.status == "open"
    response = client.post(f"{QUEUE}{a.pk}/remove-message/", {"note": "phishing"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.status == "actioned" and Message.objects.get(pk=thread[14].pk).is_deleted
    assert client.post(f"{QUEUE}{b.pk}/dismiss/", {"note": "fine"}).status_code == 302
    assert client.post(f"{QUEUE}{c.pk}/actioned/", {"note": "froze the account"}).status_code == 302
    assert [r.status for r in Report.objects.order_by("id")] == ["actioned", "dismissed", "actioned"]
    assert len(audit("messaging.message_remove")) == 1
    assert len(audit("messaging.report_dismiss")) == 1 and len(audit("messaging.report_action")) == 1
    # Decided: a second decision is refused with a message, nothing changes.
    response = client.post(f"{QUEUE}{b.pk}/actioned/", {"note": "x"}, follow=True)
    assert "already handled" in response.content.decode()
    assert len(audit("messaging.report_action")) == 1


def test_admin_refuses_non_staff_and_staff_without_permission(client, people, direct, thread):
    _ann, ben, _ = people
    report = reports.report_create(ben, conversation=direct, message=thread[14], reason="scam")
    client.force_login(ben)
    response = client.get(f"{QUEUE}{report.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(f"{QUEUE}{report.pk}/dismiss/", {"note": "x"}).status_code == 302
    client.force_login(staff_with(handle="nobody"))
    assert client.get(QUEUE).status_code == 403
    assert client.get(f"{QUEUE}{report.pk}/change/").status_code == 403
    client.force_login(staff_with("view_report"))
    page = client.get(f"{QUEUE}{report.pk}/change/")
    assert page.status_code == 200 and "Mark actioned" not in page.content.decode()
    assert client.post(f"{QUEUE}{report.pk}/dismiss/", {"note": "x"}).status_code == 403
    report.refresh_from_db()
    assert report.status == "open"
    assert not audit("messaging.report_dismiss")


def test_staff_see_attachments_of_the_context_only(client, people, direct, staff, settings, tmp_path, monkeypatch):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from messaging.attachments import attachment_storage, attachments_prepare

    settings.PRIVATE_MEDIA_ROOT = tmp_path
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", attachment_storage())
    ann, ben, _ = people
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")

    def post_image(body):
        files = [SimpleUploadedFile("pic.png", buffer.getvalue())]
        return services.message_post(ann, conversation=direct, body=body, attachments=attachments_prepare(ann, files))

    far = post_image("long ago")
    for i in range(10):
        services.message_post(ben, conversation=direct, body=f"filler {i}")
    reported = post_image("look at this")
    report = reports.report_create(ben, conversation=direct, message=reported, reason="hate")
    client.force_login(staff)
    near = reported.attachments.get()
    response = client.get(f"{QUEUE}{report.pk}/attachments/{near.pk}/")
    assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
    assert audit("messaging.report_attachment_view")[0].data["attachment_id"] == near.pk
    assert client.get(f"{QUEUE}{report.pk}/attachments/{far.attachments.get().pk}/").status_code == 404
    client.force_login(ben)
    assert client.get(f"{QUEUE}{report.pk}/attachments/{near.pk}/").status_code == 302
