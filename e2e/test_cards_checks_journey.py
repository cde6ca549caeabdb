"""Erin's debit card arrives live when Alice's payment takes her over the threshold; she reveals it,
pays at the demo shop, and sees the purchase pending, then captured, in her wallet. Then Alice writes
Bob a check, Bob deposits it, and Alice's check shows it deposited (issue 7).

Cards: erin (seed_demo: $50.00, KYC tier 1, no card) opens /cards/ and sees when her card will
arrive ($100.00); Alice, in her own browser, sends her $60.00; erin's open page shows the new card
without her reloading it (the card.issued event on the page's websocket) and the "Your card is
ready" notification. "Show card details" needs a fresh password entry (signing in earlier does not
count), then shows the full number, expiry and CVV. With them she buys
an item at /cards/demo-shop/ (the demo merchant authorises: a hold); her wallet feed shows the
purchase "Pending" with her available balance down by its price; the shop completes the order
(the merchant captures) and the feed shows it "Captured", her balance down by the price.

Checks: Alice writes a check to @bob for $12.34 (review → the amount in words → write); the
printable check shows "Twelve and 34/100", its number and deposit code. Bob enters the number and
code at /wallet/checks/deposit/, confirms (writer and amount shown) and gets $12.34; Alice's check
page then says "Deposited" and her balance is down by $12.34.

Runs its own site (a fresh database with the demo people): it moves money, and the wallet journey
expects the demo balances untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import DEFAULT_TIMEOUT_MS, DEMO_PASSWORD, demo_site, log_in, wait_for_js

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT_MS = 10_000
CARD_NUMBER_RE = re.compile(r"\b(\d{4}) ?(\d{4}) ?(\d{4}) ?(\d{4})\b")
SHOP_MERCHANT = "Everything Coffee Co."
MEMO = "Climbing gym, Saturday"


@pytest.fixture(scope="module")
def live_server_url(tmp_path_factory) -> Iterator[str]:
    """This module's own site with the demo people (overrides the session-wide server here only)."""
    yield from demo_site(tmp_path_factory, "e2e-cards-checks")


def _money(text: str) -> int:
    """ "$1,234.56" → 123456 (minor units), for comparing figures shown on the page."""
    digits = re.sub(r"[^0-9.]", "", text)
    whole, _, cents = digits.partition(".")
    return int(whole or 0) * 100 + int((cents + "00")[:2])


def _dollars(minor: int) -> str:
    return f"${minor // 100:,}.{minor % 100:02d}"


def _luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _available(page: Page):
    return page.locator("#wallet-balances [data-currency=USD] .available")


def _send(page: Page, to: str, amount: str) -> None:
    """Pay ``to`` through the wallet's send form and its confirm step."""
    page.goto("/wallet/send/")
    page.locator("#id_to").fill(to)
    page.locator("#id_amount").fill(amount)
    with page.expect_navigation():
        page.locator("[data-testid=send-review]").click()
    expect(page.locator("[data-testid=confirm-receive]")).to_have_text(f"${amount}")
    with page.expect_navigation():
        page.locator("[data-testid=confirm-send]").click()
    expect(page.locator(".alerts")).to_contain_text(f"You sent ${amount} to {to}.")


def _card_row(page: Page):
    return page.locator("#activity li.activity-item[data-source=card]", has_text=SHOP_MERCHANT)


