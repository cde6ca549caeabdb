"""The wallet page (balances, activity feed, filters, search, pages, live fragment), a payment's
detail page, the wallet settings and the people autocomplete."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from compliance.services import freeze_account
from compliance.tests.factories import staff_user
from core.money import Money
from core.testing import session_queries
from payments.models import (
    CashOut,
    CashOutSpeed,
    FundingCard,
    MovementStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    SafetyDelay,
    TopUp,
    WalletSettings,
)
from payments.selectors import FEED_PAGE_SIZE, activity_feed, decode_cursor
from payments.services.send import payment_send, wallet_settings_update

from .factories import fund, sender_user

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"


def pay(sender, to, amount="5.00", currency="USD", note="", **kwargs) -> Payment:
    return payment_send(sender, to=to, amount=Money.parse(amount, currency), note=note, **kwargs)


def card(user, last4="4242", brand="Visa") -> FundingCard:
    linked, _ = FundingCard.objects.get_or_create(
        user=user,
        fingerprint=f"fp-{user.pk}-{last4}",
        removed_at=None,
        defaults={"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2031, "number_encrypted": "not-a-token"},
    )
    return linked


def top_up(user, amount=2500, status=MovementStatus.COMPLETED, **kwargs) -> TopUp:
    return TopUp.objects.create(
        user=user, card=kwargs.pop("card", None) or card(user), amount=amount, currency="USD", status=status
    )


def cash_out(user, amount=1000, fee=0, status=MovementStatus.PENDING, **kwargs) -> CashOut:
    return CashOut.objects.create(
        user=user,
        card=kwargs.pop("card", None) or card(user, last4="1881", brand="Mastercard"),
        amount=amount,
        fee=fee,
        currency="USD",
        speed=CashOutSpeed.STANDARD,
        status=status,
    )


def text_of(response) -> str:
    """The page as text, tags stripped and spaces collapsed (for readable assertions)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").replace("&amp;", "&")


def feed_ids(response) -> list[str]:
    return re.findall(r'data-source="(\w+)" data-id="(\d+)"', response.content.decode())


# --- The wallet page --------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    response = client.get(WALLET)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_empty_wallet_says_what_to_do(client, carol):
    client.force_login(carol)
    response = client.get(WALLET)
    assert response.status_code == 200
    text = text_of(response)
    assert "No activity yet — add money or send someone a payment." in text
    assert 'data-currency="USD"' in response.content.decode()
    assert "$0.00" in text
    assert 'href="/wallet/send/"' in response.content.decode()
    assert 'href="/wallet/requests/new/"' in response.content.decode()


def test_balances_per_currency_available_and_pending(client, alice, bob):
    fund(alice, "20.00", "EUR")
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    pay(alice, "@bob", "30.00")  # first payment to bob: held for an hour
    client.force_login(alice)
    html = client.get(WALLET).content.decode()
    usd = html[html.index('data-currency="USD"') :]
    usd = usd[: usd.index("</li>")]
    assert "$970.00" in usd  # available
    assert "$1,000.00 balance" in usd
    assert "$30.00 on its way out" in usd
    assert 'data-currency="EUR"' in html and "€20.00" in html
    # Home currency comes first.
    assert html.index('data-currency="USD"') < html.index('data-currency="EUR"')

    client.force_login(bob)
    html = client.get(WALLET).content.decode()
    bob_usd = html[html.index('data-currency="USD"') :]
    assert "+$30.00 arriving" in bob_usd[: bob_usd.index("</li>")]


def test_feed_shows_both_sides_with_signed_amounts_notes_and_badges(client, alice, bob):
    p = pay(alice, "@bob", "5.00", note="pizza 🍕")
    client.force_login(alice)
    text = text_of(client.get(WALLET))
    assert "To Bob Builder @bob" in text and "pizza 🍕" in text and "-$5.00" in text
    assert "Payment" in text

    client.force_login(bob)
    response = client.get(WALLET)
    text = text_of(response)
    assert "From Alice Liddell @alice" in text and "+$5.00" in text
    assert f'href="/wallet/payments/{p.pk}/"' in response.content.decode()


