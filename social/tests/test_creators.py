"""Creator mode (service, page, API) and the creator dashboard (numbers, chart, query counts, API)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import ValidationFailed
from core.money import Money
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services.send import payment_send
from payments.tests.factories import sender_user
from social.earnings import earnings_for
from social.models import CreatorProfile
from social.services.creators import creator_mode_set, is_creator, post_authors_set
from social.services.tips import post_tip_send

from .factories import make_post

pytestmark = pytest.mark.django_db


# --- Creator mode ---------------------------------------------------------------------------


def test_creator_mode_on_off_and_tagline(carol):
    assert not is_creator(carol)
    profile = creator_mode_set(carol, enabled=True, tagline="  Weekly   comics ")
    assert profile.is_enabled and profile.tagline == "Weekly comics" and is_creator(carol)
    creator_mode_set(carol, enabled=False, tagline=None)
    profile.refresh_from_db()
    assert not profile.is_enabled and profile.tagline == "Weekly comics"
    assert CreatorProfile.objects.filter(user=carol).count() == 1
    with pytest.raises(ValidationFailed):
        creator_mode_set(carol, enabled=True, tagline="x" * 121)
    with pytest.raises(ValidationFailed):
        creator_mode_set(carol, enabled="yes")


def test_creator_mode_needs_no_kyc():
    from accounts.tests.factories import UserFactory

    newcomer = UserFactory()
    assert creator_mode_set(newcomer, enabled=True).is_enabled


def test_creator_settings_page(client, carol):
    client.force_login(carol)
    page = client.get("/creator/settings")
    assert page.status_code == 200 and "Open savings" in page.content.decode()  # the sweep needs savings first
    response = client.post("/creator/settings", {"enabled": "on", "tagline": "Hi"})
    assert response.status_code == 302 and is_creator(carol)
    client.post("/creator/settings", {"tagline": "Hi"})
    assert not is_creator(carol)
    assert client.post("/creator/settings", {"enabled": "on", "tagline": "x" * 200}).status_code == 400


def test_creator_api(client, carol):
    client.force_login(carol)
    assert client.get("/api/v1/creator/").json()["enabled"] is False
    response = client.patch("/api/v1/creator/", {"enabled": True, "tagline": "Comics"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["enabled"] is True
    assert response.json()["savings_sweep_available"] is False
    only_tagline = client.patch("/api/v1/creator/", {"tagline": "More"}, content_type="application/json")
    assert only_tagline.json() == {**response.json(), "tagline": "More"}
    bad = client.patch("/api/v1/creator/", {"enabled": "yes"}, content_type="application/json")
    assert bad.status_code == 400 and "enabled" in bad.json()["error"]["fields"]
    client.logout()
    assert client.get("/api/v1/creator/").status_code in (401, 403)


def test_profile_partial_shows_tip_button_for_creators(dave, bob):
    from django.template.loader import render_to_string

    html = render_to_string("social/creators/_profile_tip.html", {"person": dave, "viewer": bob, "user": bob})
    assert "/@dave/tip" in html
    assert "/@dave/tip" not in render_to_string(
        "social/creators/_profile_tip.html", {"person": dave, "viewer": dave, "user": dave}
    )
    assert (
        render_to_string("social/creators/_profile_tip.html", {"person": bob, "viewer": dave, "user": dave}).strip()
        == ""
    )


# --- Dashboard ------------------------------------------------------------------------------


def _earn(dave, alice, bob, carol):
    """Dave: two post tips from bob (one split with carol), one from alice, one subscription
    charge; carol also gets a tip share from dave's split. Returns the split post."""
    post = make_post(dave, "split post")
    post_authors_set(dave, post=post, shares=[(dave, 8000), (carol, 2000)])
    post_tip_send(bob, post=post, amount=Money(1000, "USD"), idempotency_key="t1")  # dave nets 8.00, carol 2.00
    post_tip_send(bob, post=make_post(dave), amount=Money(500, "USD"), idempotency_key="t2")
    post_tip_send(alice, post=make_post(dave), amount=Money(300, "USD"), idempotency_key="t3")
    payment_send(alice, to=dave, amount=Money(700, "USD"), kind=PaymentKind.SUBSCRIPTION, safety_delay=False)
    return post


