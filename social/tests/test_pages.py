"""The social pages through the HTML: timeline, a post's page, compose / reply / quote, likes, reposts,
delete, Explore, tags and profiles — who sees what, who gets a 404 or the login page, escaping,
and bounded query counts."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts import social as graph
from accounts.models import User
from accounts.tests.factories import UserFactory
from core.testing import session_queries
from social.models import Audience, Like, Post, PostTag
from social.services import posts as post_services
from social.templatetags.social_posts import post_text
from social.tests.factories import make_creator, make_paid_subscription, make_post, make_tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def login(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# ---- the text filter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script"),
        ('"><img src=x onerror=alert(1)>', "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;", "<img"),
        ("it's #fine", 'it&#x27;s <a class="hashtag" href="/tags/fine">#fine</a>', "/tags/x27"),
        ("hi @Bob_1!", 'hi <a class="mention" href="/@bob_1">@Bob_1</a>!', None),
        ("mail me: bob@example.com", "bob@example.com", "/@example"),
        ('@bob"onmouseover="x', '<a class="mention" href="/@bob">@bob</a>&quot;onmouseover=&quot;x', 'onmouseover="'),
        ("#tag<b>x</b>", '<a class="hashtag" href="/tags/tag">#tag</a>&lt;b&gt;x&lt;/b&gt;', "<b>"),
        ("javascript:alert(1)", "javascript:alert(1)", "href="),
        (
            'see https://ex.com/a?b=1&c="x"',
            '<a href="https://ex.com/a?b=1&amp;c=" rel="nofollow ugc noopener noreferrer" target="_blank">',
            'c="x"',
        ),
        ("line one\nline <two>", "line one<br>line &lt;two&gt;", None),
    ],
)
def test_post_text_escapes_first_then_links(text, expected, absent):
    html = post_text(text)
    assert expected in html
    if absent:
        assert absent not in html


# ---- the home timeline -----------------------------------------------------------------------


def test_anonymous_home_is_the_landing_page(client):
    html = html_of(client.get("/"))
    assert "Create your account" in html and 'data-testid="timeline"' not in html


def test_empty_timeline_says_what_to_do(as_alice):
    html = html_of(as_alice.get("/"))
    assert "Follow people to see their posts here" in html
    assert 'href="/explore/"' in html
    assert 'action="/posts/new"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="audience"' not in html  # not a creator


def test_timeline_shows_followed_and_own_posts_newest_first(as_alice, alice, bob, carol):
    graph.follow_create(alice, followee=bob)
    make_post(carol, "carol is not followed")
    make_post(bob, "bob first")
    make_post(alice, "alice second")
    make_post(bob, "bob third")
    html = html_of(as_alice.get("/"))
    assert html.index("bob third") < html.index("alice second") < html.index("bob first")
    assert "carol is not followed" not in html
    assert "data-timeline-live" in html


def test_timeline_pages_with_before(as_alice, alice, monkeypatch):
    from social.views import posts as views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    posts = [make_post(alice, f"post number {i}") for i in range(5)]
    first = html_of(as_alice.get("/", {"before": ""}))
    assert "post number 4" in first and "post number 1" not in first
    assert f'href="?before={posts[2].pk}"' in first and "Older posts" in first
    # The first page's "Older posts" link leads on, without repeats.
    second = html_of(as_alice.get("/", {"before": posts[2].pk}))
    assert "post number 1" in second and "post number 0" in second and "post number 4" not in second
    assert "data-timeline-live" not in second  # the live bar only on the first page
    assert as_alice.get("/", {"before": "nope"}).status_code == 302


def test_timeline_query_count_does_not_grow(as_alice, alice, django_assert_max_num_queries):
    for _ in range(3):
        someone = UserFactory()
        graph.follow_create(alice, followee=someone)
        make_post(someone, "hello #one @alice")
    with django_assert_max_num_queries(30) as few:
        html_of(as_alice.get("/"))
    baseline = len(few.captured_queries)
    for _ in range(15):
        someone = UserFactory()
        make_creator(someone)
        graph.follow_create(alice, followee=someone)
        original = make_post(someone, "with a quote")
        make_post(someone, "quoting", quote_of=original)
        Post.objects.create(author=someone, repost_of=original)
        make_post(someone, "a reply", reply_to=original, thread_root=original)
    # Creator flags come with the rows; tips and co-authors are one statement whatever the page.
    with django_assert_max_num_queries(baseline):
        html = html_of(as_alice.get("/"))
    assert html.count('data-testid="post"') >= 20


def test_home_page_runs_at_most_ten_queries(as_alice, alice, django_assert_max_num_queries, settings):
    """Issue 9's page budget: ≤ 10 queries for a full home page (images, quotes, reposts, creators,
    the viewer's own posts), the session and user lookups, both nav badges and the sidebar included."""
    from social.models import PostImage

    make_creator(alice)
    for i in range(12):
        someone = UserFactory()
        make_creator(someone)
        graph.follow_create(alice, followee=someone)
        original = make_post(someone, f"original {i}")
        PostImage.objects.create(
            post=original, position=0, file="x.png", content_type="image/png", width=1, height=1, size=1
        )
        make_post(someone, "quoting", quote_of=original)
        Post.objects.create(author=someone, repost_of=original)
        make_post(alice, f"mine {i}")
    html_of(as_alice.get("/"))  # the session reaches the cache (when sessions are cached)
    with django_assert_max_num_queries(10 + session_queries()):
        html = html_of(as_alice.get("/"))
    assert html.count('data-testid="post"') == 20 and "Creator dashboard" in html