def test_feed_merges_top_ups_and_cash_outs_newest_first(client, alice, bob):
    t = top_up(alice, amount=2500)
    c = cash_out(alice, amount=1000, fee=0)
    p = pay(alice, "@bob", "1.00")
    now = timezone.now()
    TopUp.objects.filter(pk=t.pk).update(created_at=now - timedelta(minutes=3))
    CashOut.objects.filter(pk=c.pk).update(created_at=now - timedelta(minutes=2))
    Payment.objects.filter(pk=p.pk).update(created_at=now - timedelta(minutes=1))
    client.force_login(alice)
    response = client.get(WALLET)
    assert feed_ids(response) == [("payment", str(p.pk)), ("cashout", str(c.pk)), ("topup", str(t.pk))]
    text = text_of(response)
    assert "Added money Visa •••• 4242" in text and "+$25.00" in text
    assert "Cash out Mastercard •••• 1881" in text and "-$10.00" in text
    assert "Pending" in text and "Standard · 1–3 business days" in text  # the standard cash-out


def test_an_instant_cash_out_shows_what_left_the_wallet_with_its_fee(client, alice):
    c = cash_out(alice, amount=10000, fee=150, status=MovementStatus.COMPLETED)
    CashOut.objects.filter(pk=c.pk).update(speed=CashOutSpeed.INSTANT)
    client.force_login(alice)
    text = text_of(client.get(WALLET))
    assert "-$101.50" in text and "Instant · $1.50 fee" in text


def test_status_badges_arriving_returned_in_review_and_kinds(client, alice, bob, carol):
    from payments.services.send import payment_return

    returned = pay(alice, "@bob", "2.00")
    payment_return(bob, payment=returned)
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.TEN_MINUTES)
    arriving = pay(alice, "@carol", "3.00")
    tip = pay(bob, "@alice", "1.00", kind=PaymentKind.TIP)
    client.force_login(alice)
    html = client.get(WALLET).content.decode()

    def row(p):
        start = html.rindex("<li", 0, html.index(f'data-source="payment" data-id="{p.pk}"'))
        return html[start : html.index("</li>", start)]

    assert "Returned" in row(returned) and "is-void" in row(returned)
    assert "Arriving" in row(arriving)
    assert "Tip" in row(tip) and "+$1.00" in row(tip)


def test_in_review_payment_is_hidden_from_its_recipient(client, alice, bob, monkeypatch):
    from compliance import services as compliance

    monkeypatch.setattr(compliance, "risk_assess", lambda *a, **k: "large_amount")
    held = pay(alice, "@bob", "4.00", note="held one")
    assert held.status == PaymentStatus.IN_REVIEW
    client.force_login(alice)
    html = client.get(WALLET).content.decode()
    assert "held one" in html and "In review" in html
    client.force_login(bob)
    assert "held one" not in client.get(WALLET).content.decode()
    assert client.get(f"/wallet/payments/{held.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("feed_filter", "expected"),
    [
        ("all", {"sent", "received", "tip", "request", "topup", "cashout"}),
        ("sent", {"sent", "tip"}),
        ("received", {"received", "request"}),
        ("tips", {"tip"}),
        ("requests", {"request"}),
        ("added", {"topup"}),
        ("cashed_out", {"cashout"}),
        ("nonsense", {"sent", "received", "tip", "request", "topup", "cashout"}),
    ],
)
def test_filters(client, alice, bob, feed_filter, expected):
    rows = {
        "sent": pay(alice, "@bob", "1.00"),
        "received": pay(bob, "@alice", "2.00"),
        "tip": pay(alice, "@bob", "3.00", kind=PaymentKind.TIP),
        "request": pay(bob, "@alice", "4.00", kind=PaymentKind.REQUEST),
        "topup": top_up(alice),
        "cashout": cash_out(alice),
    }
    names = {("payment" if isinstance(v, Payment) else k, str(v.pk)): k for k, v in rows.items()}
    client.force_login(alice)
    response = client.get(WALLET, {"filter": feed_filter})
    assert response.status_code == 200
    assert {names[key] for key in feed_ids(response)} == expected


def test_empty_filter_says_nothing_matches(client, alice):
    client.force_login(alice)
    text = text_of(client.get(WALLET, {"filter": "tips"}))
    assert "Nothing matches" in text and "Show all activity" in text


def test_search_by_handle_name_and_note(client, alice, bob, carol):
    fund(carol, "50.00")
    to_bob = pay(alice, "@bob", "1.00", note="rent share")
    from_carol = pay(carol, "@alice", "2.00", note="concert tickets")
    c = card(alice, last4="5556")
    top = top_up(alice, card=c)
    client.force_login(alice)

    def found(q):
        return {int(i) for _, i in feed_ids(client.get(WALLET, {"q": q}))}

    assert found("@bob") == {to_bob.pk}
    assert found("builder") == {to_bob.pk}  # display name, any case
    assert found("Danvers") == {from_carol.pk}
    assert found("concert") == {from_carol.pk}
    assert found("RENT") == {to_bob.pk}
    assert found("5556") == {top.pk}
    assert found("nobody-like-this") == set()
    # Searching "alice" must not match every row just because alice is a party.
    assert found("alice") == set()
    # Search and filter combine.
    assert found("concert") == {int(i) for _, i in feed_ids(client.get(WALLET, {"q": "concert", "filter": "received"}))}
    assert feed_ids(client.get(WALLET, {"q": "concert", "filter": "sent"})) == []


