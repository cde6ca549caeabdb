"""Every page of ours renders for anonymous and signed-in people, inside the one layout."""

import pytest

from accounts.tests.factories import UserFactory

ANONYMOUS_PAGES = [
    "/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/not-a-real-key/",
]
SIGNED_IN_PAGES = [
    "/",
    "/settings/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/logout/",
    "/accounts/reauthenticate/",
    "/accounts/2fa/",
    "/notifications/",
]


def _assert_layout(html: str, *, signed_in: bool):
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    assert '<div id="toasts" aria-live="polite"></div>' in html
    assert "<body data-user-id=" in html
    if signed_in:
        assert 'id="nav-notification-badge"' in html
        assert "/static/js/live.js" in html
        assert 'action="/accounts/logout/"' in html
    else:
        assert "/static/js/live.js" not in html
        assert 'href="/accounts/login/"' in html and 'href="/accounts/signup/"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_anonymous_pages_render(client, url):
    response = client.get(url)
    assert response.status_code == 200
    _assert_layout(response.content.decode(), signed_in=False)


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_signed_in_pages_render(signed_in, url):
    response = signed_in.get(url)
    assert response.status_code == 200
    _assert_layout(response.content.decode(), signed_in=True)


@pytest.mark.parametrize("url", ["/settings/", "/accounts/2fa/", "/accounts/email/", "/notifications/"])
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_landing_page_explains_the_product(client, db):
    html = client.get("/").content.decode()
    for word in ("Post", "Message", "Pay", "Save", "Borrow", "Shop"):
        assert f"<h3>{word}</h3>" in html
    assert "Create your account" in html


def test_body_carries_the_user_and_nav_badge(signed_in, verified_user):
    html = signed_in.get("/").content.decode()
    assert f'<body data-user-id="{verified_user.pk}" data-last-notification-id="0"' in html
    assert 'data-unread="0" hidden>' in html


def test_staff_see_the_admin_link(client, db):
    staff = UserFactory(is_staff=True, verified=True)
    client.force_login(staff)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_non_staff_do_not_see_the_admin_link(signed_in):
    assert 'href="/admin/"' not in signed_in.get("/").content.decode()


def test_messages_are_dismissable_alerts(signed_in):
    response = signed_in.post("/accounts/logout/", follow=True)
    html = response.content.decode()
    assert 'class="alert alert-success"' in html
    assert 'class="alert-close"' in html


# The home page: session, user, wallet, notifications, unread counts (6), plus the home timeline
# (follows, one page of posts, the creator flags of its authors: 3) — a fixed number whatever the data.
HOME_QUERIES = 9


def test_home_with_empty_wallet(signed_in, django_assert_max_num_queries):
    with django_assert_max_num_queries(HOME_QUERIES):
        html = signed_in.get("/").content.decode()
    assert "Hi, Alice Liddell" in html
    assert "No money yet — your wallet appears here once funded." in html


def test_home_shows_balances_and_latest_notifications(signed_in, verified_user, django_assert_max_num_queries):
    from ledger import services as ledger
    from ledger.models import AccountKind
    from notifications.models import Notification

    wallet = ledger.account_open(owner=verified_user, kind=AccountKind.WALLET, currency="USD")
    ledger.transfer_post(
        initiator=None,
        debit=ledger.system_account(AccountKind.FUNDING, "USD"),
        credit=wallet,
        amount=123456,
        currency="USD",
        kind="deposit",
    )
    for i in range(7):
        Notification.objects.create(recipient=verified_user, kind="welcome", data={"title": f"Note {i}"})

    with django_assert_max_num_queries(HOME_QUERIES):
        html = signed_in.get("/").content.decode()
    assert "$1,234.56" in html
    assert "No money yet" not in html
    assert all(f"Note {i}" in html for i in range(2, 7))
    assert "Note 1<" not in html and "Note 0<" not in html  # only the five latest
    assert 'href="/notifications/"' in html


def test_settings_page_query_count(signed_in, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert signed_in.get("/settings/").status_code == 200


def test_money_filter():
    from core.templatetags.money import money, money_signed

    assert money(123456, "USD") == "$1,234.56"
    assert money(500, "JPY") == "¥500"
    assert money(-300, "EUR") == "-€3.00"
    assert money_signed(250, "GBP") == "+£2.50"
    assert money(None, "USD") == "" and money(1.5, "USD") == "" and money(1, "???") == ""


def test_avatar_tag(db):
    from django.template import Context, Template

    user = UserFactory(display_name="Zed Zebra")
    html = Template("{% load avatars %}{% avatar user 48 %}").render(Context({"user": user}))
    assert "ZZ" in html and "--avatar-size:48px" in html and user.avatar_colour in html
