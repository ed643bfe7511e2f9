"""The person's start page and the page of each vendor they deal with, through Flask's test
client: every section with real data and a link to where the person acts on it, nothing of
another person, another person's or an unknown vendor not found, and "withdraw everything"
and "block" after confirming (the vendor's next read is refused; other vendors keep theirs).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Account
from tests.consents.conftest import VendorApi, fill_profile, make_vendor, relate
from tests.web.test_conversation_pages import start, vendor_writes, vendor_wrote
from tests.web.test_intention_pages import make_offer, publish, published, text_of
from tests.web.test_pages import csrf_from, web_login
from vrm.consents.models import Consent
from vrm.consents.service import ConsentService
from vrm.terms.roster import BY_CODE, DEFAULT_TERMS
from vrm.vendors.blocks import BlockService
from vrm.vendors.models import Vendor

# Helpers


def grant(
    app: Flask,
    person: Account,
    vendor: VendorApi,
    fields: list[str],
    purposes: list[str],
    days: int,
) -> uuid.UUID:
    """A consent the person gives the vendor directly."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        consent = ConsentService(session, rt.keyring).grant(
            uuid.UUID(person.id), vendor.id, fields, purposes, days
        )
        return consent.id


def ask(
    app: Flask, vendor: VendorApi, ref: str, fields: list[str], purposes: list[str]
) -> uuid.UUID:
    """The vendor's request for consent, waiting for the person's answer."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        row = session.get(Vendor, vendor.id)
        assert row is not None
        consent = ConsentService(session, rt.keyring).request(
            row, ref, fields, purposes, 30, "So we can help you"
        )
        return consent.id


def states(app: Flask, *consent_ids: uuid.UUID) -> list[str]:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        rows = session.execute(select(Consent.id, Consent.state).where(Consent.id.in_(consent_ids)))
        found = {consent_id: state for consent_id, state in rows}
    return [found[i] for i in consent_ids]


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*\bid="{section_id}">(.*?)</section>', html, re.S)
    assert match, f"no section #{section_id}"
    return match.group(1)


def words(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment)).strip()


# Fixtures


@pytest.fixture
def web(client: FlaskClient, ada: Account) -> FlaskClient:
    """Ada's browser, logged in."""
    web_login(client, ada.email)
    return client


def _vendor(app: Flask, name: str) -> VendorApi:
    """A vendor following cycling that accepted the default terms (its own test client:
    the person's carries a web session)."""
    vendor = make_vendor(app, app.test_client(), name)
    vendor.accept()
    response = vendor.post("/vendor/v1/subscriptions", json={"categories": ["sports/cycling"]})
    assert response.status_code == 201, response.json
    return vendor


@pytest.fixture
def velo(app: Flask, ada: Account) -> VendorApi:
    return _vendor(app, "Velo Shop")


@pytest.fixture
def acme(app: Flask, ada: Account) -> VendorApi:
    return _vendor(app, "Acme Market")


@pytest.fixture
def world(
    app: Flask, client: FlaskClient, web: FlaskClient, ada: Account, bob: Account, velo: VendorApi
) -> dict[str, Any]:
    """Ada's dealings with Velo: an intention with its offer, a conversation Velo wrote
    in, a pending request, a consent ending in a week and one in two months, a read of
    her profile; and Bob's own dealings with Globex, none of which Ada may see."""
    fill_profile(client, ada)
    ref = relate(app, velo, ada)
    intention_id = published(publish(web))
    offer = make_offer(velo, intention_id)
    conversation_id = start(web, velo)
    vendor_wrote(velo, conversation_id, "Yes, we have it in M.")
    request_id = ask(app, velo, ref, ["postal_address"], ["ServiceProvision"])
    soon = grant(app, ada, velo, ["given_name", "phone"], ["CustomerCare"], 7)
    later = grant(app, ada, velo, ["contact_email"], ["DirectMarketing"], 60)
    read = velo.read(ref, purpose="CustomerCare")
    assert read.status_code == 200, read.json
    assert read.json["profile"]["given_name"] == "Ada"

    globex = _vendor(app, "Globex Market")
    bob_ref = relate(app, globex, bob)
    ask(app, globex, bob_ref, ["phone"], ["Personalisation"])
    grant(app, bob, globex, ["given_name"], ["FraudPreventionAndDetection"], 3)
    return {
        "ref": ref,
        "intention_id": intention_id,
        "offer": offer,
        "conversation_id": conversation_id,
        "request_id": request_id,
        "soon": soon,
        "later": later,
        "globex": globex,
    }


# The start page


def test_the_start_page_welcomes_someone_logged_out(client: FlaskClient) -> None:
    html = text_of(client.get("/"))
    assert "Your relationships, on your terms" in html
    assert "What waits for you" not in html


