"""The whole OAuth life of a vendor, over real HTTP, with a stock client library
(Authlib's httpx ``OAuth2Client``): client credentials; the authorization code flow with
PKCE S256 through the person's consent screen; refresh; introspection; revocation."""

from __future__ import annotations

import re

import httpx
import pytest
from authlib.integrations.base_client import OAuthError

from tests.conftest import Account
from tests.vendor_api.conftest import (
    SCOPE,
    Browser,
    VendorCreds,
    authorize,
    exchange,
    introspect,
    me,
    oauth_client,
    token_request,
)
from vrm.vendors.scopes import ALL

ACCESS = re.compile(r"^vrm_at_[A-Za-z0-9_-]{43,}$")
REFRESH = re.compile(r"^vrm_rt_[A-Za-z0-9_-]{43,}$")


def test_client_credentials_with_a_stock_client(
    live_server: str, api: httpx.Client, vendor: VendorCreds
) -> None:
    with oauth_client(live_server, vendor, scope="profile:read") as client:
        token = client.fetch_token(grant_type="client_credentials")
        assert ACCESS.match(token["access_token"]), token
        assert token["token_type"].lower() == "bearer"
        assert token["expires_in"] == 3600
        assert token["scope"] == "profile:read"
        assert "refresh_token" not in token  # RFC 6749 4.4.3: no refresh token here

        # The client's own session carries the token to the resource.
        response = client.get("/vendor/v1/me")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["vendor"]["name"] == "Acme Shop"
    assert body["client"]["client_id"] == vendor.client_id
    assert body["token"]["scope"] == "profile:read"
    assert body["token"]["customer_ref"] is None  # no person behind this token

    # The response carries no-store, as RFC 6749 5.1 asks of token responses.
    raw = token_request(api, vendor, grant_type="client_credentials")
    assert raw.status_code == 200
    assert raw.headers["Cache-Control"] == "no-store"


def test_client_credentials_without_scope_gets_everything_the_client_may_have(
    api: httpx.Client, vendor: VendorCreds
) -> None:
    response = token_request(api, vendor, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    assert set(response.json()["scope"].split()) == set(ALL.split())


def test_the_token_endpoint_holds_a_client_to_its_registered_auth_method(
    api: httpx.Client, vendor: VendorCreds
) -> None:
    response = api.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": vendor.client_id,
            "client_secret": vendor.client_secret,
        },
    )
    # The client registered client_secret_basic; the token endpoint holds it to that.
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_authorization_code_with_pkce_then_refresh_introspect_revoke(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    # RFC 9207: the response names the issuer, here the server's own origin.
    assert auth.iss == live_server
    assert len(auth.code) >= 43

    with oauth_client(live_server, vendor) as client:
        token = client.fetch_token(
            authorization_response=auth.location,
            state=auth.state,
            code_verifier=auth.code_verifier,
        )
        assert ACCESS.match(token["access_token"]), token
        assert REFRESH.match(token["refresh_token"]), token
        assert set(token["scope"].split()) == set(SCOPE.split())
        assert token["expires_in"] == 3600

        mine = client.get("/vendor/v1/me")
        assert mine.status_code == 200, mine.text
        ref = mine.json()["token"]["customer_ref"]
        assert ref and "ada" not in ref

        # Refresh: a new access token and a new refresh token.
        refreshed = client.refresh_token(refresh_token=token["refresh_token"])
        assert ACCESS.match(refreshed["access_token"])
        assert REFRESH.match(refreshed["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert set(refreshed["scope"].split()) == set(SCOPE.split())
        assert client.get("/vendor/v1/me").json()["token"]["customer_ref"] == ref

        # Introspection, authenticated as the client.
        described = introspect(api, vendor, refreshed["access_token"])
        assert described.status_code == 200
        info = described.json()
        assert info["active"] is True
        assert info["client_id"] == vendor.client_id
        assert info["token_type"] == "Bearer"
        assert info["sub"] == ref
        assert info["iss"] == live_server
        assert set(info["scope"].split()) == set(SCOPE.split())
        assert info["exp"] - info["iat"] == 3600

        as_refresh = introspect(api, vendor, refreshed["refresh_token"]).json()
        assert as_refresh["active"] is True
        assert as_refresh["token_type"] == "refresh_token"
        assert as_refresh["sub"] == ref

        # Revocation with the library, then the token is dead on the very next request.
        revoked = client.revoke_token(
            f"{live_server}/oauth/revoke",
            token=refreshed["access_token"],
            token_type_hint="access_token",
        )
        assert revoked.status_code == 200, revoked.text
    assert me(api, refreshed["access_token"]).status_code == 401
    assert introspect(api, vendor, refreshed["access_token"]).json() == {"active": False}


def test_revoking_a_refresh_token_ends_the_grant(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
) -> None:
    first = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    with oauth_client(live_server, vendor) as client:
        second = client.refresh_token(refresh_token=first["refresh_token"])
        response = client.revoke_token(
            f"{live_server}/oauth/revoke",
            token=second["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert response.status_code == 200
        with pytest.raises(OAuthError) as refused:
            client.refresh_token(refresh_token=second["refresh_token"])
    assert refused.value.error == "invalid_grant"
    # Every token of the grant ends with it (RFC 7009 2.1).
    assert me(api, second["access_token"]).status_code == 401
    assert me(api, first["access_token"]).status_code == 401


def test_revocation_of_an_unknown_token_is_a_quiet_success(
    api: httpx.Client, vendor: VendorCreds
) -> None:
    response = api.post(
        "/oauth/revoke",
        data={"token": "vrm_at_never-issued"},
        auth=(vendor.client_id, vendor.client_secret),
    )
    assert response.status_code == 200  # RFC 7009 2.2


def test_revocation_needs_client_authentication(api: httpx.Client, vendor: VendorCreds) -> None:
    token = token_request(api, vendor, grant_type="client_credentials").json()["access_token"]
    response = api.post("/oauth/revoke", data={"token": token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert me(api, token).status_code == 200


def test_denied_consent_returns_access_denied_and_no_code(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    with oauth_client(live_server, vendor) as client:
        url, state = client.create_authorization_url(
            f"{live_server}/oauth/authorize", code_verifier="v" * 48
        )
    browser.login(ada.email)
    response = browser.decide(url, decision="deny")
    location = response.headers["Location"]
    assert location.startswith(vendor.redirect_uri + "?")
    assert "error=access_denied" in location
    assert f"state={state}" in location
    assert "code=" not in location


def test_consent_screen_names_vendor_and_scopes_in_plain_words(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    with oauth_client(live_server, vendor, scope="profile:read") as client:
        url, _ = client.create_authorization_url(
            f"{live_server}/oauth/authorize", code_verifier="v" * 48
        )
    # Not logged in: off to the log-in page, which brings the person back here.
    first = browser.http.get(url)
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/login?next=")
    browser.login(ada.email)
    page = browser.http.get(url)
    assert page.status_code == 200
    assert "Acme Shop" in page.text
    assert "Read the profile fields you choose to share" in page.text
    assert "offers:write" not in page.text
