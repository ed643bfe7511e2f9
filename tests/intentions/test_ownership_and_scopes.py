"""Only the person reaches their intentions and offers; a vendor reaches the feed and
offers only with the scope each one declares, and nothing without a token."""

from __future__ import annotations

import uuid

import pytest

from tests.intentions.conftest import (
    edit,
    error_fields,
    feed_ids,
    intention_of,
    offer,
    offer_response,
    publish,
    subscribe,
    withdraw,
)


def test_another_person_can_neither_read_edit_withdraw_nor_list_offers_of_an_intention(
    client, ada, bob, acme
):
    subscribe(acme)
    published = publish(client, ada)
    offer(acme, published["id"])
    path = f"/personal/v1/intentions/{published['id']}"
    assert client.get(path, headers=bob.auth).status_code == 404
    assert edit(client, bob, published["id"], title="Mine now").status_code == 404
    assert withdraw(client, bob, published["id"]).status_code == 404
    assert client.get(f"{path}/offers", headers=bob.auth).status_code == 404
    assert client.get("/personal/v1/intentions", headers=bob.auth).json["data"] == []
    after = intention_of(client, ada, published["id"])
    assert (after["title"], after["state"]) == (published["title"], "open")
    assert feed_ids(acme) == [published["id"]]


def test_an_unknown_intention_is_404_for_its_would_be_owner_too(client, ada):
    unknown = uuid.uuid4()
    assert client.get(f"/personal/v1/intentions/{unknown}", headers=ada.auth).status_code == 404
    assert edit(client, ada, str(unknown), title="x").status_code == 404
    assert withdraw(client, ada, str(unknown)).status_code == 404


PERSONAL_CALLS = [
    ("GET", "/personal/v1/categories"),
    ("GET", "/personal/v1/intentions"),
    ("POST", "/personal/v1/intentions"),
    ("GET", "/personal/v1/intentions/{intention}"),
    ("PATCH", "/personal/v1/intentions/{intention}"),
    ("DELETE", "/personal/v1/intentions/{intention}"),
    ("GET", "/personal/v1/intentions/{intention}/offers"),
    ("GET", "/personal/v1/offers/{offer}"),
    ("POST", "/personal/v1/offers/{offer}/accept"),
    ("POST", "/personal/v1/offers/{offer}/decline"),
    ("GET", "/personal/v1/blocks"),
    ("POST", "/personal/v1/blocks"),
    ("DELETE", "/personal/v1/blocks/{vendor}"),
]

# (method, path, the scope it needs)
VENDOR_CALLS = [
    ("GET", "/vendor/v1/categories", "intentions:read"),
    ("GET", "/vendor/v1/subscriptions", "intentions:read"),
    ("POST", "/vendor/v1/subscriptions", "intentions:read"),
    ("GET", "/vendor/v1/subscriptions/{subscription}", "intentions:read"),
    ("DELETE", "/vendor/v1/subscriptions/{subscription}", "intentions:read"),
    ("GET", "/vendor/v1/intentions", "intentions:read"),
    ("GET", "/vendor/v1/intentions/{intention}", "intentions:read"),
    ("POST", "/vendor/v1/intentions/{intention}/offers", "offers:write"),
    ("GET", "/vendor/v1/offers", "offers:write"),
    ("GET", "/vendor/v1/offers/{offer}", "offers:write"),
    ("POST", "/vendor/v1/offers/{offer}/withdraw", "offers:write"),
]


@pytest.fixture
def ids(client, ada, acme) -> dict[str, str]:
    subscription = subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"])
    return {
        "intention": published["id"],
        "offer": made["id"],
        "subscription": subscription["id"],
        "vendor": str(acme.id),
    }


@pytest.mark.parametrize(("method", "path"), PERSONAL_CALLS)
def test_the_personal_intention_api_needs_a_personal_token(client, ids, method, path):
    response = client.open(path.format(**ids), method=method, json={})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("method", "path", "scope"), VENDOR_CALLS)
def test_the_vendor_intention_api_needs_a_token(client, ids, method, path, scope):
    response = client.open(path.format(**ids), method=method, json={})
    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("method", "path", "scope"), VENDOR_CALLS)
def test_a_vendor_token_without_the_scope_gets_403(client, ids, acme, method, path, scope):
    others = {"intentions:read": "offers:write", "offers:write": "intentions:read"}
    acme.new_token(scope=f"{others[scope]} profile:read")
    response = client.open(path.format(**ids), method=method, json={}, headers=acme.auth)
    assert response.status_code == 403, response.json
    assert response.json["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_a_token_with_only_the_offers_scope_can_offer_but_not_read_the_feed(client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    acme.new_token(scope="offers:write")
    assert acme.get("/vendor/v1/intentions").status_code == 403
    assert offer_response(acme, published["id"]).status_code == 201
    acme.new_token(scope="intentions:read")
    assert feed_ids(acme) == [published["id"]]
    assert error_fields(offer_response(acme, published["id"]), 403) == []


def test_a_personal_token_is_not_a_vendor_token_nor_the_reverse(client, ada, acme, ids):
    assert client.get("/vendor/v1/intentions", headers=ada.auth).status_code == 401
    assert client.get("/personal/v1/intentions", headers=acme.auth).status_code == 401
