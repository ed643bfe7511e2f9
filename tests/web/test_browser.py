"""The web pages in a real browser: Playwright drives Debian's Chromium against the app
behind a real HTTP server, as a person would use it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def api(live_server: str) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1.
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as client:
        yield client


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.org"


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


def sign_up(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/signup")
    field(page, "Email").fill(email)
    field(page, "Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/profile/edit\?welcome=1$"))


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    field(page, "Email").fill(email)
    field(page, "Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")
    ).to_be_visible()


def save_profile(page: Page, values: dict[str, str]) -> None:
    """Fill the edit form by label and save it; the profile page must confirm."""
    page.goto("/profile/edit")
    for label, value in values.items():
        field(page, label).fill(value)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/profile\?saved=1$"))
    expect(page.get_by_role("status")).to_have_text("Your profile is saved.")


def shown(page: Page, name: str) -> Locator:
    return page.locator(f'dd[data-field="{name}"]')


def description_of(page: Page, control: Locator) -> Locator:
    """The error element the control names in aria-describedby."""
    described_by = control.get_attribute("aria-describedby") or ""
    errors = [ref for ref in described_by.split() if ref.endswith("-error")]
    assert len(errors) == 1, described_by
    return page.locator(f'[id="{errors[0]}"]')


def test_sign_up_and_fill_the_profile(page: Page) -> None:
    email = unique_email("signup")
    sign_up(page, email)
    expect(page.get_by_role("status")).to_contain_text("Welcome")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit your profile")

    field(page, "Given name").fill("Ada")
    field(page, "Phone").fill("+33612345678")
    field(page, "Country code").fill("FR")
    field(page, "Interests").fill("baking, cycling")
    field(page, "Other details").fill("favourite_shop = bakery")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/profile\?saved=1$"))
    expect(page.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(page.get_by_text(f"Account email: {email}.")).to_be_visible()
    expect(shown(page, "given_name")).to_have_text("Ada")
    expect(shown(page, "phone")).to_have_text("+33612345678")
    expect(shown(page, "postal_address")).to_contain_text("FR")
    expect(shown(page, "interests")).to_have_text("baking, cycling")
    expect(shown(page, "custom.favourite_shop")).to_have_text("bakery")
    expect(page.locator("dl.profile dt", has_text="favourite_shop")).to_be_visible()

    # The edit form reads the saved values back.
    page.get_by_role("link", name="Edit your profile").click()
    expect(field(page, "Given name")).to_have_value("Ada")
    expect(field(page, "Phone")).to_have_value("+33612345678")
    expect(field(page, "Country code")).to_have_value("FR")
    expect(field(page, "Interests")).to_have_value("baking, cycling")
    expect(field(page, "Other details")).to_have_value("favourite_shop = bakery")


def test_log_out_and_log_in_again(page: Page) -> None:
    email = unique_email("relogin")
    sign_up(page, email)
    save_profile(page, {"Given name": "Grace", "Interests": "compilers"})

    log_out(page)
    page.goto("/profile")
    expect(page).to_have_url(re.compile(r"/login$"))

    log_in(page, email)
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(shown(page, "given_name")).to_have_text("Grace")
    expect(shown(page, "interests")).to_have_text("compilers")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_wrong_password_does_not_log_in(page: Page) -> None:
    email = unique_email("wrongpw")
    sign_up(page, email)
    save_profile(page, {"Given name": "Hedy"})
    log_out(page)

    log_in(page, email, "not the right password at all")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text("The email or the password is not right")
    expect(field(page, "Email")).to_have_value(email)
    expect(field(page, "Password")).to_have_value("")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    page.goto("/profile")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("Hedy")).to_have_count(0)


def test_invalid_fields_are_explained_and_nothing_is_stored(page: Page) -> None:
    sign_up(page, unique_email("invalid"))
    save_profile(page, {"Given name": "Ada", "Phone": "+33612345678", "Country code": "FR"})

    page.goto("/profile/edit")
    field(page, "Given name").fill("Augusta")
    field(page, "Phone").fill("12345")
    field(page, "Country code").fill("XX")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/profile/edit$"))
    expect(page.get_by_role("alert")).to_contain_text("Some fields need another look")

    phone = field(page, "Phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_value("12345")
    phone_error = description_of(page, phone)
    expect(phone_error).to_be_visible()
    expect(phone_error).to_contain_text("E.164")

    country = field(page, "Country code")
    expect(country).to_have_attribute("aria-invalid", "true")
    expect(country).to_have_value("XX")
    country_error = description_of(page, country)
    expect(country_error).to_be_visible()
    expect(country_error).to_contain_text("ISO 3166-1 alpha-2")

    # The valid field is not flagged, and each message sits next to its own input.
    expect(field(page, "Given name")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field", has=phone).locator(".error")).to_have_text(
        phone_error.inner_text()
    )
    expect(page.locator(".field", has=country).locator(".error")).to_have_text(
        country_error.inner_text()
    )

    page.goto("/profile")
    expect(page.get_by_role("status")).to_have_count(0)
    expect(shown(page, "given_name")).to_have_text("Ada")
    expect(shown(page, "phone")).to_have_text("+33612345678")
    expect(shown(page, "postal_address")).to_contain_text("FR")
    expect(page.get_by_text("Augusta")).to_have_count(0)
    expect(page.get_by_text("12345", exact=True)).to_have_count(0)


def test_personal_token_works_until_revoked(page: Page, api: httpx.Client) -> None:
    email = unique_email("token")
    sign_up(page, email)
    save_profile(page, {"Given name": "Ada", "Phone": "+33612345678"})

    page.goto("/tokens")
    expect(page.get_by_text("You have no tokens yet.")).to_be_visible()
    field(page, "Name").fill("budget script")
    field(page, "Confirm with your password").fill(PASSWORD)
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text().strip()
    assert secret.startswith("vrm_pat_")
    assert len(secret) > len("vrm_pat_") + 16

    bearer = {"Authorization": f"Bearer {secret}"}
    response = api.get("/personal/v1/profile", headers=bearer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["given_name"] == "Ada"
    assert body["phone"] == "+33612345678"
    assert body["version"] == 1

    # The secret is shown once only.
    page.goto("/tokens")
    expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in page.content()

    row = page.get_by_role("row").filter(has_text="budget script")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(secret[: len("vrm_pat_") + 4])
    page.get_by_role("link", name="Revoke budget script").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke the token “budget script”?")
    page.get_by_role("button", name="Revoke “budget script”").click()
    expect(row).to_contain_text("revoked")
    expect(page.get_by_role("link", name="Revoke budget script")).to_have_count(0)

    response = api.get("/personal/v1/profile", headers=bearer)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "given_name" not in response.text


@pytest.mark.parametrize("path", ["/", "/login", "/signup"])
def test_first_tab_reaches_a_visible_skip_link(page: Page, path: str) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(path)
    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_have_attribute("href", "#main")
    expect(skip).to_be_visible()
    expect(skip).to_be_in_viewport(ratio=1)
    box = skip.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 1024 and box["y"] + box["height"] <= 768
    assert box["width"] > 10 and box["height"] > 10
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"

    # Following it moves the keyboard past the header, into the page's content.
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")
    focused_in_main = page.evaluate(
        "() => document.getElementById('main').contains(document.activeElement)"
    )
    assert focused_in_main


def test_stylesheet_hides_the_skip_link_until_it_is_focused(page: Page) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    with page.expect_response(re.compile(r"/style\.css$")) as stylesheet:
        page.goto("/")
    assert stylesheet.value.status == 200
    assert stylesheet.value.header_value("content-type").startswith("text/css")

    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport(ratio=1)
    assert skip.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