# ---- compose, reply, quote ---------------------------------------------------------------------


def test_compose_through_the_form(as_alice, alice):
    response = as_alice.post("/posts/new", {"text": "Hello #world from @bob"}, follow=True)
    html = html_of(response)
    post = Post.objects.get(author=alice)
    assert post.text == "Hello #world from @bob"
    assert "Your post is live." in html
    assert '<a class="hashtag" href="/tags/world">#world</a>' in html
    assert PostTag.objects.filter(post=post, tag="world").exists()


@pytest.mark.parametrize(
    ("data", "message"), [({"text": ""}, "Write something first."), ({"text": "x" * 281}, "at most 280 characters")]
)
def test_compose_errors_are_shown_on_the_form(as_alice, data, message):
    response = as_alice.post("/posts/new", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'data-testid="composer-post"' in html
    assert not Post.objects.exists()


def test_subscribers_only_needs_creator_mode_and_shows_the_choice_to_creators(as_alice, alice):
    response = as_alice.post("/posts/new", {"text": "secret", "audience": "subscribers"})
    assert response.status_code == 400 and "creator mode" in response.content.decode()
    make_creator(alice)
    html = html_of(as_alice.get("/"))
    assert 'name="audience"' in html and "Subscribers only" in html and 'name="teaser"' in html
    as_alice.post("/posts/new", {"text": "secret", "audience": "subscribers", "teaser": "A hint"})
    post = Post.objects.get()
    assert post.audience == Audience.SUBSCRIBERS and post.teaser == "A hint"


def test_writes_need_a_signed_in_user(client, bob):
    post = make_post(bob)
    for url in ("/posts/new", f"/posts/{post.pk}/reply", f"/posts/{post.pk}/like", f"/posts/{post.pk}/repost"):
        response = client.post(url, {"text": "hi"})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    response = client.get(f"/posts/{post.pk}/quote")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Post.objects.count() == 1 and not Like.objects.exists()


def test_writes_are_post_only_and_csrf_protected(alice, bob):
    post = make_post(bob)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get(f"/posts/{post.pk}/like").status_code == 405
    assert browser.post(f"/posts/{post.pk}/like").status_code == 403
    assert browser.post("/posts/new", {"text": "x"}).status_code == 403
    assert not Like.objects.exists()


def test_reply_through_the_post_page(as_alice, alice, bob):
    post = make_post(bob, "the question")
    html = html_of(as_alice.get(f"/posts/{post.pk}"))
    assert f'action="/posts/{post.pk}/reply"' in html and "No replies yet." in html
    response = as_alice.post(f"/posts/{post.pk}/reply", {"text": "the answer"})
    reply = Post.objects.get(reply_to=post)
    assert response.status_code == 302 and response["Location"] == f"/posts/{post.pk}#p-{reply.pk}"
    html = html_of(as_alice.get(f"/posts/{post.pk}"))
    assert "the answer" in html
    # The reply's own page shows the thread above it.
    html = html_of(as_alice.get(f"/posts/{reply.pk}"))
    html = html[html.index('id="main"') :]
    assert html.index("the question") < html.index("the answer")


def test_a_refused_reply_is_a_message_not_a_500(as_alice, alice, bob):
    post = make_post(bob)
    response = as_alice.post(f"/posts/{post.pk}/reply", {"text": ""})
    assert response.status_code == 400 and "Write something first." in response.content.decode()
    graph.block_create(alice, blocked=bob)
    assert as_alice.post(f"/posts/{post.pk}/reply", {"text": "hi"}).status_code == 404
    assert not Post.objects.filter(reply_to=post).exists()


def test_quote_shows_the_post_then_posts_the_quote(as_alice, alice, bob):
    post = make_post(bob, "quote me")
    html = html_of(as_alice.get(f"/posts/{post.pk}/quote"))
    assert "quote me" in html and f'action="/posts/{post.pk}/quote"' in html
    response = as_alice.post(f"/posts/{post.pk}/quote", {"text": "so true"})
    quote = Post.objects.get(quote_of=post)
    assert response["Location"] == f"/posts/{quote.pk}"
    html = html_of(as_alice.get(f"/posts/{quote.pk}"))
    assert "so true" in html and "quote me" in html and 'data-testid="quoted-post"' in html


def test_a_quote_of_a_deleted_post_says_unavailable(as_alice, alice, bob):
    post = make_post(bob, "soon gone")
    quote = post_services.post_create(alice, text="look", quote_of=post)
    post_services.post_delete(bob, post=post)
    html = html_of(as_alice.get(f"/posts/{quote.pk}"))
    assert "This post is unavailable." in html and "soon gone" not in html


# ---- likes and reposts ------------------------------------------------------------------------


def test_like_and_unlike_through_the_forms(as_alice, alice, bob):
    post = make_post(bob)
    response = as_alice.post(f"/posts/{post.pk}/like", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    post.refresh_from_db()
    assert post.like_count == 1
    html = html_of(as_alice.get(f"/posts/{post.pk}"))
    assert f'action="/posts/{post.pk}/unlike"' in html and 'aria-pressed="true"' in html
    as_alice.post(f"/posts/{post.pk}/unlike")
    post.refresh_from_db()
    assert post.like_count == 0


def test_like_answers_json_for_the_script(as_alice, bob):
    post = make_post(bob)
    response = as_alice.post(f"/posts/{post.pk}/like", HTTP_ACCEPT="application/json")
    assert response.json() == {"on": True, "count": 1, "post_id": post.pk}
    response = as_alice.post(f"/posts/{post.pk}/like", HTTP_ACCEPT="application/json")  # idempotent
    assert response.json()["count"] == 1
    response = as_alice.post(f"/posts/{post.pk}/unlike", HTTP_ACCEPT="application/json")
    assert response.json() == {"on": False, "count": 0, "post_id": post.pk}


def test_json_refusals_carry_the_message(client, alice, bob):
    post = make_post(bob)
    graph.block_create(bob, blocked=alice)
    client.force_login(alice)
    response = client.post(f"/posts/{post.pk}/like", HTTP_ACCEPT="application/json")
    assert response.status_code == 404 and "detail" in response.json()
    anonymous = Client()
    assert anonymous.post(f"/posts/{post.pk}/like", HTTP_ACCEPT="application/json").status_code == 401


def test_repost_shows_on_the_timeline_with_a_header(as_alice, alice, bob, carol):
    graph.follow_create(carol, followee=alice)
    post = make_post(bob, "worth sharing")
    as_alice.post(f"/posts/{post.pk}/repost")
    html = html_of(login(carol).get("/"))
    assert "@alice reposted" in html and "worth sharing" in html
    html = html_of(as_alice.get("/"))
    assert "You reposted" in html and f'action="/posts/{post.pk}/unrepost"' in html
    as_alice.post(f"/posts/{post.pk}/unrepost")
    assert "worth sharing" not in html_of(login(carol).get("/"))


# ---- delete -----------------------------------------------------------------------------------


def test_delete_own_post_with_a_confirm_step(as_alice, alice):
    post = make_post(alice, "regret")
    html = html_of(as_alice.get(f"/posts/{post.pk}/delete"))
    assert "Delete this post?" in html and "regret" in html
    response = as_alice.post(f"/posts/{post.pk}/delete", follow=True)
    assert "Your post was deleted." in response.content.decode()
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert as_alice.get(f"/posts/{post.pk}").status_code == 404


def test_delete_someone_elses_post_is_refused(as_alice, bob, carol):
    post = make_post(bob)
    assert as_alice.get(f"/posts/{post.pk}/delete").status_code == 403
    assert as_alice.post(f"/posts/{post.pk}/delete").status_code == 403
    graph.follow_create(carol, followee=bob)
    User.objects.filter(pk=bob.pk).update(is_protected=True)
    assert as_alice.post(f"/posts/{post.pk}/delete").status_code == 404  # cannot see it: no leak
    post.refresh_from_db()
    assert post.deleted_at is None


# ---- the post page's visibility matrix -----------------------------------------------------------


def test_post_page_for_anonymous_and_unknown_ids(client, bob):
    post = make_post(bob, "public words")
    html = html_of(client.get(f"/posts/{post.pk}"))
    assert "public words" in html and "Log in</a> to reply" in html
    assert client.get("/posts/999999").status_code == 404
    assert client.get("/posts/99999999999999999999999").status_code == 404
    assert client.get(f"/posts/{post.pk}/").status_code == 301


def test_protected_posts_only_for_approved_followers(client, alice, bob, carol):
    User.objects.filter(pk=bob.pk).update(is_protected=True)
    post = make_post(bob, "for friends")
    from accounts.models import Follow

    Follow.objects.create(follower=alice, followee=bob)
    assert client.get(f"/posts/{post.pk}").status_code == 404
    assert login(carol).get(f"/posts/{post.pk}").status_code == 404
    assert "for friends" in html_of(login(alice).get(f"/posts/{post.pk}"))
    assert "for friends" in html_of(login(bob).get(f"/posts/{post.pk}"))


def test_blocks_hide_posts_both_ways(alice, bob):
    post = make_post(bob, "not for alice")
    graph.block_create(bob, blocked=alice)
    assert login(alice).get(f"/posts/{post.pk}").status_code == 404
    mine = make_post(alice, "not for bob")
    assert login(bob).get(f"/posts/{mine.pk}").status_code == 404


def test_hidden_posts_only_for_their_author(alice, bob):
    post = make_post(bob, "moderated", hidden_at=timezone.now())
    assert login(alice).get(f"/posts/{post.pk}").status_code == 404
    html = html_of(login(bob).get(f"/posts/{post.pk}"))
    assert "moderated" in html and "Hidden by moderators" in html


def test_subscribers_only_post_is_locked_without_a_subscription(client, alice, bob):
    make_creator(bob)
    post = make_post(bob, "the secret text", audience=Audience.SUBSCRIBERS, teaser="a teaser")
    for browser in (client, login(alice)):
        html = html_of(browser.get(f"/posts/{post.pk}"))
        assert "the secret text" not in html
        assert 'data-testid="post-locked"' in html
    make_paid_subscription(alice, make_tier(bob))
    html = html_of(login(alice).get(f"/posts/{post.pk}"))
    assert "the secret text" in html and 'data-testid="post-locked"' not in html


def test_locked_post_images_are_404(client, bob):
    make_creator(bob)
    post = make_post(bob, "secret", audience=Audience.SUBSCRIBERS)
    assert client.get(f"/posts/{post.pk}/images/0").status_code == 404


def test_post_page_query_count_does_not_grow(as_alice, alice, bob, django_assert_max_num_queries):
    post = make_post(bob, "root")
    parent = post
    for i in range(2):
        parent = post_services.post_create(alice, text=f"reply {i}", reply_to=parent)
    with django_assert_max_num_queries(40) as few:
        html_of(as_alice.get(f"/posts/{parent.pk}"))
    baseline = len(few.captured_queries)
    for i in range(10):
        parent = post_services.post_create(bob if i % 2 else alice, text=f"more {i}", reply_to=parent)
    for i in range(10):
        post_services.post_create(UserFactory(), text=f"side {i}", reply_to=parent)
    with django_assert_max_num_queries(baseline + 2):
        html = html_of(as_alice.get(f"/posts/{parent.pk}"))
    assert "side 9" in html and "root" in html


# ---- Explore and tags ------------------------------------------------------------------------


def test_explore_and_its_empty_state(client, bob):
    assert "Nothing here yet" in html_of(client.get("/explore/"))
    make_post(bob, "popular one", like_count=5)
    make_post(bob, "quiet one")
    html = html_of(client.get("/explore/"))
    assert html.index("popular one") < html.index("quiet one")


def test_tag_page(client, alice, bob):
    post_services.post_create(bob, text="I love #Django")
    html = html_of(client.get("/tags/django"))
    assert "I love" in html and "#django" in html
    assert client.get("/tags/Django")["Location"] == "/tags/django"
    assert "No posts with #python yet" in html_of(client.get("/tags/python"))
    assert client.get("/tags/not-a-tag!").status_code == 404


# ---- profiles ---------------------------------------------------------------------------------


def test_profile_shows_posts_and_replies_tabs(client, alice, bob):
    post = post_services.post_create(bob, text="top level")
    post_services.post_create(bob, text="a reply of mine", reply_to=post)
    User.objects.filter(pk=bob.pk).update(website="https://bob.example/")
    html = html_of(client.get("/@bob"))
    assert "top level" in html and "a reply of mine" not in html
    assert 'href="https://bob.example/" rel="nofollow ugc noopener"' in html
    assert 'href="/@bob/followers"' in html and 'href="/@bob/following"' in html
    html = html_of(client.get("/@bob?tab=replies"))
    assert "a reply of mine" in html and 'aria-current="page">Replies' in html


def test_protected_profile_hides_posts_from_non_followers(client, alice, bob):
    User.objects.filter(pk=bob.pk).update(is_protected=True)
    make_post(bob, "private thoughts")
    for browser in (client, login(alice)):
        html = html_of(browser.get("/@bob"))
        assert "These posts are protected" in html and "private thoughts" not in html
    from accounts.models import Follow

    Follow.objects.create(follower=alice, followee=bob)
    html = html_of(login(alice).get("/@bob"))
    assert "private thoughts" in html and "These posts are protected" not in html


def test_profile_of_someone_who_blocked_you_shows_no_posts(alice, bob):
    make_post(bob, "bob's words")
    graph.block_create(bob, blocked=alice)
    html = html_of(login(alice).get("/@bob"))
    assert "bob's words" not in html and "You can't see @bob's posts." in html


def test_profile_redirects_to_the_lowercase_handle(client, bob):
    response = client.get("/@BOB")
    assert response.status_code == 301 and response["Location"] == "/@bob"


def test_profile_query_count_does_not_grow(as_alice, alice, bob, django_assert_max_num_queries):
    make_creator(bob)
    make_post(bob, "one")
    with django_assert_max_num_queries(30) as few:
        html_of(as_alice.get("/@bob"))
    baseline = len(few.captured_queries)
    for i in range(25):
        original = make_post(UserFactory(), f"original {i}")
        Post.objects.create(author=bob, repost_of=original)
        make_post(bob, f"post {i}", quote_of=original)
        graph.follow_create(UserFactory(), followee=bob)
    with django_assert_max_num_queries(baseline + 2):
        html = html_of(as_alice.get("/@bob"))
    assert "post 24" in html


# ---- more of the visibility matrix, escaping and images ------------------------------------------


def _png(colour=(10, 120, 200)):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue(), content_type="image/png")


def test_locked_card_on_the_timeline_shows_no_text_or_images(as_alice, alice, bob):
    make_creator(bob)
    graph.follow_create(alice, followee=bob)
    post_services.post_create(
        bob, text="members only words", images=[_png()], audience=Audience.SUBSCRIBERS, teaser="a peek"
    )
    html = html_of(as_alice.get("/"))
    assert "members only words" not in html and 'data-testid="post-locked"' in html
    assert "/images/0" not in html
    html = html_of(login(bob).get("/"))  # the author reads their own post
    assert "members only words" in html and "/images/0" in html


def test_hidden_and_blocked_posts_leave_the_timeline(as_alice, alice, bob, carol):
    graph.follow_create(alice, followee=bob)
    graph.follow_create(alice, followee=carol)
    make_post(bob, "moderated away", hidden_at=timezone.now())
    make_post(carol, "from carol")
    html = html_of(as_alice.get("/"))
    assert "moderated away" not in html and "from carol" in html
    graph.block_create(carol, blocked=alice)
    assert "from carol" not in html_of(as_alice.get("/"))


def test_hostile_text_is_escaped_everywhere(as_alice, alice, bob):
    User.objects.filter(pk=bob.pk).update(display_name='<img src=x onerror="alert(1)">')
    graph.follow_create(alice, followee=bob)
    post = post_services.post_create(bob, text='<script>alert("x")</script> #ok @alice')
    for url in ("/", f"/posts/{post.pk}", "/@bob", "/tags/ok", "/explore/", f"/posts/{post.pk}/quote"):
        html = html_of(as_alice.get(url))
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, url


def test_images_are_served_only_to_readers(client, alice, bob):
    post = post_services.post_create(bob, text="a picture", images=[_png()])
    response = client.get(f"/posts/{post.pk}/images/0")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/posts/{post.pk}/images/1").status_code == 404
    html = html_of(client.get(f"/posts/{post.pk}"))
    assert f'src="/posts/{post.pk}/images/0"' in html
    User.objects.filter(pk=bob.pk).update(is_protected=True)
    assert client.get(f"/posts/{post.pk}/images/0").status_code == 404
    assert login(alice).get(f"/posts/{post.pk}/images/0").status_code == 404


def test_compose_with_images_through_the_form(as_alice, alice):
    response = as_alice.post("/posts/new", {"text": "two pictures", "images": [_png(), _png((200, 10, 10))]})
    assert response.status_code == 302
    post = Post.objects.get(author=alice)
    assert post.images.count() == 2
    html = html_of(as_alice.get("/"))
    assert 'class="post-images n-2"' in html


def test_too_many_images_is_a_form_error(as_alice):
    response = as_alice.post("/posts/new", {"text": "five", "images": [_png() for _ in range(5)]})
    assert response.status_code == 400
    assert "Choose the images again." in response.content.decode() or "4" in response.content.decode()
    assert not Post.objects.exists()


def test_profile_replies_tab_pages_keep_the_tab(client, bob, monkeypatch):
    from social.views import posts as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    root = make_post(bob, "root")
    for i in range(3):
        post_services.post_create(bob, text=f"reply {i}", reply_to=root)
    html = html_of(client.get("/@bob?tab=replies"))
    assert 'href="?tab=replies&amp;before=' in html
