"""Security review of the social app: privacy leaks, authorization, escaping, garbage input.

Each test names the route it attacks. Users come from ``UserFactory`` (no money needed) unless
a test says otherwise.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Block, Follow
from accounts.tests.factories import UserFactory
from social.models import Audience, Like, PostTag
from social.templatetags.social_posts import post_text
from social.tests.factories import make_creator, make_paid_subscription, make_post, make_tier

pytestmark = pytest.mark.django_db

BIG = "99999999999999999999"


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def creator():
    user = UserFactory(handle="creator")
    make_creator(user)
    return user


@pytest.fixture
def locked_post(creator):
    """A subscribers-only post with a secret in its text and a #tag only subscribers should learn."""
    post = make_post(creator, "SECRET-TEXT #secrettag", audience=Audience.SUBSCRIBERS, teaser="a teaser")
    PostTag.objects.create(post=post, tag="secrettag")
    return post


# --- subscribers-only content ------------------------------------------------------------------


def test_tag_page_does_not_reveal_hashtags_of_locked_posts(locked_post):
    """/tags/<tag> and /api/v1/tags/<tag>/posts/: a locked post must not be found by guessing its #tags."""
    outsider = UserFactory()
    for who in (None, outsider):
        page = html(browser(who).get("/tags/secrettag"))
        assert f'data-post-id="{locked_post.pk}"' not in page
        results = api(who).get("/api/v1/tags/secrettag/posts/").json()["results"]
        assert locked_post.pk not in [row["id"] for row in results]


def test_tag_page_still_shows_locked_posts_to_subscribers_and_author(creator, locked_post):
    fan = UserFactory()
    make_paid_subscription(fan, make_tier(creator))
    for who in (fan, creator):
        results = api(who).get("/api/v1/tags/secrettag/posts/").json()["results"]
        assert [row["id"] for row in results] == [locked_post.pk]
        assert results[0]["text"] == "SECRET-TEXT #secrettag"


def test_locked_post_text_never_leaves_through_pages(creator, locked_post):
    """Detail, quote, report, tip pages, profile: the teaser only."""
    outsider, fan = UserFactory(), UserFactory()
    make_paid_subscription(fan, make_tier(creator))
    quote = make_post(outsider, "look at this", quote_of=locked_post)
    repost = make_post(outsider, "", repost_of=locked_post)
    reply = make_post(fan, "a fan's reply", reply_to=locked_post, thread_root=locked_post)
    client = browser(outsider)
    for url in (
        f"/posts/{reply.pk}",
        f"/posts/{locked_post.pk}",
        f"/posts/{locked_post.pk}/quote",
        f"/posts/{locked_post.pk}/report",
        f"/posts/{locked_post.pk}/tip",
        f"/posts/{quote.pk}",
        f"/posts/{repost.pk}",
        f"/@{creator.handle}",
        f"/@{outsider.handle}",
    ):
        response = client.get(url, follow=True)
        assert response.status_code in (200, 403), url
        assert "SECRET-TEXT" not in html(response), url
    anonymous = browser()
    for url in (f"/posts/{locked_post.pk}", f"/posts/{quote.pk}", f"/@{creator.handle}", "/explore/"):
        assert "SECRET-TEXT" not in html(anonymous.get(url, follow=True)), url


