"""Commerce inside the social timeline: a post that shows a listing with a Buy button.

- ``listing_share_as_post``: the seller writes a social post (through ``social.services``) that
  carries one of their active listings (a ``PostListing`` row), in one transaction.
- ``post_listing_cards``: the renderer registered with ``social.hooks.register_post_extras``
  (from ``CommerceConfig.ready()`` when social is installed). For a page of posts it runs ONE
  query (the links, their listings and shops, and each listing's first image id as a subquery)
  and returns a compact card per linked post: image, title, price, shop, and "Buy" (the listing
  page, where Buy now / Add to cart are) — or why it cannot be bought now (sold out, no longer
  available, your own listing).

Social never imports commerce (DESIGN §2): it only calls what was registered.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core.errors import NotFound, ValidationFailed
from core.money import format_money

from .models import Listing, ListingImage, ListingStatus, PostListing


class ListingNotShareable(ValidationFailed):
    code = "listing_not_shareable"
    default_message = "Only an active listing of an open shop can be shared."


def _url(name: str, args: list, fallback: str) -> str:
    """The named URL when commerce's pages are wired, else the documented path."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def listing_url(listing_id: int) -> str:
    return _url("commerce:listing", [listing_id], f"/shop/listings/{listing_id}/")


def listing_image_url(image_id: int) -> str:
    return _url("commerce:listing_image", [image_id], f"/shop/media/listing/{image_id}")


def listing_share_as_post(user, *, listing: Listing | int, text: str):
    """``user`` (the listing's seller) posts ``text`` with the listing attached; returns the Post.

    Atomic: the post (``social.services.posts.post_create``: its text rules, mentions, tags and
    the followers' live ``post.new``) and the link are made together or not at all. Someone
    else's listing — or one that does not exist — is ``NotFound``; a draft, sold-out or archived
    listing, or a suspended shop's, is ``ListingNotShareable`` (400).
    """
    from social.services.posts import post_create

    listing_id = listing.pk if isinstance(listing, Listing) else listing
    if not getattr(user, "is_authenticated", False):
        raise NotFound("No such listing.", code="listing_not_found")
    found = Listing.objects.select_related("shop").filter(pk=listing_id, shop__owner_id=user.pk).first()
    if found is None:
        raise NotFound("No such listing.", code="listing_not_found")
    if found.status != ListingStatus.ACTIVE or found.shop.suspended_at is not None:
        raise ListingNotShareable()
    with transaction.atomic():
        post = post_create(user, text=text)
        PostListing.objects.create(post=post, listing=found)
    return post


def _card(link: PostListing, viewer) -> str:
    listing = link.listing
    shop = listing.shop
    url = listing_url(listing.pk)
    price = format_money(listing.price, listing.currency)
    image = ""
    if link.first_image_id:
        image = format_html(
            '<img class="post-listing-card-image" src="{}" alt="" width="56" height="56" loading="lazy">',
            listing_image_url(link.first_image_id),
        )
    viewer_id = viewer.pk if getattr(viewer, "is_authenticated", False) else None
    if shop.suspended_at is not None or listing.status in (ListingStatus.ARCHIVED, ListingStatus.DRAFT):
        action = format_html('<span class="pill" data-testid="listing-card-state">{}</span>', "No longer available")
    elif listing.status == ListingStatus.SOLD_OUT:
        action = format_html('<span class="pill" data-testid="listing-card-state">{}</span>', "Sold out")
    elif viewer_id is not None and shop.owner_id == viewer_id:
        action = format_html('<a class="btn btn-secondary btn-sm" href="{}">{}</a>', url, "Your listing")
    else:
        action = format_html(
            '<a class="btn btn-primary btn-sm" href="{}" data-testid="listing-card-buy">Buy · {}</a>', url, price
        )
    return format_html(
        '<div class="post-quote post-listing-card" data-testid="listing-card" data-listing-id="{}">'
        '{}<span class="post-listing-card-body"><a class="post-name" href="{}">{}</a> '
        '<span class="post-listing-card-price">{}</span> <span class="post-handle">{}</span></span> {}</div>',
        listing.pk,
        image,
        url,
        listing.title,
        price,
        shop.name,
        action,
    )


def post_listing_cards(posts, viewer) -> dict[int, str]:
    """``social.hooks`` renderer: {post id: listing card HTML} for the linked posts (one query)."""
    post_ids = {post.pk for post in posts if post is not None and post.pk}
    if not post_ids:
        return {}
    first_image = ListingImage.objects.filter(listing_id=OuterRef("listing_id")).order_by("position").values("id")[:1]
    links = (
        PostListing.objects.filter(post_id__in=post_ids)
        .select_related("listing__shop")
        .annotate(first_image_id=Subquery(first_image))
    )
    return {link.post_id: _card(link, viewer) for link in links}
