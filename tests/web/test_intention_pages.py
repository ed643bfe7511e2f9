"""The intention pages through Flask's test client: publishing through the form, errors next
to their inputs, offers accepted, declined, blocked, intentions withdrawn, all through forms;
another person's intention is not found, and every form needs its CSRF token."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account
from tests.consents.conftest import VendorApi, fill_profile, make_vendor
from tests.web.test_pages import csrf_from, web_login
from vrm.intentions.taxonomy import CATEGORIES
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.terms.roster import DEFAULT_TERMS, ROSTER
from vrm.terms.service import TermsService

FORM: dict[str, Any] = {
    "title": "A gravel bike",
    "description": "For commuting\nand weekends",
    "category": "sports/cycling/bicycles",
    "keywords": "Gravel, carbon",
    "quantity": "2",
    "price.min": "300",
    "price.max": "800",
    "price.currency": "eur",
    "location.country": "fr",
    "location.region": "",
    "location.city": "Paris",
    "location.postal_code": "75011",
    "wanted_by": "",
    "expires_in_days": "30",
    "expires_on": "",
    "terms": list(DEFAULT_TERMS),
    "disclose": [],
}
INTENTIONS = "/personal/v1/intentions"


# Helpers


def text_of(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def publish(client: FlaskClient, **changes: Any) -> TestResponse:
    """Send the publish form as a browser would, with ``changes`` typed in."""
    data = {**FORM, **changes, "csrf_token": csrf_from(client, "/intentions/new")}
    return client.post("/intentions/new", data=data)


def published(response: TestResponse) -> str:
    """The id of the intention a successful publish redirected to."""
    assert response.status_code == 302, text_of(response)
    match = re.search(r"/intentions/([0-9a-f-]{36})\?published=1$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def field_block(html: str, name: str) -> str:
    """The ``div.field`` holding the input, select or textarea ``f-<name>``."""
    for block in re.findall(r'<div class="field[^"]*">.*?</div>', html, re.S):
        if f'id="f-{name}"' in block:
            return block
    raise AssertionError(f"no field f-{name}")


def control(block: str, name: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bid="f-{re.escape(name)}"[^>]*>', block)
    assert match, f"no control f-{name}"
    return match.group(0)


def error_next_to(html: str, name: str) -> str:
    """The error shown in the input's own field, which the input points to."""
    block = field_block(html, name)
    assert 'class="field invalid"' in block
    tag = control(block, name)
    assert 'aria-invalid="true"' in tag
    assert f"f-{name}-error" in tag
    match = re.search(rf'<p class="error" id="f-{re.escape(name)}-error">([^<]*)</p>', block)
    assert match, block
    return unescape(match.group(1))


def value_of(html: str, name: str) -> str:
    match = re.search(r'value="([^"]*)"', control(field_block(html, name), name))
    assert match
    return unescape(match.group(1))


def checked(html: str, name: str) -> set[str]:
    """The values of the ticked checkboxes called ``name``."""
    tags = re.findall(rf'<input type="checkbox"[^>]*\bname="{name}"[^>]*>', html, re.S)
    return {re.search(r'value="([^"]+)"', t).group(1) for t in tags if " checked" in t}  # type: ignore[union-attr]


def errors_on(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="error"[^>]*>([^<]*)', html)]


def offer_article(html: str, offer_id: str) -> str:
    match = re.search(rf'<article class="offer" id="o-{offer_id}".*?</article>', html, re.S)
    assert match, f"no offer {offer_id} on the page"
    return match.group(0)


def shown(html: str, name: str) -> str:
    match = re.search(rf'<dd data-field="{name}">(.*?)</dd>', html, re.S)
    assert match, f"no {name} shown"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(match.group(1)))).strip()


def intention_state(html: str) -> str:
    match = re.search(r'<span data-field="state">([^<]*)</span>', html)
    assert match, "no intention state shown"
    return match.group(1)