def test_search_text_is_escaped(client, alice):
    client.force_login(alice)
    html = client.get(WALLET, {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def make_history(alice, bob, count: int):
    """``count`` payments between alice and bob, one second apart, newest last."""
    made = []
    start = timezone.now() - timedelta(hours=1)
    for i in range(count):
        sender, to = (alice, "@bob") if i % 2 == 0 else (bob, "@alice")
        p = pay(sender, to, "1.00", note=f"n{i}")
        Payment.objects.filter(pk=p.pk).update(created_at=start + timedelta(seconds=i))
        made.append(p)
    return made


def test_pages_walk_the_whole_feed_without_gaps_or_repeats(client, alice, bob):
    made = make_history(alice, bob, FEED_PAGE_SIZE + 7)
    t = top_up(alice)
    TopUp.objects.filter(pk=t.pk).update(created_at=Payment.objects.get(pk=made[10].pk).created_at)  # a tie
    client.force_login(alice)
    seen = []
    url, params = WALLET, {}
    for _ in range(5):
        response = client.get(url, params)
        seen += feed_ids(response)
        match = re.search(r'href="\?filter=all&amp;cursor=([^"]+)" rel="next"', response.content.decode())
        if not match:
            break
        params = {"filter": "all", "cursor": match.group(1)}
    assert len(seen) == len(made) + 1 == len(set(seen))
    assert seen[0] == ("payment", str(made[-1].pk))
    assert seen[-1] == ("payment", str(made[0].pk))
    assert "Newest" in text_of(response)


def test_first_page_has_the_page_size_and_an_older_link(client, alice, bob):
    make_history(alice, bob, FEED_PAGE_SIZE + 1)
    client.force_login(alice)
    response = client.get(WALLET)
    assert len(feed_ids(response)) == FEED_PAGE_SIZE
    assert 'data-testid="older"' in response.content.decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b'["not a date", 3, 1]').decode(),
        base64.urlsafe_b64encode(b'["2024-01-01T00:00:00+00:00", 9, 1]').decode(),
        base64.urlsafe_b64encode(b'["2024-01-01T00:00:00+00:00", 3, 99999999999999999999999]').decode(),
        base64.urlsafe_b64encode(b'["2024-01-01T00:00:00", 3, 1]').decode(),  # naive
        base64.urlsafe_b64encode(b'["2024-02-30T00:00:00+00:00", 3, 1]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"[true, 3, 1]").decode(),
        "x" * 500,
        "",
    ],
)
def test_a_bad_cursor_shows_the_first_page(client, alice, bob, cursor):
    p = pay(alice, "@bob", "1.00")
    client.force_login(alice)
    response = client.get(WALLET, {"cursor": cursor})
    assert response.status_code == 200
    assert ("payment", str(p.pk)) in feed_ids(response)
    assert decode_cursor(cursor) is None


def test_wallet_page_query_count_does_not_grow_with_the_feed(client, alice, bob, carol, django_assert_max_num_queries):
    make_history(alice, bob, 30)
    fund(carol, "10.00")
    pay(carol, "@alice", "1.00")
    for _ in range(3):
        top_up(alice)
        cash_out(alice)
    client.force_login(alice)
    client.get(WALLET)  # warm up caches of the session and content types
    # Top-ups and cash-outs are one UNION ALL where the database allows it (not SQLite).
    union = 0 if connection.features.supports_slicing_ordering_in_compound else 1
    with django_assert_max_num_queries(9 + union + session_queries()):
        response = client.get(WALLET)
    assert len(feed_ids(response)) == FEED_PAGE_SIZE
    with django_assert_max_num_queries(7 + union + session_queries()):
        client.get(WALLET, {"partial": "1"})