def test_erin_gets_her_card_live_and_pays_at_the_demo_shop(page: Page, browser: Browser, live_server_url: str):
    url = live_server_url
    erin = page
    log_in(erin, "erin")

    # --- No card yet: her balance ($50.00) is under the threshold -------------------------------
    erin.goto("/wallet/")
    expect(_available(erin)).to_have_text("$50.00")
    erin.goto("/cards/")
    expect(erin.locator("[data-testid=needs-balance]")).to_have_text(
        "Your card arrives when your balance reaches $100.00."
    )
    expect(erin.locator("[data-testid=card-face]")).to_have_count(0)
    wait_for_js(erin, "window.__liveConnected === true")
    erin.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # --- Alice, in her own browser, sends erin $60.00: erin is now at $110.00 --------------------
    context = browser.new_context(base_url=url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    alice = context.new_page()
    try:
        log_in(alice, "alice")
        _send(alice, "@erin", "60.00")
    finally:
        context.close()

    # --- Erin's open page shows the new card by itself, without reloading ----------------------
    masked = erin.locator("[data-testid=card-face] [data-testid=card-masked]")
    expect(masked).to_have_text(re.compile(r"^•••• •••• •••• \d{4}$"), timeout=LIVE_TIMEOUT_MS)
    expect(erin.locator("[data-testid=card-status]")).to_have_text("Active")
    expect(erin.locator("[data-testid=needs-balance]")).to_have_count(0)
    expect(erin.locator("#toasts")).to_contain_text("Your card is ready")
    assert erin.evaluate("window.__sameDocument === true"), "the card must arrive without a page reload"
    assert erin.url == f"{url}/cards/"
    last4 = masked.inner_text()[-4:]
    face_expiry = erin.locator("[data-testid=card-face] [data-testid=card-expiry]").inner_text()
    assert CARD_NUMBER_RE.search(erin.locator("main").inner_text()) is None, "no full number before the reveal"

    # --- Reveal: the site asks for her password again first, then shows the details -------------
    with erin.expect_navigation():
        erin.locator("[data-testid=reveal-card]").click()
    erin.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    erin.locator("input[name=password]").fill(DEMO_PASSWORD)
    with erin.expect_navigation():
        erin.locator("form:has(input[name=password])").locator(
            "button[type=submit], input[type=submit], button:not([type])"
        ).first.click()
    revealed = erin.locator("[data-testid=card-revealed]")
    expect(revealed).to_be_visible()
    expect(revealed.locator("[data-countdown]")).to_be_visible()
    shown = erin.locator("[data-testid=revealed-number]").inner_text()
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", shown), shown  # grouped 4-4-4-4
    number = shown.replace(" ", "")
    assert number.startswith("489537") and number.endswith(last4) and _luhn_valid(number), number
    expiry = erin.locator("[data-testid=revealed-expiry]").inner_text()
    assert expiry == face_expiry and re.fullmatch(r"(0[1-9]|1[0-2])/\d{2}", expiry), expiry
    cvv = erin.locator("[data-testid=revealed-cvv]").inner_text()
    assert re.fullmatch(r"\d{3}", cvv), cvv

    # --- The demo shop: pay for an oat milk latte with the card -------------------------------
    erin.goto("/cards/demo-shop/")
    shop = erin.locator("[data-testid=demo-shop]")
    expect(shop).to_contain_text(SHOP_MERCHANT)
    latte = shop.locator("label", has_text="Oat milk latte")
    latte.locator("input[name=item]").check()
    price = _money(latte.locator("strong").inner_text())
    assert 0 < price < 110_00, price
    checkout = erin.locator("[data-testid=checkout-form]")
    checkout.get_by_label("Card number").fill(number)
    checkout.get_by_label("Expiry (MM/YY)").fill(expiry)
    checkout.get_by_label("CVV").fill(cvv)
    with erin.expect_navigation():
        checkout.locator("[data-testid=pay]").click()
    expect(erin.locator("[data-testid=order-authorised]")).to_contain_text("Payment authorised, pending")
    expect(erin.locator("[data-testid=order-status]")).to_have_text("Pending")
    order_url = erin.url
    assert re.search(r"/cards/demo-shop/orders/\d+/$", order_url), order_url

    # --- Her wallet: the purchase is pending, the money held -----------------------------------
    erin.goto("/wallet/")
    row = _card_row(erin)
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid=status]")).to_have_text("Pending")
    expect(row.locator("[data-testid=amount]")).to_have_text(f"-{_dollars(price)}")
    expect(_available(erin)).to_have_text(_dollars(110_00 - price))
    expect(erin.locator("#wallet-balances [data-currency=USD] .balance")).to_have_text("$110.00 balance")

    # --- The shop completes the order (merchant capture): captured, balance down ----------------
    erin.goto(order_url)
    with erin.expect_navigation():
        erin.locator("[data-testid=order-capture]").click()
    expect(erin.locator("[data-testid=order-status]")).to_have_text("Captured")
    expect(erin.locator("[data-testid=order-captured]")).to_have_text(_dollars(price))
    expect(erin.locator("[data-testid=order-held]")).to_have_text("$0.00")
    erin.goto("/wallet/")
    row = _card_row(erin)
    expect(row.locator("[data-testid=status]")).to_have_text("Captured")
    expect(row.locator("[data-testid=amount]")).to_have_text(f"-{_dollars(price)}")
    expect(_available(erin)).to_have_text(_dollars(110_00 - price))
    expect(erin.locator("#wallet-balances .balance")).to_have_count(0)  # nothing held any more


