"""The authorisation matrix (issue 10, point 4): every URL pattern, as every kind of visitor.

Every route of the project (``get_resolver()``, includes followed) must be classified in
``EXPECTED``; a new URL pattern that is not fails ``test_every_route_is_classified``. Each
route is then requested with GET as anonymous, another ordinary user, the owner of the
objects its URL names, and staff, against one world of real objects (``authz_world``), and
the statuses are checked against the route's rule. API routes are also hit with their
unsafe methods as anonymous and as the other user, who must not be able to act on the
owner's objects.

Rules (what each role may get on GET):

- ``PUBLIC``: 200 for everyone (pages anyone may read).
- ``AUTH``: sign-in required (anonymous → redirect to the login page, or the API's 401/403
  ``not_authenticated``); any signed-in user gets a 2xx (or, for an action page, a redirect).
- ``OWNER``: sign-in required, and the object in the URL is private to its owner: another
  user gets 403/404, the owner (and staff where staff see everything) a 2xx/redirect.
- ``STAFF``: staff only: anonymous and ordinary users are refused (redirect to login, 403
  or 404), staff gets a 2xx.
- ``ACTION``: a POST-only endpoint: GET is refused with 405 or answered by a redirect for
  everyone, and anonymous POST is refused (checked in ``test_anonymous_cannot_post``).
- ``NOOBJ``: sign-in required; the world has no object for the URL's pk, so every signed-in
  user gets 404 and only the sign-in check is proven. No route uses it today: every private
  object (funding cards, top-ups, cash-outs, attachments, money cards in chat, downloads, …)
  is built in ``authz_world``. A new route gets its object there and ``OWNER``; ``NOOBJ`` is
  the last resort, with a comment saying why the object cannot be built.
- ``MERCHANT``: the card network API: a merchant key, never a user session (401 for all).
- ``ALLAUTH``: django-allauth's own account/MFA/headless routes; they are third-party and
  tested by allauth, so here only "never a server error" is asserted.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from core.tests.authz_world import build_world

pytestmark = pytest.mark.django_db

PUBLIC, AUTH, OWNER, STAFF, ACTION, NOOBJ, MERCHANT, ALLAUTH = (
    "public",
    "auth",
    "owner",
    "staff",
    "action",
    "noobj",
    "merchant",
    "allauth",
)
MISSING = 999_999  # a pk that names no object


class R(NamedTuple):
    """A route's rule; ``ok``: the statuses a permitted visitor gets on GET (default 200)."""

    kind: str
    ok: frozenset | int | None = None
    pk: str | None = None  # which world object the route's ``pk`` names, when PK_SOURCES guess wrong

    @property
    def ok_statuses(self) -> set[int]:
        if self.ok is None:
            return {405} if self.kind == ACTION else {404} if self.kind == NOOBJ else {200}
        return {self.ok} if isinstance(self.ok, int) else set(self.ok)


def _walk(resolver, prefix="", namespace=None):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            if entry.namespace == "admin":
                yield "admin", prefix + str(entry.pattern), None
                continue
            yield from _walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield (name or route), route, entry


ALLAUTH_PREFIXES = ("headless:", "account_", "mfa_")


def all_routes() -> dict[str, str]:
    """{key: route} for every URL pattern; the key is the route's name, or its pattern when unnamed."""
    return {key: route for key, route, _ in _walk(get_resolver())}


def rule_for(key: str) -> str | None:
    if key.startswith(ALLAUTH_PREFIXES):
        return ALLAUTH
    rule = EXPECTED.get(key)
    return rule.kind if rule else None


