"""Every person-facing page, with realistic data, passes axe-core's WCAG 2 A/AA checks
without a serious or critical violation; keyboard focus is visible and the language is set.

axe-core comes from the ``axe-playwright-python`` package (it bundles ``axe.min.js``), so no
CDN is involved: the script is evaluated in each page through Playwright."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, Account
from tests.consents.conftest import REDIRECT_URI, VendorApi, fill_profile, relate
from tests.web.test_browser import field, log_in
from tests.web.test_conversation_pages import start, vendor_wrote
from tests.web.test_dashboard import _vendor, ask, grant
from tests.web.test_intention_pages import make_offer, publish, published
from tests.web.test_pages import web_login
from vrm.terms.roster import DEFAULT_TERMS
from vrm.terms.service import TermsService
from vrm.vendors.blocks import BlockService

pytestmark = pytest.mark.browser

AXE = Axe()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}
SHOWN = 5  # elements named per violation in a failure
# Swagger UI (third party, on /docs) puts its deep-link anchor inside each operation's
# toggle button; nothing in our templates or CSS can change that markup. Only that rule, only
# inside the Swagger UI root, is tolerated; everything else on /docs is checked.
TOLERATED = {("nested-interactive", "#swagger-ui")}


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, less the tolerated ones."""
    found = AXE.run(page, options=AXE_OPTIONS).response["violations"]
    kept = []
    for violation in found:
        inside = {root for rule, root in TOLERATED if rule == violation["id"]}
        nodes = [
            node
            for node in violation["nodes"]
            if not any(
                page.locator(root).locator(" ".join(node["target"])).count() for root in inside
            )
        ]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def describe(path: str, found: list[dict[str, Any]]) -> str:
    """One line per violation: its id, impact, help and the first few elements it names."""
    lines = []
    for violation in found:
        nodes = violation["nodes"]
        targets = ", ".join(" ".join(node["target"]) for node in nodes[:SHOWN])
        more = f" and {len(nodes) - SHOWN} more" if len(nodes) > SHOWN else ""
        lines.append(
            f"{path}: {violation['id']} ({violation['impact']}) {violation['help']}: "
            f"{targets}{more}"
        )
    return "\n".join(lines)


def audit(page: Page, paths: list[str]) -> None:
    """Visit each path and check it; report every serious or critical violation at once."""
    failures = []
    for path in paths:
        response = page.goto(path)
        assert response is not None
        failures.extend(check(page, path))
    assert not failures, "\n" + "\n".join(failures)


def check(page: Page, label: str, lang: str = "en") -> list[str]:
    """The page as it is now: its lang attribute and its blocking violations."""
    expect(page.locator("html")).to_have_attribute("lang", lang)
    found = violations(page)
    minor = [v for v in found if v["impact"] not in BLOCKING]
    if minor:
        print(describe(label, minor))  # shown with -s; not a failure
    blocking = [v for v in found if v["impact"] in BLOCKING]
    return [describe(label, blocking)] if blocking else []


@pytest.fixture
def web(client: FlaskClient, ada: Account) -> FlaskClient:
    """Ada's Flask test client, logged in, to set up her data through the forms."""
    web_login(client, ada.email)
    return client


@pytest.fixture
def world(app: Flask, client: FlaskClient, web: FlaskClient, ada: Account) -> dict[str, Any]:
    """Ada's dealings: Velo, with an intention and its offer, a conversation Velo wrote in, a
    pending request, two consents and a read of her profile; Acme, whom she blocks."""
    velo = _vendor(app, "Velo Shop")
    fill_profile(client, ada)
    ref = relate(app, velo, ada)
    intention_id = published(publish(web))
    offer = make_offer(velo, intention_id)
    conversation_id = start(web, velo)
    vendor_wrote(velo, conversation_id, "Yes, we have it in M.")
    ask(app, velo, ref, ["postal_address"], ["ServiceProvision"])
    consent_id = grant(app, ada, velo, ["given_name", "phone"], ["CustomerCare"], 7)
    grant(app, ada, velo, ["contact_email"], ["DirectMarketing"], 60)
    read = velo.read(ref, purpose="CustomerCare")
    assert read.status_code == 200, read.json

    acme = _vendor(app, "Acme Market")
    relate(app, acme, ada)
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        BlockService(session, rt.keyring).block(uuid.UUID(ada.id), acme.id)
    return {
        "velo": velo,
        "intention_id": intention_id,
        "offer_id": offer["id"],
        "conversation_id": conversation_id,
        "consent_id": consent_id,
    }


