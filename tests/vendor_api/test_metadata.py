"""What the server publishes about itself: RFC 8414 metadata and the JWK Set."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, Account
from tests.vendor_api.conftest import CSRF_INPUT, SCOPE, create_vendor, query_of
from vrm.app import create_app
from vrm.crypto import KeyMaterial
from vrm.vendors.scopes import SCOPES

ISSUER = "https://vrm.example"
METADATA = "/.well-known/oauth-authorization-server"


@pytest.fixture
def issuer_app(app: Flask, app_settings: dict[str, Any]) -> Iterator[Flask]:
    """A second app on the same database, with the issuer configured (``app`` is asked for
    so the tables are emptied after the test)."""
    application = create_app({**app_settings, "ISSUER": ISSUER})
    yield application
    application.extensions["vrm"].engine.dispose()


def test_metadata_with_a_configured_issuer_validates_and_names_it_exactly(
    issuer_app: Flask,
) -> None:
    # Whatever Host the request names, the configured issuer is what is published.
    client = issuer_app.test_client()
    response = client.get(METADATA, base_url="http://attacker.example")
    assert response.status_code == 200
    body = response.get_json()
    assert body["issuer"] == ISSUER
    AuthorizationServerMetadata(body).validate()
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "registration_endpoint",
        "jwks_uri",
    ):
        assert body[name].startswith(ISSUER + "/"), name
    assert body["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert body["token_endpoint"] == f"{ISSUER}/oauth/token"


def test_metadata_advertises_only_what_rfc9700_allows(live_server: str) -> None:
    response = httpx.get(live_server + METADATA, trust_env=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    # Without a configured issuer, the server's own origin.
    assert body["issuer"] == live_server
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["response_types_supported"] == ["code"]
    assert set(body["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert body["authorization_response_iss_parameter_supported"] is True
    assert set(body["scopes_supported"]) == set(SCOPES)
    assert "none" not in body["token_endpoint_auth_methods_supported"]
    assert set(body["token_endpoint_auth_methods_supported"]) <= {
        "client_secret_basic",
        "client_secret_post",
    }
    # Every endpoint it names answers at that address.
    assert httpx.get(body["jwks_uri"], trust_env=False).status_code == 200
    token = httpx.post(body["token_endpoint"], data={}, trust_env=False)
    assert token.status_code in {400, 401}


def web_login(client: FlaskClient, email: str) -> None:
    page = client.get("/login")
    csrf = CSRF_INPUT.search(page.get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 302


def test_iss_in_responses_is_the_configured_issuer(issuer_app: Flask, ada: Account) -> None:
    creds = create_vendor(issuer_app, "Acme Shop")
    client = issuer_app.test_client()

    # Introspection names the same issuer as the metadata.
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    ).get_json()["access_token"]
    info = client.post(
        "/oauth/introspect",
        data={"token": token},
        auth=(creds.client_id, creds.client_secret),
    ).get_json()
    assert info["iss"] == ISSUER

    # So does the authorization response (RFC 9207 2.3: identical to the metadata issuer).
    web_login(client, ada.email)
    params = {
        "response_type": "code",
        "client_id": creds.client_id,
        "redirect_uri": creds.redirect_uri,
        "scope": SCOPE,
        "state": "s1",
        "code_challenge": create_s256_code_challenge("v" * 43),
        "code_challenge_method": "S256",
    }
    page = client.get("/oauth/authorize", query_string=params)
    assert page.status_code == 200
    csrf = CSRF_INPUT.search(page.get_data(as_text=True)).group(1)
    approved = client.post(
        "/oauth/authorize",
        query_string=params,
        data={"decision": "approve", "csrf_token": csrf},
    )
    assert approved.status_code == 302
    assert query_of(approved.headers["Location"])["iss"] == ISSUER


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_jwks_publishes_the_ed25519_public_key_with_kid(live_server: str, keys_json: str) -> None:
    response = httpx.get(f"{live_server}/.well-known/jwks.json", trust_env=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    keys = response.json()["keys"]
    assert len(keys) >= 1
    material = KeyMaterial.from_json(keys_json)
    by_kid = {key["kid"]: key for key in keys}
    assert set(by_kid) == set(material.signing_keys)
    active = by_kid[material.signing_active]
    assert active["kty"] == "OKP"
    assert active["crv"] == "Ed25519"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", active["x"])
    # The public half only: no private key material, ever.
    assert all("d" not in key for key in keys)

    # A signature by the server's signing key verifies with the published key.
    private = Ed25519PrivateKey.from_private_bytes(material.signing_keys[material.signing_active])
    message = b"a signed record"
    Ed25519PublicKey.from_public_bytes(_b64d(active["x"])).verify(private.sign(message), message)