# Which object a route's ``pk`` names, by route-name prefix (first match wins; default: MISSING).
PK_SOURCES = [
    (("payments:request_", "api-request-"), "request"),
    (("payments:split_detail", "api-split-detail"), "split"),
    (("payments:tip_done",), "tip"),
    (("social:subscription_", "api-subscription-"), "subscription"),
    (("payments:check_", "api-check-"), "check"),
    (("payments:detail", "payments:return", "payments:cancel", "api-payment-"), "payment"),
    (("savings:goal_", "api-savings-goal"), "goal"),
    (("lending:", "api-loan"), "loan"),
    (("cards:", "api-card-"), "card"),
    (("commerce:order", "api-order"), "order"),
    (("commerce:shop_logo",), "shop"),
    (("commerce:listing", "api-listing"), "listing"),
    (("compliance:document",), "kyc"),
    (("api-message",), "message"),
    (("messaging:", "api-conversation"), "conversation"),
    (("social:tier", "api-creator-tier"), "tier"),
    (("social:post", "api-post", "posts/"), "post"),
]
EXTRA = {
    "handle": lambda w: w.owner.handle,
    "slug": lambda w: w.shop.slug,
    "tag": lambda w: "hello",
    "currency": lambda w: "USD",
    "year": lambda w: 2026,
    "n": lambda w: 0,
    "message_id": lambda w: w.message.pk,
    "item_id": lambda w: w.order_item.pk,
    "request_id": lambda w: w.request_in.pk,  # the request on the chat card (the owner is asked)
    "payment_id": lambda w: w.post_tip.payment_id,  # social:post_tip_done
    "conversation_id": lambda w: w.conversation.pk,
    "image_id": lambda w: MISSING,
    "action": lambda w: "accept",
}
# A parameter that names another object on some routes: (route-name prefixes, parameter, value);
# first match wins, else EXTRA. Money cards in chat are messages of their own.
EXTRA_FOR = [
    (("messaging:card_dispute", "messaging:card_action"), "message_id", lambda w: w.escrow_card.pk),
    (("messaging:card",), "message_id", lambda w: w.request_card.pk),
]
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def url_for(key: str, route: str, w) -> str:
    """The route with its parameters filled from the world (the owner's objects)."""

    def value(match):
        name = match.group(1)
        if name == "pk":
            rule = EXPECTED.get(key)
            source = rule.pk if rule else None
            if source is None:
                source = next((src for prefixes, src in PK_SOURCES if key.startswith(prefixes)), None)
            obj = getattr(w, source, None) if source else None
            return str(obj.pk if obj is not None else MISSING)
        get = next((get for prefixes, param, get in EXTRA_FOR if param == name and key.startswith(prefixes)), None)
        return str((get or EXTRA[name])(w))

    return "/" + PARAM.sub(value, route)


