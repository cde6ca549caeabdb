"""Alice opens savings, moves 200.00 in, sees the APY and a projection; then she takes a 300.00 loan over
6 months after reading the disclosure, and sees the schedule (issue 6).

Savings: /savings/ → Open savings → Move in (form → confirm step → submit, idempotent) → the balance is
$200.00 and the APY is shown; the projection calculator answers live as she types (savings.js) and the
server's answer on submit is the same figure. Loans: /loans/ → amount and term → the disclosure (APR,
monthly payment, finance charge, total of payments, the six-row schedule) → Accept → the loan page
with the same schedule and 300.00 outstanding, and her wallet up by 300.00.

Runs its own site (a fresh database with the demo people): it moves money, and the wallet journey
expects the demo balances untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import demo_site, log_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server_url(tmp_path_factory) -> Iterator[str]:
    """This module's own site with the demo people (overrides the session-wide server here only)."""
    yield from demo_site(tmp_path_factory, "e2e-savings-loans")


def _money(text: str) -> int:
    """ "$1,234.56" → 123456 (minor units), for comparing figures shown on the page."""
    digits = re.sub(r"[^0-9.]", "", text)
    whole, _, cents = digits.partition(".")
    return int(whole or 0) * 100 + int((cents + "00")[:2])


def test_alice_saves_200_then_borrows_300_over_6_months(page: Page):
    log_in(page, "alice")

    # --- Savings: open, move 200.00 in through the confirm step -------------------------------
    page.goto("/savings/")
    expect(page.locator("[data-testid=savings-open-card] [data-testid=savings-apy]")).to_contain_text("4.5")
    with page.expect_navigation():
        page.locator("[data-testid=savings-open]").click()
    expect(page.locator("[data-testid=savings-balance-amount]")).to_have_text(re.compile(r"\$0\.00"))

    with page.expect_navigation():
        page.locator("[data-testid=savings-move-in]").click()
    form = page.locator("[data-testid=move-form]")
    form.locator("input[name=direction][value=in]").check()
    form.locator("input[name=amount]").fill("200.00")
    with page.expect_navigation():
        form.locator("[data-testid=move-review]").click()
    expect(page.locator("[data-testid=move-confirm-amount]")).to_contain_text("$200.00")
    with page.expect_navigation():
        page.locator("[data-testid=move-confirm-submit]").click()

    # Back on the savings page: the balance and the APY.
    assert "/savings/" in page.url
    expect(page.locator("[data-testid=savings-balance-amount]")).to_contain_text("$200.00")
    expect(page.locator("[data-testid=savings-apy]")).to_contain_text("4.5")

    # --- Projection: live in the browser, and the same figure from the server on submit ----------
    projection = page.locator("#projection-form")
    projection.locator("input[name=amount]").fill("200.00")
    projection.locator("input[name=monthly]").fill("50.00")
    projection.locator("input[name=months]").fill("12")
    live = page.locator("#projection-result [data-testid=projection-balance]")
    expect(live).to_be_visible()
    live_figure = _money(live.inner_text())
    assert live_figure > 200_00 + 12 * 50_00  # deposits plus some interest
    with page.expect_navigation():
        projection.locator("[data-testid=projection-submit]").click()
    server = page.locator("#projection-result [data-testid=projection-balance]")
    expect(server).to_be_visible()
    assert _money(server.inner_text()) == live_figure

    # --- Loan: 300.00 over 6 months, after reading the disclosure -------------------------------
    page.goto("/loans/")
    expect(page.locator("[data-testid=loan-offer]")).to_be_visible()
    expect(page.locator("[data-testid=offer-apr]")).to_contain_text("8.9")
    apply = page.locator("[data-testid=apply-form]")
    apply.locator("input[name=amount]").fill("300.00")
    apply.locator("select[name=term_months]").select_option("6")
    with page.expect_navigation():
        apply.locator("[data-testid=see-disclosure]").click()

    disclosure = page.locator("[data-testid=disclosure]")
    expect(disclosure).to_be_visible()
    expect(disclosure.locator("[data-testid=disclosure-apr]")).to_contain_text("8.9")
    monthly = _money(disclosure.locator("[data-testid=disclosure-monthly]").inner_text())
    finance = _money(disclosure.locator("[data-testid=disclosure-finance-charge]").inner_text())
    total = _money(disclosure.locator("[data-testid=disclosure-total]").inner_text())
    assert total == 300_00 + finance and 0 < finance < 300_00
    assert 5_000 <= monthly <= 5_200  # 300.00 at 8.9% over 6 months ≈ 51.2x
    rows = disclosure.locator("[data-testid=schedule-row]")
    expect(rows).to_have_count(6)
    with page.expect_navigation():
        disclosure.locator("[data-testid=accept-loan]").click()

    detail = page.locator("[data-testid=loan-detail]")
    expect(detail).to_be_visible()
    expect(detail.locator("[data-testid=loan-outstanding]")).to_contain_text("$300.00")
    expect(page.locator("[data-testid=schedule] [data-testid=schedule-row]")).to_have_count(6)
    expect(page.locator("[data-testid=schedule]")).to_contain_text(f"{monthly // 100}.{monthly % 100:02d}")

    # The wallet shows the loan's money: 1,000.00 − 200.00 into savings + 300.00 borrowed.
    page.goto("/wallet/")
    expect(page.locator("body")).to_contain_text("$1,100.00")
