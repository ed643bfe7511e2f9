"""What the whole-journey browser test needs: the page language and its catalog, a vendor
driven over the real vendor API, and the steps a person takes, located by the same English
msgids the templates use, translated through the real French catalog."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from babel.support import NullTranslations, Translations
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from tests.web.test_intentions_browser import HttpVendor
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.service import VendorService

TRANSLATIONS = Path(__file__).resolve().parents[2] / "vrm" / "translations"
UUID = r"[0-9a-f-]{36}"


@dataclass
class Language:
    """The language a run speaks: ``t`` is gettext through the catalog the app serves
    (the compiled ``messages.mo`` Flask-Babel loads), identity for English. A msgid the
    French catalog lacks is remembered, so the run ends by naming every one it met."""

    code: str
    catalog: NullTranslations | None = None
    missing: list[str] = field(default_factory=list)
    pages: int = 0

    @classmethod
    def of(cls, code: str) -> Language:
        if code == "en":
            return cls(code)
        return cls(code, Translations.load(str(TRANSLATIONS), [code], domain="messages"))

    @property
    def browser_locale(self) -> str:
        return {"en": "en-GB", "fr": "fr-FR"}[self.code]

    def t(self, msgid: str, **kw: Any) -> str:
        return self._translated(None, msgid) % kw if kw else self._translated(None, msgid)

    def nt(self, singular: str, plural: str, n: int) -> str:
        """ngettext: a msgid with plural forms."""
        if self.catalog is None:
            return singular if n == 1 else plural
        if (singular, 0) not in getattr(self.catalog, "_catalog", {}):
            self.missing.append(singular)
            return singular if n == 1 else plural
        return self.catalog.ngettext(singular, plural, n)

    def pt(self, context: str, msgid: str) -> str:
        """pgettext: a msgid the pages translate in a context, such as a state's name."""
        return self._translated(context, msgid)

    def _translated(self, context: str | None, msgid: str) -> str:
        if self.catalog is None:
            return msgid
        key = msgid if context is None else f"{context}\x04{msgid}"
        if getattr(self.catalog, "_catalog", {}).get(key):
            if context is None:
                return self.catalog.gettext(msgid)
            return self.catalog.pgettext(context, msgid)
        named = msgid if context is None else f"{msgid} (context {context!r})"
        if named not in self.missing:
            self.missing.append(named)
        return msgid

    def text(self, msgid: str, **kw: Any) -> str:
        """``t`` of a msgid holding markup, as a reader (or the accessibility tree) gets it:
        without its tags, for example a button's visually hidden end."""
        return re.sub(r"<[^>]+>", "", self.t(msgid, **kw))

    def on_page(self, page: Page) -> None:
        """Every page the journey visits declares the run's language and speaks it: its
        footer (on every page) is in the catalog's words."""
        expect(page.locator("html")).to_have_attribute("lang", self.code)
        footer = page.locator("footer.site")
        expect(footer.get_by_role("button", name=self.t("Change language"))).to_be_visible()
        expect(footer).to_contain_text(
            self.t("You hold your data. Vendors see only what you grant, for as long as you say.")
        )
        self.pages += 1


