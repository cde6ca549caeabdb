"""Carol opens a shop and lists a mug; Bob buys it into escrow; Carol ships it; Bob confirms receipt;
Carol's open wallet shows the price minus the platform fee arrive, live (issue 8).

Carol (seed_demo: $1,000.00, KYC tier 1, no shop) opens "Carol's Kiln" at /shop/sell/open/, creates a
listing "Everything mug" ($12.00, stock 1, shipping $3.00) with a generated PNG image, and publishes
it. Bob, in his own browser, sees it in the marketplace next to dave's seeded records, searches
for "mug", opens the listing, uses Buy now, gives his address, sees the confirm step (item $12.00,
shipping $3.00, total $15.00) and pays; his order page says "Paid (in escrow)" and his wallet is
$15.00 lighter (the mug, the last one, is sold out). Carol sees the order
in her seller orders and marks it shipped with a carrier and tracking number; Bob's open order page
turns to "Shipped" without a reload (``order.updated`` on its websocket). Bob confirms receipt (the
order is completed) and Carol's wallet page, open all along in a tab of her own, shows her available
balance up by $15.00 − 2.5% fee ($0.38, rounded half up) = $14.62, again without a reload
(``balance.changed``).

Runs its own site (a fresh database with the demo people): it moves money, and the wallet journey
expects the demo balances untouched.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from e2e.conftest import DEFAULT_TIMEOUT_MS, demo_site, log_in, wait_for_js

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT_MS = 10_000
SHOP_NAME = "Carol's Kiln"
SHOP_SLUG = "carols-kiln"
TITLE = "Everything mug"
PRICE_MINOR = 12_00
SHIPPING_MINOR = 3_00
TOTAL_MINOR = PRICE_MINOR + SHIPPING_MINOR
FEE_MINOR = 38  # 2.5% of $15.00 = 0.375, rounded half up to the cent
TRACKING = "1Z999AA10123456784"
SEEDED_TITLES = (
    "Food Truck Soul, Vol. 1 (LP)",
    "Western Ave Jazz Sessions (LP)",
    "Matchday Mixtape (digital download)",
)


@pytest.fixture(scope="module")
def live_server_url(tmp_path_factory) -> Iterator[str]:
    """This module's own site with the demo people (overrides the session-wide server here only)."""
    yield from demo_site(tmp_path_factory, "e2e-commerce")


def _money(text: str) -> int:
    """ "$1,234.56" → 123456 (minor units), for comparing figures shown on the page."""
    digits = re.sub(r"[^0-9.]", "", text)
    whole, _, cents = digits.partition(".")
    return int(whole or 0) * 100 + int((cents + "00")[:2])


def _dollars(minor: int) -> str:
    return f"${minor // 100:,}.{minor % 100:02d}"


def _available(page: Page):
    return page.locator("#wallet-balances [data-currency=USD] .available")


def _live(page: Page) -> None:
    wait_for_js(page, "window.__liveConnected === true")


def _submit(page: Page, form, button: str = "button[type=submit], input[type=submit]") -> None:
    with page.expect_navigation():
        form.locator(button).first.click()


def _settled_order_page(page: Page, navigate) -> None:
    """Open an order page with ``navigate()`` and let it settle: when its websocket connects,
    commerce.js fetches the order area again (``?fragment=1``) and replaces its HTML, forms
    included, so anything typed into the ship form before that lands would be lost."""
    with page.expect_navigation():
        navigate()
    _live(page)
    try:  # the refetch's response, complete (resource timing entries are added once loaded)
        wait_for_js(
            page,
            "() => performance.getEntriesByType('resource').some(e => e.name.includes('fragment=1'))",
            timeout=3_000,
        )
    except PlaywrightTimeoutError:
        return  # no refetch on connect: nothing will replace the forms
    page.wait_for_timeout(100)  # the swap follows the response body by a task or two


