"""What the consent tests share: vendors with client-credentials tokens, a person's
browser on the Flask test client, and short-hands for the person and vendor APIs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, Account
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.service import VendorService

REDIRECT_URI = "https://shop.example/oauth/callback"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class VendorApi:
    """A vendor with one client and a client-credentials access token."""

    id: uuid.UUID
    name: str
    client_id: str
    client_secret: str
    client: FlaskClient
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def new_token(self, scope: str | None = None) -> str:
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        raw = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        response = self.client.post(
            "/oauth/token", data=form, headers={"Authorization": f"Basic {raw}"}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        self.token = response.json["access_token"]
        return self.token

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, headers=self.auth, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.post(path, headers=self.auth, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.put(path, headers=self.auth, **kwargs)

    def accept(self, codes: tuple[str, ...] | list[str] = DEFAULT_TERMS) -> TestResponse:
        response = self.put("/vendor/v1/terms", json={"accepted": list(codes)})
        assert response.status_code == 200, response.json
        return response

    def read(self, customer_ref: str, purpose: str | None = "ServiceProvision") -> TestResponse:
        query = {"purpose": purpose} if purpose is not None else {}
        return self.get(f"/vendor/v1/customers/{customer_ref}/profile", query_string=query)


def make_vendor(
    app: Flask,
    client: FlaskClient,
    name: str,
    *,
    scope: str | None = None,
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
) -> VendorApi:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendor, oauth_client, secret = VendorService(session, rt.keyring).create_vendor(
            name, redirect_uris=redirect_uris, scope=scope
        )
        made = VendorApi(vendor.id, vendor.name, oauth_client.client_id, secret, client)
    made.new_token()
    return made


def relate(app: Flask, vendor: VendorApi, person: Account) -> str:
    """Begin the relationship (as a sign-in at the vendor would) and return the ref."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        relationship = VendorService(session, rt.keyring).relate(vendor.id, uuid.UUID(person.id))
        return relationship.customer_ref


@pytest.fixture
def acme(app: Flask, client: FlaskClient) -> VendorApi:
    return make_vendor(app, client, "Acme Shop")


@pytest.fixture
def globex(app: Flask, client: FlaskClient) -> VendorApi:
    return make_vendor(app, client, "Globex Market", redirect_uris=("https://globex.example/cb",))


def fill_profile(client: FlaskClient, person: Account, **values: Any) -> None:
    body = values or {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "phone": "+447911123456",
        "contact_email": "ada.contact@example.net",
    }
    response = client.patch("/personal/v1/profile", json=body, headers=person.auth)
    assert response.status_code == 200, response.json


def grant(
    client: FlaskClient,
    person: Account,
    vendor: VendorApi,
    fields: list[str],
    purposes: tuple[str, ...] | list[str] = ("ServiceProvision",),
    days: int | None = None,
) -> TestResponse:
    body: dict[str, Any] = {
        "vendor_id": str(vendor.id),
        "fields": fields,
        "purposes": list(purposes),
    }
    if days is not None:
        body["duration_days"] = days
    return client.post("/personal/v1/consents", json=body, headers=person.auth)


def granted(
    client: FlaskClient, person: Account, vendor: VendorApi, fields: list[str], **kw: Any
) -> dict[str, Any]:
    """A consent given directly (the vendor must accept the person's terms first)."""
    response = grant(client, person, vendor, fields, **kw)
    assert response.status_code == 201, response.json
    return response.json


# A person's browser on the Flask test client


def csrf_of(page: TestResponse) -> str:
    match = CSRF_INPUT.search(page.get_data(as_text=True))
    assert match, "no csrf_token input on the page"
    return match.group(1)


def web_login(browser: FlaskClient, email: str, password: str = PASSWORD) -> None:
    page = browser.get("/login")
    assert page.status_code == 200
    response = browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    params = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in params.values()), params
    return {k: v[0] for k, v in params.items()}


# Signed records


def key_set(client: FlaskClient) -> KeySet:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json)


def verify(token: str, client: FlaskClient) -> dict[str, Any]:
    """The payload of a compact JWS, verified against the published JWKS with joserfc."""
    obj = jws.deserialize_compact(token, key_set(client), algorithms=["Ed25519"])
    return json.loads(obj.payload)


def person_receipts(client: FlaskClient, person: Account, consent_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/personal/v1/consents/{consent_id}/receipts", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def access_log(client: FlaskClient, person: Account, **query: Any) -> dict[str, Any]:
    response = client.get("/personal/v1/access-log", headers=person.auth, query_string=query)
    assert response.status_code == 200, response.json
    return response.json
