"""The whole journey of a new person, in English and in French, in Chromium with JavaScript
off: sign up, fill the profile, publish an intention, get an offer from a vendor driven over
the real vendor API, accept it, exchange messages, read the access log, withdraw the
consent, download the export, erase the account, and fail to log in again.

Every button, link and label is found by its English msgid translated through the French
catalog the app serves, so the French run checks the pages speak French. A run ends by
naming any msgid the catalog lacks. The English run also takes the README's screenshots."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD
from tests.web.conftest import TIMEOUT_MS
from tests.web.journey_support import (
    JourneyVendor,
    Language,
    accept_offer,
    fill_profile,
    make_offer,
    nav,
    open_conversation,
    publish_intention,
    sign_up,
    thread,
    vendor,
    write_reply,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SERVICE_PROVISION = {"purpose": "ServiceProvision"}
SHOP = "Velo Shop"
# The profile form's inputs by their English labels.
PROFILE = {
    "Given name": "Ada",
    "Family name": "Lovelace",
    "Phone": "+33612345678",
    "City": "Paris",
    "Country code": "FR",
    "Interests": "cycling, baking",
}


@pytest.fixture(params=["en", "fr"])
def lang(request: pytest.FixtureRequest) -> Language:
    return Language.of(request.param)


def browse(browser: Browser, live_server: str, lang: Language, **options: object) -> Page:
    """A fresh context in the run's language (Accept-Language), JavaScript off."""
    context = browser.new_context(
        base_url=live_server,
        java_script_enabled=False,
        locale=lang.browser_locale,
        accept_downloads=True,
        **options,  # type: ignore[arg-type]
    )
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, live_server: str, lang: Language) -> Iterator[Page]:
    page = browse(browser, live_server, lang)
    yield page
    page.context.close()


@pytest.fixture
def shop(app: Flask, live_server: str) -> Iterator[JourneyVendor]:
    with vendor(app, live_server, SHOP) as made:
        yield made