def test_partial_is_the_live_fragment_only(client, alice, bob):
    pay(bob, "@alice", "7.00", note="fragment note")
    client.force_login(alice)
    response = client.get(WALLET, {"partial": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and '<nav class="nav"' not in html
    assert 'id="wallet-balances"' in html and 'id="activity"' in html
    assert "fragment note" in html and "$1,007.00" in html


def test_wallet_page_loads_live_script_with_stable_ids(client, alice):
    client.force_login(alice)
    html = client.get(WALLET).content.decode()
    assert "js/wallet.js" in html and "js/live.js" in html
    assert 'id="wallet-live"' in html and 'id="wallet-balances"' in html and 'id="activity"' in html
    assert "css/wallet.css" in html


def test_banner_for_an_unverified_account(client):
    newcomer = sender_user("newbie", tier=0)
    client.force_login(newcomer)
    html = client.get(WALLET).content.decode()
    assert 'data-testid="account-banner"' in html
    assert "Verify your identity to send money" in html
    assert 'href="/compliance/verify/"' in html and 'href="/compliance/status/"' in html


def test_banner_for_a_frozen_account(client, alice):
    freeze_account(staff_user("staffer"), user=alice, reason="Unusual activity on your account.")
    client.force_login(alice)
    text = text_of(client.get(WALLET))
    assert "Your account is frozen." in text and "Unusual activity on your account." in text
    assert "See why and appeal" in text


def test_no_banner_for_a_verified_account(client, alice):
    client.force_login(alice)
    assert 'data-testid="account-banner"' not in client.get(WALLET).content.decode()


def test_feed_selector_reads_one_query_per_table(alice, bob, django_assert_max_num_queries):
    from payments.selectors import _extra_sources

    make_history(alice, bob, 10)
    top_up(alice)
    cash_out(alice)
    # payments, top-ups + cash-outs (one UNION ALL where the database allows it), checks, cards
    union = 0 if connection.features.supports_slicing_ordering_in_compound else 1
    with django_assert_max_num_queries(3 + union + len(_extra_sources)):
        page = activity_feed(alice)
        assert [i.counterparty.handle for i in page.items if i.counterparty]  # joined, no extra queries


# --- Payment detail ------------------------------------------------------------------------


def test_detail_shows_parties_amounts_note_status_and_history(client, alice, bob):
    p = pay(alice, "@bob", "5.00", note="pizza 🍕")
    client.force_login(bob)
    response = client.get(reverse("payments:detail", args=[p.pk]))
    assert response.status_code == 200
    text = text_of(response)
    assert "Alice Liddell" in text and "@alice" in text and "Bob Builder" in text and "@bob" in text
    assert "pizza 🍕" in text and "$5.00" in text and "Completed" in text
    assert "Status history" in text
    assert "Send $5.00 back to @alice?" in response.content.decode()
    assert 'data-testid="return-button"' in response.content.decode()


def test_detail_history_is_in_the_users_time_zone(client, alice, bob):
    p = pay(alice, "@bob", "5.00")
    moment = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    p.events.update(created_at=moment)
    bob.time_zone = "Asia/Tokyo"  # UTC+9, no daylight saving
    bob.save(update_fields=["time_zone"])
    client.force_login(bob)
    text = text_of(client.get(reverse("payments:detail", args=[p.pk])))
    assert "21:00:00 JST" in text


def test_detail_is_404_for_a_stranger_and_for_unknown_ids(client, alice, bob, carol):
    p = pay(alice, "@bob", "5.00")
    client.force_login(carol)
    assert client.get(reverse("payments:detail", args=[p.pk])).status_code == 404
    assert client.get("/wallet/payments/999999/").status_code == 404
    assert client.get("/wallet/payments/99999999999999999999999/").status_code == 404
    assert client.get("/wallet/payments/abc/").status_code == 404


def test_detail_of_an_fx_payment_shows_the_rate_and_what_arrived(client, alice, fx_rates):
    eve = sender_user("eve", currency="EUR", display_name="Eve Euro")
    p = pay(alice, eve, "10.00")
    client.force_login(alice)
    text = text_of(client.get(reverse("payments:detail", args=[p.pk])))
    assert "1 USD = 0.8955 EUR" in text
    assert "€8.95" in text and "$10.00" in text
    client.force_login(eve)
    response = client.get(reverse("payments:detail", args=[p.pk]))
    assert "€8.95" in text_of(response) and "Send €8.95 back to @alice?" in response.content.decode()


def test_sender_sees_no_return_button_but_cancel_while_arriving(client, alice, bob):
    wallet_settings_update(alice, safety_delay_seconds=SafetyDelay.ONE_HOUR)
    p = pay(alice, "@bob", "5.00")
    assert p.status == PaymentStatus.ARRIVING
    client.force_login(alice)
    html = client.get(reverse("payments:detail", args=[p.pk])).content.decode()
    assert 'data-testid="cancel-button"' in html and 'data-testid="return-button"' not in html
    assert "you can cancel it until then" in html
    client.force_login(bob)
    html = client.get(reverse("payments:detail", args=[p.pk])).content.decode()
    assert 'data-testid="cancel-button"' not in html and 'data-testid="return-button"' not in html
    assert "Arriving" in html


def test_review_reason_and_deadline_shown_to_the_sender(client, alice, bob, monkeypatch):
    from compliance import services as compliance

    monkeypatch.setattr(compliance, "risk_assess", lambda *a, **k: "large_amount")
    p = pay(alice, "@bob", "5.00")
    client.force_login(alice)
    response = client.get(reverse("payments:detail", args=[p.pk]))
    text = text_of(response)
    assert "Held for a quick review (Large payment)" in text
    deadline = timezone.localtime(p.review_deadline, timezone.get_current_timezone())
    assert 'data-testid="review-notice"' in response.content.decode()
    assert deadline.strftime("%Y") in text


def test_detail_partial_is_a_fragment(client, alice, bob):
    p = pay(alice, "@bob", "5.00", note="partial")
    client.force_login(alice)
    html = client.get(reverse("payments:detail", args=[p.pk]), {"partial": "1"}).content.decode()
    assert "<html" not in html and "partial" in html and "Status history" in html


# --- Settings ---------------------------------------------------------------------------------


def test_settings_page_shows_and_saves_the_safety_delay(client, alice):
    client.force_login(alice)
    response = client.get(reverse("payments:settings"))
    assert response.status_code == 200
    text = text_of(response)
    for label in ("Off", "10 minutes", "1 hour", "24 hours"):
        assert label in text
    response = client.post(reverse("payments:settings"), {"safety_delay_seconds": "3600"}, follow=True)
    assert "arrives after 1 hour" in text_of(response)
    assert WalletSettings.objects.get(user=alice).safety_delay_seconds == 3600
    response = client.post(reverse("payments:settings"), {"safety_delay_seconds": "0"}, follow=True)
    assert "Safety delay turned off" in text_of(response)
    assert WalletSettings.objects.get(user=alice).safety_delay_seconds == 0


@pytest.mark.parametrize("value", ["5", "abc", "", "-1", "86400000"])
def test_settings_refuses_other_values(client, alice, value):
    client.force_login(alice)
    response = client.post(reverse("payments:settings"), {"safety_delay_seconds": value})
    assert response.status_code == 400
    assert not WalletSettings.objects.filter(user=alice).exclude(safety_delay_seconds=0).exists()


# --- People autocomplete ----------------------------------------------------------------------


def test_people_matches_handle_prefix_and_name_with_avatars(client, alice, bob, carol):
    client.force_login(alice)
    html = client.get(reverse("payments:people"), {"q": "@bo"}).content.decode()
    assert 'data-handle="bob"' in html and "Bob Builder" in html and "avatar" in html
    html = client.get(reverse("payments:people"), {"q": "danvers"}).content.decode()
    assert 'data-handle="carol"' in html


def test_people_excludes_yourself_and_inactive_people_and_caps_at_eight(client, alice):
    for i in range(10):
        sender_user(f"bobby{i}")
    gone = sender_user("bobgone")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    client.force_login(alice)
    html = client.get(reverse("payments:people"), {"q": "bob"}).content.decode()
    assert html.count('role="option"') == 8
    assert "bobgone" not in html
    assert 'data-handle="alice"' not in client.get(reverse("payments:people"), {"q": "ali"}).content.decode()


def test_people_exact_handle_first(client, alice):
    sender_user("bobcat")
    sender_user("bob")
    sender_user("abob", display_name="A Bob")
    client.force_login(alice)
    handles = re.findall(r'data-handle="(\w+)"', client.get(reverse("payments:people"), {"q": "bob"}).content.decode())
    assert handles[0] == "bob" and set(handles) == {"bob", "bobcat", "abob"} and handles[-1] == "abob"


def test_people_escapes_names(client, alice):
    sender_user("mallory", display_name='<img src=x onerror="alert(1)">')
    client.force_login(alice)
    html = client.get(reverse("payments:people"), {"q": "mallory"}).content.decode()
    assert "<img src=x" not in html and "&lt;img" in html


def test_people_needs_login_and_a_query(client, alice):
    assert client.get(reverse("payments:people"), {"q": "bob"}).status_code == 302
    client.force_login(alice)
    response = client.get(reverse("payments:people"), {"q": ""})
    assert response.status_code == 200 and 'role="option"' not in response.content.decode()
