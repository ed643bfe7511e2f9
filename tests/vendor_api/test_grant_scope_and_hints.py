"""A refresh narrows one access token, never the grant; token hints are only hints;
registration metadata of the wrong type is refused in RFC 7591 terms."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Account
from tests.vendor_api.conftest import (
    Browser,
    VendorCreds,
    authorize,
    exchange,
    introspect,
    token_request,
)
from vrm.vendors.service import VendorService


def test_a_narrowed_refresh_does_not_narrow_the_grant(
    live_server: str, browser: Browser, api: httpx.Client, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(
        live_server,
        vendor,
        authorize(live_server, browser, vendor, ada, scope="profile:read offers:write"),
    )
    narrowed = token_request(
        api,
        vendor,
        grant_type="refresh_token",
        scope="offers:write",
        refresh_token=tokens["refresh_token"],
    ).json()
    assert narrowed["scope"] == "offers:write"
    whole = token_request(
        api, vendor, grant_type="refresh_token", refresh_token=narrowed["refresh_token"]
    ).json()
    assert set(whole["scope"].split()) == {"profile:read", "offers:write"}
    assert introspect(api, vendor, whole["refresh_token"]).json()["scope"] == whole["scope"]


def test_an_unknown_token_type_hint_is_ignored(api: httpx.Client, vendor: VendorCreds) -> None:
    token = token_request(api, vendor, grant_type="client_credentials").json()["access_token"]
    auth = (vendor.client_id, vendor.client_secret)
    looked = api.post(
        "/oauth/introspect", data={"token": token, "token_type_hint": "foo"}, auth=auth
    )
    assert looked.status_code == 200 and looked.json()["active"] is True
    revoked = api.post("/oauth/revoke", data={"token": token, "token_type_hint": "foo"}, auth=auth)
    assert revoked.status_code == 200
    assert introspect(api, vendor, token).json() == {"active": False}


def registration_token(app) -> str:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        return VendorService(session, rt.keyring).issue_registration_token()


def test_registration_metadata_of_the_wrong_shape_is_invalid_client_metadata(
    app, api: httpx.Client
) -> None:
    token = registration_token(app)
    bad_bodies = [
        {"client_name": 123, "grant_types": ["client_credentials"]},
        {"client_name": "X", "scope": ["profile:read"], "grant_types": ["client_credentials"]},
        {"client_name": "X", "contacts": [{"a": 1}], "grant_types": ["client_credentials"]},
        {
            "client_name": "X",
            "policy_uri": "https://x.example/" + "p" * 600,
            "grant_types": ["client_credentials"],
        },
        [1, 2],
    ]
    for body in bad_bodies:
        response = api.post(
            "/oauth/register",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_client_metadata", body
    # None of those spent the token.
    ok = api.post(
        "/oauth/register",
        json={"client_name": "Fine", "grant_types": ["client_credentials"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ok.status_code == 201, ok.text


def test_redirect_uris_must_name_a_plain_host(app) -> None:
    from vrm.errors import ValidationFailed
    from vrm.vendors.service import check_redirect_uri, origin_of

    for bad in [
        "https://evil.example;frame-ancestors *;x/cb",
        "https://a b.example/cb",
        "https://user@shop.example/cb",
        "https://shop.example:99999/cb",
        "https://shop.example:x/cb",
        "https:///cb",
    ]:
        try:
            check_redirect_uri(bad)
        except ValidationFailed:
            continue
        raise AssertionError(f"{bad!r} was accepted")
    assert origin_of(check_redirect_uri("https://shop.example:8443/cb?x=1")) == (
        "https://shop.example:8443"
    )
    assert origin_of(check_redirect_uri("http://[::1]:8080/cb")) == "http://[::1]:8080"