def test_the_whole_journey(page: Page, lang: Language, shop: JourneyVendor) -> None:
    t = lang.t
    french = lang.code == "fr"
    email = f"journey-{uuid.uuid4().hex[:10]}@example.org"
    given = "Adèle" if french else "Ada"
    title = "Un vélo gravel" if french else "A gravel bike"
    mine = "Le bleu est-il encore là en taille M ?" if french else "Is the blue one still in M?"
    theirs = "Oui, il en reste un." if french else "Yes, one left."

    # Sign up, fill the profile.
    sign_up(page, lang, email, PASSWORD)
    expect(page.get_by_role("status")).to_have_text(
        t("Welcome! Fill in as much or as little as you like.")
    )
    fill_profile(page, lang, {**PROFILE, "Given name": given})
    expect(page.locator('dd[data-field="given_name"]')).to_have_text(given)

    # Publish an intention; the vendor, which follows cycling, finds it in its feed.
    intention_id = publish_intention(page, lang, title, "Taille M" if french else "Size M")
    feed = shop.ok(shop.api.get("/vendor/v1/intentions"))["data"]
    assert [(i["id"], i["title"]) for i in feed] == [(intention_id, title)]
    assert not feed[0]["disclosed"]
    offer = make_offer(shop, intention_id, "649.00", "Gravel, size M, delivered in a week")
    customer_ref = offer["customer_ref"]
    profile_url = f"/vendor/v1/customers/{customer_ref}/profile"
    before = shop.api.get(profile_url, params=SERVICE_PROVISION)
    assert before.status_code == 404, before.text  # nobody behind the ref yet

    # Accept it in the browser, revealing the given name only.
    article = accept_offer(page, lang, offer, SHOP, "Given name")
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator('span[data-field="state"]')).to_have_text(
        lang.pt("intention state", "Fulfilled")
    )
    read = shop.ok(shop.api.get(profile_url, params=SERVICE_PROVISION))
    assert read["profile"] == {"given_name": given}
    consent_id = shop.ok(shop.api.get(f"/vendor/v1/offers/{offer['id']}"))["consent_id"]
    assert consent_id
    expect(article.locator('[data-field="accepted"]')).to_be_visible()

    # Messages: the person writes in the browser, the vendor answers over its API.
    conversations = shop.ok(shop.api.get("/vendor/v1/conversations"))["data"]
    assert len(conversations) == 1, conversations
    conversation_id = conversations[0]["id"]
    open_conversation(page, lang, conversation_id, SHOP)
    write_reply(page, lang, mine)
    messages = f"/vendor/v1/conversations/{conversation_id}/messages"
    latest = shop.ok(shop.api.get(messages))["data"]
    assert (latest[0]["sender"], latest[0]["text"]) == ("person", mine)
    shop.ok(shop.api.post(messages, json={"text": theirs}), 201)
    page.goto("/")
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("What waits for you"))
    nav(page).get_by_role(
        "link", name=f"{t('Inbox')} 1 {lang.nt('unread', 'unread', 1)}", exact=True
    ).click()
    lang.on_page(page)
    page.locator(f'tr[data-conversation="{conversation_id}"]').get_by_role(
        "link", name=SHOP
    ).click()
    lang.on_page(page)
    items = thread(page)
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_attribute("data-sender", "person")
    expect(items.nth(0)).to_contain_text(mine)
    expect(items.nth(1)).to_have_attribute("data-sender", "vendor")
    expect(items.nth(1)).to_contain_text(theirs)
    expect(items.nth(1)).to_contain_text(t("New"))

    # The access log says in words that the vendor read the given name.
    nav(page).get_by_role("link", name=t("Access log"), exact=True).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Access log"))
    reads = page.locator("table.log tbody tr", has_text=t("Read your profile"))
    expect(reads).to_have_count(1)
    expect(reads).to_contain_text(SHOP)
    expect(reads).to_contain_text(t("Given name"))
    expect(reads).to_contain_text("ServiceProvision")
    expect(page.locator("#chain-check")).to_have_class("notice")

    # Withdraw the consent, after its confirmation page.
    nav(page).get_by_role("link", name=t("Consents"), exact=True).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your consents"))
    consent = page.locator(f'article.consent[data-consent="{consent_id}"]')
    expect(consent.locator('dd[data-field="state"]')).to_have_text(
        lang.pt("consent state", "Given")
    )
    withdraw = lang.text(
        'Withdraw<span class="visually-hidden"> consent to %(vendor)s</span>', vendor=SHOP
    )
    consent.get_by_role("link", name=withdraw, exact=True).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        t("Withdraw your consent to %(vendor)s?", vendor=SHOP)
    )
    page.get_by_role("button", name=t("Withdraw consent to %(vendor)s", vendor=SHOP)).click()
    expect(page).to_have_url(re.compile(r"/consents\?withdrawn=1$"))
    lang.on_page(page)
    expect(page.get_by_role("status")).to_have_text(
        t("Consent withdrawn. From now on that vendor cannot read these details.")
    )
    expect(consent.locator('dd[data-field="state"]')).to_have_text(
        lang.pt("consent state", "Withdrawn")
    )
    refused = shop.api.get(profile_url, params=SERVICE_PROVISION)
    assert refused.status_code == 403, refused.text
    assert "given_name" not in refused.text

    # Download everything through the page: the profile and the conversation are in it.
    nav(page).get_by_role("link", name=t("Your data"), exact=True).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your data"))
    with page.expect_download() as download:
        page.get_by_role("link", name=t("Download my data")).click()
    assert download.value.suggested_filename == "vrm-export.json"
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["account"]["email"] == email
    assert exported["profile"]["current"]["given_name"] == given
    assert exported["profile"]["current"]["phone"] == "+33612345678"
    [talk] = exported["conversations"]
    assert talk["id"] == conversation_id
    assert sorted((m["sender"], m["text"]) for m in talk["messages"]) == [
        ("person", mine),
        ("vendor", theirs),
    ]
    assert any(c["id"] == consent_id and c["state"] == "withdrawn" for c in exported["consents"])

    # Erase the account: a wrong password keeps it, the right one erases it.
    password = page.get_by_label(t("Confirm with your password"), exact=True)
    password.fill("not my password at all")
    page.get_by_role("button", name=t("Erase my account")).click()
    lang.on_page(page)
    expect(password).to_have_attribute("aria-invalid", "true")
    password.fill(PASSWORD)
    page.get_by_role("button", name=t("Erase my account")).click()
    expect(page).to_have_url(re.compile(r"/\?erased=1$"))
    lang.on_page(page)
    expect(page.get_by_role("status")).to_have_text(
        t("Your account and all your personal data have been erased.")
    )
    gone = shop.api.get(profile_url, params=SERVICE_PROVISION)
    assert gone.status_code in (403, 404), gone.text
    assert shop.ok(shop.api.get("/vendor/v1/conversations"))["data"] == []

    # Logging in again fails.
    nav(page).get_by_role("link", name=t("Log in"), exact=True).click()
    lang.on_page(page)
    page.get_by_label(t("Email"), exact=True).fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t("Log in"), exact=True).click()
    lang.on_page(page)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text(t("The email or the password is not right"))
    expect(page.get_by_role("button", name=t("Log out"))).to_have_count(0)

    assert lang.pages >= 20
    assert not lang.missing, f"no {lang.code} translation in the catalog for: {lang.missing}"


