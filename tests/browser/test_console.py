"""The key console driven like a person would: keyboard, mouse, clipboard, in real Chromium.

Elements are found by their role and accessible name (``get_by_role``, ``get_by_label``),
the names a screen reader announces, so a control without one fails these tests too.
"""

from __future__ import annotations

import os
import re

from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.browser.conftest import (
    MANY_KEYS,
    MANY_KEYS_USER,
    OPERATOR,
    PASSWORD_USER,
    SESSIONS_USER,
    TARGET,
    USER,
    Console,
)
from tests.support import PASSWORD

SCREENSHOTS = os.environ.get("XPAY_AUTH_SCREENSHOTS")


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("E-mail").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(f"Signed in as {username}.")


def api_login(console: Console, username: str, secret: str, *, is_api: bool) -> dict[str, object]:
    """The raw answer of a login with this secret: the envelope's success or error object."""
    response = console.server.post(
        "/client/authenticate", {"username": username, "secretKey": secret, "isAPI": is_api}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def logs_in(console: Console, username: str, secret: str, *, is_api: bool = True) -> bool:
    return "success" in api_login(console, username, secret, is_api=is_api)


def create_key(page: Page, name: str, *, days: str = "", cidrs: str = "") -> str:
    """Create a key through the form; the secret the console shows once."""
    page.get_by_label("Name", exact=True).fill(name)
    if days:
        page.get_by_label("Expires after (days)").fill(days)
    if cidrs:
        page.get_by_label("Allowed networks").fill(cidrs)
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("status")).to_have_text(f"Key {name} created. Copy its secret now.")
    secret = page.get_by_label("Secret key").input_value()
    assert secret.startswith("xpsk_")
    return secret


def bearer_of(page: Page) -> list[str]:
    """Collects the Authorization headers the page sends from now on."""
    seen: list[str] = []

    def on_request(request: Request) -> None:
        header = request.headers.get("authorization")
        if header:
            seen.append(header)

    page.on("request", on_request)
    return seen


def test_a_person_signs_in_with_the_keyboard_alone(page: Page) -> None:
    """Typing the e-mail, Tab, the password and Enter signs in and lands on the keys view."""
    expect(page.get_by_label("E-mail")).to_be_focused()
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(f"Signed in as {USER}.")
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    # A plain user sees no operator views.
    expect(page.get_by_role("button", name="Accounts")).to_be_hidden()
    expect(page.get_by_role("button", name="Audit trail")).to_be_hidden()


def test_a_wrong_password_is_refused_and_announced(page: Page) -> None:
    """A wrong password shows the refusal in the alert region and stays on the sign-in form."""
    page.get_by_label("E-mail").fill(USER)
    page.get_by_label("Password", exact=True).fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()


def test_a_new_key_shows_its_secret_once_and_copies_it(page: Page, console: Console) -> None:
    """Creating a key shows a working secret once, copies it, lists the key, and forgets it."""
    sign_in(page, USER)
    secret = create_key(page, "billing-batch", days="30", cidrs="127.0.0.1\n10.0.0.0/8")

    page.get_by_role("button", name="Copy secret").click()
    expect(page.get_by_role("status")).to_have_text("Secret copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert logs_in(console, USER, secret)

    row = page.get_by_role("row").filter(has_text="billing-batch")
    expect(row).to_contain_text("from 127.0.0.1/32, 10.0.0.0/8")
    expect(row).to_contain_text(secret[: len("xpsk_") + 16])
    expect(row).to_contain_text("tme_user")
    expect(row).to_contain_text("active")
    expect(row.get_by_role("cell").nth(5)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))

    page.get_by_role("button", name="I have stored it").click()
    expect(page.get_by_role("status")).to_have_text("The secret is no longer shown.")
    assert secret not in page.content()
    assert page.get_by_label("Secret key").input_value() == ""


def test_a_refused_field_is_announced_and_focused(page: Page) -> None:
    """A network the service refuses is named in the alert, and its field is marked and focused."""
    sign_in(page, USER)
    page.get_by_label("Name", exact=True).fill("bad-network")
    page.get_by_label("Allowed networks").fill("not-a-network")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_contain_text("Allowed networks:")
    expect(page.get_by_label("Allowed networks")).to_be_focused()
    expect(page.get_by_label("Allowed networks")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("row").filter(has_text="bad-network")).to_have_count(0)