def test_locked_post_text_never_leaves_through_the_api(creator, locked_post):
    outsider = UserFactory()
    quote = make_post(outsider, "look", quote_of=locked_post)
    repost = make_post(outsider, "", repost_of=locked_post)
    client = api(outsider)
    for url in (
        f"/api/v1/posts/{locked_post.pk}/",
        f"/api/v1/posts/{quote.pk}/",
        f"/api/v1/posts/{repost.pk}/",
        "/api/v1/posts/",
        f"/api/v1/users/{creator.handle}/posts/",
        f"/api/v1/users/{outsider.handle}/posts/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "SECRET-TEXT" not in response.content.decode(), url


# --- counts of posts one cannot see -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["protected", "hidden", "blocked"])
def test_unlike_and_unrepost_do_not_reveal_counts_of_invisible_posts(kind):
    """DELETE /api/v1/posts/<id>/like/ and /repost/ (and the HTML toggles' JSON) on a post the caller
    cannot see must not answer with its like/repost count."""
    author = UserFactory(is_protected=kind == "protected")
    post = make_post(author, "not for you", hidden_at=timezone.now() if kind == "hidden" else None)
    post.like_count, post.repost_count = 17, 23
    post.save()
    snooper = UserFactory()
    if kind == "blocked":
        Block.objects.create(blocker=author, blocked=snooper)
    client = api(snooper)
    like = client.delete(f"/api/v1/posts/{post.pk}/like/")
    assert like.status_code in (200, 404)
    assert like.status_code == 404 or like.json()["like_count"] != 17
    repost = client.delete(f"/api/v1/posts/{post.pk}/repost/")
    assert repost.status_code in (200, 404)
    assert repost.status_code == 404 or repost.json()["repost_count"] != 23
    page = browser(snooper)
    for url, secret in ((f"/posts/{post.pk}/unlike", 17), (f"/posts/{post.pk}/unrepost", 23)):
        response = page.post(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 404 or response.json()["count"] != secret, url


def test_unlike_still_works_on_a_visible_post():
    author, fan = UserFactory(), UserFactory()
    post = make_post(author, "hello")
    Like.objects.create(user=fan, post=post)
    post.like_count = 1
    post.save()
    response = api(fan).delete(f"/api/v1/posts/{post.pk}/like/")
    assert response.status_code == 200
    assert response.json() == {"liked": False, "like_count": 0}


# --- garbage ids and cursors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"/posts/{BIG}",
        f"/posts/{BIG}/quote",
        f"/posts/{BIG}/delete",
        f"/posts/{BIG}/report",
        f"/posts/{BIG}/report/done",
        f"/posts/{BIG}/tip",
        f"/posts/{BIG}/split",
        f"/posts/1/tip/{BIG}",
        f"/posts/{BIG}/images/0",
        f"/posts/1/images/{BIG}",
        f"/creator/tiers/{BIG}/edit/",
        f"/subscriptions/{BIG}/cancel/",
        "/posts/0",
        "/tags/%00",
        "/tags/%3Cscript%3E",
        "/?before=abc",
        "/?before=-1",
        f"/?before={BIG}",
        "/tags/x?before=abc",
        f"/@creator?before={BIG}",
        "/@creator?before=-1",
        f"/posts/1?after={BIG}",
        "/@%00",
        "/@creator/followers?page=abc",
        f"/@creator/followers?page={BIG}",
    ],
)
def test_garbage_ids_and_cursors_never_500_on_pages(creator, url):
    make_post(creator, "one")
    response = browser(UserFactory()).get(url)
    assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/posts/{BIG}/",
        "/api/v1/posts/abc/",
        "/api/v1/posts/-1/",
        f"/api/v1/posts/?before={BIG}",
        "/api/v1/posts/?before=abc",
        "/api/v1/posts/?before=-1",
        "/api/v1/timeline/?before=abc",
        "/api/v1/timeline/new-count/?after=abc",
        f"/api/v1/posts/{BIG}/replies/",
        "/api/v1/posts/1/replies/?after=-1",
        "/api/v1/tags/%00/posts/",
        "/api/v1/tags/x/posts/?before=abc",
        f"/api/v1/posts/{BIG}/split/",
        "/api/v1/users/creator/posts/?before=abc",
        "/api/v1/users/creator/posts/?replies=maybe",
        "/api/v1/users/%00/posts/",
        "/api/v1/users/creator/followers/?cursor=abc",
        "/api/v1/users/creator/tiers/",
    ],
)
def test_garbage_ids_and_cursors_never_500_in_the_api(creator, url):
    response = api(UserFactory()).get(url)
    assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/posts/{BIG}/like/",
        f"/api/v1/posts/{BIG}/repost/",
        f"/api/v1/posts/{BIG}/report/",
        f"/api/v1/posts/{BIG}/tips/",
        f"/api/v1/creator/tiers/{BIG}/archive/",
        f"/api/v1/subscriptions/{BIG}/cancel/",
        f"/api/v1/subscriptions/{BIG}/resume/",
    ],
)
def test_garbage_ids_never_500_on_api_writes(url):
    response = api(UserFactory()).post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1234567890")
    assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize(
    "url",
    [
        f"/posts/{BIG}/like",
        f"/posts/{BIG}/unlike",
        f"/posts/{BIG}/repost",
        f"/posts/{BIG}/unrepost",
        f"/posts/{BIG}/reply",
        f"/posts/{BIG}/delete",
        f"/creator/tiers/{BIG}/archive/",
        f"/subscriptions/{BIG}/resume/",
    ],
)
def test_garbage_ids_never_500_on_page_writes(url):
    response = browser(UserFactory()).post(url, {"text": "hi"})
    assert response.status_code < 500, (url, response.status_code)


