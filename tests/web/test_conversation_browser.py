"""A whole conversation in a real browser with JavaScript off: the person writes first to a
vendor they deal with; the vendor, over real HTTP to the live server with a
client-credentials token, answers twice; the person sees the unread count, reads the
thread, replies; the vendor reads the reply; the person closes the conversation, and the
vendor's next message is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD
from tests.web.conftest import TIMEOUT_MS
from tests.web.test_browser import description_of, field, log_in, unique_email
from tests.web.test_intentions_browser import HttpVendor
from vrm.vendors.service import VendorService

pytestmark = pytest.mark.browser

VENDOR_SCOPE = "conversations:read conversations:write"


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh context with JavaScript off: the pages must work without it."""
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1.
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def person(http: httpx.Client) -> tuple[uuid.UUID, str]:
    """A person signed up over the personal API: their id and email."""
    email = unique_email("inbox")
    response = http.post("/personal/v1/accounts", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"]), email


@pytest.fixture
def velo(app: Flask, live_server: str, person: tuple[uuid.UUID, str]) -> Iterator[HttpVendor]:
    """Velo Shop, which the person deals with, holding a token for conversations only."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendors = VendorService(session, rt.keyring)
        vendor, client, secret = vendors.create_vendor(
            "Velo Shop", redirect_uris=("https://velo.example/cb",)
        )
        vendors.relate(vendor.id, person[0])
        client_id = client.client_id
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": VENDOR_SCOPE},
            auth=(client_id, secret),
        )
        assert token.status_code == 200, token.text
        assert token.json()["scope"] == VENDOR_SCOPE
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield HttpVendor("Velo Shop", http)


def test_a_whole_conversation_from_the_first_message_to_closing_it(
    page: Page, person: tuple[uuid.UUID, str], velo: HttpVendor
) -> None:
    log_in(page, person[1])
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your inbox")
    expect(page.get_by_text("No conversation yet.")).to_be_visible()

    # The person writes first.
    field(page, "Vendor").select_option(label="Velo Shop")
    field(page, "Your message").fill("Is the blue one still there in size M?")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}\?started=1$"))
    expect(page.get_by_role("status")).to_have_text(
        "Your message is sent. Velo Shop can answer you here."
    )
    match = re.search(r"/inbox/([0-9a-f-]{36})", page.url)
    assert match
    conversation_id = match.group(1)

    # The vendor finds it, reads it and answers twice over its API.
    listed = velo.get("/vendor/v1/conversations")
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["data"]] == [conversation_id]
    messages = f"/vendor/v1/conversations/{conversation_id}/messages"
    first = velo.get(messages).json()["data"]
    assert [(m["sender"], m["text"]) for m in first] == [
        ("person", "Is the blue one still there in size M?")
    ]
    for text in ("Yes, one left.", "Shall we keep it for you until Saturday?"):
        sent = velo.post(messages, json={"text": text})
        assert sent.status_code == 201, sent.text

    # The person sees the count in the navigation and in the inbox.
    page.goto("/profile")
    nav.get_by_role("link", name="Inbox 2 unread").click()
    row = page.locator(f'tr[data-conversation="{conversation_id}"]')
    expect(row).to_have_class("unread")
    expect(row.locator('td[data-field="unread"]')).to_have_text("2 new")
    expect(row.locator('td[data-field="state"]')).to_have_text("Open")
    row.get_by_role("link", name="Velo Shop").click()

    # The thread, oldest first, the new messages marked; reading it clears the count.
    expect(page.get_by_role("heading", level=1)).to_have_text("Conversation with Velo Shop")
    items = page.get_by_role("list", name="Messages").get_by_role("listitem")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("You wrote on")
    expect(items.nth(0)).to_contain_text("Is the blue one still there in size M?")
    expect(items.nth(1)).to_contain_text("Velo Shop wrote on")
    expect(items.nth(1)).to_contain_text("Yes, one left.")
    expect(items.nth(2)).to_contain_text("Shall we keep it for you until Saturday?")
    expect(items.nth(2)).to_contain_text("New")
    expect(nav.get_by_role("link", name="Inbox", exact=True)).to_be_visible()

    # An empty reply is refused next to the field; then the person replies.
    reply = field(page, "Your reply")
    page.get_by_role("button", name="Send").click()
    expect(description_of(page, reply)).to_have_text("Write something")
    expect(reply).to_have_attribute("aria-invalid", "true")
    reply.fill("Yes please, I come by on Saturday.")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(rf"/inbox/{conversation_id}\?sent=1#m-[0-9a-f-]{{36}}$"))
    expect(page.get_by_role("status")).to_have_text("Your reply is sent.")
    expect(items).to_have_count(4)
    expect(items.nth(3)).to_contain_text("Yes please, I come by on Saturday.")
    expect(items.nth(1)).not_to_contain_text("New")

    # The vendor reads the reply, and that its messages were read.
    latest = velo.get(messages).json()["data"]  # newest first
    assert (latest[0]["sender"], latest[0]["text"]) == (
        "person",
        "Yes please, I come by on Saturday.",
    )
    assert all(m["read"] for m in latest)

    # The person closes the conversation, after confirming.
    page.get_by_role("link", name="Close this conversation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Close the conversation with Velo Shop?"
    )
    page.get_by_role("button", name="Close the conversation").click()
    expect(page).to_have_url(re.compile(rf"/inbox/{conversation_id}\?closed=1$"))
    expect(page.get_by_role("status")).to_have_text(
        "Conversation closed. Velo Shop can no longer write in it."
    )
    expect(page.locator('span[data-field="state"]')).to_have_text("Closed")
    expect(page.get_by_label("Your reply")).to_have_count(0)
    expect(page.get_by_role("link", name="Close this conversation")).to_have_count(0)
    expect(items).to_have_count(4)

    # The vendor's next message is refused.
    refused = velo.post(messages, json={"text": "See you Saturday!"})
    assert refused.status_code == 409, refused.text
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["type"] == "urn:vrm:problem:conversation-closed"
    state = velo.get(f"/vendor/v1/conversations/{conversation_id}").json()
    assert (state["state"], state["can_write"]) == ("closed", False)