def field_of(page: Page | Locator, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


def nav(page: Page) -> Locator:
    return page.locator("header nav")


def uuid_in(url: str, prefix: str) -> str:
    match = re.search(rf"{prefix}/({UUID})", url)
    assert match, url
    return match.group(1)


@dataclass
class JourneyVendor:
    """A vendor made as ``vrm vendor create`` would, then driven over HTTP only."""

    id: str
    name: str
    api: HttpVendor

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()


@contextmanager
def vendor(app: Flask, live_server: str, name: str) -> Iterator[JourneyVendor]:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        made, client, secret = VendorService(session, rt.keyring).create_vendor(
            name, redirect_uris=("https://velo.example/cb",), website="https://velo.example"
        )
        vendor_id, client_id = str(made.id), client.client_id
    # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1.
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as http:
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        shop = JourneyVendor(vendor_id, name, HttpVendor(name, http))
        shop.ok(shop.api.put("/vendor/v1/terms", json={"accepted": list(DEFAULT_TERMS)}))
        shop.ok(
            shop.api.post("/vendor/v1/subscriptions", json={"categories": ["sports/cycling"]}),
            201,
        )
        yield shop


# The person's steps, in the run's language.


def sign_up(page: Page, lang: Language, email: str, password: str) -> None:
    t = lang.t
    page.goto("/signup")
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Create your account"))
    field_of(page, t("Email")).fill(email)
    field_of(page, t("Password")).fill(password)
    page.get_by_role("button", name=t("Sign up")).click()
    expect(page).to_have_url(re.compile(r"/profile/edit\?welcome=1$"))
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Edit your profile"))


def fill_profile(page: Page, lang: Language, values: dict[str, str]) -> None:
    """On the edit form, fill each labelled input (English labels) and save."""
    t = lang.t
    for label, value in values.items():
        field_of(page, t(label)).fill(value)
    page.get_by_role("button", name=t("Save"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/profile\?saved=1$"))
    lang.on_page(page)
    expect(page.get_by_role("status")).to_have_text(t("Your profile is saved."))


def publish_intention(page: Page, lang: Language, title: str, description: str) -> str:
    t = lang.t
    nav(page).get_by_role("link", name=t("Intentions"), exact=True).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your intentions"))
    page.get_by_role("link", name=t("Publish an intention")).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Publish an intention"))
    field_of(page, t("Title")).fill(title)
    field_of(page, t("Description")).fill(description)
    field_of(page, t("Category")).select_option("sports/cycling/bicycles")
    field_of(page, t("Keywords")).fill("gravel, commuting")
    field_of(page, t("Lowest price")).fill("300")
    field_of(page, t("Highest price")).fill("800")
    field_of(page, t("Currency")).fill("EUR")
    field_of(page, t("Country code")).fill("FR")
    field_of(page, t("City")).fill("Paris")
    page.get_by_role("button", name=t("Publish"), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/intentions/{UUID}\?published=1$"))
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return uuid_in(page.url, "/intentions")


def make_offer(shop: JourneyVendor, intention_id: str, price: str, description: str) -> Any:
    return shop.ok(
        shop.api.post(
            f"/vendor/v1/intentions/{intention_id}/offers",
            json={
                "price": price,
                "currency": "EUR",
                "description": description,
                "url": "https://velo.example/offers/42",
            },
        ),
        201,
    )


def accept_offer(
    page: Page, lang: Language, offer: dict[str, Any], vendor_name: str, reveal: str
) -> Locator:
    """On the intention's page: tick the one field to reveal and accept the offer."""
    t = lang.t
    page.reload()
    lang.on_page(page)
    article = page.locator(f'article[data-offer="{offer["id"]}"]')
    expect(article.locator('dd[data-field="state"]')).to_have_text(
        lang.pt("offer state", "Waiting for your answer")
    )
    expect(article.locator('[data-field="description"]')).to_have_text(offer["description"])
    article.get_by_label(t(reveal), exact=True).check()
    accept = lang.text(
        'Accept<span class="visually-hidden"> the offer of %(vendor)s</span>',
        vendor=vendor_name,
    )
    article.get_by_role("button", name=accept, exact=True).click()
    expect(page).to_have_url(re.compile(rf"\?accepted={offer['id']}(#o-{UUID})?$"))
    lang.on_page(page)
    expect(article.locator('dd[data-field="state"]')).to_have_text(
        lang.pt("offer state", "Accepted")
    )
    return article


def open_conversation(page: Page, lang: Language, conversation_id: str, shop_name: str) -> None:
    t = lang.t
    page.goto("/inbox")
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your inbox"))
    row = page.locator(f'tr[data-conversation="{conversation_id}"]')
    row.get_by_role("link", name=shop_name).click()
    lang.on_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        t("Conversation with %(vendor)s", vendor=shop_name)
    )


def write_reply(page: Page, lang: Language, text: str) -> None:
    t = lang.t
    field_of(page, t("Your reply")).fill(text)
    page.get_by_role("button", name=t("Send"), exact=True).click()
    expect(page).to_have_url(re.compile(rf"\?sent=1#m-{UUID}$"))
    lang.on_page(page)
    expect(page.get_by_role("status")).to_have_text(t("Your reply is sent."))


def thread(page: Page) -> Locator:
    return page.locator("ol.thread > li")