def test_alice_writes_bob_a_check_that_he_deposits(page: Page, browser: Browser, live_server_url: str):
    url = live_server_url
    alice = page
    log_in(alice, "alice")
    alice.goto("/wallet/")
    before = _money(_available(alice).inner_text())

    # --- Alice writes the check: form → review (amount in words) → write -------------------------
    alice.goto("/wallet/checks/new/")
    form = alice.locator("form:has([data-testid=check-review])")
    form.locator("input[name=payee]").fill("@bob")
    form.locator("input[name=amount]").fill("12.34")
    form.locator("select[name=currency]").select_option("USD")
    form.locator("input[name=memo]").fill(MEMO)
    with alice.expect_navigation():
        form.locator("[data-testid=check-review]").click()
    expect(alice.locator("[data-testid=confirm-payee]")).to_have_text("Bob Smith")
    expect(alice.locator("[data-testid=confirm-amount]")).to_have_text("$12.34")
    expect(alice.locator("[data-testid=confirm-words]")).to_contain_text("Twelve and 34/100")
    expect(alice.locator("[data-testid=check-confirm]")).to_contain_text("The money leaves your balance now.")
    with alice.expect_navigation():
        alice.locator("[data-testid=confirm-write]").click()

    # The printable check: number, payee, figures and words, memo, QR code, number and code to type.
    check_url = alice.url
    assert re.search(r"/wallet/checks/\d+/$", check_url), check_url
    expect(alice.locator("[data-testid=check-status]")).to_have_text("Outstanding")
    paper = alice.locator("[data-testid=check-paper]")
    expect(paper.locator("[data-testid=check-payee]")).to_contain_text("Bob")
    expect(paper.locator("[data-testid=check-figures]")).to_have_text("$12.34")
    expect(paper.locator("[data-testid=check-words]")).to_contain_text("Twelve and 34/100")
    expect(paper).to_contain_text(MEMO)
    expect(paper.locator(".check-qr svg")).to_be_visible()
    number = paper.locator("[data-testid=check-number-manual]").inner_text().strip()
    assert re.fullmatch(r"\d{10}", number), number
    code = paper.locator("[data-testid=check-code]").inner_text().strip()
    assert len(re.sub(r"[\s-]", "", code)) == 12, code
    alice.goto("/wallet/")
    expect(_available(alice)).to_have_text(_dollars(before - 12_34))  # the money left at once

    # --- Bob deposits it with the number and code ----------------------------------------------
    context = browser.new_context(base_url=url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    bob = context.new_page()
    try:
        log_in(bob, "bob")
        bob.goto("/wallet/")
        expect(_available(bob)).to_have_text("$1,000.00")
        bob.goto("/wallet/checks/deposit/")
        deposit = bob.locator("form:has([data-testid=deposit-review])")
        deposit.get_by_label("Check number").fill(number)
        deposit.get_by_label("Deposit code").fill(code)
        with bob.expect_navigation():
            deposit.locator("[data-testid=deposit-review]").click()
        expect(bob.locator("[data-testid=deposit-writer]")).to_have_text("Alice Johnson")
        expect(bob.locator("[data-testid=deposit-amount]")).to_have_text("$12.34")
        with bob.expect_navigation():
            bob.locator("[data-testid=confirm-deposit]").click()
        expect(bob.locator(".alerts")).to_contain_text("Deposited: $12.34 from Alice Johnson is in your wallet.")
        bob.goto("/wallet/")
        expect(_available(bob)).to_have_text("$1,012.34")
    finally:
        context.close()

    # --- Alice's check now says it was deposited, by Bob ----------------------------------------
    alice.goto(check_url)
    expect(alice.locator("[data-testid=check-status]")).to_have_text("Deposited")
    expect(alice.locator("[data-testid=check-status-text]")).to_contain_text("Deposited by @bob")
    expect(alice.locator("[data-testid=check-void]")).to_have_count(0)
    alice.goto("/wallet/")
    expect(_available(alice)).to_have_text(_dollars(before - 12_34))


def test_alice_voids_an_outstanding_check_and_gets_the_money_back(page: Page):
    """A check to a plain name (anyone holding it could deposit it), voided from its page."""
    alice = page
    log_in(alice, "alice")
    alice.goto("/wallet/")
    before = _money(_available(alice).inner_text())

    alice.goto("/wallet/checks/new/")
    form = alice.locator("form:has([data-testid=check-review])")
    form.locator("input[name=payee]").fill("Corner Bakery")
    form.locator("input[name=amount]").fill("5.00")
    form.locator("select[name=currency]").select_option("USD")
    with alice.expect_navigation():
        form.locator("[data-testid=check-review]").click()
    expect(alice.locator("[data-testid=confirm-payee]")).to_have_text("Corner Bakery")
    expect(alice.locator("[data-testid=confirm-words]")).to_contain_text("Five and 00/100")
    with alice.expect_navigation():
        alice.locator("[data-testid=confirm-write]").click()
    check_url = alice.url
    expect(alice.locator("[data-testid=check-status]")).to_have_text("Outstanding")

    with alice.expect_navigation():
        alice.locator("[data-testid=check-void]").click()
    expect(alice.locator("[data-testid=void-confirm]")).to_contain_text("$5.00")
    with alice.expect_navigation():
        alice.locator("[data-testid=confirm-void]").click()
    assert alice.url == check_url
    expect(alice.locator("[data-testid=check-status]")).to_have_text("Voided")
    expect(alice.locator("[data-testid=check-void]")).to_have_count(0)
    alice.goto("/wallet/")
    expect(_available(alice)).to_have_text(_dollars(before))