def test_rotating_a_key_keeps_the_old_secret_for_the_grace_period(
    page: Page, console: Console
) -> None:
    """Rotate with a one-hour grace shows a new secret; old and new secrets both log in."""
    sign_in(page, USER)
    old = create_key(page, "rotating")
    page.get_by_role("button", name="I have stored it").click()

    page.get_by_role("button", name="Rotate key rotating").click()
    dialog = page.get_by_role("dialog", name="Rotate key rotating?")
    expect(dialog).to_be_visible()
    dialog.get_by_label("The current secret keeps working for").select_option(label="1 hour")
    dialog.get_by_role("button", name="Rotate key").click()

    expect(page.get_by_role("status")).to_have_text(
        "Key rotating rotated. Copy its new secret now."
    )
    new = page.get_by_label("Secret key").input_value()
    assert new.startswith("xpsk_")
    assert new != old
    expect(page.get_by_text("The previous secret works until")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="rotating")
    expect(row).to_contain_text("old secret until")
    assert logs_in(console, USER, new)
    assert logs_in(console, USER, old)


def test_revoking_a_key_asks_first_and_then_stops_it(page: Page, console: Console) -> None:
    """Cancel leaves the key working; confirming revokes it, and its secret no longer logs in."""
    sign_in(page, USER)
    secret = create_key(page, "short-lived")
    page.get_by_role("button", name="I have stored it").click()

    page.get_by_role("button", name="Revoke key short-lived").click()
    dialog = page.get_by_role("dialog", name="Revoke key short-lived?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert logs_in(console, USER, secret)

    page.get_by_role("button", name="Revoke key short-lived").click()
    dialog.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_have_text("Key short-lived revoked.")
    row = page.get_by_role("row").filter(has_text="short-lived")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    assert not logs_in(console, USER, secret)


def test_own_sessions_are_listed_and_can_be_ended(page: Page, console: Console) -> None:
    """The sessions view lists this and another session; ending the other revokes its token,
    ending this one signs out."""
    other = console.server.login(SESSIONS_USER, PASSWORD, is_api=False)
    sign_in(page, SESSIONS_USER)
    page.get_by_role("button", name="Sessions").click()
    table = page.get_by_role("table", name="Live sessions")
    expect(table.get_by_role("row")).to_have_count(3)  # the header and two sessions
    expect(table.get_by_text("this session")).to_have_count(1)

    other_row = page.locator(f'tr[data-ticket="{other["ticket"]}"]')
    other_row.get_by_role("button", name=re.compile(r"^End password session started")).click()
    expect(page.get_by_role("status")).to_have_text("Session ended.")
    expect(table.get_by_role("row")).to_have_count(2)
    ended = console.server.post("/client/session", {}, token=str(other["access_token"]))
    assert ended.status_code == 401

    page.get_by_role("button", name="End this session and sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You ended this session and are signed out.")


def test_signing_out_ends_the_token_and_a_reload_forgets_it(page: Page, console: Console) -> None:
    """Sign out revokes the token the page used; a reload signs out too, with nothing stored."""
    sent = bearer_of(page)
    sign_in(page, USER)
    assert sent
    token = sent[-1].removeprefix("Bearer ")
    storage = page.evaluate(
        """async () => [localStorage.length, sessionStorage.length, document.cookie,
                        (await indexedDB.databases()).length, (await caches.keys()).length]"""
    )
    assert storage == [0, 0, "", 0, 0]
    assert page.context.cookies() == []

    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()

    sign_in(page, USER)
    token = sent[-1].removeprefix("Bearer ")
    assert console.server.post("/client/session", {}, token=token).status_code == 200
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("Signed out.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_focused()
    assert console.server.post("/client/session", {}, token=token).status_code == 401


def test_changing_the_password_checks_the_current_one(page: Page, console: Console) -> None:
    """A wrong current password is refused on its field; the right one changes the password."""
    sign_in(page, PASSWORD_USER)
    page.get_by_role("button", name="Password").click()
    new_password = "a much longer passphrase 2026"
    page.get_by_label("Current password").fill("wrong current password")
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password again").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("Current password: does not match.")
    expect(page.get_by_label("Current password")).to_be_focused()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password again").fill("something else entirely")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("does not match the new password")
    assert logs_in(console, PASSWORD_USER, PASSWORD, is_api=False)

    page.get_by_label("New password again").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_have_text(
        "Password changed. Your other sessions have ended."
    )
    assert logs_in(console, PASSWORD_USER, new_password, is_api=False)
    assert not logs_in(console, PASSWORD_USER, PASSWORD, is_api=False)


def test_an_operator_disables_and_enables_an_account(page: Page, console: Console) -> None:
    """The operator finds an account, disables it after confirming, and enables it again."""
    assert logs_in(console, TARGET, PASSWORD, is_api=False)
    sign_in(page, OPERATOR)
    page.get_by_role("button", name="Accounts").click()
    page.get_by_role("searchbox", name="Username contains").fill("carol")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_have_text("1 account matches.")
    table = page.get_by_role("table", name="Accounts")
    expect(table.get_by_role("row")).to_have_count(2)

    page.get_by_role("button", name=f"Disable {TARGET}").click()
    page.get_by_role("dialog", name=f"Disable {TARGET}?").get_by_role(
        "button", name="Disable account"
    ).click()
    expect(page.get_by_role("status")).to_have_text(f"Account {TARGET} disabled.")
    expect(table.get_by_role("row").filter(has_text=TARGET)).to_contain_text("disabled")
    refused = api_login(console, TARGET, PASSWORD, is_api=False)["error"]
    assert isinstance(refused, dict)
    assert refused["message"] == "invalid credentials"
    assert not logs_in(console, TARGET, PASSWORD, is_api=False)

    page.get_by_role("button", name=f"Enable {TARGET}").click()
    expect(page.get_by_role("status")).to_have_text(f"Account {TARGET} enabled.")
    assert logs_in(console, TARGET, PASSWORD, is_api=False)


def test_an_operator_searches_the_audit_trail(page: Page) -> None:
    """Filtering the audit trail by event shows only those events."""
    sign_in(page, OPERATOR)
    page.get_by_role("button", name="Audit trail").click()
    page.get_by_label("Event", exact=True).fill("login.succeeded")
    page.get_by_label("Username", exact=True).fill(OPERATOR)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^\d+ events? match(es)?\.$"))
    table = page.get_by_role("table", name="Audit events, newest first")
    rows = table.locator("tbody tr")
    expect(rows.first).to_contain_text("login.succeeded")
    for text in rows.all_inner_texts():
        assert "login.succeeded" in text
        assert OPERATOR in text


def test_a_long_key_list_is_paged(page: Page) -> None:
    """Twenty-five keys show twenty on the first page and the rest on the next."""
    sign_in(page, MANY_KEYS_USER)
    rows = page.get_by_role("table", name="Your API keys, newest first").locator("tbody tr")
    expect(rows).to_have_count(20)
    pager = page.locator('[data-pager="keys"]')
    expect(pager).to_contain_text("Page 1 of 2")
    expect(pager.get_by_role("button", name="Previous page")).to_be_disabled()
    pager.get_by_role("button", name="Next page").click()
    expect(pager).to_contain_text("Page 2 of 2")
    expect(rows).to_have_count(MANY_KEYS - 20)
    expect(pager.get_by_role("button", name="Next page")).to_be_disabled()


def test_a_session_ended_elsewhere_signs_the_console_out(page: Page, console: Console) -> None:
    """When the console's session is revoked from elsewhere, its next call signs it out."""
    sent = bearer_of(page)
    sign_in(page, SESSIONS_USER)
    token = sent[-1].removeprefix("Bearer ")
    ticket = console.server.post("/client/session", {}, token=token).json()["success"]["data"]
    other = console.server.login(SESSIONS_USER, PASSWORD, is_api=False)
    revoked = console.server.post(
        "/client/sessions/revoke", {"ticket": ticket["ticket"]}, token=str(other["access_token"])
    )
    assert revoked.json()["success"]["data"]["revoked"] is True
    page.get_by_role("button", name="Sessions").click()
    expect(page.get_by_role("status")).to_have_text("Your session has ended. Sign in again.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()


def test_the_console_signs_out_when_its_token_expires(
    context: BrowserContext, console: Console
) -> None:
    """At the token's expiresAt the console drops it and asks to sign in again."""
    page = context.new_page()
    page.clock.install()
    page.goto(console.url)
    sign_in(page, USER)
    page.clock.run_for("59:00")
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    page.clock.run_for("01:05")
    expect(page.get_by_role("status")).to_have_text("Your session expired. Sign in again.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