EXPECTED: dict[str, R] = {
    "home": R(PUBLIC),
    "healthz": R(PUBLIC),
    "admin": R(STAFF),
    "accounts:settings": R(AUTH),
    "accounts:blocked": R(AUTH),
    "accounts:follow_requests": R(AUTH),
    "accounts:follow_request_approve": R(ACTION),
    "accounts:follow_request_decline": R(ACTION),
    "notifications:list": R(AUTH),
    "notifications:read": R(ACTION),
    "payments:wallet": R(AUTH),
    "payments:detail": R(OWNER),
    "payments:return": R(ACTION),
    "payments:cancel": R(ACTION),
    "payments:send": R(AUTH),
    "payments:send_confirm": R(AUTH, ok=302),
    "payments:send_submit": R(ACTION),
    "payments:settings": R(AUTH),
    "payments:people": R(AUTH),
    "payments:requests": R(AUTH),
    "payments:request_new": R(AUTH),
    "payments:request_detail": R(OWNER),
    "payments:request_pay": R(OWNER, pk="request_in"),  # a request addressed to the owner
    "payments:request_decline": R(ACTION),
    "payments:request_cancel": R(ACTION),
    "payments:request_remind": R(ACTION),
    "payments:splits": R(AUTH),
    "payments:split_new": R(AUTH),
    "payments:split_create": R(ACTION),
    "payments:split_detail": R(OWNER),
    "payments:tip_confirm": R(ACTION),
    "payments:tip_done": R(OWNER),
    "payments:cards": R(AUTH),
    "payments:card_remove": R(OWNER, pk="funding_card"),
    "payments:add_money": R(AUTH),
    "payments:add_money_confirm": R(AUTH, ok=302),
    "payments:add_money_submit": R(ACTION),
    "payments:top_up": R(OWNER, pk="top_up"),
    "payments:cash_out": R(AUTH),
    "payments:cash_out_confirm": R(AUTH, ok=302),
    "payments:cash_out_submit": R(ACTION),
    "payments:cash_out_detail": R(OWNER, pk="cash_out"),
    "payments:statements": R(AUTH),
    "payments:statement_csv": R(AUTH, ok=400),
    "payments:checks": R(AUTH),
    "payments:check_new": R(AUTH),
    "payments:check_confirm": R(AUTH, ok=302),
    "payments:check_submit": R(ACTION),
    "payments:check_deposit": R(AUTH),
    "payments:check_deposit_submit": R(ACTION),
    "payments:check_detail": R(OWNER),
    "payments:check_pdf": R(OWNER),
    "payments:check_void": R(OWNER),
    "savings:index": R(AUTH),
    "savings:open": R(ACTION),
    "savings:move": R(AUTH, ok=frozenset({200, 302})),  # no savings account yet: sent to open one
    "savings:move_confirm": R(AUTH, ok=302),
    "savings:move_submit": R(ACTION),
    "savings:roundups": R(ACTION),
    "savings:goal_add": R(ACTION),
    "savings:goal_delete": R(ACTION),
    "savings:interest_year": R(AUTH),
    "lending:home": R(AUTH),
    "lending:disclosure": R(AUTH, ok=302),
    "lending:accept": R(ACTION),
    "lending:detail": R(OWNER),
    "lending:repay_confirm": R(ACTION),
    "lending:repay": R(ACTION),
    "cards:home": R(AUTH),
    "cards:request": R(ACTION),
    "cards:freeze": R(ACTION),
    "cards:unfreeze": R(ACTION),
    "cards:limits": R(ACTION),
    "cards:replace": R(OWNER),
    "cards:reveal": R(OWNER, ok=302),
    "cards:demo_shop": R(AUTH),
    "cards:demo_order": R(OWNER, pk="demo_order"),
    "cards:demo_order_action": R(ACTION),
    "commerce:marketplace": R(AUTH),
    "commerce:listing": R(AUTH),
    "commerce:cart": R(AUTH),
    "commerce:cart_add": R(ACTION),
    "commerce:cart_update": R(ACTION),
    "commerce:cart_remove": R(ACTION),
    "commerce:checkout": R(AUTH, ok=302),
    "commerce:checkout_pay": R(ACTION),
    "commerce:orders": R(AUTH),
    "commerce:order": R(OWNER),
    "commerce:order_ship": R(ACTION),
    "commerce:order_confirm": R(ACTION),
    "commerce:order_refund": R(ACTION),
    "commerce:order_dispute": R(ACTION),
    "commerce:order_download": R(OWNER),  # the buyer's digital file
    "commerce:sell": R(AUTH),
    "commerce:shop_open": R(AUTH, ok=frozenset({200, 302})),  # has a shop already: sent to it
    "commerce:shop_settings": R(AUTH, ok=frozenset({200, 302})),  # seller pages: no shop → sent to open one (302)
    "commerce:sell_listings": R(AUTH, ok=frozenset({200, 302})),
    "commerce:listing_new": R(AUTH, ok=frozenset({200, 302})),
    "commerce:listing_edit": R(OWNER),
    "commerce:listing_image_add": R(ACTION),
    "commerce:listing_image_remove": R(ACTION),
    "commerce:listing_file": R(ACTION),
    "commerce:listing_publish": R(ACTION),
    "commerce:listing_archive": R(ACTION),
    "commerce:listing_share": R(ACTION),
    "commerce:sell_orders": R(AUTH, ok=frozenset({200, 302})),
    # A browsable listing's images are for anyone signed in (like the listing page); a draft's only
    # for its owner: the world's image is a draft's, so the owner-only check is the one proven here.
    "commerce:listing_image": R(OWNER, pk="draft_image"),
    "commerce:shop_logo": R(AUTH),  # a (not suspended) shop's logo is for anyone signed in, like the shop
    "commerce:shop": R(AUTH),
    "compliance:verify": R(AUTH),
    "compliance:status": R(AUTH),
    "compliance:document": R(STAFF, pk="kyc"),  # everyone else gets 404, by design
    "messaging:inbox": R(AUTH),
    "messaging:unread": R(AUTH),
    "messaging:start": R(AUTH, ok=frozenset({200, 400})),  # the owner cannot message themself
    "messaging:group_new": R(AUTH),
    "messaging:search": R(AUTH),
    "messaging:attachment": R(OWNER, pk="attachment"),
    "messaging:conversation": R(OWNER),
    "messaging:fragment": R(OWNER),
    "messaging:receipts": R(OWNER),
    "messaging:post": R(ACTION),
    "messaging:read": R(ACTION),
    "messaging:accept": R(ACTION),
    "messaging:leave": R(ACTION),
    "messaging:mute": R(ACTION),
    "messaging:rename": R(ACTION),
    "messaging:members_add": R(ACTION),
    "messaging:member_remove": R(ACTION),
    "messaging:edit": R(OWNER),
    "messaging:delete": R(OWNER),
    "messaging:react": R(ACTION),
    "messaging:pay": R(OWNER),
    "messaging:pay_confirm": R(OWNER, ok=302),
    "messaging:pay_submit": R(ACTION),
    "messaging:request": R(OWNER),
    "messaging:request_confirm": R(OWNER, ok=302),
    "messaging:request_submit": R(ACTION),
    "messaging:escrow": R(OWNER),
    "messaging:escrow_confirm": R(OWNER, ok=302),
    "messaging:escrow_submit": R(ACTION),
    "messaging:split": R(OWNER, ok=400),  # a DM split with the owner alone: refused, not hidden
    "messaging:split_confirm": R(OWNER, ok=400),
    "messaging:split_submit": R(ACTION),
    "messaging:card": R(OWNER),
    "messaging:card_dispute": R(OWNER),
    "messaging:card_request_pay": R(OWNER),
    "messaging:card_request_action": R(ACTION),
    "messaging:card_action": R(ACTION),
    "messaging:report_conversation": R(OWNER),
    "messaging:report_message": R(OWNER),
    "tip": R(AUTH),
    "profile": R(PUBLIC),
    "@<str:handle>/": R(PUBLIC, ok=301),
    "profile_follow": R(ACTION),
    "profile_unfollow": R(ACTION),
    "profile_block": R(ACTION),
    "profile_followers": R(PUBLIC),
    "profile_following": R(PUBLIC),
    "profile_unblock": R(ACTION),
    "social:explore": R(PUBLIC),
    "social:tag": R(PUBLIC),
    "social:post_create": R(ACTION),
    "social:post": R(PUBLIC),
    "posts/<int:pk>/": R(PUBLIC, ok=301),
    "social:post_reply": R(ACTION),
    "social:post_quote": R(AUTH),
    "social:post_like": R(ACTION),
    "social:post_unlike": R(ACTION),
    "social:post_repost": R(ACTION),
    "social:post_unrepost": R(ACTION),
    "social:post_delete": R(OWNER),
    "social:post_image": R(PUBLIC, ok=404),  # public media; the world's post has no image
    "social:creator_dashboard": R(AUTH),
    "social:creator_settings": R(AUTH),
    "social:creator_sweep": R(ACTION),
    "social:post_tip": R(AUTH, ok=frozenset({200, 403})),  # the author may not tip themself
    "social:post_tip_confirm": R(ACTION),
    "social:post_tip_done": R(OWNER, pk="tipped_post"),  # the owner's tip on another's post
    "social:post_split": R(OWNER),
    "social:tiers": R(AUTH),
    "social:tier_edit": R(OWNER),
    "social:tier_archive": R(ACTION),
    "social:subscribe": R(AUTH),
    "social:subscribe_confirm": R(ACTION),
    "social:subscriptions": R(AUTH),
    "social:subscription_cancel": R(OWNER),
    "social:subscription_resume": R(ACTION),
    "social:post_report": R(AUTH),
    "social:post_report_done": R(AUTH, ok=302),
    "api-me": R(AUTH),
    "api-me-blocked": R(AUTH),
    "api-me-follow-requests": R(AUTH),
    "api-me-follow-request-approve": R(ACTION),
    "api-me-follow-request-decline": R(ACTION),
    "api-user": R(PUBLIC),
    "api-user-follow": R(ACTION),
    "api-user-block": R(ACTION),
    "api-user-followers": R(PUBLIC),
    "api-user-following": R(PUBLIC),
    "api-notifications": R(AUTH),
    "api-notifications-read": R(ACTION),
    "api-wallet": R(AUTH),
    "api-payments": R(AUTH),
    "api-payment-detail": R(OWNER),
    "api-payment-return": R(ACTION),
    "api-payment-cancel": R(ACTION),
    "api-fx-quotes": R(ACTION),
    "api-people": R(AUTH),
    "api-requests": R(AUTH),
    "api-request-detail": R(OWNER),
    "api-request-pay": R(ACTION),
    "api-request-decline": R(ACTION),
    "api-request-cancel": R(ACTION),
    "api-request-remind": R(ACTION),
    "api-splits": R(AUTH),
    "api-split-detail": R(OWNER),
    "api-tips": R(ACTION),
    "api-funding-cards": R(AUTH),
    "api-funding-card-detail": R(OWNER, pk="funding_card"),
    "api-top-ups": R(AUTH),
    "api-top-up-detail": R(OWNER, pk="top_up"),
    "api-cash-outs": R(AUTH),
    "api-cash-out-quote": R(ACTION),
    "api-cash-out-detail": R(OWNER, pk="cash_out"),
    "api-statements": R(AUTH),
    "api-checks": R(AUTH),
    "api-check-deposit": R(ACTION),
    "api-check-detail": R(OWNER),
    "api-check-void": R(ACTION),
    "api-compliance-status": R(AUTH),
    "api-conversations": R(AUTH),
    "api-conversation": R(OWNER),
    "api-conversation-accept": R(ACTION),
    "api-conversation-leave": R(ACTION),
    "api-conversation-mute": R(ACTION),
    "api-conversation-read": R(ACTION),
    "api-conversation-members": R(OWNER),
    "api-conversation-member": R(ACTION),
    "api-conversation-messages": R(OWNER),
    "api-messages-search": R(AUTH),
    "api-message": R(OWNER),
    "api-message-reactions": R(ACTION),
    "api-attachment": R(OWNER, pk="attachment"),
    "api-reports": R(ACTION),
    "api-posts": R(PUBLIC),
    "api-post": R(PUBLIC),
    "api-post-like": R(ACTION),
    "api-post-repost": R(ACTION),
    "api-post-replies": R(PUBLIC),
    "api-timeline": R(AUTH),
    "api-timeline-new-count": R(AUTH, ok=400),
    "api-explore": R(PUBLIC),
    "api-tag-posts": R(PUBLIC),
    "api-user-posts": R(PUBLIC),
    "api-creator": R(AUTH),
    "api-creator-earnings": R(AUTH),
    "api-post-tips": R(ACTION),
    "api-post-split": R(AUTH),
    "api-user-tiers": R(PUBLIC),
    "api-creator-tiers": R(AUTH),
    "api-creator-tier": R(ACTION),
    "api-creator-tier-archive": R(ACTION),
    "api-creator-subscribers": R(AUTH),
    "api-subscriptions": R(AUTH),
    "api-subscription-cancel": R(ACTION),
    "api-subscription-resume": R(ACTION),
    "api-post-report": R(ACTION),
    "api-loan-offer": R(AUTH),
    "api-loan-quote": R(ACTION),
    "api-loans": R(AUTH),
    "api-loan": R(OWNER),
    "api-loan-repay": R(ACTION),
    "api-savings-accounts": R(AUTH),
    "api-savings-account": R(OWNER),
    "api-savings-move": R(ACTION),
    "api-savings-accruals": R(OWNER),
    "api-savings-payouts": R(OWNER),
    "api-savings-rates": R(AUTH),
    "api-savings-goals": R(AUTH),
    "api-savings-goal": R(OWNER),
    "api-savings-projection": R(AUTH, ok=400),
    "api-cards": R(AUTH),
    "api-card-freeze": R(ACTION),
    "api-card-unfreeze": R(ACTION),
    "api-card-limits": R(ACTION),
    "api-card-replace": R(ACTION),
    "api-card-reveal": R(ACTION),
    "api-card-authorizations": R(OWNER),
    "api-network-authorize": R(MERCHANT, ok=401),
    "api-network-capture": R(MERCHANT, ok=401),
    "api-network-reverse": R(MERCHANT, ok=401),
    "api-network-refund": R(MERCHANT, ok=401),
    "api-shops": R(AUTH),
    "api-shop": R(AUTH),
    "api-listings": R(AUTH),
    "api-listing": R(AUTH),
    "api-listing-publish": R(ACTION),
    "api-listing-archive": R(ACTION),
    "api-listing-images": R(ACTION),
    "api-listing-image": R(ACTION),
    "api-listing-share": R(ACTION),
    "api-listing-file": R(ACTION),
    "api-cart": R(AUTH),
    "api-checkout-quote": R(ACTION),
    "api-checkout": R(ACTION),
    "api-orders": R(AUTH),
    "api-order": R(OWNER),
    "api-order-ship": R(ACTION),
    "api-order-confirm": R(ACTION),
    "api-order-refund": R(ACTION),
    "api-order-dispute": R(ACTION),
    "api-order-download": R(OWNER),
    "api-schema": R(PUBLIC),
    "api-docs": R(PUBLIC),
}


