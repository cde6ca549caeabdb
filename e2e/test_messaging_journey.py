"""Alice and Bob chat live in two browsers, then Alice pays Bob inside the thread.

Alice opens the conversation from Bob's profile (its Message button, /messages/with/bob/); Bob, who does not follow her, finds it
in his message requests as soon as she writes, and accepts. Each sees the other typing and
the other's messages without a reload, and "Seen" under their own. Then Alice pays Bob $5.00
through the thread's Pay button and confirm step: both see the payment card appear, and
Bob's wallet, open in another tab, shows the new balance by itself.

This journey runs its own site (a fresh database) rather than the shared e2e server: it pays
Bob, and the wallet journey expects Alice never to have paid him and both to hold $1,000.00.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import DEFAULT_TIMEOUT_MS, ROOT, _free_port, _server_env, _wait_until_serving

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "everything-demo"
LIVE_TIMEOUT_MS = 10_000

# Runs inside `manage.py shell` against this journey's database: tier 1 for alice and bob if they lack it.
VERIFY_SNIPPET = """
from datetime import date
from django.contrib.auth import get_user_model
from compliance.selectors import kyc_profile_for, tier_of
from compliance.services import kyc_submit_details
for handle in ("alice", "bob"):
    user = get_user_model().objects.get(handle=handle)
    if tier_of(kyc_profile_for(user)) < 1:
        kyc_submit_details(
            user, legal_name=user.display_name or handle, date_of_birth=date(1990, 4, 12),
            address_line1="1 Main Street", city="Springfield", region=user.state or "IL",
            postal_code="62701", country="US", national_id_last4="1234",
        )
    print(handle, "tier", tier_of(kyc_profile_for(user)))