# --- escaping -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '"onmouseover="alert(1)',
        "javascript:alert(1)",
        'https://x.test/"onmouseover=alert(1)',
        "https://x.test/<img src=x onerror=alert(1)>",
        '#<b>tag</b> #tag"><script>',
        "@<script> @abc\"onmouseover=x @abc'x",
        "&#x27;#tag &lt;script&gt;",
        "\u202egnp.exe",
        "a" * 280,
    ],
)
def test_post_text_filter_never_lets_markup_through(text):
    out = str(post_text(text))
    assert "<script" not in out
    assert "<img" not in out and "<b>" not in out
    assert 'href="javascript' not in out
    assert "onmouseover=" not in out.replace("onmouseover=", "", 0) or '"onmouseover' not in out
    # Every attribute we emit stays quoted: no raw quote inside an href.
    for piece in out.split('href="')[1:]:
        assert "<" not in piece.split('"', 1)[0]


def test_hostile_post_renders_escaped_on_its_page():
    author = UserFactory()
    post = make_post(author, '<script>alert(1)</script> "onmouseover=x https://e.test/"><svg onload=1>')
    page = html(browser().get(f"/posts/{post.pk}"))
    assert "<script>alert(1)</script>" not in page
    assert "<svg onload" not in page
    assert "&lt;script&gt;" in page


def test_profile_website_is_only_http_and_has_safe_rel():
    from accounts.services import profile_update
    from core.errors import ValidationFailed

    user = UserFactory()
    with pytest.raises(ValidationFailed):
        profile_update(user, website="javascript:alert(1)")
    response = api(user).patch("/api/v1/me/", {"website": "javascript:alert(1)"}, format="json")
    assert response.status_code == 400
    profile_update(user, website="https://example.com/x")
    page = html(browser().get(f"/@{user.handle}"))
    assert 'rel="nofollow ugc noopener"' in page


# --- open redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/", "/\\evil.test", "javascript:alert(1)"])
def test_next_never_redirects_off_site(target):
    author, fan = UserFactory(), UserFactory()
    post = make_post(author, "hello")
    client = browser(fan)
    for url in (f"/posts/{post.pk}/like", f"/posts/{post.pk}/repost", f"/@{author.handle}/follow"):
        response = client.post(url, {"next": target})
        assert response.status_code == 302, url
        assert "evil.test" not in response["Location"] and "javascript" not in response["Location"], url
    response = client.post("/posts/new", {"text": "hi", "next": target})
    assert "evil.test" not in response["Location"]