def test_a_new_person_reads_each_section_empty_in_plain_words(web: FlaskClient) -> None:
    response = web.get("/")
    assert response.status_code == 200
    html = text_of(response)
    assert "<h1>What waits for you</h1>" in html
    assert "You have no open intention." in words(section(html, "offers"))
    assert 'href="/intentions/new"' in section(html, "offers")
    assert "No unread messages." in words(section(html, "messages"))
    assert "No vendor is waiting for your answer." in words(section(html, "requests"))
    assert "No consent ends in the next 14 days." in words(section(html, "expiring"))
    assert "No vendor has read anything of yours yet." in words(section(html, "accesses"))


def test_the_start_page_shows_what_waits_with_links_and_nothing_of_another_person(
    web: FlaskClient, world: dict[str, Any], velo: VendorApi
) -> None:
    html = text_of(web.get("/"))

    offers = section(html, "offers")
    assert f'<a href="/intentions/{world["intention_id"]}">A gravel bike</a>' in offers
    assert "1 offer waiting for your answer" in words(offers)

    messages = section(html, "messages")
    assert f'<a href="/inbox/{world["conversation_id"]}">Velo Shop</a>' in messages
    assert "1 new message" in words(messages)

    requests = section(html, "requests")
    assert f'href="/consent-requests#r-{world["request_id"]}"' in requests
    assert "Velo Shop asks to read postal address" in words(requests)
    assert "provide the product or service you asked for (ServiceProvision)" in words(requests)

    expiring = section(html, "expiring")
    assert f'href="/consents#c-{world["soon"]}"' in expiring
    assert "given name and phone" in words(expiring)
    assert str(world["later"]) not in expiring  # two months away is not soon

    accesses = words(section(html, "accesses"))
    assert "Velo Shop read your profile: given name and phone" in accesses
    assert "help you when you ask for support (CustomerCare)" in accesses
    assert "Velo Shop wrote to you" in accesses
    assert f'href="/vendors/{velo.id}"' in section(html, "accesses")
    assert 'href="/access-log"' in section(html, "accesses")

    # Bob's vendor, requests and consents are his alone.
    assert "Globex" not in html
    assert "Personalisation" not in html
    assert "FraudPreventionAndDetection" not in html


def test_a_read_conversation_leaves_the_start_page(web: FlaskClient, world: dict[str, Any]) -> None:
    assert web.get(f"/inbox/{world['conversation_id']}").status_code == 200
    assert "No unread messages." in words(section(text_of(web.get("/")), "messages"))


# One vendor's page


@pytest.mark.parametrize("path", ["/vendors/{id}", "/vendors/{id}/withdraw", "/vendors/{id}/block"])
def test_the_vendor_pages_need_a_session(client: FlaskClient, path: str) -> None:
    response = client.get(path.format(id=uuid.uuid4()))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_vendors_page_links_each_vendor_to_its_page(
    app: Flask, web: FlaskClient, ada: Account, velo: VendorApi
) -> None:
    relate(app, velo, ada)
    html = text_of(web.get("/vendors"))
    assert f'<a href="/vendors/{velo.id}">Velo Shop</a>' in html


def test_the_vendor_page_shows_everything_between_the_person_and_the_vendor(
    web: FlaskClient, world: dict[str, Any], velo: VendorApi
) -> None:
    response = web.get(f"/vendors/{velo.id}")
    assert response.status_code == 200
    html = text_of(response)
    assert "<h1>You and Velo Shop</h1>" in html
    assert world["ref"] in html

    agreement = words(section(html, "agreement"))
    assert "Accepted your terms" in agreement
    for code in DEFAULT_TERMS:
        assert f"{BY_CODE[code].title} {code}" in agreement

    consents = section(html, "consents")
    soon = re.search(rf'<article[^>]*data-consent="{world["soon"]}">.*?</article>', consents, re.S)
    assert soon
    assert "Given name" in words(soon.group(0)) and "Phone" in words(soon.group(0))
    assert "Help you when you ask for support CustomerCare" in words(soon.group(0))
    assert "Send you marketing messages DirectMarketing" in words(consents)
    assert "Waiting for your answer" in words(consents)  # the pending request
    assert f'href="/consents/{world["soon"]}/withdraw"' in consents

    accesses = words(section(html, "accesses"))
    assert "Read your profile Given name, Phone" in accesses
    assert "CustomerCare" in accesses
    assert "Wrote to you" in accesses

    conversations = section(html, "conversations")
    assert f'href="/inbox/{world["conversation_id"]}"' in conversations
    assert "1 new" in words(conversations)

    offers = section(html, "offers")
    offer_link = f'href="/intentions/{world["intention_id"]}#o-{world["offer"]["id"]}"'
    assert offer_link in offers
    assert "650.00 EUR for “A gravel bike”: Waiting for your answer" in words(offers)

    assert f'href="/vendors/{velo.id}/withdraw">Withdraw everything' in html
    assert f'href="/vendors/{velo.id}/block">Block Velo Shop</a>' in html
    assert "Globex" not in html