ROLES = ("anonymous", "other", "owner", "staff")
LOGIN_PATH = "/accounts/login/"
REFUSED_SIGNED_IN = {403, 404}


@pytest.fixture
def world(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_world()


def _client_as(client, world, role):
    client.logout()
    if role != "anonymous":
        client.force_login(getattr(world, role))
    return client


def _anonymous_refused(response, api: bool) -> bool:
    """Refused for want of a sign-in: the login page (HTML) or 401/403 ``not_authenticated`` (API)."""
    if api:
        if response.status_code not in (401, 403):
            return False
        return response.json().get("error", {}).get("code") == "not_authenticated"
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PATH)


def _get_ok(rule: R, role: str, response, api: bool) -> bool:
    status = response.status_code
    if rule.kind == ALLAUTH:
        return status < 500
    if rule.kind == PUBLIC:
        return status in rule.ok_statuses
    if rule.kind == MERCHANT:  # the card network's API: a merchant key, never a user session
        return status == 401
    if role == "anonymous":
        if rule.kind == STAFF:
            return _anonymous_refused(response, api) or status in REFUSED_SIGNED_IN
        if rule.kind == ACTION and status == 405:
            return True
        return _anonymous_refused(response, api)
    if rule.kind == STAFF:
        if role == "staff":
            return status in rule.ok_statuses
        return status in REFUSED_SIGNED_IN or _anonymous_refused(response, api)
    if rule.kind == OWNER:
        if role == "other":
            return status in REFUSED_SIGNED_IN
        if role == "staff":
            return status in REFUSED_SIGNED_IN | rule.ok_statuses
    return status in rule.ok_statuses