# --- state changes are POST-only ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/posts/{pk}/like",
        "/posts/{pk}/unlike",
        "/posts/{pk}/repost",
        "/posts/{pk}/unrepost",
        "/posts/{pk}/reply",
        "/posts/new",
        "/@{handle}/follow",
        "/@{handle}/unfollow",
        "/@{handle}/block",
        "/@{handle}/unblock",
        "/settings/follow-requests/{handle}/approve",
        "/settings/follow-requests/{handle}/decline",
        "/creator/tiers/1/archive/",
        "/subscriptions/1/resume/",
        "/@{handle}/subscribe/confirm",
        "/posts/{pk}/tip/confirm",
    ],
)
def test_state_changing_routes_refuse_get(url):
    author, me = UserFactory(), UserFactory()
    post = make_post(author, "hello")
    response = browser(me).get(url.format(pk=post.pk, handle=author.handle))
    assert response.status_code == 405, url


def test_page_writes_need_csrf():
    author, me = UserFactory(), UserFactory()
    post = make_post(author, "hello")
    client = Client(enforce_csrf_checks=True)
    client.force_login(me)
    for url in (
        f"/posts/{post.pk}/like",
        f"/posts/{post.pk}/delete",
        f"/posts/{post.pk}/report",
        f"/@{author.handle}/follow",
        f"/@{author.handle}/block",
        "/posts/new",
    ):
        assert client.post(url, {"text": "x"}).status_code == 403, url
    assert not Like.objects.exists()
    assert not Follow.objects.exists()


def test_api_writes_with_a_session_need_csrf():
    author, me = UserFactory(), UserFactory()
    post = make_post(author, "hello")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(me)
    assert client.post(f"/api/v1/posts/{post.pk}/like/", format="json").status_code == 403
    assert client.post(f"/api/v1/users/{author.handle}/follow/", format="json").status_code == 403
    assert not Like.objects.exists()
    assert not Follow.objects.exists()


# --- protected accounts ---------------------------------------------------------------------------


@pytest.fixture
def locked_account():
    return UserFactory(handle="locked", is_protected=True)


def test_protected_post_not_shown_as_thread_ancestor(locked_account):
    """/posts/<reply>: a public reply to a protected post must not show the protected parent."""
    follower = UserFactory()
    Follow.objects.create(follower=follower, followee=locked_account)
    parent = make_post(locked_account, "PROTECTED-PARENT")
    reply = make_post(follower, "public reply", reply_to=parent, thread_root=parent)
    for who in (None, UserFactory()):
        page = html(browser(who).get(f"/posts/{reply.pk}"))
        assert "public reply" in page
        assert "PROTECTED-PARENT" not in page and "@locked" not in page
        data = api(who).get(f"/api/v1/posts/{reply.pk}/").content.decode()
        assert "PROTECTED-PARENT" not in data
    assert "PROTECTED-PARENT" in html(browser(follower).get(f"/posts/{reply.pk}"))


def test_protected_reply_not_listed_under_someone_elses_post(locked_account):
    """/posts/<public post> and /api/v1/posts/<id>/replies/: a protected account's reply stays private."""
    author = UserFactory()
    post = make_post(author, "public")
    make_post(locked_account, "PROTECTED-REPLY", reply_to=post, thread_root=post)
    for who in (None, author, UserFactory()):
        assert "PROTECTED-REPLY" not in html(browser(who).get(f"/posts/{post.pk}"))
        assert "PROTECTED-REPLY" not in api(who).get(f"/api/v1/posts/{post.pk}/replies/").content.decode()


def test_protected_post_not_embedded_in_a_public_quote(locked_account):
    follower = UserFactory()
    Follow.objects.create(follower=follower, followee=locked_account)
    quoted = make_post(locked_account, "PROTECTED-QUOTED")
    quote = make_post(follower, "quoting", quote_of=quoted)
    repost = make_post(UserFactory(), "", repost_of=quote)
    for who in (None, UserFactory()):
        for url in (f"/posts/{quote.pk}", "/explore/", f"/@{follower.handle}"):
            page = html(browser(who).get(url, follow=True))
            assert "PROTECTED-QUOTED" not in page, url
        for url in (f"/api/v1/posts/{quote.pk}/", f"/api/v1/posts/{repost.pk}/", "/api/v1/posts/", "/api/v1/explore/"):
            body = api(who).get(url).json()
            assert "PROTECTED-QUOTED" not in str(body), url
        assert api(who).get(f"/api/v1/posts/{quote.pk}/").json()["quote_unavailable"] is True