def test_readme_screenshots(browser: Browser, live_server: str, shop: JourneyVendor) -> None:
    """A living account for docs/screenshots/: an accepted offer and its conversation, a
    second intention with an offer waiting, a vendor message unread, a read in the log."""
    lang = Language.of("en")
    page = browse(browser, live_server, lang, viewport={"width": 1200, "height": 900})
    try:
        sign_up(page, lang, f"shots-{uuid.uuid4().hex[:10]}@example.org", PASSWORD)
        fill_profile(page, lang, PROFILE)
        first = publish_intention(page, lang, "A gravel bike", "For commuting, size M")
        offer = make_offer(shop, first, "649.00", "Gravel bike, size M, delivered in a week")
        accept_offer(page, lang, offer, SHOP, "Given name")
        read = shop.api.get(
            f"/vendor/v1/customers/{offer['customer_ref']}/profile", params=SERVICE_PROVISION
        )
        assert shop.ok(read)["profile"] == {"given_name": "Ada"}
        [conversation] = shop.ok(shop.api.get("/vendor/v1/conversations"))["data"]
        open_conversation(page, lang, conversation["id"], SHOP)
        write_reply(page, lang, "Can I pick it up on Saturday?")
        messages = f"/vendor/v1/conversations/{conversation['id']}/messages"
        shop.ok(shop.api.post(messages, json={"text": "Of course, see you then."}), 201)
        second = publish_intention(page, lang, "Bike lights", "Front and back, USB")
        make_offer(shop, second, "39.00", "A pair of USB lights")

        page.goto("/")
        expect(page.locator(f'#offers li[data-intention="{second}"]')).to_be_visible()
        expect(
            page.locator(f'#messages li[data-conversation="{conversation["id"]}"]')
        ).to_be_visible()
        expect(page.locator("#accesses li")).not_to_have_count(0)
        dashboard = page.screenshot(full_page=True)

        page.goto(f"/vendors/{shop.id}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"You and {SHOP}")
        expect(page.locator("#consents article.consent")).to_have_count(1)
        expect(page.locator("#offers li")).to_have_count(2)
        expect(page.locator("#conversations li")).to_have_count(1)
        relationship = page.screenshot(full_page=True)
    finally:
        page.context.close()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "dashboard.png").write_bytes(dashboard)
    (SCREENSHOTS / "relationship.png").write_bytes(relationship)
