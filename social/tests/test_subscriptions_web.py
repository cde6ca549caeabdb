"""Subscriptions from the pages and the API: the confirm step, errors shown (never a 500),
permissions (someone else's ids are 404), idempotency keys, bounded queries."""

from __future__ import annotations

import re

from django.urls import reverse

from accounts.social import block_create
from accounts.tests.factories import UserFactory
from payments.models import Payment, PaymentKind
from payments.tests.factories import balance, fund, sender_user
from social.models import Audience, Subscription, SubscriptionStatus, Tier
from social.services.subscriptions import subscription_cancel, subscription_start

from .factories import make_creator, make_paid_subscription, make_post, make_tier

S = SubscriptionStatus


def login(client, user):
    client.force_login(user)
    return client


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


# --- Subscribe page -------------------------------------------------------------------------------


def test_subscribe_page_lists_tiers_with_perks(client, alice, dave, tier):
    login(client, alice)
    response = client.get(reverse("social:subscribe", args=["dave"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Supporter" in html and "Early posts" in html and "$5.00" in html


def test_subscribe_confirm_step_then_submit_charges_once(client, alice, dave, tier):
    login(client, alice)
    url = reverse("social:subscribe", args=["dave"])
    confirm = client.post(url, {"tier": tier.pk})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert 'data-testid="subscribe-confirm"' in html
    for text in ("Dave Creator", "@dave", "Supporter", "$5.00", "Next renewal", "Cancel any time"):
        assert text in html
    assert not Payment.objects.exists()  # nothing moves before the confirm
    key = _key(html)
    submit_url = reverse("social:subscribe_confirm", args=["dave"])
    first = client.post(submit_url, {"tier": tier.pk, "idempotency_key": key})
    assert first.status_code == 302 and first.url == reverse("social:subscriptions")
    second = client.post(submit_url, {"tier": tier.pk, "idempotency_key": key})  # a double click
    assert second.status_code == 302
    assert Payment.objects.filter(kind=PaymentKind.SUBSCRIPTION).count() == 1
    assert balance(dave) == 500
    page = client.get(reverse("social:subscriptions"))
    text = page.content.decode()
    assert "subscribed to @dave" in text  # the success message
    assert "Renews on" in text


def test_confirm_shows_fx_when_currencies_differ(client, alice, fx_rates):
    eve = sender_user("eve", currency="EUR")
    make_creator(eve)
    eur = make_tier(eve, name="Euro club", price=500, currency="USD")
    login(client, alice)
    html = client.post(reverse("social:subscribe", args=["eve"]), {"tier": eur.pk}).content.decode()
    assert 'data-testid="confirm-rate"' in html
    assert "€" in html


def test_subscribe_errors_are_shown_not_500(client, carol, dave, tier):
    login(client, carol)  # no money
    url = reverse("social:subscribe", args=["dave"])
    response = client.post(url, {"tier": tier.pk})
    assert response.status_code == 422
    assert "Add money" in response.content.decode()
    assert client.post(url, {"tier": "nope"}).status_code == 404
    assert client.post(url, {"tier": 99999999999999999999}).status_code == 404
    other = make_tier(UserFactory(), name="Other", price=100)
    assert client.post(url, {"tier": other.pk}).status_code == 404  # not dave's tier
    submit = reverse("social:subscribe_confirm", args=["dave"])
    response = client.post(submit, {"tier": tier.pk, "idempotency_key": "k1"})
    assert response.status_code == 422
    assert not Subscription.objects.exists()
    assert client.get(reverse("social:subscribe", args=["nobody_here"])).status_code == 404


def test_blocked_fan_sees_the_refusal(client, alice, dave, tier):
    block_create(dave, blocked=alice)
    login(client, alice)
    response = client.post(reverse("social:subscribe", args=["dave"]), {"tier": tier.pk})
    assert response.status_code == 403
    assert "subscribe to @dave" in response.content.decode()


def test_own_subscribe_page_and_anonymous(client, dave, tier):
    assert client.get(reverse("social:subscribe", args=["dave"])).status_code == 302  # login first
    login(client, dave)
    response = client.get(reverse("social:subscribe", args=["dave"]))
    assert response.status_code == 200
    assert "Manage your tiers" in response.content.decode()
    assert client.post(reverse("social:subscribe", args=["dave"]), {"tier": tier.pk}).status_code == 400


# --- My subscriptions, cancel, resume --------------------------------------------------------------


def test_subscriptions_page_cancel_with_confirm_and_resume(client, alice, dave, tier):
    sub = subscription_start(alice, tier=tier, idempotency_key="k")
    login(client, alice)
    cancel_url = reverse("social:subscription_cancel", args=[sub.pk])
    page = client.get(cancel_url)
    assert page.status_code == 200 and "You keep access" in page.content.decode()
    response = client.post(cancel_url)
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.status == S.CANCELLED
    html = client.get(reverse("social:subscriptions")).content.decode()
    assert "ends on" in html and 'data-testid="resume"' in html
    client.post(reverse("social:subscription_resume", args=[sub.pk]))
    sub.refresh_from_db()
    assert sub.status == S.ACTIVE


def test_someone_elses_subscription_pages_are_404(client, alice, bob, dave, tier):
    sub = subscription_start(alice, tier=tier, idempotency_key="k")
    login(client, bob)
    assert client.get(reverse("social:subscription_cancel", args=[sub.pk])).status_code == 404
    assert client.post(reverse("social:subscription_cancel", args=[sub.pk])).status_code == 404
    assert client.post(reverse("social:subscription_resume", args=[sub.pk])).status_code == 404
    sub.refresh_from_db()
    assert sub.status == S.ACTIVE


def test_subscriptions_page_empty_state_and_bounded_queries(client, alice, django_assert_max_num_queries):
    login(client, alice)
    assert 'data-testid="subscriptions-empty"' in client.get(reverse("social:subscriptions")).content.decode()
    for i in range(6):
        creator = UserFactory()
        make_creator(creator)
        make_paid_subscription(alice, make_tier(creator, name=f"T{i}"))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("social:subscriptions"))
    assert response.content.decode().count('data-testid="cancel-link"') == 6


# --- Tiers page -----------------------------------------------------------------------------------


def test_tiers_page_create_edit_archive(client, dave):
    login(client, dave)
    url = reverse("social:tiers")
    assert 'data-testid="tiers-empty"' in client.get(url).content.decode()
    response = client.post(url, {"name": "Gold", "price": "9.50", "currency": "USD", "perks": "All posts"})
    assert response.status_code == 302
    tier = Tier.objects.get(creator=dave)
    assert (tier.price, tier.currency) == (950, "USD")
    dup = client.post(url, {"name": "gold", "price": "1", "currency": "USD"})
    assert dup.status_code == 400 and "already have a tier" in dup.content.decode()
    bad = client.post(url, {"name": "Cheap", "price": "-1", "currency": "USD"})
    assert bad.status_code == 400
    huge = client.post(url, {"name": "Huge", "price": "5000", "currency": "USD"})
    assert huge.status_code == 400 and "at most" in huge.content.decode()
    edit = reverse("social:tier_edit", args=[tier.pk])
    assert "cannot change" in client.get(edit).content.decode()
    assert client.post(edit, {"name": "Golden", "perks": "More"}).status_code == 302
    tier.refresh_from_db()
    assert (tier.name, tier.perks, tier.price) == ("Golden", "More", 950)
    assert client.post(reverse("social:tier_archive", args=[tier.pk])).status_code == 302
    tier.refresh_from_db()
    assert not tier.is_active
    assert "Archived" in client.get(url).content.decode()


def test_tiers_page_needs_creator_mode_and_own_tiers(client, alice, dave, tier):
    login(client, alice)
    response = client.get(reverse("social:tiers"))
    assert 'data-testid="creator-mode-off"' in response.content.decode()
    refused = client.post(reverse("social:tiers"), {"name": "X", "price": "1", "currency": "USD"})
    assert refused.status_code == 403
    assert client.get(reverse("social:tier_edit", args=[tier.pk])).status_code == 404
    assert client.post(reverse("social:tier_archive", args=[tier.pk])).status_code == 404
    tier.refresh_from_db()
    assert tier.is_active


# --- Partials -------------------------------------------------------------------------------------


def test_locked_post_partial_and_profile_tiers(client, alice, bob, dave, tier):
    from django.template.loader import render_to_string

    post = make_post(dave, text="secret words", audience=Audience.SUBSCRIBERS, teaser="A taste")
    html = render_to_string("social/subscriptions/_post_locked.html", {"post": post, "user": bob})
    assert "A taste" in html and "/@dave/subscribe" in html and "secret words" not in html
    post.teaser = ""
    html = render_to_string("social/subscriptions/_post_locked.html", {"post": post, "user": bob})
    assert "for @dave's subscribers" in html

    html = render_to_string("social/subscriptions/_profile_tiers.html", {"person": dave, "user": bob, "profile": None})
    assert "Supporter" in html and "/@dave/subscribe" in html
    subscription_start(alice, tier=tier, idempotency_key="k")
    html = render_to_string(
        "social/subscriptions/_profile_tiers.html", {"person": dave, "user": alice, "profile": None}
    )
    assert "Subscribed — renews" in html
    subscription_cancel(alice, subscription=Subscription.objects.get(fan=alice))
    html = render_to_string(
        "social/subscriptions/_profile_tiers.html", {"person": dave, "user": alice, "profile": None}
    )
    assert "Subscribed — until" in html


def test_profile_tiers_partial_is_two_queries(alice, dave, tier, django_assert_num_queries):
    from django.template.loader import render_to_string

    for i in range(5):
        make_tier(dave, name=f"Extra {i}", price=100 + i)
    with django_assert_num_queries(2):
        render_to_string("social/subscriptions/_profile_tiers.html", {"person": dave, "user": alice, "profile": None})


# --- API ------------------------------------------------------------------------------------------


def test_api_public_tiers(client, dave, tier):
    make_tier(dave, name="Old", price=100, is_active=False)
    response = client.get("/api/v1/users/dave/tiers/")
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["Supporter"]
    assert response.json()["results"][0]["price"] == "5.00"
    assert client.get("/api/v1/users/nobody_at_all/tiers/").status_code == 404


def test_api_creator_tiers_crud(client, dave):
    login(client, dave)
    created = client.post(
        "/api/v1/creator/tiers/",
        {"name": "Gold", "price": "12.00", "currency": "USD", "perks": "x"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    for body in ({"name": "Bad", "price": 12}, {"name": "", "price": "1"}, {"price": "1"}, [1, 2]):
        response = client.post("/api/v1/creator/tiers/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert "error" in response.json()
    patched = client.patch(f"/api/v1/creator/tiers/{pk}/", {"perks": "More"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["perks"] == "More"
    assert (
        client.patch(f"/api/v1/creator/tiers/{pk}/", {"price": "1.00"}, content_type="application/json").status_code
        == 400
    )
    archived = client.post(f"/api/v1/creator/tiers/{pk}/archive/")
    assert archived.status_code == 200 and archived.json()["is_active"] is False
    listing = client.get("/api/v1/creator/tiers/").json()["results"]
    assert listing[0]["subscribers"] == 0


def test_api_someone_elses_tier_is_404(client, alice, tier):
    login(client, alice)
    assert (
        client.patch(f"/api/v1/creator/tiers/{tier.pk}/", {"name": "X"}, content_type="application/json").status_code
        == 404
    )
    assert client.post(f"/api/v1/creator/tiers/{tier.pk}/archive/").status_code == 404


def test_api_subscribe_needs_auth_and_key(client, alice, dave, tier):
    assert client.post("/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json").status_code in (
        401,
        403,
    )
    assert client.get("/api/v1/subscriptions/").status_code in (401, 403)
    login(client, alice)
    missing = client.post("/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_missing"
    for body in ({"tier": "1"}, {"tier": True}, {}, {"tier": -3}):
        response = client.post(
            "/api/v1/subscriptions/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"b{body}"
        )
        assert response.status_code == 400, body
    assert not Payment.objects.exists()


def test_api_subscribe_list_cancel(client, alice, bob, dave, tier):
    login(client, alice)
    first = client.post(
        "/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    assert first.status_code == 201, first.content
    again = client.post(
        "/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Payment.objects.filter(kind=PaymentKind.SUBSCRIPTION).count() == 1
    other = client.post(
        "/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="xyz"
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_subscribed"
    body = first.json()
    assert body["status"] == "active" and body["has_access"] is True and body["tier"]["name"] == "Supporter"
    mine = client.get("/api/v1/subscriptions/").json()["results"]
    assert [s["id"] for s in mine] == [body["id"]]
    assert client.post("/api/v1/subscriptions/999999/cancel/").status_code == 404
    login(client, bob)
    assert client.post(f"/api/v1/subscriptions/{body['id']}/cancel/").status_code == 404
    assert client.get("/api/v1/subscriptions/").json()["results"] == []
    login(client, alice)
    cancelled = client.post(f"/api/v1/subscriptions/{body['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["next_renewal"] is None
    login(client, dave)
    subs = client.get("/api/v1/creator/subscribers/").json()["results"]
    assert [s["fan"]["handle"] for s in subs] == ["alice"]


def test_api_subscribe_refusals(client, carol, dave, tier):
    login(client, carol)
    poor = client.post(
        "/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert poor.status_code == 422 and poor.json()["error"]["code"] == "insufficient_funds"
    unknown = client.post(
        "/api/v1/subscriptions/", {"tier": 987654}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="u"
    )
    assert unknown.status_code == 404
    fund(carol, 1000)
    login(client, dave)
    own = client.post(
        "/api/v1/subscriptions/", {"tier": tier.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="o"
    )
    assert own.status_code == 400
    assert not Subscription.objects.exists()


def test_api_lists_are_bounded(client, alice, dave, django_assert_max_num_queries):
    for i in range(5):
        creator = UserFactory()
        make_creator(creator)
        make_paid_subscription(alice, make_tier(creator, name=f"T{i}"))
        fan = UserFactory()
        make_paid_subscription(fan, make_tier(dave, name=f"D{i}") if i == 0 else Tier.objects.get(creator=dave))
    login(client, alice)
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/subscriptions/").json()["results"]) == 5
    login(client, dave)
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/creator/subscribers/").json()["results"]) == 5