def test_protected_post_images_tips_reports_and_splits_are_404(locked_account):
    make_creator(locked_account)
    post = make_post(locked_account, "PROTECTED")
    outsider = UserFactory()
    client = browser(outsider)
    for url in (
        f"/posts/{post.pk}",
        f"/posts/{post.pk}/images/0",
        f"/posts/{post.pk}/tip",
        f"/posts/{post.pk}/report",
        f"/posts/{post.pk}/split",
        f"/posts/{post.pk}/quote",
        f"/posts/{post.pk}/delete",
    ):
        assert client.get(url).status_code == 404, url
    assert api(outsider).get(f"/api/v1/posts/{post.pk}/split/").status_code == 404
    assert api(outsider).post(f"/api/v1/posts/{post.pk}/like/").status_code == 404
    assert api(outsider).post(f"/api/v1/posts/{post.pk}/repost/").status_code == 404
    response = api(outsider).post("/api/v1/posts/", {"text": "re", "reply_to": post.pk}, format="json")
    assert response.status_code == 404
    response = api(outsider).post("/api/v1/posts/", {"text": "q", "quote_of": post.pk}, format="json")
    assert response.status_code == 404


def test_protected_lists_are_private(locked_account):
    fan = UserFactory(handle="fan")
    Follow.objects.create(follower=fan, followee=locked_account)
    outsider = UserFactory()
    for who in (None, outsider):
        for which in ("followers", "following"):
            response = browser(who).get(f"/@locked/{which}")
            assert response.status_code == 403 and "@fan" not in html(response), which
            assert api(who).get(f"/api/v1/users/locked/{which}/").status_code == 403, which
    assert "@fan" in html(browser(fan).get("/@locked/followers"))


def test_pending_follow_request_does_not_open_the_account(locked_account):
    asker = UserFactory()
    post = make_post(locked_account, "PROTECTED")
    assert api(asker).post("/api/v1/users/locked/follow/").json()["status"] == "requested"
    assert api(asker).get(f"/api/v1/posts/{post.pk}/").status_code == 404
    assert "PROTECTED" not in html(browser(asker).get("/@locked"))


def test_cannot_approve_a_follow_request_made_to_someone_else(locked_account):
    asker, intruder = UserFactory(handle="asker"), UserFactory()
    api(asker).post("/api/v1/users/locked/follow/")
    assert api(intruder).post("/api/v1/me/follow-requests/asker/approve/").status_code == 404
    browser(intruder).post("/settings/follow-requests/asker/approve")
    assert not Follow.objects.filter(follower=asker).exists()
    assert not Follow.objects.filter(follower=asker, followee=intruder).exists()


# --- notifications --------------------------------------------------------------------------------


def _notifications(user, kind):
    from notifications.models import Notification

    return list(Notification.objects.filter(recipient=user, kind=kind).values_list("data", flat=True))


def test_mentions_only_notify_people_who_can_read_the_post(locked_account):
    from social.services.posts import post_create

    stranger = UserFactory(handle="stranger")
    post_create(locked_account, text="PROTECTED hi @stranger")
    assert _notifications(stranger, "mention.new") == []

    creator = UserFactory(handle="maker")
    make_creator(creator)
    post_create(creator, text="LOCKED hi @stranger", audience=Audience.SUBSCRIBERS)
    assert _notifications(stranger, "mention.new") == []

    blocker = UserFactory()
    Block.objects.create(blocker=stranger, blocked=blocker)
    post_create(blocker, text="hey @stranger")
    assert _notifications(stranger, "mention.new") == []


def test_reply_notification_never_carries_a_reply_its_reader_cannot_see(locked_account):
    from social.services.posts import post_create

    author = UserFactory()
    post = make_post(author, "public")
    post_create(locked_account, text="PROTECTED-REPLY", reply_to=post.pk)
    assert "PROTECTED-REPLY" not in str(_notifications(author, "reply.new"))


