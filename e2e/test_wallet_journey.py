"""Alice pays Bob 5.00 with a note; Bob's open wallet shows it live; Bob returns it; both are back to 1,000.00.

The live server's database gets the demo people from ``manage.py seed_demo`` (alice, bob,
carol, dave with 1,000.00 USD each and KYC tier 1, so they may send).
"""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import DEFAULT_TIMEOUT_MS, log_in, manage, wait_for_js

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def demo_people(live_server_url: str, e2e_dir) -> None:
    """The demo people in the live server's database: 1,000.00 USD each, KYC tier 1 (allowed to send)."""
    manage(e2e_dir, "seed_demo")


def _available(page: Page, currency: str = "USD"):
    return page.locator(f"#wallet-balances [data-currency={currency}] .available")


def test_alice_pays_bob_who_sees_it_live_and_returns_it(page: Page, browser: Browser, live_server_url, demo_people):
    note = f"pizza 🍕 {secrets.token_hex(3)}"

    # Bob opens his wallet and keeps it open.
    bob = page
    log_in(bob, "bob")
    bob.goto("/wallet/")
    wait_for_js(bob, "window.__liveConnected === true")
    expect(_available(bob)).to_have_text("$1,000.00")

    # Alice, in her own browser session, sends Bob 5.00 through the form and the confirm step.
    context = browser.new_context(base_url=live_server_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    alice = context.new_page()
    try:
        log_in(alice, "alice")
        alice.goto("/wallet/")
        expect(_available(alice)).to_have_text("$1,000.00")
        alice.locator("[data-testid=send-button]").click()
        expect(alice).to_have_url(re.compile(r"/wallet/send/$"))

        to = alice.locator("#id_to")
        expect(to).to_have_attribute("data-autocomplete", "ready")  # wallet.js is wired (deferred script)
        to.press_sequentially("bo", delay=50)  # the autocomplete finds Bob by handle
        suggestion = alice.locator("#people-suggestions [data-handle=bob]")
        expect(suggestion).to_be_visible()
        expect(suggestion).to_contain_text("Bob Smith")
        suggestion.click()
        expect(to).to_have_value("@bob")
        alice.locator("#id_amount").fill("5.00")
        alice.locator("#id_note").fill(note)
        with alice.expect_navigation():
            alice.locator("[data-testid=send-review]").click()

        confirm = alice.locator("[data-testid=confirm]")
        expect(confirm).to_contain_text("Bob Smith")
        expect(confirm).to_contain_text("@bob")
        expect(alice.locator("[data-testid=confirm-fee]")).to_have_text("$0.00")
        expect(alice.locator("[data-testid=confirm-receive]")).to_have_text("$5.00")
        expect(alice.locator("[data-testid=scam-warning]")).to_contain_text("You have never paid @bob before.")
        with alice.expect_navigation():
            alice.locator("[data-testid=confirm-send]").click()
        expect(alice.locator(".alerts")).to_contain_text("You sent $5.00 to @bob.")
        expect(alice.locator("[data-testid=payment-note]")).to_have_text(note)

        # Bob's open page shows the payment and the new balance, without a reload.
        activity = bob.locator("#activity")
        expect(activity).to_contain_text(note, timeout=LIVE_TIMEOUT_MS)
        expect(activity).to_contain_text("+$5.00")
        expect(_available(bob)).to_have_text("$1,005.00", timeout=LIVE_TIMEOUT_MS)
        assert bob.url.endswith("/wallet/"), "Bob's page must not have navigated"

        # Alice watches her wallet while Bob returns the payment.
        alice.goto("/wallet/")
        wait_for_js(alice, "window.__liveConnected === true")
        expect(_available(alice)).to_have_text("$995.00")

        row = activity.locator("li.activity-item", has_text=note)
        with bob.expect_navigation():
            row.locator("a.activity-link").click()
        expect(bob.locator("[data-testid=payment-note]")).to_have_text(note)
        prompts: list[str] = []

        def accept(dialog):
            prompts.append(dialog.message)
            dialog.accept()

        bob.once("dialog", accept)
        with bob.expect_navigation():
            bob.locator("[data-testid=return-button]").click()
        assert prompts == ["Send $5.00 back to @alice?"]
        expect(bob.locator(".alerts")).to_contain_text("You sent $5.00 back to @alice.")
        expect(bob.locator("[data-testid=payment-status]")).to_have_text("Returned")
        expect(bob.locator("[data-testid=return-button]")).to_have_count(0)

        # Both balances are back: Alice's open page updates by itself, Bob's wallet after navigating.
        expect(_available(alice)).to_have_text("$1,000.00", timeout=LIVE_TIMEOUT_MS)
        bob.goto("/wallet/")
        expect(_available(bob)).to_have_text("$1,000.00")
        expect(bob.locator("#activity li.activity-item", has_text=note)).to_contain_text("Returned")
    finally:
        context.close()