def _loaded_width(img) -> int:
    """The image's natural width once it has loaded (0 if it failed to load)."""
    return img.evaluate(
        """img => img.complete ? img.naturalWidth : new Promise(resolve => {
            img.addEventListener("load", () => resolve(img.naturalWidth));
            img.addEventListener("error", () => resolve(0));
        })"""
    )


def _mug_png(path) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 60)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def _new_context_page(browser: Browser, url: str):
    context = browser.new_context(base_url=url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context, context.new_page()


def test_carol_sells_a_mug_that_bob_buys_with_escrow(page: Page, browser: Browser, live_server_url: str, tmp_path):
    url = live_server_url
    carol = page
    log_in(carol, "carol")

    # --- Carol has no shop yet: the dashboard offers to open one ------------------------------
    carol.goto("/shop/sell/")
    expect(carol.locator("[data-testid=sell-intro]")).to_contain_text("Open your shop")
    with carol.expect_navigation():
        carol.locator("[data-testid=open-shop-link]").click()
    expect(carol).to_have_url(re.compile(r"/shop/sell/open/$"))
    form = carol.locator("[data-testid=shop-open-form]")
    form.locator("input[name=name]").fill(SHOP_NAME)
    form.locator("input[name=slug]").fill(SHOP_SLUG)
    form.locator("textarea[name=description]").fill("Stoneware for slow mornings.")
    _submit(carol, form, "[data-testid=shop-open-submit]")
    expect(carol).to_have_url(re.compile(r"/shop/sell/$"))
    expect(carol.locator("main")).to_contain_text(SHOP_NAME)

    # --- She lists the mug: a draft first, then an image, then published -----------------------
    carol.goto("/shop/sell/listings/new/")
    form = carol.locator("[data-testid=listing-form]")
    form.locator("input[name=title]").fill(TITLE)
    form.locator("textarea[name=description]").fill("Wheel-thrown, celadon glaze, holds a big coffee.")
    form.locator("select[name=category]").select_option("home")
    form.locator("input[name=kind][value=physical]").check()
    form.locator("input[name=price]").fill("12.00")
    form.locator("select[name=currency]").select_option("USD")
    form.locator("input[name=stock]").fill("1")
    form.locator("input[name=shipping_price]").fill("3.00")
    _submit(carol, form, "[data-testid=listing-save]")
    match = re.search(r"/shop/sell/listings/(\d+)/edit/$", carol.url)
    assert match, f"expected the listing's edit page, got {carol.url}:\n" + carol.locator("main").inner_text()
    listing_id = int(match.group(1))
    expect(carol.locator("[data-testid=edit-status]")).to_have_text("Draft")

    image_form = carol.locator("[data-testid=image-form]")
    image_form.locator("input[type=file][name=image]").set_input_files(_mug_png(tmp_path / "mug.png"))
    image_form.locator("input[name=alt]").fill("A celadon mug on a wooden table")
    _submit(carol, image_form, "[data-testid=image-upload]")
    images = carol.locator("[data-testid=edit-images] img")
    expect(images).to_have_count(1)
    assert _loaded_width(images) == 320, "the uploaded image must load"
    _submit(carol, carol.locator("form:has([data-testid=publish])"), "[data-testid=publish]")
    # Published: she lands on the listing's public page.
    expect(carol).to_have_url(re.compile(rf"/shop/listings/{listing_id}/$"))
    expect(carol.locator(".alerts")).to_contain_text("Published")
    expect(carol.locator("[data-testid=listing-status]")).to_have_text("1 in stock")
    expect(carol.locator("[data-testid=listing-price]")).to_have_text("$12.00")

    # Carol keeps her wallet open in a second tab: the payout must arrive there live.
    wallet = carol.context.new_page()
    wallet.goto("/wallet/")
    expect(_available(wallet)).to_be_visible()
    carol_before = _money(_available(wallet).inner_text())
    _live(wallet)
    wallet.evaluate("window.__sameDocument = true")

    bob_context, bob = _new_context_page(browser, url)
    try:
        log_in(bob, "bob")
        bob.goto("/wallet/")
        bob_before = _money(_available(bob).inner_text())

        # --- Bob finds the mug by searching the marketplace --------------------------------------
        bob.goto("/shop/")
        grid = bob.locator("[data-testid=listing-grid]")
        expect(grid).to_contain_text(TITLE)
        for seeded in SEEDED_TITLES:  # seed_demo's shop (dave's), shown next to carol's mug
            expect(grid.locator("[data-testid=listing-card]", has_text=seeded)).to_contain_text("Dave's Records")
        bob.locator("[data-testid=market-search]").fill("mug")
        with bob.expect_navigation():
            bob.locator("[data-testid=market-search-submit]").click()
        cards = bob.locator("[data-testid=listing-card]")
        expect(cards).to_have_count(1)  # dave's records do not match "mug"
        card = bob.locator(f"[data-testid=listing-card][data-listing-id='{listing_id}']")
        expect(card).to_contain_text(TITLE)
        expect(card).to_contain_text("$12.00")
        expect(card).to_contain_text(SHOP_NAME)
        with bob.expect_navigation():
            card.locator("a.listing-card-link").click()
        expect(bob).to_have_url(re.compile(rf"/shop/listings/{listing_id}/$"))
        expect(bob.locator("[data-testid=listing-price]")).to_have_text("$12.00")
        expect(bob.locator("[data-testid=listing-status]")).to_have_text("1 in stock")
        expect(bob.locator("[data-testid=listing]")).to_contain_text("$3.00")
        gallery = bob.locator("img.listing-main-image")
        expect(gallery).to_be_visible()
        assert _loaded_width(gallery) == 320, "the image must load for bob"

        # --- Buy now → address → confirm (total $15.00) → pay ------------------------------------
        with bob.expect_navigation():
            bob.locator("[data-testid=buy-now]").click()
        expect(bob).to_have_url(re.compile(r"/shop/checkout/"))
        checkout = bob.locator("[data-testid=checkout-form]")
        checkout.locator("[name=name]").fill("Bob Smith")
        checkout.locator("[name=line1]").fill("1 Market Street")
        checkout.locator("[name=city]").fill("San Francisco")
        checkout.locator("[name=postcode]").fill("94105")
        checkout.locator("select[name=country]").select_option("US")
        _submit(bob, checkout, "[data-testid=checkout-review]")

        confirm = bob.locator("[data-testid=checkout-confirm]")
        expect(confirm).to_be_visible()
        expect(confirm.locator("[data-testid=confirm-group]")).to_contain_text(TITLE)
        expect(confirm.locator("[data-testid=confirm-group]")).to_contain_text(SHOP_NAME)
        expect(confirm.locator("[data-testid=group-total]")).to_have_text(_dollars(TOTAL_MINOR))
        expect(confirm.locator("[data-testid=confirm-address]")).to_contain_text("1 Market Street")
        expect(confirm.locator("[data-testid=confirm-total]")).to_contain_text(_dollars(TOTAL_MINOR))
        expect(confirm.locator("[data-testid=confirm-fx]")).to_have_count(0)  # USD to USD: no exchange
        expect(confirm.locator("[data-testid=pay]")).to_have_text(f"Pay {_dollars(TOTAL_MINOR)}")
        _submit(bob, confirm.locator("[data-testid=pay-form]"), "[data-testid=pay]")

        # --- His order page: paid, in escrow ------------------------------------------------------
        match = re.search(r"/shop/orders/(\d+)/$", bob.url)
        assert match, f"expected the order page, got {bob.url}:\n" + bob.locator("main").inner_text()
        order_id = int(match.group(1))
        order_url = bob.url
        status = bob.locator("[data-testid=order-status]")
        expect(status).to_have_text("Paid (in escrow)")
        expect(bob.locator("[data-testid=order-total]")).to_have_text(_dollars(TOTAL_MINOR))
        expect(bob.locator("[data-testid=order-address]")).to_contain_text("1 Market Street")
        expect(bob.locator("[data-testid=confirm-received]")).to_be_visible()
        _live(bob)
        bob.evaluate("window.__sameDocument = true")  # gone if the page reloads

        # --- Carol sees the order and marks it shipped with a tracking number -------------------
        seller = carol.context.new_page()
        seller.goto("/shop/sell/orders/")
        row = seller.locator(f"[data-testid=order-row][data-order-id='{order_id}']")
        expect(row).to_contain_text("@bob")
        expect(row).to_contain_text(TITLE)
        expect(row.locator("[data-testid=order-status]")).to_have_text("Paid (in escrow)")
        _settled_order_page(seller, row.locator("a").first.click)
        expect(seller).to_have_url(re.compile(rf"/shop/orders/{order_id}/$"))
        expect(seller.locator("[data-testid=order-status]")).to_have_text("Paid (in escrow)")
        expect(seller.locator("[data-testid=order-fee]")).to_contain_text("2.5")
        ship = seller.locator("[data-testid=ship-form]")
        ship.locator("[name=carrier]").fill("UPS")
        ship.locator("input[name=tracking_number]").fill(TRACKING)
        expect(ship.locator("[name=carrier]")).to_have_value("UPS")
        _submit(seller, ship, "[data-testid=mark-shipped]")
        expect(seller.locator("[data-testid=order-status]")).to_have_text("Shipped")
        expect(seller.locator("[data-testid=order-tracking]")).to_contain_text(TRACKING)

        # The mug was the last one: the listing is sold out.
        seller.goto(f"/shop/listings/{listing_id}/")
        expect(seller.locator("[data-testid=listing-status]")).to_have_text("Sold out")

        # --- Bob's open page turns to Shipped by itself --------------------------------------------
        expect(status).to_have_text("Shipped", timeout=LIVE_TIMEOUT_MS)
        expect(bob.locator("[data-testid=order-tracking]")).to_contain_text(TRACKING)
        expect(bob.locator("[data-testid=order-tracking]")).to_contain_text("UPS")
        assert bob.url == order_url
        assert bob.evaluate("window.__sameDocument === true"), "the status must change without a reload"

        # Bob's wallet: the $15.00 left at checkout (held in escrow, not his any more).
        bob.goto("/wallet/")
        expect(_available(bob)).to_have_text(_dollars(bob_before - TOTAL_MINOR))
        # Nothing reached Carol yet: the money waits in escrow.
        expect(_available(wallet)).to_have_text(_dollars(carol_before))

        # --- Bob confirms receipt: the order completes --------------------------------------------
        _settled_order_page(bob, lambda: bob.goto(order_url))
        bob.on("dialog", lambda dialog: dialog.accept())  # in case the page asks "are you sure?"
        _submit(bob, bob.locator("[data-testid=confirm-form]"), "[data-testid=confirm-received]")
        expect(bob.locator("[data-testid=order-status]")).to_have_text("Completed")
        expect(bob.locator("[data-testid=confirm-received]")).to_have_count(0)

        # --- Carol's open wallet shows the payout, live: $15.00 − $0.38 fee = $14.62 -----------------
        expect(_available(wallet)).to_have_text(
            _dollars(carol_before + TOTAL_MINOR - FEE_MINOR), timeout=LIVE_TIMEOUT_MS
        )
        assert wallet.url == f"{url}/wallet/"
        assert wallet.evaluate("window.__sameDocument === true"), "the payout must arrive without a reload"

        # The seller's view of the order shows the fee taken and what was paid out.
        seller.goto(f"/shop/orders/{order_id}/")
        expect(seller.locator("[data-testid=order-status]")).to_have_text("Completed")
        expect(seller.locator("[data-testid=order-fee]")).to_have_text(_dollars(FEE_MINOR))
        expect(seller.locator("[data-testid=order-released]")).to_have_text(_dollars(TOTAL_MINOR - FEE_MINOR))
    finally:
        bob_context.close()
