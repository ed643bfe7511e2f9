"""The OAuth consent screen in a real browser: the approval must reach the vendor.

Chromium applies CSP form-action to the redirect that answers a form, so this is the test
that shows the consent screen's policy lets the code through to the client's origin."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import PASSWORD, make_account
from tests.web.test_browser import field
from vrm.consents.service import ConsentService
from vrm.terms.roster import DEFAULT_TERMS
from vrm.terms.service import TermsService
from vrm.vendors.service import VendorService

pytestmark = pytest.mark.browser

CALLBACK = "https://shop.example/cb"


def test_approving_on_the_consent_screen_reaches_the_vendor(page: Page, app, client):
    person = make_account(client, "screen@example.org")
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendor, oauth_client, _ = VendorService(session, rt.keyring).create_vendor(
            "Shop", redirect_uris=[CALLBACK]
        )
        TermsService(session, rt.keyring).set_for_vendor(vendor.id, list(DEFAULT_TERMS))
        client_id, vendor_id = oauth_client.client_id, vendor.id
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    details = [
        {
            "type": "vrm_consent",
            "fields": ["given_name", "phone"],
            "purposes": ["ServiceProvision"],
            "duration_days": 30,
        }
    ]
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "profile:read",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "authorization_details": json.dumps(details),
        }
    )

    def vendor_site(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body="<title>Shop</title>ok")

    page.route("https://shop.example/**", vendor_site)
    page.goto(f"/oauth/authorize?{query}")
    field(page, "Email").fill(person.email)
    field(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#vendor-name")).to_have_text("Shop")
    page.get_by_label(re.compile("^Phone")).uncheck()
    with page.expect_request(re.compile(r"^https://shop\.example/cb\?")) as arrived:
        page.get_by_role("button", name="Allow").click()
    params = parse_qs(urlsplit(arrived.value.url).query)
    assert params["state"] == ["s1"] and params["code"][0]
    assert params["iss"][0].startswith("http://127.0.0.1")

    with rt.sessions() as session:
        consents = (
            ConsentService(session, rt.keyring)
            .page(vendor_id=vendor_id, limit=10, cursor=None)
            .data
        )
        assert [(c.origin, c.fields, c.state) for c in consents] == [
            ("oauth", ["given_name"], "given")
        ]
