"""A social post that carries a listing: sharing it, the card with its Buy button on post lists and the
post page (one query for the whole page), and social.hooks' safety rules."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import format_html

from commerce.models import ListingStatus, PostListing
from commerce.social import ListingNotShareable, listing_share_as_post, post_listing_cards
from commerce.tests.factories import make_listing, seller_user
from core.errors import NotFound
from payments.tests.factories import sender_user
from social import hooks
from social.models import Post
from social.services.posts import post_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registered():
    """What CommerceConfig.ready() does (registering twice is harmless)."""
    hooks.register_post_extras(post_listing_cards)
    yield


@pytest.fixture
def carol():
    return seller_user("carol")


def test_share_makes_a_post_and_link(carol):
    mug = make_listing(carol.shop, title="Everything mug", price="12.00")
    post = listing_share_as_post(carol, listing=mug, text="New mug in my shop!")
    assert post.author == carol and post.text == "New mug in my shop!"
    assert PostListing.objects.get(post=post).listing == mug


def test_share_from_the_listing_page(client, carol):
    mug = make_listing(carol.shop, title="Everything mug", price="12.00")
    client.force_login(carol)
    page = client.get(f"/shop/listings/{mug.pk}/").content.decode()
    assert 'data-testid="share-listing"' in page
    response = client.post(f"/shop/sell/listings/{mug.pk}/share/", {"text": ""})
    post = Post.objects.get()
    assert response.status_code == 302 and response.url == f"/posts/{post.pk}"
    assert post.text == "New in my shop: Everything mug" and PostListing.objects.get(post=post).listing == mug
    other = sender_user("eve")
    client.force_login(other)
    assert client.post(f"/shop/sell/listings/{mug.pk}/share/", {"text": "Mine"}).status_code == 404
    assert Post.objects.count() == 1


def test_share_refusals_make_nothing(carol):
    mug = make_listing(carol.shop)
    draft = make_listing(carol.shop, status=ListingStatus.DRAFT)
    other = sender_user("eve")
    with pytest.raises(NotFound):
        listing_share_as_post(other, listing=mug, text="Mine now")
    with pytest.raises(ListingNotShareable):
        listing_share_as_post(carol, listing=draft, text="Soon")
    from social.services.posts import PostInvalid

    with pytest.raises(PostInvalid):
        listing_share_as_post(carol, listing=mug, text="")  # social's own text rules
    assert Post.objects.count() == 0 and PostListing.objects.count() == 0


def test_post_page_shows_card_with_buy_button(client, carol):
    mug = make_listing(carol.shop, title="Everything mug", price="12.00", images=0)
    post = listing_share_as_post(carol, listing=mug, text="Look")
    bob = sender_user("bob")
    client.force_login(bob)
    page = client.get(reverse("social:post", args=[post.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="listing-card"' in html and "Everything mug" in html
    assert 'data-testid="listing-card-buy"' in html and "Buy · $12.00" in html
    assert f"/shop/listings/{mug.pk}/" in html
    # The seller sees "Your listing", not Buy.
    client.force_login(carol)
    own = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "Your listing" in own and 'data-testid="listing-card-buy"' not in own


def test_sold_out_and_archived_cards_have_no_buy(client, carol):
    mug = make_listing(carol.shop, title="Mug")
    post = listing_share_as_post(carol, listing=mug, text="Look")
    client.force_login(sender_user("bob"))
    mug.status = ListingStatus.SOLD_OUT
    mug.save()
    html = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "Sold out" in html and 'data-testid="listing-card-buy"' not in html
    mug.status = ListingStatus.ARCHIVED
    mug.save()
    html = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "No longer available" in html and 'data-testid="listing-card-buy"' not in html


def test_titles_are_escaped(client, carol):
    mug = make_listing(carol.shop, title="<script>alert(1)</script>")
    post = listing_share_as_post(carol, listing=mug, text="Look")
    client.force_login(sender_user("bob"))
    html = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_one_query_for_all_cards_on_a_profile(client, carol):
    bob = sender_user("bob")
    client.force_login(bob)
    listing_share_as_post(carol, listing=make_listing(carol.shop), text="One")
    with CaptureQueriesContext(connection) as one:
        page = client.get(f"/@{carol.handle}")
    assert page.status_code == 200 and page.content.decode().count('data-testid="listing-card"') == 1
    for n in range(4):
        listing_share_as_post(carol, listing=make_listing(carol.shop, images=0), text=f"More {n}")
    post_create(carol, text="A plain post")
    with CaptureQueriesContext(connection) as five:
        page = client.get(f"/@{carol.handle}")
    assert page.content.decode().count('data-testid="listing-card"') == 5
    card_queries = [q for q in five.captured_queries if "commerce_postlisting" in q["sql"]]
    assert len(card_queries) == 1
    assert len(five.captured_queries) <= len(one.captured_queries) + 1


def test_renderer_runs_once_per_page_and_unsafe_output_is_escaped(client, carol):
    calls = []

    def shouty(posts, viewer):
        calls.append(len(posts))
        return {post.pk: "<b>raw</b>" for post in posts} | {posts[0].pk: format_html("<i>{}</i>", "safe")}

    hooks.register_post_extras(shouty)
    try:
        for n in range(3):
            post_create(carol, text=f"Post {n}")
        client.force_login(carol)
        html = client.get(f"/@{carol.handle}").content.decode()
    finally:
        hooks.unregister_post_extras(shouty)
    assert calls == [3]
    assert "&lt;b&gt;raw&lt;/b&gt;" in html and "<b>raw</b>" not in html and "<i>safe</i>" in html


def test_a_failing_renderer_never_breaks_the_timeline(client, carol):
    def broken(posts, viewer):
        raise RuntimeError("bug")

    hooks.register_post_extras(broken)
    try:
        post_create(carol, text="Still here")
        client.force_login(carol)
        page = client.get(f"/@{carol.handle}")
    finally:
        hooks.unregister_post_extras(broken)
    assert page.status_code == 200 and "Still here" in page.content.decode()


def test_share_through_the_api(carol):
    from rest_framework.test import APIClient

    mug = make_listing(carol.shop, title="Mug")
    api = APIClient()
    api.force_authenticate(carol)
    shared = api.post(f"/api/v1/listings/{mug.pk}/share/", {"text": "In my shop"}, format="json")
    assert shared.status_code == 201, shared.content
    assert PostListing.objects.get(post_id=shared.json()["post_id"]).listing == mug
    other = APIClient()
    other.force_authenticate(sender_user("eve"))
    assert other.post(f"/api/v1/listings/{mug.pk}/share/", {"text": "x"}, format="json").status_code == 404
    assert api.post(f"/api/v1/listings/{mug.pk}/share/", {"text": 5}, format="json").status_code == 400