def api_intentions(client: FlaskClient, person: Account) -> list[dict[str, Any]]:
    response = client.get(INTENTIONS, headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def api_intention(client: FlaskClient, person: Account, intention_id: str) -> dict[str, Any]:
    response = client.get(f"{INTENTIONS}/{intention_id}", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json


def make_offer(vendor: VendorApi, intention_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "price": "650.00",
        "currency": "EUR",
        "description": "Gravel bike, 105 groupset, delivered in a week",
        "url": "https://velo.example/offers/42",
        **changes,
    }
    response = vendor.post(f"/vendor/v1/intentions/{intention_id}/offers", json=body)
    assert response.status_code == 201, response.json
    return response.json


def vendor_offer(vendor: VendorApi, offer_id: str) -> dict[str, Any]:
    response = vendor.get(f"/vendor/v1/offers/{offer_id}")
    assert response.status_code == 200, response.json
    return response.json


def feed_ids(vendor: VendorApi) -> list[str]:
    response = vendor.get("/vendor/v1/intentions")
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["data"]]


# Fixtures


@pytest.fixture
def velo(app: Flask) -> VendorApi:
    """A vendor following cycling, having accepted the default terms in advance (its own
    client: the person's test client carries a web session)."""
    vendor = make_vendor(app, app.test_client(), "Velo Shop")
    vendor.accept()
    response = vendor.post("/vendor/v1/subscriptions", json={"categories": ["sports/cycling"]})
    assert response.status_code == 201, response.json
    return vendor


@pytest.fixture
def web(client: FlaskClient, ada: Account) -> FlaskClient:
    """Ada's browser, logged in."""
    web_login(client, ada.email)
    return client


@pytest.fixture
def offered(web: FlaskClient, velo: VendorApi) -> tuple[str, dict[str, Any]]:
    """An intention Ada published through the form, and Velo's offer on it."""
    intention_id = published(publish(web))
    return intention_id, make_offer(velo, intention_id)


# Log-in gates and navigation


@pytest.mark.parametrize(
    "path", ["/intentions", "/intentions/new", "/blocks", f"/intentions/{uuid.uuid4()}"]
)
def test_pages_need_a_session(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_nav_links_to_intentions(web: FlaskClient) -> None:
    html = web.get("/profile").get_data(as_text=True)
    assert re.search(r'<nav aria-label="Main">.*href="/intentions">Intentions</a>', html, re.S)


def test_an_empty_list_links_to_the_form(web: FlaskClient) -> None:
    html = text_of(web.get("/intentions"))
    assert "You have not published any intention yet." in html
    assert 'href="/intentions/new"' in html
    assert 'href="/blocks"' in html


# The publish form


def test_the_form_offers_the_whole_taxonomy_and_the_persons_own_terms(
    app: Flask, web: FlaskClient, ada: Account
) -> None:
    mine = ["service-delivery-analytics", "deletion-and-portability", "intentions-only"]
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        TermsService(session, rt.keyring).set_for_person(uuid.UUID(ada.id), mine, 30, 365)

    html = text_of(web.get("/intentions/new"))

    select = re.search(r'<select id="f-category" name="category".*?</select>', html, re.S)
    assert select
    values = re.findall(r'<option value="([^"]*)"', select.group(0))
    assert values == ["", *CATEGORIES]  # every node, parents before their children
    assert '<optgroup label="Sports and outdoors">' in select.group(0)
    assert re.search(
        r'<option value="sports/cycling/bicycles">\s*\u00a0+Bicycles</option>', select.group(0)
    )
    assert '<option value="sports/cycling">Cycling</option>' in select.group(0)
    assert " selected" not in select.group(0)

    assert checked(html, "terms") == set(mine)
    assert len(re.findall(r'name="terms"', html)) == len(ROSTER)
    assert checked(html, "disclose") == set()
    assert len(re.findall(r'name="disclose"', html)) == len(PROFILE_FIELDS)
    assert "Each vendor this intention reaches gets the details you tick here" in html
    assert value_of(html, "expires_in_days") == "30"


def test_publishing_through_the_form_reaches_the_subscribed_vendor(
    client: FlaskClient, web: FlaskClient, ada: Account, velo: VendorApi
) -> None:
    fill_profile(client, ada)
    before = datetime.now(UTC)
    intention_id = published(
        publish(web, disclose=["given_name"], expires_in_days="10", wanted_by="2099-01-31")
    )
    after = datetime.now(UTC)

    page = web.get(f"/intentions/{intention_id}?published=1")
    assert page.status_code == 200
    html = text_of(page)
    assert "Published. It reached 1 vendor so far" in html
    assert "<h1>A gravel bike</h1>" in html
    assert shown(html, "category") == "Sports and outdoors › Cycling › Bicycles"
    assert shown(html, "price") == "300.00 to 800.00 EUR"
    assert shown(html, "location") == "75011, Paris, FR"
    assert shown(html, "keywords") == "carbon, gravel"
    assert shown(html, "disclose") == "Given name"
    assert "For commuting\nand weekends" in html

    stored = api_intention(client, ada, intention_id)
    assert stored["title"] == "A gravel bike"
    assert stored["category"] == "sports/cycling/bicycles"
    assert stored["keywords"] == ["carbon", "gravel"]
    assert stored["quantity"] == 2
    assert stored["price"] == {"min": "300.00", "max": "800.00", "currency": "EUR"}
    assert stored["location"] == {
        "country": "FR",
        "region": None,
        "city": "Paris",
        "postal_code": "75011",
    }
    assert stored["wanted_by"] == "2099-01-31"
    assert [t["code"] for t in stored["terms"]] == list(DEFAULT_TERMS)
    assert stored["disclose"] == ["given_name"]
    expires_at = datetime.fromisoformat(stored["expires_at"])
    assert before + timedelta(days=10) <= expires_at <= after + timedelta(days=10)

    feed = velo.get("/vendor/v1/intentions").json["data"]
    assert [item["id"] for item in feed] == [intention_id]
    assert feed[0]["disclosed"] == {"given_name": "Ada"}


def test_an_expiry_date_keeps_the_intention_open_to_the_end_of_that_day(
    client: FlaskClient, web: FlaskClient, ada: Account
) -> None:
    day = (datetime.now(UTC) + timedelta(days=12)).date()
    intention_id = published(publish(web, expires_in_days="30", expires_on=day.isoformat()))
    stored = api_intention(client, ada, intention_id)
    assert datetime.fromisoformat(stored["expires_at"]) == datetime(
        day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC
    )


def test_an_unknown_currency_is_explained_next_to_it_and_the_form_keeps_what_was_typed(
    client: FlaskClient, web: FlaskClient, ada: Account
) -> None:
    response = publish(
        web, **{"price.currency": "XXY"}, disclose=["phone"], terms=["intentions-only"]
    )
    assert response.status_code == 422
    html = text_of(response)
    assert "Some fields need another look" in html
    assert "'XXY' is not an ISO 4217 currency code" in error_next_to(html, "price.currency")
    assert errors_on(html)[1:] == [error_next_to(html, "price.currency")]
    assert 'aria-invalid="true"' not in control(field_block(html, "title"), "title")

    assert value_of(html, "title") == "A gravel bike"
    assert value_of(html, "keywords") == "Gravel, carbon"
    assert value_of(html, "price.min") == "300"
    assert value_of(html, "price.currency") == "XXY"
    assert value_of(html, "location.city") == "Paris"
    assert '<option value="sports/cycling/bicycles" selected>' in html
    assert "For commuting\nand weekends</textarea>" in html
    assert checked(html, "terms") == {"intentions-only"}
    assert checked(html, "disclose") == {"phone"}
    assert api_intentions(client, ada) == []


def test_a_lowest_price_above_the_highest_is_explained_next_to_the_lowest(
    client: FlaskClient, web: FlaskClient, ada: Account
) -> None:
    response = publish(web, **{"price.min": "900", "price.max": "800"})
    assert response.status_code == 422
    html = text_of(response)
    assert error_next_to(html, "price.min") == "The lowest price is above the highest"
    assert 'aria-invalid="true"' not in control(field_block(html, "price.max"), "price.max")
    assert value_of(html, "price.min") == "900"
    assert value_of(html, "price.max") == "800"
    assert api_intentions(client, ada) == []


def test_every_input_the_form_refuses_is_explained_at_once(
    client: FlaskClient, web: FlaskClient, ada: Account
) -> None:
    response = publish(
        web,
        title="",
        category="",
        quantity="many",
        **{"price.currency": "", "location.country": "FRA"},
        expires_in_days="400",
    )
    assert response.status_code == 422
    html = text_of(response)
    assert error_next_to(html, "title") == "Give the intention a title"
    assert error_next_to(html, "category") == "Choose a category"
    assert error_next_to(html, "quantity") == "Not a valid integer."
    assert error_next_to(html, "price.currency").startswith("Give the currency of the prices")
    assert error_next_to(html, "location.country")
    assert error_next_to(html, "expires_in_days") == "Choose between 1 and 365 days"
    assert value_of(html, "expires_in_days") == "400"
    assert api_intentions(client, ada) == []


@pytest.mark.parametrize(
    ("changes", "name", "message"),
    [
        ({"expires_on": "2001-01-01"}, "expires_on", "The expiry must be in the future"),
        ({"expires_on": "soon"}, "expires_on", "Give a date such as 2026-12-31"),
        ({"expires_in_days": "0"}, "expires_in_days", "Choose between 1 and 365 days"),
        ({"expires_in_days": "ten"}, "expires_in_days", "Give a whole number"),
        ({"wanted_by": "2001-01-01"}, "wanted_by", "The date has passed"),
        ({"category": "sports/curling"}, "category", "is not a category of the taxonomy"),
        ({"location.region": "FR-ZZZ"}, "location.region", "is not an ISO 3166-2 region code"),
        ({"terms": []}, "terms", "Publish under at least one term"),
    ],
    ids=["past-date", "not-a-date", "zero-days", "words", "wanted", "category", "region", "terms"],
)
def test_a_refusal_is_shown_next_to_its_input(
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    changes: dict[str, Any],
    name: str,
    message: str,
) -> None:
    response = publish(web, **changes)
    assert response.status_code == 422
    html = text_of(response)
    if name == "terms":
        assert re.search(r'<p class="error" id="f-terms-error">Publish under at least one', html)
        assert 'fieldset class="choices invalid" aria-describedby="f-terms-error"' in html
    else:
        assert message in error_next_to(html, name)
    assert api_intentions(client, ada) == []


# The list


def test_the_list_shows_intentions_newest_first_with_state_offers_and_reach(
    web: FlaskClient, velo: VendorApi
) -> None:
    first = published(publish(web, title="A gravel bike"))
    second = published(publish(web, title="A laptop", category="electronics/computers/laptops"))
    make_offer(velo, first)

    html = text_of(web.get("/intentions"))
    rows = re.findall(r'<tr data-intention="([^"]+)">(.*?)</tr>', html, re.S)
    assert [row_id for row_id, _ in rows] == [second, first]
    laptop, bike = (row for _, row in rows)
    assert f'href="/intentions/{first}">A gravel bike</a>' in bike
    assert "Sports and outdoors › Cycling › Bicycles" in bike
    assert re.search(r'data-field="state">Open', bike)
    assert re.search(r'data-field="offers">1 open of 1<', bike)
    assert re.search(r'data-field="reached">1<', bike)
    assert re.search(r'data-field="offers">0 open of 0<', laptop)
    assert re.search(r'data-field="reached">0<', laptop)


# Offers


def test_the_page_shows_each_offer_with_an_accept_form_and_a_decline_button(
    web: FlaskClient, offered: tuple[str, dict[str, Any]]
) -> None:
    intention_id, offer = offered
    html = text_of(web.get(f"/intentions/{intention_id}"))
    article = offer_article(html, offer["id"])
    assert "Velo Shop: 650.00 EUR" in article
    assert shown(article, "state") == "Waiting for your answer"
    assert shown(article, "price") == "650.00 EUR"
    assert "Gravel bike, 105 groupset, delivered in a week" in article
    assert '<a href="https://velo.example/offers/42" rel="noopener noreferrer nofollow">' in article
    assert shown(article, "valid_until") == offer["valid_until"][:10]
    assert f'action="/offers/{offer["id"]}/accept"' in article
    assert f'href="/offers/{offer["id"]}/decline"' in article
    assert checked(article, "fields") == set()
    assert len(re.findall(r'name="fields"', article)) == len(PROFILE_FIELDS)
    assert 'name="keep_open"' in article
    assert f'href="/offers/{offer["id"]}/block"' in article
    assert f'href="/intentions/{intention_id}/withdraw"' in html


def test_accepting_reveals_the_chosen_fields_and_fulfils_the_intention(
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    velo: VendorApi,
    offered: tuple[str, dict[str, Any]],
) -> None:
    fill_profile(client, ada)
    intention_id, offer = offered
    token = csrf_from(web, f"/intentions/{intention_id}")
    response = web.post(
        f"/offers/{offer['id']}/accept",
        data={"csrf_token": token, "fields": ["given_name", "phone"], "duration_days": "30"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/intentions/{intention_id}?accepted={offer['id']}#o-{offer['id']}"
    )

    html = text_of(web.get(response.headers["Location"]))
    assert "You accepted the offer of Velo Shop." in html
    article = offer_article(html, offer["id"])
    assert shown(article, "state") == "Accepted"
    assert "Velo Shop may read your given name and phone to provide what it offered" in article
    consent_id = vendor_offer(velo, offer["id"])["consent_id"]
    assert consent_id
    assert f'href="/consents#c-{consent_id}"' in article
    assert "A conversation with Velo Shop about this offer is open" in article
    assert "/accept" not in article
    assert intention_state(html) == "Fulfilled"
    assert "/withdraw" not in html

    consents_page = text_of(web.get("/consents"))
    assert f'id="c-{consent_id}"' in consents_page

    read = velo.read(offer["customer_ref"])
    assert read.status_code == 200, read.json
    assert read.json["profile"] == {"given_name": "Ada", "phone": "+447911123456"}
    assert feed_ids(velo) == []
    assert api_intention(client, ada, intention_id)["state"] == "fulfilled"


def test_keep_open_leaves_the_intention_open(
    client: FlaskClient, web: FlaskClient, ada: Account, offered: tuple[str, dict[str, Any]]
) -> None:
    intention_id, offer = offered
    token = csrf_from(web, f"/intentions/{intention_id}")
    response = web.post(
        f"/offers/{offer['id']}/accept", data={"csrf_token": token, "keep_open": "1"}
    )
    assert response.status_code == 302
    html = text_of(web.get(f"/intentions/{intention_id}"))
    assert intention_state(html) == "Open"
    assert "Velo Shop may read none of your details" in offer_article(html, offer["id"])
    assert api_intention(client, ada, intention_id)["state"] == "open"


def test_a_refused_accept_comes_back_with_the_choices_and_the_reason(
    web: FlaskClient, velo: VendorApi, offered: tuple[str, dict[str, Any]]
) -> None:
    intention_id, offer = offered
    token = csrf_from(web, f"/intentions/{intention_id}")
    response = web.post(
        f"/offers/{offer['id']}/accept",
        data={
            "csrf_token": token,
            "fields": ["family_name"],
            "duration_days": "999",
            "keep_open": "1",
        },
    )
    assert response.status_code == 422
    html = text_of(response)
    assert "Your answer to Velo Shop was not recorded" in html
    article = offer_article(html, offer["id"])
    p = f"o-{offer['id']}"
    days = re.search(rf'<input type="number" id="{p}-days"[^>]*>', article)
    assert days and 'value="999"' in days.group(0) and 'aria-invalid="true"' in days.group(0)
    assert f"{p}-days-error" in days.group(0)
    assert re.search(rf'id="{p}-days-error">Choose between 1 and 365 days', article)
    assert checked(article, "fields") == {"family_name"}
    assert checked(article, "keep_open") == {"1"}
    assert vendor_offer(velo, offer["id"])["state"] == "open"


def test_declining_asks_first_and_changes_nothing_until_confirmed(
    web: FlaskClient, velo: VendorApi, offered: tuple[str, dict[str, Any]]
) -> None:
    intention_id, offer = offered
    page = web.get(f"/offers/{offer['id']}/decline")
    assert page.status_code == 200
    html = text_of(page)
    assert "Decline the offer of Velo Shop?" in html
    assert "cannot make another offer on this intention" in html
    assert re.search(r'<form method="post" class="actions">', html)
    assert f'href="/intentions/{intention_id}#o-{offer["id"]}"' in html
    assert vendor_offer(velo, offer["id"])["state"] == "open"


def test_declining_through_the_form(
    web: FlaskClient, velo: VendorApi, offered: tuple[str, dict[str, Any]]
) -> None:
    intention_id, offer = offered
    token = csrf_from(web, f"/offers/{offer['id']}/decline")
    response = web.post(f"/offers/{offer['id']}/decline", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/intentions/{intention_id}?declined={offer['id']}"
    )
    html = text_of(web.get(response.headers["Location"]))
    assert "Offer declined. Velo Shop cannot make another offer on this intention." in html
    article = offer_article(html, offer["id"])
    assert shown(article, "state") == "Declined"
    assert "/accept" not in article
    assert vendor_offer(velo, offer["id"])["state"] == "declined"

    # A late answer to an answered offer is refused, and said so.
    again = web.post(f"/offers/{offer['id']}/accept", data={"csrf_token": token})
    assert again.status_code == 409
    assert "Your answer to Velo Shop was not recorded: This offer is declined" in text_of(again)
    assert vendor_offer(velo, offer["id"])["state"] == "declined"


def test_an_intention_past_its_expiry_reads_as_expired_without_forms(
    web: FlaskClient, ada: Account, velo: VendorApi, frozen_clock: list[datetime]
) -> None:
    intention_id = published(publish(web, expires_in_days="3"))
    offer = make_offer(velo, intention_id)
    frozen_clock[0] += timedelta(days=4)  # before the worker records it
    web_login(web, ada.email)  # the web session lapsed meanwhile

    html = text_of(web.get(f"/intentions/{intention_id}"))
    assert intention_state(html) == "Expired"
    assert shown(html, "expires_at") == "2026-11-26"
    assert "/withdraw" not in html
    article = offer_article(html, offer["id"])
    assert shown(article, "state") == "Expired"
    assert "/accept" not in article
    rows = text_of(web.get("/intentions"))
    assert re.search(r'data-field="state">Expired<', rows)
    assert re.search(r'data-field="offers">0 open of 1<', rows)

    confirm = web.get(f"/intentions/{intention_id}/withdraw")
    assert "This intention is expired: there is nothing to withdraw." in text_of(confirm)


# Withdrawing


def test_withdrawing_asks_first_then_takes_the_intention_out_of_every_feed(
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    velo: VendorApi,
    offered: tuple[str, dict[str, Any]],
) -> None:
    intention_id, offer = offered
    confirm = web.get(f"/intentions/{intention_id}/withdraw")
    assert confirm.status_code == 200
    html = text_of(confirm)
    assert "Withdraw your intention “A gravel bike”?" in html
    assert "It reached 1 vendor and has 1 open offer." in html
    assert '<button type="submit" class="danger">Withdraw “A gravel bike”</button>' in html
    assert api_intention(client, ada, intention_id)["state"] == "open"  # asking changes nothing

    response = web.post(
        f"/intentions/{intention_id}/withdraw", data={"csrf_token": csrf_from(web, "/intentions")}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/intentions/{intention_id}?withdrawn=1")
    page = text_of(web.get(response.headers["Location"]))
    assert "Intention withdrawn." in page
    assert intention_state(page) == "Withdrawn"
    assert "/withdraw" not in page
    assert shown(offer_article(page, offer["id"]), "state") == "Closed"
    assert api_intention(client, ada, intention_id)["state"] == "withdrawn"
    assert feed_ids(velo) == []
    assert vendor_offer(velo, offer["id"])["state"] == "closed"

    again = web.post(
        f"/intentions/{intention_id}/withdraw", data={"csrf_token": csrf_from(web, "/intentions")}
    )
    assert again.status_code == 409
    html = text_of(again)
    assert "This intention is withdrawn" in html
    assert "there is nothing to withdraw" in html


# Blocking


def test_blocking_asks_first_then_the_vendor_loses_the_intention_and_unblocking_restores(
    web: FlaskClient, velo: VendorApi, offered: tuple[str, dict[str, Any]]
) -> None:
    intention_id, offer = offered
    confirm = web.get(f"/offers/{offer['id']}/block")
    assert confirm.status_code == 200
    html = text_of(confirm)
    assert "<h1>Block Velo Shop?</h1>" in html
    assert '<button type="submit" class="danger">Block Velo Shop</button>' in html
    assert feed_ids(velo) == [intention_id]  # asking changes nothing

    response = web.post(
        f"/offers/{offer['id']}/block", data={"csrf_token": csrf_from(web, "/intentions")}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/intentions/{intention_id}?blocked={velo.id}")
    page = text_of(web.get(response.headers["Location"]))
    assert "You blocked Velo Shop." in page
    article = offer_article(page, offer["id"])
    assert shown(article, "state") == "Closed"
    assert "You block Velo Shop." in article
    assert f'href="/offers/{offer["id"]}/block"' not in article
    assert feed_ids(velo) == []
    assert vendor_offer(velo, offer["id"])["state"] == "closed"

    blocks = text_of(web.get("/blocks"))
    row = re.search(rf'<tr data-vendor="{velo.id}">.*?</tr>', blocks, re.S)
    assert row and "Velo Shop" in row.group(0)
    assert f'action="/blocks/{velo.id}/unblock"' in row.group(0)

    token = csrf_from(web, "/blocks")
    unblocked = web.post(f"/blocks/{velo.id}/unblock", data={"csrf_token": token})
    assert unblocked.status_code == 302
    assert unblocked.headers["Location"].endswith("/blocks?unblocked=1")
    html = text_of(web.get(unblocked.headers["Location"]))
    assert "Vendor unblocked." in html
    assert "You block no vendor." in html

    # A later intention reaches the vendor again.
    later = published(publish(web, title="A second bike"))
    assert feed_ids(velo) == [later]


# Ownership and CSRF


def test_another_persons_intention_and_offers_are_not_found(
    client: FlaskClient, web: FlaskClient, bob: Account, velo: VendorApi
) -> None:
    response = client.post(
        INTENTIONS,
        json={"title": "Bob's bike", "category": "sports/cycling/bicycles"},
        headers=bob.auth,
    )
    assert response.status_code == 201, response.json
    theirs = response.json["id"]
    offer = make_offer(velo, theirs)
    token = csrf_from(web, "/intentions")

    for path in (f"/intentions/{theirs}", f"/intentions/{theirs}/withdraw"):
        page = web.get(path)
        assert page.status_code == 404, path
        assert "Bob's bike" not in text_of(page)
    assert web.get(f"/offers/{offer['id']}/block").status_code == 404
    assert web.get(f"/offers/{offer['id']}/decline").status_code == 404
    for path in (
        f"/intentions/{theirs}/withdraw",
        f"/offers/{offer['id']}/accept",
        f"/offers/{offer['id']}/decline",
        f"/offers/{offer['id']}/block",
    ):
        assert web.post(path, data={"csrf_token": token}).status_code == 404, path

    assert api_intention(client, bob, theirs)["state"] == "open"
    assert vendor_offer(velo, offer["id"])["state"] == "open"
    assert feed_ids(velo) == [theirs]


@pytest.mark.parametrize("csrf_token", [None, "forged-token"], ids=["missing", "forged"])
def test_every_form_needs_its_csrf_token(
    app: Flask,
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    velo: VendorApi,
    offered: tuple[str, dict[str, Any]],
    csrf_token: str | None,
) -> None:
    intention_id, offer = offered
    other = make_vendor(app, app.test_client(), "Other Shop")
    blocked = client.post(
        "/personal/v1/blocks", json={"vendor_id": str(other.id)}, headers=ada.auth
    )
    assert blocked.status_code == 201, blocked.json
    extra = {"csrf_token": csrf_token} if csrf_token else {}

    attempts = [
        ("/intentions/new", {**FORM, "title": "Forged"}),
        (f"/offers/{offer['id']}/accept", {"fields": ["given_name"]}),
        (f"/offers/{offer['id']}/decline", {}),
        (f"/offers/{offer['id']}/block", {}),
        (f"/intentions/{intention_id}/withdraw", {}),
        (f"/blocks/{other.id}/unblock", {}),
    ]
    for path, data in attempts:
        response = web.post(path, data={**data, **extra})
        assert response.status_code == 400, path
        assert "CSRF" in response.get_data(as_text=True), path

    assert [i["id"] for i in api_intentions(client, ada)] == [intention_id]
    assert api_intention(client, ada, intention_id)["state"] == "open"
    assert vendor_offer(velo, offer["id"])["state"] == "open"
    assert feed_ids(velo) == [intention_id]
    listed = client.get("/personal/v1/blocks", headers=ada.auth).json["data"]
    assert [b["vendor_id"] for b in listed] == [str(other.id)]
