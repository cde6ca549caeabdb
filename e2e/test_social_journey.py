"""Bob follows Dave, Dave posts, Bob's open timeline shows the new-posts bar, Bob tips Dave $2.00, and
Dave's open page shows the tip notification live.

Dave turns on creator mode in the browser (/creator/settings); Bob follows him from his profile and
keeps his home timeline open. When Dave posts, Bob's page shows "Show 1 new post" without a reload;
clicking it brings the post in. Bob tips $2.00 on it through the tip page and its confirm step, and
Dave's open home page gets the notification (badge and toast) over the websocket.

Runs its own site (a fresh database with the demo people) like the messaging journey: it moves money
and the wallet journey expects the demo balances untouched.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import DEFAULT_TIMEOUT_MS, demo_site, log_in, wait_for_js

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def live_server_url(tmp_path_factory) -> Iterator[str]:
    """This module's own site with the demo people (overrides the session-wide server here only)."""
    yield from demo_site(tmp_path_factory, "e2e-social")


def _live(page: Page) -> None:
    wait_for_js(page, "window.__liveConnected === true")


def test_bob_follows_dave_sees_his_post_live_and_tips_him(page: Page, browser: Browser, live_server_url: str):
    words = f"Matchday food truck list #football {secrets.token_hex(3)}"

    context = browser.new_context(base_url=live_server_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    dave = context.new_page()
    bob = page
    try:
        # Dave turns creator mode on.
        log_in(dave, "dave")
        dave.goto("/creator/settings")
        enabled = dave.locator("[data-testid=creator-settings] input[type=checkbox]").first
        enabled.check()
        with dave.expect_navigation():
            dave.locator("[data-testid=creator-settings] button[type=submit]").click()
        expect(dave.locator(".alert")).to_contain_text("Creator mode is on")

        # Bob follows Dave from his profile, then keeps his home timeline open.
        log_in(bob, "bob")
        bob.goto("/@dave")
        bob.locator("[data-follow-action=follow] button").click()
        expect(bob.locator("[data-follow-action=unfollow]")).to_be_visible()
        bob.goto("/")
        expect(bob.locator("[data-testid=timeline]")).to_be_visible()
        expect(bob.locator("#timeline")).to_have_attribute("data-ready", "1")
        _live(bob)
        bar = bob.locator("[data-testid=new-posts-bar]")
        expect(bar).to_be_hidden()
        bob_url = bob.url

        # Dave posts from his home page (the live counter counts down as he types).
        dave.goto("/")
        composer = dave.locator("[data-testid=composer-post]")
        composer.locator("textarea[name=text]").fill(words)
        expect(composer.locator("[data-char-count]")).to_have_text(str(280 - len(words)))
        with dave.expect_navigation():
            composer.locator("[data-testid=post-submit]").click()
        expect(dave.locator("[data-testid=post]").first).to_contain_text(words)
        _live(dave)

        # Bob's open timeline shows the bar, without a reload; clicking it brings the post in.
        expect(bar).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(bar).to_contain_text("Show 1 new post")
        assert bob.url == bob_url
        expect(bob.locator("[data-testid=post]", has_text=words)).to_have_count(0)
        with bob.expect_navigation():
            bar.locator("a").click()
        card = bob.locator("[data-testid=post]", has_text=words)
        expect(card).to_be_visible()
        expect(card.locator("a.hashtag")).to_have_attribute("href", "/tags/football")

        # Bob tips $2.00 on Dave's post: the tip page, then the confirm step.
        badge = dave.locator("#nav-notification-badge")
        unread = int(badge.get_attribute("data-unread") or "0")  # Bob's follow may be one already
        with bob.expect_navigation():
            card.locator("[data-testid=tip-button]").click()
        expect(bob).to_have_url(re.compile(r"/posts/\d+/tip$"))
        tip = bob.locator("[data-testid=post-tip]")
        expect(tip).to_contain_text("Dave Okafor")
        tip.locator("input[name=amount]").fill("2.00")
        with bob.expect_navigation():
            tip.locator("button[type=submit]:not([name=preset])").click()
        expect(bob.locator("body")).to_contain_text("$2.00")
        expect(bob.locator("body")).to_contain_text("@dave")
        with bob.expect_navigation():
            bob.locator("form[action$='/tip/confirm'] button[type=submit]").click()
        expect(bob).to_have_url(re.compile(r"/posts/\d+/tip/\d+$"))

        # Dave's open page hears about it live: the nav badge and a toast.
        expect(badge).to_have_text(str(unread + 1), timeout=LIVE_TIMEOUT_MS)
        expect(badge).to_be_visible()
        expect(dave.locator("#toasts")).to_contain_text("$2.00", timeout=LIVE_TIMEOUT_MS)
    finally:
        context.close()
