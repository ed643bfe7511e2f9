"""The issue's "done when", over real HTTP: a person publishes through the personal API, a
vendor with a client-credentials token from /oauth/token reads its feed, offers, and once
the person accepts, holds a signed consent and reads exactly the fields it names."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from flask import Flask
from joserfc import jws
from joserfc.jwk import KeySet

from tests.conftest import PASSWORD
from tests.vendor_api.conftest import VendorCreds, create_vendor, token_request
from vrm.terms.roster import DEFAULT_TERMS


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    # trust_env=False: no proxy from the environment between us and 127.0.0.1.
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as client:
        yield client


@dataclass
class Person:
    http: httpx.Client
    id: str
    email: str
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, path, headers=headers, **kwargs)


@dataclass
class Vendor:
    http: httpx.Client
    creds: VendorCreds
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def feed(self, **params: Any) -> dict[str, Any]:
        response = self.call("GET", "/vendor/v1/intentions", params=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def sign_up(http: httpx.Client, email: str) -> Person:
    account = http.post("/personal/v1/accounts", json={"email": email, "password": PASSWORD})
    assert account.status_code == 201, account.text
    token = http.post("/personal/v1/tokens", json={"name": "phone"}, auth=(email, PASSWORD))
    assert token.status_code == 201, token.text
    return Person(http, account.json()["id"], email, token.json()["token"])


def vendor_with_token(app: Flask, http: httpx.Client, name: str) -> Vendor:
    creds = create_vendor(app, name)
    response = token_request(http, creds, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    assert response.json()["token_type"].lower() == "bearer"
    return Vendor(http, creds, response.json()["access_token"])


def verified(http: httpx.Client, receipt: str) -> dict[str, Any]:
    """A receipt's payload, verified with joserfc against the JWKS served over HTTP."""
    keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
    return json.loads(jws.deserialize_compact(receipt, keys, algorithms=["Ed25519"]).payload)