def test_dashboard_numbers(dave, alice, bob, carol, django_assert_max_num_queries):
    _earn(dave, alice, bob, carol)
    with django_assert_max_num_queries(12):
        earnings = earnings_for(dave, days=30)
    today = earnings.bars[-1]
    assert today.parts == {"tips": 800 + 500 + 300, "subscriptions": 700, "shares": 0, "sales": 0}
    assert earnings.window_totals["tips"] == 1600 and earnings.window_total == 2300
    assert earnings.totals == [
        {"currency": "USD", "month": 2300, "all_time": 2300, "month_display": "$23.00", "all_time_display": "$23.00"}
    ]
    assert [(row["user"].handle, row["total_display"]) for row in earnings.supporters] == [
        ("bob", "$15.00"),
        ("alice", "$10.00"),
    ]
    assert len(earnings.recent_tips) == 3 and earnings.recent_tips[0].sender_id == alice.pk
    assert [a.currency for a in earnings.balances] == ["USD"] and earnings.balances[0].available == 2300
    assert len(earnings.bars) == 30 and earnings.chart["bars"][-1]["segments"]
    carol_view = earnings_for(carol)
    assert carol_view.bars[-1].parts["shares"] == 200 and carol_view.window_total == 200


def test_dashboard_leaves_out_returned_tips(dave, alice, bob, carol):
    from payments.services.send import payment_return

    tip = post_tip_send(bob, post=make_post(dave), amount=Money(500, "USD"), idempotency_key="r1")
    payment_return(dave, payment=tip.payment)
    earnings = earnings_for(dave)
    assert earnings.window_total == 0 and earnings.totals == [] and earnings.supporters == []


def test_dashboard_days_and_old_earnings(dave, bob):
    tip = post_tip_send(bob, post=make_post(dave), amount=Money(500, "USD"), idempotency_key="o1")
    Payment.objects.filter(pk=tip.payment_id).update(completed_at=timezone.now() - timedelta(days=40))
    earnings = earnings_for(dave, days=30)
    assert earnings.window_total == 0 and earnings.totals[0]["all_time"] == 500
    assert earnings_for(dave, days=90).window_total == 500


def test_dashboard_page(client, dave, alice, bob, carol, django_assert_max_num_queries):
    _earn(dave, alice, bob, carol)
    client.force_login(dave)
    with django_assert_max_num_queries(25):
        page = client.get("/creator/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and '<title id="chart-title">' in html and "<desc" in html
    assert "Show as a table" in html and "$23.00" in html and "@bob" in html
    assert "/wallet/cash-out/" in html and "Savings sweep" in html and "Open savings" in html
    assert "Sales (coming with the shop)" in html
    assert client.get("/creator/?days=7").status_code == 200
    assert client.get("/creator/?days=nonsense").status_code == 200


def test_dashboard_empty_state_for_non_creators(client, carol):
    client.force_login(carol)
    html = client.get("/creator/").content.decode()
    assert "Creator mode is off" in html and "No earnings yet" in html


def test_dashboard_queries_do_not_grow_with_data(dave, alice, bob, carol, django_assert_max_num_queries):
    for index in range(8):
        fan = sender_user(f"fan{index}")
        from payments.tests.factories import fund

        fund(fan, "10.00")
        post_tip_send(fan, post=make_post(dave), amount=Money(100 + index, "USD"), idempotency_key=f"f{index}")
    with django_assert_max_num_queries(12):
        earnings = earnings_for(dave, days=90)
    assert len(earnings.supporters) == 5 and earnings.window_total == sum(100 + i for i in range(8))


def test_earnings_api(client, dave, alice, bob, carol):
    _earn(dave, alice, bob, carol)
    client.force_login(dave)
    data = client.get("/api/v1/creator/earnings/?days=7").json()
    assert data["days"] == 7 and len(data["per_day"]) == 7
    assert data["per_day"][-1]["tips"] == "16.00" and data["per_day"][-1]["subscriptions"] == "7.00"
    assert data["totals"] == [{"currency": "USD", "this_month": "23.00", "all_time": "23.00"}]
    assert data["top_supporters"][0]["handle"] == "bob"
    for bad in ("0", "400", "abc", "-1", "٣"):
        response = client.get(f"/api/v1/creator/earnings/?days={bad}")
        assert response.status_code == 400, bad
    # Another user's numbers are never reachable: the endpoint is always "mine".
    client.force_login(bob)
    assert client.get("/api/v1/creator/earnings/").json()["totals"] == []


def test_subscription_payments_count_only_when_completed(dave, alice):
    payment = payment_send(alice, to=dave, amount=Money(700, "USD"), kind=PaymentKind.SUBSCRIPTION, safety_delay=False)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REJECTED)
    assert earnings_for(dave).window_total == 0
