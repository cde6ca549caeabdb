"""A newcomer's first visit: sign up, verify the email, log in, see home and the live socket, log out."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import wait_for_js

pytestmark = pytest.mark.e2e

PASSWORD = "Correct-Horse-42-battery"


def _submit(page: Page, form_selector: str) -> None:
    """Click the form's submit button and wait for the page it leads to."""
    form = page.locator(form_selector).first
    expect(form).to_be_attached()
    button = form.locator("button[type=submit], input[type=submit], button:not([type])").first
    with page.expect_navigation():
        button.click()


def test_signup_verify_login_logout(page: Page, outbox, live_server_url: str):
    handle = "e2e_" + secrets.token_hex(4)
    address = f"{handle}@example.com"

    # Sign up.
    page.goto("/accounts/signup/")
    page.locator("input[name=email]").fill(address)
    page.locator("input[name=username]").fill(handle)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    _submit(page, "form:has(input[name=password2])")
    assert "/accounts/signup/" not in page.url, "sign-up was refused:\n" + page.locator("body").inner_text()

    # Follow the verification link from the mail.
    message = outbox.wait_for(address)
    links = outbox.links(message, r"/accounts/confirm-email/")
    assert links, "no verification link in the mail:\n" + outbox.text(message)
    page.goto(links[-1])
    confirm = page.locator("form[action*='confirm-email']")
    if confirm.count():  # allauth asks for a click unless the link confirms on GET
        _submit(page, "form[action*='confirm-email']")

    # Log in with the handle.
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(handle)
    page.locator("input[name=password]").fill(PASSWORD)
    _submit(page, "form:has(input[name=login])")
    assert "/accounts/login/" not in page.url, "login was refused:\n" + page.locator("body").inner_text()

    # The home page greets the user and the websocket is live.
    page.goto("/")
    expect(page.locator("body")).to_contain_text(handle)
    wait_for_js(page, "window.__liveConnected === true")  # set by static/js/live.js on open

    # Log out through allauth's logout page (a POST form).
    page.goto("/accounts/logout/")
    _submit(page, "form[action*='logout']")
    expect(page.locator("a[href*='/accounts/login/']").first).to_be_visible()

    # The session is really gone: a signed-in page sends us to the login page.
    page.goto("/accounts/email/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