def subscribe(vendor: Vendor, **body: Any) -> None:
    response = vendor.call("POST", "/vendor/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text


def publish(person: Person, title: str, **extra: Any) -> str:
    body = {"title": title, "category": "sports/cycling/bicycles", **extra}
    response = person.call("POST", "/personal/v1/intentions", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


def test_an_intention_reaches_matching_vendors_pseudonymously_and_ends_in_a_signed_consent(
    app: Flask, http: httpx.Client
) -> None:
    ada = sign_up(http, "ada@example.org")
    profile = {"given_name": "Ada", "family_name": "Lovelace", "phone": "+447911123456"}
    assert ada.call("PATCH", "/personal/v1/profile", json=profile).status_code == 200
    velo = vendor_with_token(app, http, "Velo Shop")
    hub = vendor_with_token(app, http, "Bike Hub")
    gadgets = vendor_with_token(app, http, "Gadget World")
    subscribe(velo, categories=["sports/cycling"], regions=["FR"])
    subscribe(hub, categories=["sports"])
    subscribe(gadgets, categories=["electronics"])

    published = ada.call(
        "POST",
        "/personal/v1/intentions",
        json={
            "title": "A gravel bike for commuting",
            "category": "sports/cycling/bicycles",
            "keywords": ["gravel", "steel"],
            "price": {"min": "400", "max": "900", "currency": "EUR"},
            "location": {"region": "FR-75C", "city": "Paris"},
        },
    )
    assert published.status_code == 201, published.text
    intention_id = published.json()["id"]
    assert published.json()["matched_vendors"] == 2

    # Matching vendors see it, each under its own pseudonym, with nothing personal.
    velo_feed, hub_feed = velo.feed(), hub.feed()
    assert [i["id"] for i in velo_feed["data"]] == [intention_id]
    assert [i["id"] for i in hub_feed["data"]] == [intention_id]
    seen = velo_feed["data"][0]
    assert seen["title"] == "A gravel bike for commuting"
    assert seen["price"] == {"min": "400.00", "max": "900.00", "currency": "EUR"}
    assert seen["disclosed"] is None
    velo_ref, hub_ref = seen["customer_ref"], hub_feed["data"][0]["customer_ref"]
    assert velo_ref and hub_ref and velo_ref != hub_ref
    for raw in (
        velo.call("GET", "/vendor/v1/intentions").text,
        velo.call("GET", f"/vendor/v1/intentions/{intention_id}").text,
        hub.call("GET", "/vendor/v1/intentions").text,
    ):
        # (A pseudonym is random text: take it out before looking for a name in the rest.)
        raw = raw.replace(velo_ref, "").replace(hub_ref, "")
        for personal in (ada.email, "Ada", "Lovelace", "+447911123456", ada.id):
            assert personal not in raw
        assert ada.id.replace("-", "") not in raw
        assert "person_id" not in raw

    # A vendor whose subscription does not match sees nothing of it.
    assert gadgets.feed()["data"] == []
    assert gadgets.call("GET", f"/vendor/v1/intentions/{intention_id}").status_code == 404
    assert (
        gadgets.call(
            "POST",
            f"/vendor/v1/intentions/{intention_id}/offers",
            json={"price": "1", "currency": "EUR", "description": "Anything"},
        ).status_code
        == 404
    )

    # The vendor offers, accepting the terms the intention is published under.
    offered = velo.call(
        "POST",
        f"/vendor/v1/intentions/{intention_id}/offers",
        json={
            "price": "649.00",
            "currency": "EUR",
            "description": "Steel gravel bike, delivered in a week",
            "url": "https://velo.example/offers/42",
            "accepted_terms": list(DEFAULT_TERMS),
        },
    )
    assert offered.status_code == 201, offered.text
    offer_id = offered.json()["id"]
    assert offered.json()["state"] == "open"
    assert offered.json()["customer_ref"] == velo_ref

    # The person sees it and accepts, revealing two fields for 30 days.
    received = ada.call("GET", f"/personal/v1/intentions/{intention_id}/offers").json()["data"]
    assert [(o["id"], o["vendor_name"], o["price"]) for o in received] == [
        (offer_id, "Velo Shop", "649.00")
    ]
    accepted = ada.call(
        "POST",
        f"/personal/v1/offers/{offer_id}/accept",
        json={"fields": ["given_name", "phone"], "duration_days": 30},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"
    assert accepted.json()["conversation_id"]
    consent_id = accepted.json()["consent_id"]

    # The vendor's side of the same facts, under the same pseudonym.
    as_vendor = velo.call("GET", f"/vendor/v1/offers/{offer_id}").json()
    assert as_vendor["state"] == "accepted"
    assert as_vendor["consent_id"] == consent_id
    assert as_vendor["customer_ref"] == velo_ref
    consent = velo.call("GET", f"/vendor/v1/consents/{consent_id}")
    assert consent.status_code == 200, consent.text
    assert consent.json()["customer_ref"] == velo_ref
    assert consent.json()["purposes"] == ["ServiceProvision"]
    assert consent.json()["fields"] == ["given_name", "phone"]
    assert consent.json()["state"] == "given"
    assert consent.json()["origin"] == "offer"

    # The receipt exists on both sides, is the same, and verifies against the JWKS.
    vendor_receipts = velo.call("GET", f"/vendor/v1/consents/{consent_id}/receipts").json()["data"]
    person_receipts = ada.call("GET", f"/personal/v1/consents/{consent_id}/receipts").json()["data"]
    assert [r["receipt"] for r in vendor_receipts] == [r["receipt"] for r in person_receipts]
    assert [r["type"] for r in vendor_receipts] == ["given"]
    payload = verified(http, vendor_receipts[0]["receipt"])
    assert payload["record_id"] == consent_id
    assert payload["principal"] == {"customer_ref": velo_ref}
    assert payload["controller"]["id"] == str(velo.creds.vendor_id)
    assert payload["purposes"] == ["ServiceProvision"]
    assert payload["data_categories"] == ["given_name", "phone"]
    assert payload["state"] == "given"

    # Exactly the accepted fields can be read, nothing else.
    read = velo.call(
        "GET", f"/vendor/v1/customers/{velo_ref}/profile", params={"purpose": "ServiceProvision"}
    )
    assert read.status_code == 200, read.text
    assert read.json()["profile"] == {"given_name": "Ada", "phone": "+447911123456"}
    # The other vendor has no consent: its pseudonym opens nothing.
    other = hub.call(
        "GET", f"/vendor/v1/customers/{hub_ref}/profile", params={"purpose": "ServiceProvision"}
    )
    assert other.status_code in (403, 404)

    # Accepted without keep_open: fulfilled, and out of every feed.
    assert ada.call("GET", f"/personal/v1/intentions/{intention_id}").json()["state"] == "fulfilled"
    assert velo.feed()["data"] == [] and hub.feed()["data"] == []


def test_the_feed_pages_newest_first_across_new_intentions_without_duplicates_or_skips(
    app: Flask, http: httpx.Client
) -> None:
    ada = sign_up(http, "ada@example.org")
    velo = vendor_with_token(app, http, "Velo Shop")
    subscribe(velo, categories=["sports"])
    first_five = [publish(ada, f"Bike number {n}") for n in range(1, 6)]

    page1 = velo.feed(limit=2)
    assert [i["id"] for i in page1["data"]] == [first_five[4], first_five[3]]
    assert page1["next_cursor"]

    newer = [publish(ada, f"Bike number {n}") for n in range(6, 8)]

    page2 = velo.feed(limit=2, cursor=page1["next_cursor"])
    assert [i["id"] for i in page2["data"]] == [first_five[2], first_five[1]]
    page3 = velo.feed(limit=2, cursor=page2["next_cursor"])
    assert [i["id"] for i in page3["data"]] == [first_five[0]]
    assert page3["next_cursor"] is None

    # A fresh read starts with what was published since, newest first.
    seen: list[str] = []
    cursor = None
    while True:
        page = velo.feed(limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [i["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*reversed(newer), *reversed(first_five)]
    published = [i["published_at"] for i in velo.feed(limit=100)["data"]]
    assert published == sorted(published, reverse=True)


def test_a_cursor_from_elsewhere_is_refused_naming_the_cursor(
    app: Flask, http: httpx.Client
) -> None:
    velo = vendor_with_token(app, http, "Velo Shop")
    response = velo.call("GET", "/vendor/v1/intentions", params={"cursor": str(uuid.uuid4())})
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]
