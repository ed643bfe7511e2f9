"""What the intentcasting tests share: vendors on the Flask test client (``VendorApi`` from
the consent tests), and short-hands for publishing, subscribing, reading feeds and offering.
The end-to-end tests over real HTTP keep their own httpx helpers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.conftest import Account
from tests.consents.conftest import VendorApi, make_vendor
from vrm.terms.roster import DEFAULT_TERMS

PROBLEM_JSON = "application/problem+json"
# The terms a person proffers unless they chose others; an intention is published under them.
TERMS = list(DEFAULT_TERMS)


@pytest.fixture
def acme(app: Flask, client: FlaskClient) -> VendorApi:
    return make_vendor(app, client, "Acme Cycles")


@pytest.fixture
def globex(app: Flask, client: FlaskClient) -> VendorApi:
    return make_vendor(app, client, "Globex Sports")


@pytest.fixture
def initech(app: Flask, client: FlaskClient) -> VendorApi:
    return make_vendor(app, client, "Initech Electronics")


# The person's side


def intention_body(**overrides: Any) -> dict[str, Any]:
    return {"title": "A gravel bike for commuting", "category": "sports/cycling/bicycles"} | (
        overrides
    )


def publish_response(client: FlaskClient, person: Account, **overrides: Any) -> TestResponse:
    return client.post(
        "/personal/v1/intentions", json=intention_body(**overrides), headers=person.auth
    )


def publish(client: FlaskClient, person: Account, **overrides: Any) -> dict[str, Any]:
    response = publish_response(client, person, **overrides)
    assert response.status_code == 201, response.json
    return response.json


def intention_of(client: FlaskClient, person: Account, intention_id: str) -> dict[str, Any]:
    response = client.get(f"/personal/v1/intentions/{intention_id}", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json


def edit(client: FlaskClient, person: Account, intention_id: str, **patch: Any) -> TestResponse:
    return client.patch(f"/personal/v1/intentions/{intention_id}", json=patch, headers=person.auth)


def withdraw(client: FlaskClient, person: Account, intention_id: str) -> TestResponse:
    return client.delete(f"/personal/v1/intentions/{intention_id}", headers=person.auth)


def accept(client: FlaskClient, person: Account, offer_id: str, **body: Any) -> TestResponse:
    return client.post(f"/personal/v1/offers/{offer_id}/accept", json=body, headers=person.auth)


def person_offer(client: FlaskClient, person: Account, offer_id: str) -> dict[str, Any]:
    response = client.get(f"/personal/v1/offers/{offer_id}", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json


# The vendor's side


def subscribe(vendor: VendorApi, **body: Any) -> dict[str, Any]:
    response = vendor.post("/vendor/v1/subscriptions", json=body)
    assert response.status_code == 201, response.json
    return response.json


def feed(vendor: VendorApi, **query: Any) -> dict[str, Any]:
    response = vendor.get("/vendor/v1/intentions", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def feed_ids(vendor: VendorApi) -> list[str]:
    """Every id in the vendor's feed, newest first (one page of up to 100)."""
    return [item["id"] for item in feed(vendor, limit=100)["data"]]


def sees(vendor: VendorApi, intention_id: str) -> bool:
    """Whether the intention is in the vendor's feed; the list and the GET must agree."""
    listed = intention_id in feed_ids(vendor)
    one = vendor.get(f"/vendor/v1/intentions/{intention_id}")
    assert one.status_code == (200 if listed else 404), (listed, one.json)
    return listed


def offer_response(vendor: VendorApi, intention_id: str, **overrides: Any) -> TestResponse:
    body = {
        "price": "650.00",
        "currency": "EUR",
        "description": "Steel gravel bike, delivered within a week",
        "accepted_terms": TERMS,
    } | overrides
    return vendor.post(f"/vendor/v1/intentions/{intention_id}/offers", json=body)


def offer(vendor: VendorApi, intention_id: str, **overrides: Any) -> dict[str, Any]:
    response = offer_response(vendor, intention_id, **overrides)
    assert response.status_code == 201, response.json
    return response.json


def vendor_offer(vendor: VendorApi, offer_id: str) -> dict[str, Any]:
    response = vendor.get(f"/vendor/v1/offers/{offer_id}")
    assert response.status_code == 200, response.json
    return response.json


def vendor_consents(vendor: VendorApi) -> list[dict[str, Any]]:
    response = vendor.get("/vendor/v1/consents", query_string={"limit": 100})
    assert response.status_code == 200, response.json
    return response.json["data"]


# Checks


def error_fields(response: TestResponse, status: int = 422) -> list[str]:
    """The fields a problem+json refusal names."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    return [error["field"] for error in response.json.get("errors", [])]


def count(app: Flask, model: Any, *where: Any) -> int:
    """Rows of a model in the database, optionally filtered."""
    with app.extensions["vrm"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def stored(app: Flask, model: Any, row_id: str, *names: str) -> tuple[Any, ...]:
    """Columns of one row as the database holds it (not as an API shows it)."""
    with app.extensions["vrm"].sessions() as session:
        row = session.get(model, uuid.UUID(str(row_id)))
        assert row is not None, (model, row_id)
        return tuple(getattr(row, name) for name in names)
