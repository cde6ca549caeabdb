"""Tips on posts: the service, the tip page (confirm step, idempotent submit), the API, refusals."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import Follow
from accounts.social import block_create
from core.errors import NotFound, NotPermitted
from core.money import Money
from ledger.services import InsufficientFunds
from notifications.models import Notification
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.tests.factories import balance, fund, sender_user
from social.earnings import tip_totals_attach
from social.models import PostTip
from social.services.posts import post_path
from social.services.tips import NotACreator, post_tip_send

from .factories import make_creator, make_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(dave):
    return make_post(dave, "Drawing of the day")


def _tip(sender, post, amount="2.00", key="k1", note=""):
    return post_tip_send(sender, post=post, amount=Money.parse(amount, "USD"), note=note, idempotency_key=key)


# --- Service --------------------------------------------------------------------------------


def test_tip_moves_money_records_post_tip_and_notifies_with_a_link_to_the_post(bob, dave, post):
    tip = _tip(bob, post, "2.00", note="Love it")
    assert tip.post_id == post.pk and tip.sender_id == bob.pk
    assert (tip.amount, tip.currency) == (200, "USD")
    payment = tip.payment
    assert payment.kind == PaymentKind.TIP and payment.status == PaymentStatus.COMPLETED
    assert payment.tip_target == f"post:{post.pk}"
    assert balance(dave) == 200 and balance(bob) == 100_000 - 200
    notification = Notification.objects.get(recipient=dave, kind="tip.received")
    assert notification.data["payment_id"] == payment.pk
    assert notification.url == post_path(post.pk)
    assert "tipped you $2.00" in notification.title


def test_replaying_the_same_key_returns_the_same_tip_and_moves_nothing(bob, dave, post):
    first = _tip(bob, post, key="same")
    again = _tip(bob, post, key="same")
    assert again.pk == first.pk and again.payment_id == first.payment_id
    assert PostTip.objects.count() == 1 and Payment.objects.filter(kind=PaymentKind.TIP).count() == 1
    assert balance(dave) == 200
    assert Notification.objects.filter(recipient=dave, kind="tip.received").count() == 1


def test_a_repost_tips_the_original_post(bob, alice, dave, post):
    repost = make_post(alice, "", repost_of=post)
    tip = _tip(bob, repost)
    assert tip.post_id == post.pk and tip.payment.recipient_id == dave.pk


def test_tip_converts_to_the_creators_currency(bob, fx_rates):
    euro = sender_user("eve", country="FR", currency="EUR")
    make_creator(euro)
    tip = _tip(bob, make_post(euro), "10.00")
    assert tip.currency == "EUR" and 0 < tip.amount < 1000
    assert balance(euro, "EUR") == tip.amount


@pytest.mark.parametrize(
    "case",
    ["self", "not_creator", "creator_off", "blocked_by_author", "blocking_author", "protected", "hidden", "deleted"],
)
def test_refusals_move_nothing(case, bob, dave, post):
    sender, error = bob, NotFound
    if case == "self":
        fund(dave, "10.00")
        sender, error = dave, NotPermitted
    elif case == "not_creator":
        post = make_post(sender_user("nocreator"))
        error = NotACreator
    elif case == "creator_off":
        dave.creator.is_enabled = False
        dave.creator.save()
        error = NotACreator
    elif case == "blocked_by_author":
        block_create(dave, blocked=bob)
    elif case == "blocking_author":
        block_create(bob, blocked=dave)
    elif case == "protected":
        dave.is_protected = True
        dave.save(update_fields=["is_protected"])
    elif case == "hidden":
        post.hidden_at = timezone.now()
        post.save()
    elif case == "deleted":
        post.deleted_at = timezone.now()
        post.text = ""
        post.save()
    before = balance(sender)
    with pytest.raises(error):
        _tip(sender, post)
    assert balance(sender) == before
    assert not PostTip.objects.exists() and not Payment.objects.filter(kind=PaymentKind.TIP).exists()


def test_protected_author_can_be_tipped_by_a_follower(bob, dave, post):
    dave.is_protected = True
    dave.save(update_fields=["is_protected"])
    Follow.objects.create(follower=bob, followee=dave)
    assert _tip(bob, post).payment.status == PaymentStatus.COMPLETED


def test_insufficient_funds_moves_nothing(carol, dave, post):
    with pytest.raises(InsufficientFunds):
        _tip(carol, post, "5.00")
    assert not PostTip.objects.exists() and balance(dave) == 0 and balance(carol) == 0


# --- The tip page ---------------------------------------------------------------------------


def test_tip_page_confirm_and_idempotent_double_submit(client, bob, dave, post):
    client.force_login(bob)
    page = client.get(f"/posts/{post.pk}/tip")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Tip Dave Creator" in html and 'name="preset" value="5"' in html.replace("5.00", "5")
    key = page.context["key"]
    confirm = client.post(f"/posts/{post.pk}/tip", {"preset": "2", "note": "great", "idempotency_key": key})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "@dave" in html and "$2.00" in html and f'value="{key}"' in html
    assert not Payment.objects.exists()  # nothing moves before the confirm
    body = {"amount": "2.00", "currency": "USD", "note": "great", "idempotency_key": key}
    done = client.post(f"/posts/{post.pk}/tip/confirm", body)
    assert done.status_code == 302
    again = client.post(f"/posts/{post.pk}/tip/confirm", body)
    assert again.status_code == 302 and again["Location"] == done["Location"]
    assert Payment.objects.count() == 1 and balance(dave) == 200
    final = client.get(done["Location"])
    assert final.status_code == 200 and "You tipped Dave Creator $2.00" in final.content.decode()


def test_tip_page_shows_the_split_and_fx_on_confirm(client, bob, alice, fx_rates):
    euro = sender_user("eve", country="FR", currency="EUR")
    make_creator(euro)
    post = make_post(euro)
    from social.services.creators import post_authors_set

    post_authors_set(euro, post=post, shares=[(euro, 7500), (alice, 2500)])
    client.force_login(bob)
    html = client.post(f"/posts/{post.pk}/tip", {"amount": "10", "idempotency_key": "x1"}).content.decode()
    assert (
        "Exchange rate" in html
        and "shares it with the post's co-authors" in html
        and "@alice" in html
        and "(25%)" in html
    )


def test_tip_page_errors_are_shown_not_500(client, carol, dave, post):
    client.force_login(carol)  # verified, but an empty wallet
    response = client.post(f"/posts/{post.pk}/tip", {"amount": "5.00", "idempotency_key": "x2"})
    assert response.status_code == 422
    assert "Not enough money" in response.content.decode() or "enough" in response.content.decode()
    response = client.post(f"/posts/{post.pk}/tip", {"amount": "abc", "idempotency_key": "x3"})
    assert response.status_code == 400


def test_tip_page_refuses_own_and_non_creator_posts_and_hides_invisible_ones(client, bob, dave, post):
    client.force_login(dave)
    assert client.get(f"/posts/{post.pk}/tip").status_code == 403
    client.force_login(bob)
    other = make_post(sender_user("plain"))
    response = client.get(f"/posts/{other.pk}/tip")
    assert response.status_code == 403 and "not turned on tips" in response.content.decode()
    block_create(dave, blocked=bob)
    assert client.get(f"/posts/{post.pk}/tip").status_code == 404
    assert client.post(f"/posts/{post.pk}/tip/confirm", {"amount": "1", "idempotency_key": "z"}).status_code == 404
    assert client.get("/posts/999999/tip").status_code == 404


def test_tip_page_needs_login(client, post):
    assert client.get(f"/posts/{post.pk}/tip").status_code == 302


# --- API ------------------------------------------------------------------------------------


def test_api_tip_replay_and_key_reuse(client, bob, dave, post):
    client.force_login(bob)
    url = f"/api/v1/posts/{post.pk}/tips/"
    body = {"amount": "3.00", "note": "thanks"}
    first = client.post(url, body, content_type="application/json", headers={"Idempotency-Key": "api-1"})
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["post"] == post.pk and data["status"] == "completed" and data["amount"] == "3.00"
    assert data["received_currency"] == "USD" and data["creator"]["handle"] == "dave"
    replay = client.post(url, body, content_type="application/json", headers={"Idempotency-Key": "api-1"})
    assert replay.status_code == 201 and replay.json()["id"] == data["id"]
    other = client.post(url, {"amount": "4.00"}, content_type="application/json", headers={"Idempotency-Key": "api-1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert balance(dave) == 300 and PostTip.objects.count() == 1


def test_api_tip_errors_have_the_project_shape(client, bob, carol, dave, post):
    client.force_login(bob)
    url = f"/api/v1/posts/{post.pk}/tips/"
    missing = client.post(url, {"amount": "1.00"}, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "idempotency_key_missing"
    bad = client.post(url, {"amount": 1}, content_type="application/json", headers={"Idempotency-Key": "b1"})
    assert bad.status_code == 400 and "amount" in bad.json()["error"]["fields"]
    client.force_login(carol)
    poor = client.post(url, {"amount": "1.00"}, content_type="application/json", headers={"Idempotency-Key": "b2"})
    assert poor.status_code == 422 and poor.json()["error"]["code"] == "insufficient_funds"
    client.force_login(dave)
    own = client.post(url, {"amount": "1.00"}, content_type="application/json", headers={"Idempotency-Key": "b3"})
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_post"
    client.force_login(bob)
    block_create(dave, blocked=bob)
    hidden = client.post(url, {"amount": "1.00"}, content_type="application/json", headers={"Idempotency-Key": "b4"})
    assert hidden.status_code == 404
    assert not PostTip.objects.exists()


# --- The post card partial and tip totals ---------------------------------------------------


def _render_tip_partial(post, viewer):
    request = RequestFactory().get("/")
    request.user = viewer
    return render_to_string("social/creators/_post_tip.html", {"post": post, "viewer": viewer}, request=request)


def test_only_the_creator_sees_the_tip_total(bob, alice, dave, post, django_assert_max_num_queries):
    _tip(bob, post, "2.00", key="a")
    _tip(alice, post, "10.00", key="b")
    other = make_post(dave, "no tips here")
    foreign = make_post(alice, "alice's post")
    with django_assert_max_num_queries(2):  # tips + co-authors in one statement; creator flags
        posts = tip_totals_attach([post, other, foreign], dave)
    assert posts[0].tip_total_display == "$12.00" and posts[1].tip_totals == [] and posts[2].tip_totals is None
    assert "$12.00 in tips" in _render_tip_partial(posts[0], dave)
    seen_by_bob = tip_totals_attach([post], bob)[0]
    assert seen_by_bob.tip_totals is None
    html = _render_tip_partial(seen_by_bob, bob)
    assert "in tips" not in html and f"/posts/{post.pk}/tip" in html


def test_partial_without_attach_falls_back_and_hides_tip_for_non_creators(bob, dave, post):
    html = _render_tip_partial(post, bob)  # nothing attached: reads the creator profile
    assert "Tip" in html and f"/posts/{post.pk}/tip" in html
    plain = make_post(sender_user("plain2"))
    assert "/tip" not in _render_tip_partial(plain, bob)
    assert "in tips" not in _render_tip_partial(post, dave)


def test_tip_totals_count_only_completed_tips(bob, dave, post):
    tip = _tip(bob, post, "2.00")
    Payment.objects.filter(pk=tip.payment_id).update(status=PaymentStatus.RETURNED)
    assert tip_totals_attach([post], dave)[0].tip_totals == []