def _routes():
    """(key, route, rule) for every route the matrix requests (regex routes are allauth's or media)."""
    for key, route in all_routes().items():
        if route.startswith("^") or (rule_for(key) == ALLAUTH and "<" in route):
            continue  # regex routes are allauth's or DEBUG media; allauth's keyed links need allauth's tokens
        yield key, route, EXPECTED.get(key) or R(ALLAUTH)


def test_every_route_is_classified():
    """A new URL pattern must be added to EXPECTED (with its rule) before the suite passes."""
    routes = all_routes()
    unclassified = sorted(key for key in routes if rule_for(key) is None and not routes[key].startswith("^media"))
    assert not unclassified, "routes missing from the authorisation matrix (EXPECTED): " + ", ".join(unclassified)
    stale = sorted(set(EXPECTED) - set(routes))
    assert not stale, "EXPECTED names routes that no longer exist: " + ", ".join(stale)


def test_admin_needs_staff(client, world):
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    client.force_login(world.other)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    client.force_login(world.staff)
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(client, world, role):
    """GET every route as ``role``; every status must fit the route's rule."""
    _client_as(client, world, role)
    failures = []
    for key, route, rule in _routes():
        if key == "admin":
            continue  # test_admin_needs_staff
        url = url_for(key, route, world)
        response = client.get(url)
        if not _get_ok(rule, role, response, route.startswith("api/")):
            location = response.get("Location", "")
            failures.append(f"{key} {url}: {rule.kind} rule, got {response.status_code} {location}".rstrip())
    assert not failures, f"as {role}:\n" + "\n".join(failures)


