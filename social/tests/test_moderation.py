"""Moderation: reporting posts (service, page, API) and staff hiding them (service, admin), audited and notified."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.template.loader import render_to_string
from rest_framework.test import APIClient

from accounts import social as graph
from accounts.tests.factories import UserFactory
from compliance.models import AuditEntry
from core.errors import NotPermitted
from notifications.models import Notification
from social.models import Audience, PostReport, ReportStatus
from social.services import moderation
from social.tests.factories import make_post
from social.visibility import post_is_visible


@pytest.fixture
def author(db):
    return UserFactory(handle="author", display_name="Ann Author")


@pytest.fixture
def reader(db):
    return UserFactory(handle="reader")


@pytest.fixture
def staff(db):
    return UserFactory(handle="mod", is_staff=True, is_superuser=True)


@pytest.fixture
def plain_staff(db):
    """Staff without the moderation permissions."""
    return UserFactory(handle="clerk", is_staff=True)


@pytest.fixture
def post(author):
    return make_post(author, "Buy cheap followers at example.test")


# ---- service ---------------------------------------------------------------------------------


def test_report_once_per_person(reader, post):
    report = moderation.post_report(reader, post=post, reason="spam", details="  a scam\x00 ")
    assert report.status == ReportStatus.OPEN and report.details == "a scam" and report.reporter == reader
    with pytest.raises(moderation.AlreadyReported) as error:
        moderation.post_report(reader, post=post.pk, reason="abuse")
    assert error.value.status == 409 and error.value.code == "already_reported"
    assert PostReport.objects.count() == 1


def test_report_refusals(reader, author, post):
    with pytest.raises(moderation.CannotReportOwnPost):
        moderation.post_report(author, post=post, reason="spam")
    with pytest.raises(moderation.ValidationFailed) as error:
        moderation.post_report(reader, post=post, reason="nonsense")
    assert error.value.code == "invalid_reason"
    with pytest.raises(moderation.ValidationFailed):
        moderation.post_report(reader, post=post, reason="spam", details="x" * 1001)
    for missing in (10**9, "abc", -1, None, True):
        with pytest.raises(moderation.PostNotFound):
            moderation.post_report(reader, post=missing, reason="spam")
    assert not PostReport.objects.exists()


def test_only_posts_you_can_see_can_be_reported(reader, author):
    protected = UserFactory(handle="locked", is_protected=True)
    secret = make_post(protected, "followers only")
    with pytest.raises(moderation.PostNotFound):
        moderation.post_report(reader, post=secret, reason="spam")
    post = make_post(author, "hello")
    graph.block_create(author, blocked=reader)
    with pytest.raises(moderation.PostNotFound):
        moderation.post_report(reader, post=post, reason="spam")


def test_hide_closes_reports_audits_and_notifies(staff, reader, author, post):
    report = moderation.post_report(reader, post=post, reason="spam")
    hidden = moderation.post_hide(staff, post=post, reason="Spam links")
    assert hidden.hidden_at and hidden.hidden_by == staff and hidden.hidden_reason == "Spam links"
    report.refresh_from_db()
    assert report.status == ReportStatus.HIDDEN and report.resolved_by == staff and report.resolved_at
    entry = AuditEntry.objects.get(action="social.post_hide")
    assert entry.actor == staff and entry.target_id == str(post.pk) and entry.reason == "Spam links"
    note = Notification.objects.get(recipient=author, kind="post.hidden")
    assert note.data["reason"] == "Spam links" and "Spam links" in note.title
    # Enforced by social.visibility: hidden for others, still visible to its author.
    assert not post_is_visible(reader, post) and post_is_visible(author, post)
    with pytest.raises(moderation.Conflict):
        moderation.post_hide(staff, post=post, reason="again")


def test_unhide_restores_and_audits(staff, reader, author, post):
    moderation.post_hide(staff, post=post, reason="Spam")
    moderation.post_unhide(staff, post=post.pk)
    post.refresh_from_db()
    assert post.hidden_at is None and post.hidden_reason == "" and post_is_visible(reader, post)
    assert AuditEntry.objects.get(action="social.post_unhide").data["former_reason"] == "Spam"
    assert Notification.objects.filter(recipient=author, kind="post.unhidden").exists()
    with pytest.raises(moderation.Conflict):
        moderation.post_unhide(staff, post=post)


def test_hide_needs_staff_and_a_reason(staff, plain_staff, reader, post):
    for who in (reader, plain_staff):
        with pytest.raises(NotPermitted):
            moderation.post_hide(who, post=post, reason="x")
        with pytest.raises(NotPermitted):
            moderation.post_unhide(who, post=post)
    with pytest.raises(moderation.ValidationFailed):
        moderation.post_hide(staff, post=post, reason="   ")
    post.refresh_from_db()
    assert post.hidden_at is None and not AuditEntry.objects.exists()
    # The permission is what counts, not superuser.
    plain_staff.user_permissions.add(Permission.objects.get(codename="change_post"))
    plain_staff = type(plain_staff).objects.get(pk=plain_staff.pk)
    moderation.post_hide(plain_staff, post=post, reason="ok")


def test_dismiss(staff, plain_staff, reader, post):
    report = moderation.post_report(reader, post=post, reason="other")
    with pytest.raises(NotPermitted):
        moderation.report_dismiss(plain_staff, report=report)
    moderation.report_dismiss(staff, report=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.DISMISSED and report.resolved_by == staff
    assert AuditEntry.objects.get(action="social.report_dismiss").data == {"post_id": post.pk}
    with pytest.raises(moderation.Conflict):
        moderation.report_dismiss(staff, report=report)
    with pytest.raises(moderation.ReportNotFound):
        moderation.report_dismiss(staff, report=10**9)
    post.refresh_from_db()
    assert post.hidden_at is None


# ---- page ------------------------------------------------------------------------------------


def test_report_page_flow(client, reader, post):
    url = f"/posts/{post.pk}/report"
    assert client.get(url).status_code == 302  # log in first
    client.force_login(reader)
    html = client.get(url).content.decode()
    assert "Spam or scam" in html and "Buy cheap followers" in html and "csrfmiddlewaretoken" in html
    bad = client.post(url, {"reason": ""})
    assert bad.status_code == 400 and "Choose why you are reporting this post." in bad.content.decode()
    response = client.post(url, {"reason": "spam", "details": "links"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/posts/{post.pk}/report/done"
    assert 'data-testid="report-done"' in response.content.decode()
    assert PostReport.objects.get().details == "links"
    assert 'data-testid="report-already"' in client.get(url).content.decode()


def test_report_page_is_404_for_posts_you_cannot_see(client, reader, author):
    client.force_login(reader)
    secret = make_post(UserFactory(handle="locked", is_protected=True), "followers only")
    assert client.get(f"/posts/{secret.pk}/report").status_code == 404
    assert client.post(f"/posts/{secret.pk}/report", {"reason": "spam"}).status_code == 404
    assert client.get("/posts/999999/report").status_code == 404
    own = make_post(reader, "mine")
    assert 'data-testid="report-own"' in client.get(f"/posts/{own.pk}/report").content.decode()
    assert not PostReport.objects.exists()


def test_subscribers_only_text_is_not_shown_on_the_report_page(client, reader, author):
    locked = make_post(author, "the secret text", audience=Audience.SUBSCRIBERS, teaser="a teaser")
    client.force_login(reader)
    html = client.get(f"/posts/{locked.pk}/report").content.decode()
    assert "a teaser" in html and "the secret text" not in html


def test_post_menu_partial(rf, reader, author, post):
    def render(viewer):
        return render_to_string("social/moderation/_post_menu.html", {"post": post, "viewer": viewer})

    assert f"/posts/{post.pk}/report" in render(reader) and "/delete" not in render(reader)
    mine = render(author)
    assert f"/posts/{post.pk}/delete" in mine and "/report" not in mine
    from django.contrib.auth.models import AnonymousUser

    assert render(AnonymousUser()).strip() == ""


# ---- API -------------------------------------------------------------------------------------


def test_api_report(reader, author, post):
    api = APIClient()
    assert api.post(f"/api/v1/posts/{post.pk}/report/", {"reason": "spam"}, format="json").status_code in (401, 403)
    api.force_authenticate(reader)
    response = api.post(f"/api/v1/posts/{post.pk}/report/", {"reason": "spam", "details": "x"}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "open" and response.json()["post_id"] == post.pk
    again = api.post(f"/api/v1/posts/{post.pk}/report/", {"reason": "spam"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_reported"
    other = make_post(author, "another")
    assert api.post(f"/api/v1/posts/{other.pk}/report/", {"reason": "bad"}, format="json").status_code == 400
    assert api.post(f"/api/v1/posts/{other.pk}/report/", {"reason": "spam", "x": 1}, format="json").status_code == 400
    assert (
        api.post(f"/api/v1/posts/{other.pk}/report/", {"reason": "spam", "details": 5}, format="json").status_code
        == 400
    )
    assert api.post(f"/api/v1/posts/{other.pk}/report/", ["spam"], format="json").status_code == 400
    assert api.post("/api/v1/posts/abc/report/", {"reason": "spam"}, format="json").status_code == 404
    moderation.post_hide(UserFactory(handle="mod2", is_staff=True, is_superuser=True), post=other, reason="r")
    hidden = api.post(f"/api/v1/posts/{other.pk}/report/", {"reason": "spam"}, format="json")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "post_not_found"


# ---- admin -----------------------------------------------------------------------------------


def test_admin_hide_action_asks_for_a_reason_then_hides(client, staff, reader, author, post):
    report = moderation.post_report(reader, post=post, reason="spam")
    client.force_login(staff)
    changelist = "/admin/social/post/"
    listing = client.get(changelist)
    assert listing.status_code == 200 and "Buy cheap followers" in listing.content.decode()
    assert client.get("/admin/social/post/add/").status_code == 403
    confirm = client.post(changelist, {"action": "hide_posts", "_selected_action": [post.pk]})
    assert confirm.status_code == 200 and "Why it is hidden" in confirm.content.decode()
    post.refresh_from_db()
    assert post.hidden_at is None  # nothing yet
    missing_reason = client.post(
        changelist, {"action": "hide_posts", "_selected_action": [post.pk], "apply": "1", "reason": ""}
    )
    assert missing_reason.status_code == 200
    done = client.post(
        changelist, {"action": "hide_posts", "_selected_action": [post.pk], "apply": "1", "reason": "Spam"}
    )
    assert done.status_code == 302
    post.refresh_from_db()
    report.refresh_from_db()
    assert post.hidden_at and post.hidden_reason == "Spam" and report.status == ReportStatus.HIDDEN
    assert AuditEntry.objects.filter(action="social.post_hide", actor=staff).count() == 1
    assert Notification.objects.filter(recipient=author, kind="post.hidden").exists()
    client.post(changelist, {"action": "unhide_posts", "_selected_action": [post.pk]})
    post.refresh_from_db()
    assert post.hidden_at is None
    # Text is read-only: the change page has no text input.
    page = client.get(f"/admin/social/post/{post.pk}/change/").content.decode()
    assert 'name="text"' not in page


def test_admin_report_queue_open_first_and_actions(client, staff, reader, author, django_assert_max_num_queries):
    first = make_post(author, "first")
    second = make_post(author, "second")
    old = moderation.post_report(reader, post=first, reason="spam")
    moderation.report_dismiss(staff, report=old)
    fresh = moderation.post_report(reader, post=second, reason="abuse")
    for _ in range(10):
        moderation.post_report(UserFactory(), post=make_post(author, "more"), reason="other")
    client.force_login(staff)
    with django_assert_max_num_queries(15):
        html = client.get("/admin/social/postreport/").content.decode()
    link = 'href="/admin/social/post/{}/change/"'
    assert html.index(link.format(second.pk)) < html.index(link.format(first.pk))  # open first
    client.post("/admin/social/postreport/", {"action": "dismiss_reports", "_selected_action": [fresh.pk]})
    fresh.refresh_from_db()
    assert fresh.status == ReportStatus.DISMISSED
    fresh2 = moderation.post_report(UserFactory(), post=second, reason="spam")
    confirm = client.post(
        "/admin/social/postreport/", {"action": "hide_reported_posts", "_selected_action": [fresh2.pk]}
    )
    assert confirm.status_code == 200 and "Why it is hidden" in confirm.content.decode()
    client.post(
        "/admin/social/postreport/",
        {"action": "hide_reported_posts", "_selected_action": [fresh2.pk], "apply": "1", "reason": "Abuse"},
    )
    second.refresh_from_db()
    fresh2.refresh_from_db()
    assert second.hidden_reason == "Abuse" and fresh2.status == ReportStatus.HIDDEN


def test_admin_is_staff_only_and_money_is_read_only(client, reader, plain_staff, staff, post):
    client.force_login(reader)
    assert client.get("/admin/social/post/").status_code == 302  # to the admin login
    client.force_login(plain_staff)
    assert client.get("/admin/social/post/").status_code == 403
    # A staff member who may only view posts cannot hide them (the action is not offered, and refused).
    plain_staff.user_permissions.add(Permission.objects.get(codename="view_post"))
    html = client.get("/admin/social/post/").content.decode()
    assert "hide_posts" not in html
    client.post(
        "/admin/social/post/", {"action": "hide_posts", "_selected_action": [post.pk], "apply": "1", "reason": "x"}
    )
    post.refresh_from_db()
    assert post.hidden_at is None
    client.force_login(staff)
    for model in ("posttip", "tipshare", "subscriptioncharge", "subscription", "tier", "creatorprofile"):
        assert client.get(f"/admin/social/{model}/").status_code == 200, model
        assert client.get(f"/admin/social/{model}/add/").status_code == 403, model
    for model in ("like", "mention", "posttag"):
        assert client.get(f"/admin/social/{model}/").status_code == 404, model
    assert client.get("/admin/social/post/?hidden=%00").status_code in (200, 302)