def test_pages_before_logging_in(page: Page) -> None:
    audit(page, ["/", "/signup", "/login", "/docs", "/no-such-page"])
    expect(page.get_by_role("heading", level=1)).to_be_visible()  # the 404 page

    # The forms as they come back with errors next to the fields.
    failures = []
    for path, button in (("/signup", "Sign up"), ("/login", "Log in")):
        page.goto(path)
        field(page, "Email").fill("not-an-email")
        page.get_by_role("button", name=button).click()
        failures.extend(check(page, f"{path} (refused)"))
    assert not failures, "\n" + "\n".join(failures)


def test_every_page_of_a_person_with_dealings(
    page: Page, ada: Account, world: dict[str, Any]
) -> None:
    velo: VendorApi = world["velo"]
    log_in(page, ada.email)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    audit(
        page,
        [
            "/",
            "/profile",
            "/profile/edit",
            "/terms",
            "/vendors",
            f"/vendors/{velo.id}",
            "/consents",
            "/consent-requests",
            "/access-log",
            "/tokens",
            "/account",
            "/intentions",
            "/intentions/new",
            f"/intentions/{world['intention_id']}",
            "/blocks",
            "/inbox",
            f"/inbox/{world['conversation_id']}",
            # The confirmation pages.
            f"/consents/{world['consent_id']}/withdraw",
            f"/intentions/{world['intention_id']}/withdraw",
            f"/inbox/{world['conversation_id']}/close",
            f"/inbox/{world['conversation_id']}/block",
            f"/offers/{world['offer_id']}/block",
            f"/vendors/{velo.id}/withdraw",
            f"/vendors/{velo.id}/block",
            f"/vendors/{velo.id}/revoke",
            f"/offers/{world['offer_id']}/decline",
        ],
    )

    # Forms refused, with their errors shown, and a new token shown once.
    failures = []
    page.goto("/intentions/new")
    page.get_by_role("button", name="Publish").click()
    failures.extend(check(page, "/intentions/new (refused)"))
    page.goto("/profile/edit")
    field(page, "Phone").fill("not a phone")
    page.get_by_role("button", name="Save").click()
    failures.extend(check(page, "/profile/edit (refused)"))
    page.goto("/tokens")
    page.get_by_label("Name", exact=True).fill("My laptop")
    page.get_by_label("Confirm with your password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create token").click()
    failures.extend(check(page, "/tokens (created)"))
    page.goto("/tokens")
    page.get_by_role("link", name="Revoke My laptop").click()
    failures.extend(check(page, "/tokens/<id>/revoke"))

    # The same pages in French: the words change, so must nothing else.
    page.goto("/")
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    for path in ("/", f"/vendors/{velo.id}", "/profile/edit", "/intentions/new", "/terms"):
        page.goto(path)
        failures.extend(check(page, f"{path} (fr)", lang="fr"))
    assert not failures, "\n" + "\n".join(failures)


def test_the_oauth_consent_screen(page: Page, app: Flask, ada: Account) -> None:
    vendor = _vendor(app, "Velo Shop")
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        TermsService(session, rt.keyring).set_for_vendor(vendor.id, list(DEFAULT_TERMS))
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
            "client_id": vendor.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "profile:read",
            "state": "s1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "authorization_details": json.dumps(details),
        }
    )
    failures = []
    page.goto(f"/oauth/authorize?{query}")
    failures.extend(check(page, "/oauth/authorize (log in first)"))
    field(page, "Email").fill(ada.email)
    field(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#vendor-name")).to_have_text("Velo Shop")
    failures.extend(check(page, "/oauth/authorize"))
    # A plain scope: the person chooses the fields.
    page.goto(f"/oauth/authorize?{query.replace('authorization_details', 'ignored')}")
    failures.extend(check(page, "/oauth/authorize (scope only)"))
    assert not failures, "\n" + "\n".join(failures)


def test_keyboard_focus_is_visible(page: Page) -> None:
    page.goto("/login")
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    expect(focused).to_be_in_viewport()
    outline = focused.evaluate(
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none" and outline[1] != "0px", outline
    for _ in range(3):
        page.keyboard.press("Tab")
        style = page.locator(":focus").evaluate("el => getComputedStyle(el).outlineStyle")
        assert style != "none", page.locator(":focus").evaluate("el => el.outerHTML")


def test_the_check_finds_a_violation_when_there_is_one(page: Page) -> None:
    """The audit is not vacuous: an unlabelled field in pale grey fails it."""
    page.goto("/login")
    page.evaluate(
        """() => {
            const input = document.createElement("input");
            const pale = document.createElement("p");
            pale.textContent = "Hard to read";
            pale.style.color = "#ddd";
            document.querySelector("main").append(input, pale);
        }"""
    )
    failures = "\n".join(check(page, "/login (spoilt)"))
    assert "label (critical)" in failures and "color-contrast (serious)" in failures, failures