"""


def _manage(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_server_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(
            f"manage.py {args[0]} failed for the messaging e2e server:\n{done.stdout}\n{done.stderr}", pytrace=False
        )
    return done.stdout


@pytest.fixture(scope="module")
def live_server_url(tmp_path_factory) -> Iterator[str]:
    """This module's own site: a fresh SQLite file with the demo people, served by daphne.

    Overrides e2e/conftest.py's session-wide server for this module only (see the docstring).
    """
    workdir = tmp_path_factory.mktemp("e2e-messaging")
    (workdir / "mail").mkdir()
    (workdir / "media").mkdir()
    _manage(workdir, "migrate", "--noinput")
    _manage(workdir, "seed_demo")
    out = _manage(workdir, "shell", "-c", VERIFY_SNIPPET)
    assert "alice tier 1" in out or "alice tier 2" in out, out

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "everything.asgi:application"],
            cwd=ROOT,
            env=_server_env(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(url, server, log_path)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def _log_in(page: Page, handle: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(handle)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator("form:has(input[name=login])").locator(
            "button[type=submit], input[type=submit], button:not([type])"
        ).first.click()
    assert "/accounts/login/" not in page.url, f"{handle} could not log in:\n" + page.locator("body").inner_text()


def _ready(page: Page) -> None:
    """The socket is open and messaging.js has wired the conversation."""
    page.wait_for_function("window.__liveConnected === true")
    expect(page.locator("#conversation")).to_have_attribute("data-ready", "1")


def _available(page: Page, currency: str = "USD"):
    return page.locator(f"#wallet-balances [data-currency={currency}] .available")


def test_alice_and_bob_chat_live_then_alice_pays_bob_in_the_thread(page: Page, browser: Browser, live_server_url: str):
    hello = f"Hi Bob! 👋 {secrets.token_hex(3)}"
    plan = "Dinner at 8? <b>not bold</b> https://example.test/menu"
    reply = f"Sounds good {secrets.token_hex(3)}"

    # Bob keeps his inbox open.
    bob = page
    _log_in(bob, "bob")
    bob.goto("/messages/")
    bob.wait_for_function("window.__liveConnected === true")
    expect(bob.locator("[data-testid=empty-inbox]")).to_be_visible()

    context = browser.new_context(base_url=live_server_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    alice = context.new_page()
    bob_wallet = None
    try:
        # Alice starts the conversation from Bob's profile: its Message button leads to /messages/with/bob/.
        _log_in(alice, "alice")
        alice.goto("/@bob")
        with alice.expect_navigation():
            alice.locator("[data-testid=message]").click()
        expect(alice).to_have_url(re.compile(r"/messages/with/bob/$"))
        expect(alice.locator("h1")).to_contain_text("Start a conversation with @bob")
        with alice.expect_navigation():
            alice.locator("[data-testid=start-conversation]").click()
        expect(alice).to_have_url(re.compile(r"/messages/\d+/$"))
        conversation_url = alice.url
        expect(alice.locator("[data-testid=conversation-title]")).to_have_text("Bob Smith")
        _ready(alice)

        # Her first message: Bob does not follow her, so it arrives in his Requests, live.
        composer = alice.locator("#composer-body")
        composer.fill(hello)
        composer.press("Enter")
        expect(alice.locator("#message-list")).to_contain_text(hello)
        expect(composer).to_have_value("")
        expect(bob.locator("[data-testid=requests-tab]")).to_have_text("Requests (1)", timeout=LIVE_TIMEOUT_MS)
        assert bob.url.endswith("/messages/"), "Bob's inbox must not have navigated"
        with bob.expect_navigation():
            bob.locator("[data-testid=requests-tab]").click()
        row = bob.locator(".inbox-row", has_text="Alice Johnson")
        expect(row).to_contain_text(hello)
        with bob.expect_navigation():
            row.locator("[data-testid=accept]").click()
        expect(bob).to_have_url(conversation_url)
        _ready(bob)
        expect(bob.locator("#message-list")).to_contain_text(hello)

        # Alice types: Bob sees it; she sends: Bob sees the message (escaped, link clickable), not a reload.
        composer.press_sequentially("Dinner", delay=40)
        typing = bob.locator("#typing")
        expect(typing).to_have_text("Alice Johnson is typing…", timeout=LIVE_TIMEOUT_MS)
        composer.fill(plan)
        composer.press("Enter")
        sent = bob.locator("#message-list li.msg", has_text="Dinner at 8?")
        expect(sent).to_be_visible(timeout=LIVE_TIMEOUT_MS)
        expect(sent.locator(".msg-body")).to_have_text(plan)  # the tags are text, not markup
        expect(sent.locator("b")).to_have_count(0)
        link = sent.locator("a[href='https://example.test/menu']")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", re.compile("noopener"))
        expect(typing).to_be_hidden()
        # Bob's open page read it: Alice sees "Seen" under her message.
        expect(alice.locator("#message-list li.msg:has-text('Dinner at 8?') #receipt")).to_have_text(
            "Seen", timeout=LIVE_TIMEOUT_MS
        )

        # Bob types and replies: Alice sees both without a reload.
        bob_composer = bob.locator("#composer-body")
        bob_composer.press_sequentially("Sounds", delay=40)
        expect(alice.locator("#typing")).to_have_text("Bob Smith is typing…", timeout=LIVE_TIMEOUT_MS)
        bob_composer.fill(reply)
        bob_composer.press("Enter")
        expect(alice.locator("#message-list")).to_contain_text(reply, timeout=LIVE_TIMEOUT_MS)
        assert alice.url == conversation_url and bob.url == conversation_url
        # Each message is on each page exactly once.
        for who in (alice, bob):
            for text in (hello, "Dinner at 8?", reply):
                expect(who.locator("#message-list li.msg", has_text=text)).to_have_count(1)

        # Bob also has his wallet open in another tab.
        bob_wallet = bob.context.new_page()
        bob_wallet.goto("/wallet/")
        bob_wallet.wait_for_function("window.__liveConnected === true")
        expect(_available(bob_wallet)).to_have_text("$1,000.00")

        # Alice pays Bob $5.00 from the thread: the Pay button, the form, the confirm step.
        with alice.expect_navigation():
            alice.locator("[data-testid=pay-button]").click()
        expect(alice.locator("[data-testid=money-form]")).to_be_visible()
        alice.locator("#id_amount").fill("5.00")
        with alice.expect_navigation():
            alice.locator("[data-testid=money-review]").click()
        confirm = alice.locator("[data-testid=confirm]")
        expect(confirm).to_contain_text("Bob Smith")
        expect(confirm).to_contain_text("@bob")
        expect(alice.locator("[data-testid=confirm-receive]")).to_contain_text("$5.00")
        expect(alice.locator("[data-testid=scam-warning]")).to_be_visible()  # she never paid him before
        with alice.expect_navigation():
            alice.locator("[data-testid=confirm-send]").click()
        expect(alice).to_have_url(re.compile(re.escape(conversation_url) + r"(#m-\d+)?$"))

        # Both see the payment card; Bob's thread and wallet update by themselves.
        alice_card = alice.locator("#message-list [data-testid=money-card]")
        expect(alice_card).to_have_count(1)
        expect(alice_card.locator("[data-testid=card-amount]")).to_have_text("$5.00")
        bob_card = bob.locator("#message-list [data-testid=money-card]")
        expect(bob_card).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
        expect(bob_card.locator("[data-testid=card-amount]")).to_have_text("$5.00", timeout=LIVE_TIMEOUT_MS)
        assert bob.url == conversation_url, "Bob's thread must not have navigated"
        expect(_available(bob_wallet)).to_have_text("$1,005.00", timeout=LIVE_TIMEOUT_MS)
        assert bob_wallet.url.endswith("/wallet/")
    finally:
        if bob_wallet is not None:
            bob_wallet.close()
        context.close()


def test_the_nav_badge_counts_unread_conversations_live(page: Page, browser: Browser, live_server_url: str):
    """Bob's Messages badge lights up while he is elsewhere and goes out once he has read them."""
    bob = page
    _log_in(bob, "bob")
    bob.goto("/wallet/")
    badge = bob.locator("#nav-message-badge")
    if badge.count() == 0:
        missing = "templates/base.html has no Messages nav link with #nav-message-badge yet"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    bob.wait_for_function("window.__liveConnected === true")

    context = browser.new_context(base_url=live_server_url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    alice = context.new_page()
    try:
        _log_in(alice, "alice")
        alice.goto("/messages/with/bob/")
        if alice.locator("[data-testid=start-conversation]").count():  # run alone: no conversation yet
            with alice.expect_navigation():
                alice.locator("[data-testid=start-conversation]").click()
        expect(alice).to_have_url(re.compile(r"/messages/\d+/$"))
        conversation_url = alice.url
        _ready(alice)
        # Bob reads what is there (and accepts the request if this test runs alone), then goes elsewhere.
        bob.goto(conversation_url)
        if bob.locator("[data-testid=request-banner]").count():
            with bob.expect_navigation():
                bob.locator("[data-testid=request-banner] [data-testid=accept]").click()
        bob.goto("/wallet/")
        bob.wait_for_function("window.__liveConnected === true")
        expect(badge).to_be_hidden()

        alice.locator("#composer-body").fill("Are you there?")
        alice.locator("#composer-body").press("Enter")
        expect(badge).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
        expect(badge).to_be_visible()
        assert bob.url.endswith("/wallet/")

        # Reading the conversation puts it out; a message arriving while he reads keeps it out.
        bob.goto(conversation_url)
        _ready(bob)
        expect(badge).to_be_hidden()
        alice.locator("#composer-body").fill("Great, you are!")
        alice.locator("#composer-body").press("Enter")
        expect(bob.locator("#message-list")).to_contain_text("Great, you are!", timeout=LIVE_TIMEOUT_MS)
        expect(badge).to_be_hidden()
    finally:
        context.close()
