"""Intentcasting end to end: a person publishes an intention through the form in a real
browser; a vendor, over real HTTP to the live server, finds it in its feed and offers; the
person accepts, revealing one field, and the vendor can read exactly that field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.web.test_browser import field, save_profile, sign_up, unique_email
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.service import VendorService

pytestmark = pytest.mark.browser

SERVICE_PROVISION = {"purpose": "ServiceProvision"}


@dataclass
class HttpVendor:
    """A vendor holding a client-credentials token, talking to the live server."""

    name: str
    http: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(path, **kwargs)


@pytest.fixture
def velo(app: Flask, live_server: str) -> Iterator[HttpVendor]:
    """Velo Shop, created as ``vrm vendor create`` would, its token fetched over HTTP."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        _vendor, client, secret = VendorService(session, rt.keyring).create_vendor(
            "Velo Shop", redirect_uris=("https://velo.example/cb",)
        )
        client_id = client.client_id
    # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1.
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield HttpVendor("Velo Shop", http)


def test_a_person_publishes_accepts_an_offer_and_the_vendor_reads_the_revealed_field(
    page: Page, velo: HttpVendor
) -> None:
    # The vendor accepts the usual terms in advance and follows cycling.
    terms = velo.put("/vendor/v1/terms", json={"accepted": list(DEFAULT_TERMS)})
    assert terms.status_code == 200, terms.text
    follow = velo.post("/vendor/v1/subscriptions", json={"categories": ["sports/cycling"]})
    assert follow.status_code == 201, follow.text

    sign_up(page, unique_email("intent"))
    save_profile(page, {"Given name": "Ada", "Phone": "+33612345678"})

    # Publish through the form.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Intentions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your intentions")
    page.get_by_role("link", name="Publish an intention").click()
    field(page, "Title").fill("A gravel bike")
    field(page, "Description").fill("For commuting, size M")
    field(page, "Category").select_option("sports/cycling/bicycles")
    field(page, "Keywords").fill("gravel, commuting")
    field(page, "Lowest price").fill("300")
    field(page, "Highest price").fill("800")
    field(page, "Currency").fill("EUR")
    field(page, "Country code").fill("FR")
    field(page, "City").fill("Paris")
    expect(field(page, "Open for (days)")).to_have_value("30")
    expect(field(page, "Service delivery only")).to_be_checked()
    expect(field(page, "Given name")).not_to_be_checked()  # nothing disclosed by default
    page.get_by_role("button", name="Publish").click()

    expect(page).to_have_url(re.compile(r"/intentions/[0-9a-f-]{36}\?published=1$"))
    expect(page.get_by_role("status")).to_contain_text("It reached 1 vendor")
    expect(page.get_by_role("heading", level=1)).to_have_text("A gravel bike")
    match = re.search(r"/intentions/([0-9a-f-]{36})", page.url)
    assert match
    intention_id = match.group(1)

    # The vendor sees it in its feed, without the person, and offers.
    feed = velo.get("/vendor/v1/intentions")
    assert feed.status_code == 200, feed.text
    items = feed.json()["data"]
    assert [item["id"] for item in items] == [intention_id]
    assert items[0]["title"] == "A gravel bike"
    assert items[0]["price"] == {"min": "300.00", "max": "800.00", "currency": "EUR"}
    assert not items[0]["disclosed"]
    made = velo.post(
        f"/vendor/v1/intentions/{intention_id}/offers",
        json={
            "price": "649.00",
            "currency": "EUR",
            "description": "Gravel bike, size M, delivered in a week",
            "url": "https://velo.example/offers/42",
        },
    )
    assert made.status_code == 201, made.text
    offer = made.json()
    customer_ref = offer["customer_ref"]
    # Until the person accepts, the vendor has no customer behind that ref to read.
    before = velo.get(f"/vendor/v1/customers/{customer_ref}/profile", params=SERVICE_PROVISION)
    assert before.status_code == 404, before.text

    # The person sees the offer and accepts it, revealing the given name only.
    page.reload()
    article = page.locator(f'article[data-offer="{offer["id"]}"]')
    expect(article.get_by_role("heading", level=3)).to_have_text("Velo Shop: 649.00 EUR")
    expect(article.locator('dd[data-field="state"]')).to_have_text("Waiting for your answer")
    expect(article.get_by_text("Gravel bike, size M, delivered in a week")).to_be_visible()
    expect(article.get_by_role("link", name="https://velo.example/offers/42")).to_be_visible()
    article.get_by_label("Given name", exact=True).check()
    expect(article.get_by_label("Phone", exact=True)).not_to_be_checked()
    article.get_by_role("button", name="Accept the offer of Velo Shop").click()

    expect(page).to_have_url(re.compile(rf"/intentions/{intention_id}\?accepted="))
    expect(page.get_by_role("status")).to_contain_text("You accepted the offer of Velo Shop")
    expect(article.locator('dd[data-field="state"]')).to_have_text("Accepted")
    expect(article).to_contain_text("Velo Shop may read your given name to provide what it offered")
    expect(article).to_contain_text("A conversation with Velo Shop about this offer is open")
    expect(article.get_by_role("button", name="Accept the offer of Velo Shop")).to_have_count(0)
    expect(page.locator('span[data-field="state"]')).to_have_text("Fulfilled")

    # The vendor reads that field, and only that one.
    after = velo.get(f"/vendor/v1/customers/{customer_ref}/profile", params=SERVICE_PROVISION)
    assert after.status_code == 200, after.text
    assert after.json()["profile"] == {"given_name": "Ada"}
    assert velo.get(f"/vendor/v1/offers/{offer['id']}").json()["state"] == "accepted"
    assert velo.get("/vendor/v1/intentions").json()["data"] == []

    # The consent it started is on the consents page, under the vendor's name.
    article.get_by_role("link", name=re.compile("^See the consent and its receipt")).click()
    expect(page).to_have_url(re.compile(r"/consents#c-[0-9a-f-]{36}$"))
    consent = page.locator(f"article.consent[data-consent='{offer_consent(velo, offer)}']")
    expect(consent.locator('dd[data-field="fields"]')).to_have_text("Given name")
    expect(consent.locator('dd[data-field="state"]')).to_have_text("Given")


def offer_consent(velo: HttpVendor, offer: dict[str, Any]) -> str:
    response = velo.get(f"/vendor/v1/offers/{offer['id']}")
    assert response.status_code == 200, response.text
    consent_id = response.json()["consent_id"]
    assert consent_id
    return str(consent_id)