def test_new_post_event_reaches_only_followers_and_says_nothing_of_the_text(monkeypatch, locked_account):
    from social import tasks

    sent = []
    monkeypatch.setattr(tasks, "event_publish", lambda **kw: sent.append(kw))
    fan, outsider = UserFactory(), UserFactory()
    Follow.objects.create(follower=fan, followee=locked_account)
    post = make_post(locked_account, "PROTECTED")
    tasks.fan_out_new_post(post.pk)
    assert [e["user_id"] for e in sent] == [fan.pk]
    assert "PROTECTED" not in str(sent)
    assert outsider.pk not in [e["user_id"] for e in sent]


# --- blocks, both ways ------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["author_blocked_me", "i_blocked_author"])
def test_blocks_hold_for_every_action(direction):
    author, me = UserFactory(handle="author"), UserFactory()
    make_creator(author)
    make_tier(author)
    post = make_post(author, "BLOCKED-TEXT")
    if direction == "author_blocked_me":
        Block.objects.create(blocker=author, blocked=me)
    else:
        Block.objects.create(blocker=me, blocked=author)
    client = api(me)
    assert client.get(f"/api/v1/posts/{post.pk}/").status_code == 404
    assert client.post(f"/api/v1/posts/{post.pk}/like/").status_code in (403, 404)
    assert client.post(f"/api/v1/posts/{post.pk}/repost/").status_code in (403, 404)
    assert client.post("/api/v1/posts/", {"text": "r", "reply_to": post.pk}, format="json").status_code in (403, 404)
    assert client.post("/api/v1/posts/", {"text": "q", "quote_of": post.pk}, format="json").status_code in (403, 404)
    assert client.post(f"/api/v1/posts/{post.pk}/report/", {"reason": "spam"}, format="json").status_code == 404
    assert client.post("/api/v1/users/author/follow/").status_code == 403
    assert not Like.objects.exists()
    assert not Follow.objects.exists()
    page = browser(me)
    assert page.get(f"/posts/{post.pk}/tip").status_code == 404
    assert "BLOCKED-TEXT" not in html(page.get("/@author"))
    assert "BLOCKED-TEXT" not in html(page.get("/explore/"))
    response = page.post("/@author/subscribe", {"tier": author.tiers.get().pk})
    assert response.status_code == 403


def test_blocked_people_are_left_out_of_follower_lists():
    star, fan, me = UserFactory(handle="star"), UserFactory(handle="fan"), UserFactory()
    Follow.objects.create(follower=fan, followee=star)
    Block.objects.create(blocker=fan, blocked=me)
    assert "@fan" not in html(browser(me).get("/@star/followers"))
    assert "fan" not in [row["handle"] for row in api(me).get("/api/v1/users/star/followers/").json()["results"]]


# --- someone else's objects ----------------------------------------------------------------------


def test_cannot_act_on_someone_elses_objects():
    from social.models import PostAuthor, Subscription, SubscriptionStatus

    owner, intruder = UserFactory(handle="owner"), UserFactory()
    make_creator(owner)
    make_creator(intruder)
    post = make_post(owner, "mine")
    tier = make_tier(owner)
    fan = UserFactory()
    sub = make_paid_subscription(fan, tier)
    client, page = api(intruder), browser(intruder)

    assert client.delete(f"/api/v1/posts/{post.pk}/").status_code == 403
    assert page.post(f"/posts/{post.pk}/delete").status_code == 403
    shares = {"shares": [{"user": "@owner", "bps": 5000}, {"user": f"@{intruder.handle}", "bps": 5000}]}
    assert client.put(f"/api/v1/posts/{post.pk}/split/", shares, format="json").status_code == 403
    page.post(f"/posts/{post.pk}/split", {"handle": ["owner", intruder.handle], "percent": ["50", "50"]})
    assert not PostAuthor.objects.exists()
    assert client.post(f"/api/v1/creator/tiers/{tier.pk}/archive/").status_code == 404
    assert client.patch(f"/api/v1/creator/tiers/{tier.pk}/", {"name": "x"}, format="json").status_code == 404
    assert page.post(f"/creator/tiers/{tier.pk}/archive/").status_code == 404
    assert page.post(f"/creator/tiers/{tier.pk}/edit/", {"name": "x"}).status_code == 404
    assert client.post(f"/api/v1/subscriptions/{sub.pk}/cancel/").status_code == 404
    assert page.post(f"/subscriptions/{sub.pk}/cancel/").status_code == 404
    assert page.get(f"/subscriptions/{sub.pk}/cancel/").status_code == 404
    post.refresh_from_db()
    tier.refresh_from_db()
    sub.refresh_from_db()
    assert post.deleted_at is None and tier.is_active and tier.name == "Supporter"
    assert sub.status == SubscriptionStatus.ACTIVE
    assert Subscription.objects.count() == 1