def test_a_vendor_with_nothing_yet_reads_in_plain_words(
    app: Flask, web: FlaskClient, ada: Account, velo: VendorApi
) -> None:
    relate(app, velo, ada)
    html = text_of(web.get(f"/vendors/{velo.id}"))
    assert "You have given Velo Shop no consent, and it has asked for none." in html
    assert "Velo Shop has not read anything of yours." in html
    assert "You have no conversation with Velo Shop." in html
    assert "Velo Shop has made you no offer." in html
    assert "Withdraw everything" not in html  # nothing to withdraw


@pytest.mark.parametrize("path", ["/vendors/{id}", "/vendors/{id}/withdraw", "/vendors/{id}/block"])
def test_another_persons_or_an_unknown_vendor_is_not_found(
    web: FlaskClient, world: dict[str, Any], path: str
) -> None:
    for vendor_id in (world["globex"].id, uuid.uuid4()):
        assert web.get(path.format(id=vendor_id)).status_code == 404
    token = csrf_from(web, "/")
    for tail in ("/withdraw", "/block"):
        if path.endswith(tail):
            posted = web.post(path.format(id=world["globex"].id), data={"csrf_token": token})
            assert posted.status_code == 404


# Withdraw everything


def test_withdraw_everything_asks_first_then_ends_every_live_consent_to_that_vendor_only(
    app: Flask,
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    world: dict[str, Any],
    velo: VendorApi,
    acme: VendorApi,
) -> None:
    acme_ref = relate(app, acme, ada)
    kept = grant(app, ada, acme, ["given_name"], ["CustomerCare"], 30)
    path = f"/vendors/{velo.id}/withdraw"

    confirm = text_of(web.get(path))
    assert "<h1>Withdraw everything you gave Velo Shop?</h1>" in confirm
    assert "Given name, Phone" in confirm and "DirectMarketing" in confirm
    assert (
        '<button type="submit" class="danger">Withdraw everything you gave Velo Shop</button>'
        in (confirm)
    )
    assert f'<a href="/vendors/{velo.id}">Keep it all</a>' in confirm
    assert states(app, world["soon"], world["later"]) == ["given", "given"]

    refused = web.post(path, data={})  # no CSRF token: nothing happens
    assert refused.status_code == 400
    assert states(app, world["soon"], world["later"]) == ["given", "given"]

    response = web.post(path, data={"csrf_token": csrf_from(web, path)})
    assert response.status_code == 302
    # The two given consents and the one Ada gave by writing first to Velo.
    assert response.headers["Location"].endswith(f"/vendors/{velo.id}?withdrawn=3")
    html = text_of(web.get(response.headers["Location"]))
    assert "3 consents withdrawn." in html
    assert states(app, world["soon"], world["later"]) == ["withdrawn", "withdrawn"]
    assert states(app, world["request_id"]) == ["requested"]  # still Ada's to answer
    assert "Withdraw everything" not in html

    # Velo's very next read is refused; Acme's consent stands and it still reads.
    assert velo.read(world["ref"], purpose="CustomerCare").status_code == 403
    assert states(app, kept) == ["given"]
    assert acme.read(acme_ref, purpose="CustomerCare").status_code == 200

    # Each withdrawal has its signed receipt, as a single withdrawal would.
    receipts = client.get(f"/personal/v1/consents/{world['soon']}/receipts", headers=ada.auth)
    assert receipts.status_code == 200, receipts.json
    assert [r["type"] for r in receipts.json["data"]][-1] == "withdrawn"

    again = text_of(web.get(path))
    assert "there is nothing to withdraw" in again


# Block


def test_block_asks_first_then_blocks_the_vendor(
    app: Flask, web: FlaskClient, ada: Account, world: dict[str, Any], velo: VendorApi
) -> None:
    path = f"/vendors/{velo.id}/block"
    confirm = text_of(web.get(path))
    assert "<h1>Block Velo Shop?</h1>" in confirm
    assert '<button type="submit" class="danger">Block Velo Shop</button>' in confirm
    assert f'<a href="/vendors/{velo.id}">Cancel</a>' in confirm

    assert web.post(path, data={}).status_code == 400  # no CSRF token
    response = web.post(path, data={"csrf_token": csrf_from(web, path)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/vendors/{velo.id}?blocked=1")
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        assert BlockService(session, rt.keyring).is_blocked(uuid.UUID(ada.id), velo.id)

    html = text_of(web.get(response.headers["Location"]))
    assert "Velo Shop is blocked." in html
    assert "You block Velo Shop." in html
    assert f'href="/vendors/{velo.id}/block"' not in html
    assert "Closed conversation" in words(section(html, "conversations"))
    assert vendor_writes(velo, world["conversation_id"], "Hello?").status_code == 403
    assert "Velo Shop" in text_of(web.get("/blocks"))
    assert "You already block Velo Shop" in text_of(web.get(path))