# Routes that act on the owner's *public* post: any signed-in reader may like, reply, quote,
# repost, tip or report it, so another user acting there is not a breach.
ACTS_ON_PUBLIC_POST = {
    "social:post_reply",
    "social:post_quote",
    "social:post_like",
    "social:post_unlike",
    "social:post_repost",
    "social:post_unrepost",
    "social:post_tip",
    "social:post_tip_confirm",
    "social:post_report",
    "social:post_report_done",
    "api-post-like",
    "api-post-repost",
    "api-post-tips",
    "api-post-report",
    "api-post-replies",
}


def _acts_on_owners_object(key: str, route: str) -> bool:
    """Whether the route's URL names one of the owner's private objects (by pk or message id).

    Not: public pages, public posts' interactions, missing objects, and ``<currency>`` routes
    (those name the signed-in user's own savings account, not the owner's).
    """
    rule = EXPECTED.get(key)
    if rule is None or rule.kind in (PUBLIC, ALLAUTH, MERCHANT, NOOBJ) or key in ACTS_ON_PUBLIC_POST:
        return False
    return "<int:pk>" in route or "<str:pk>" in route or "message_id>" in route


def test_anonymous_cannot_post(client, world):
    """Anonymous POST/PATCH/DELETE to every signed-in route is refused before anything happens."""
    failures = []
    for key, route, rule in _routes():
        if rule.kind in (PUBLIC, ALLAUTH, MERCHANT, STAFF) or key == "admin":
            continue
        api = route.startswith("api/")
        url = url_for(key, route, world)
        for method in ("post", "patch", "delete") if api else ("post",):
            response = getattr(client, method)(url, {}, content_type="application/json")
            if not (_anonymous_refused(response, api) or response.status_code == 405):
                failures.append(f"{method.upper()} {key} {url}: got {response.status_code}")
    assert not failures, "anonymous could act:\n" + "\n".join(failures)


def test_other_user_cannot_act_on_owners_objects(client, world):
    """Another signed-in user's POST/PATCH/DELETE on the owner's objects is refused.

    Refused: 403/404, 405 (the route takes no such method), or 400 (an API that validates the
    (empty) body before it looks the object up — nothing happens either way).
    """
    client.force_login(world.other)
    failures = []
    for key, route, _rule in _routes():
        if not _acts_on_owners_object(key, route):
            continue
        api = route.startswith("api/")
        url = url_for(key, route, world)
        for method in ("post", "patch", "delete") if api else ("post",):
            response = getattr(client, method)(url, {}, content_type="application/json")
            if response.status_code not in {400, 403, 404, 405}:
                failures.append(f"{method.upper()} {key} {url}: got {response.status_code}")
    assert not failures, "another user could act on the owner's objects:\n" + "\n".join(failures)