# --- hidden and deleted posts ------------------------------------------------------------------------


def test_hidden_and_deleted_posts_leak_nowhere():
    from social.services.posts import post_delete

    author = UserFactory()
    fan = UserFactory()
    Follow.objects.create(follower=fan, followee=author)
    hidden = make_post(author, "HIDDEN-TEXT", hidden_at=timezone.now())
    gone = make_post(author, "GONE-TEXT")
    post_delete(author, post=gone)
    quote_h = make_post(fan, "q1", quote_of=hidden)
    quote_g = make_post(fan, "q2", quote_of=gone)
    reply = make_post(fan, "reply", reply_to=hidden, thread_root=hidden)
    for url in (f"/posts/{quote_h.pk}", f"/posts/{quote_g.pk}", f"/posts/{reply.pk}", f"/@{author.handle}", "/"):
        page = html(browser(fan).get(url))
        assert "HIDDEN-TEXT" not in page and "GONE-TEXT" not in page, url
    for pk in (hidden.pk, gone.pk):
        assert browser(fan).get(f"/posts/{pk}").status_code == 404
        assert browser(fan).get(f"/posts/{pk}/report").status_code == 404
        assert api(fan).get(f"/api/v1/posts/{pk}/").status_code == 404
    assert browser(fan).get(f"/posts/{hidden.pk}/tip").status_code == 404
    for pk in (quote_h.pk, quote_g.pk):
        assert api(fan).get(f"/api/v1/posts/{pk}/").json()["quote_unavailable"] is True


# --- RTL overrides in links --------------------------------------------------------------------------


def test_bidi_override_cannot_disguise_a_link():
    """A right-to-left override after a URL must not become part of the link (its text would be shown
    reversed, e.g. "https://evil.test/\u202egro.elpmaxe" reads as "…/example.org")."""
    out = str(post_text("go https://evil.test/\u202egro.elpmaxe now"))
    anchor = out.split("<a ", 1)[1].split("</a>", 1)[0]
    assert "\u202e" not in anchor
    assert 'href="https://evil.test/"' in anchor
    # An override typed before a link cannot reverse the address it shows: the text is isolated.
    out = str(post_text("\u202e https://evil.test/moc.knab"))
    assert "<bdi>evil.test/moc.knab</bdi></a>" in out


def test_openapi_schema_renders():
    response = api().get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/posts/{id}/like/" in response.content


def test_paying_subscriber_of_a_creator_who_turns_protected_is_not_charged_for_nothing(creator, locked_post):
    from social.services.subscriptions import _renewal_blocker

    fan = UserFactory()
    sub = make_paid_subscription(fan, make_tier(creator))
    assert api(fan).get(f"/api/v1/posts/{locked_post.pk}/").json()["text"] == "SECRET-TEXT #secrettag"
    creator.is_protected = True
    creator.save()
    # The fan can no longer read the posts, so the renewal ends the subscription instead of charging.
    assert api(fan).get(f"/api/v1/posts/{locked_post.pk}/").status_code == 404
    assert _renewal_blocker(sub) == "protected"
