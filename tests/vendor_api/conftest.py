"""What the OAuth server tests share: vendors created through the service, a person's
browser that logs in and answers the consent screen over real HTTP, and a stock OAuth
client (Authlib's httpx ``OAuth2Client``) pointed at the live server."""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning
from flask import Flask

from tests.conftest import PASSWORD, Account
from vrm.vendors.service import VendorService

with warnings.catch_warnings():
    # Authlib 1.9 would rather have the httpx2 package; the project ships httpx, which
    # Authlib still supports (the stock client is the point of these tests).
    warnings.filterwarnings(
        "ignore", "The httpx module is deprecated", category=AuthlibDeprecationWarning
    )
    from authlib.integrations.httpx_client import OAuth2Client

REDIRECT_URI = "https://shop.example/oauth/callback"
OTHER_REDIRECT_URI = "https://globex.example/cb"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
PROBLEM_JSON = "application/problem+json"
SCOPE = "profile:read offers:write"


@dataclass
class VendorCreds:
    vendor_id: uuid.UUID
    client_id: str
    client_secret: str
    redirect_uri: str | None
    name: str


def create_vendor(
    app: Flask,
    name: str,
    *,
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
    scope: str | None = None,
) -> VendorCreds:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendor, client, secret = VendorService(session, rt.keyring).create_vendor(
            name, redirect_uris=redirect_uris, scope=scope
        )
        return VendorCreds(
            vendor.id,
            client.client_id,
            secret,
            redirect_uris[0] if redirect_uris else None,
            vendor.name,
        )


@pytest.fixture
def vendor(app: Flask) -> VendorCreds:
    return create_vendor(app, "Acme Shop")


@pytest.fixture
def other_vendor(app: Flask) -> VendorCreds:
    return create_vendor(app, "Globex Market", redirect_uris=(OTHER_REDIRECT_URI,))


def csrf_of(response: httpx.Response) -> str:
    match = CSRF_INPUT.search(response.text)
    assert match, f"no csrf_token input on {response.request.url}"
    return match.group(1)


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect, one value each (a repeated one fails)."""
    params = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in params.values()), params
    return {k: v[0] for k, v in params.items()}


def without_query(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class Browser:
    """A person's browser: keeps cookies, never follows a redirect by itself, so a
    redirect to the vendor's (fake) https callback is read, not fetched."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        # trust_env=False: no proxy from the environment between us and 127.0.0.1.
        self.http = httpx.Client(
            base_url=base_url, trust_env=False, follow_redirects=False, timeout=10
        )

    def close(self) -> None:
        self.http.close()

    def login(self, email: str, next_path: str = "/profile", password: str = PASSWORD) -> None:
        page = self.http.get("/login", params={"next": next_path})
        assert page.status_code == 200, page.text
        response = self.http.post(
            "/login",
            params={"next": next_path},
            data={"email": email, "password": password, "csrf_token": csrf_of(page)},
        )
        assert response.status_code == 302, response.text
        assert response.headers["Location"] == next_path

    def decide(self, authorize_url: str, decision: str = "approve") -> httpx.Response:
        """Open the consent screen and press Allow (or Deny); the 302 that follows."""
        page = self.http.get(authorize_url)
        assert page.status_code == 200, page.text
        response = self.http.post(
            authorize_url, data={"decision": decision, "csrf_token": csrf_of(page)}
        )
        assert response.status_code == 302, response.text
        return response


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def browser(live_server: str) -> Iterator[Browser]:
    person_browser = Browser(live_server)
    yield person_browser
    person_browser.close()


@pytest.fixture
def api(live_server: str) -> Iterator[httpx.Client]:
    """A plain HTTP client: raw token, revocation and introspection requests."""
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as client:
        yield client


def oauth_client(
    live_server: str, creds: VendorCreds, *, scope: str | None = SCOPE, **kwargs: Any
) -> OAuth2Client:
    return OAuth2Client(
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        scope=scope,
        redirect_uri=creds.redirect_uri,
        code_challenge_method="S256",
        token_endpoint=f"{live_server}/oauth/token",
        base_url=live_server,
        trust_env=False,
        timeout=10,
        **kwargs,
    )


@dataclass
class Authorization:
    """What the vendor's callback received, and the verifier it kept."""

    code: str
    state: str
    iss: str
    code_verifier: str
    location: str


def authorize(
    live_server: str,
    browser: Browser,
    creds: VendorCreds,
    person: Account,
    *,
    scope: str = SCOPE,
    logged_in: bool = False,
) -> Authorization:
    """The code flow's front channel: the vendor builds the URL (PKCE S256), the person
    logs in and approves; the code, state and iss come back on the 302."""
    with oauth_client(live_server, creds, scope=scope) as client:
        verifier = generate_token(48)
        url, state = client.create_authorization_url(
            f"{live_server}/oauth/authorize", code_verifier=verifier
        )
    if not logged_in:
        browser.login(person.email, next_path=path_of(url))
    response = browser.decide(url)
    location = response.headers["Location"]
    assert creds.redirect_uri
    assert without_query(location) == without_query(creds.redirect_uri)
    params = query_of(location)
    assert params["state"] == state
    return Authorization(params["code"], state, params["iss"], verifier, location)


def exchange(live_server: str, creds: VendorCreds, auth: Authorization) -> dict[str, Any]:
    """The back channel: the vendor swaps the code for tokens with its verifier."""
    with oauth_client(live_server, creds) as client:
        return dict(
            client.fetch_token(
                authorization_response=auth.location,
                state=auth.state,
                code_verifier=auth.code_verifier,
            )
        )


def token_request(api: httpx.Client, creds: VendorCreds, **form: str) -> httpx.Response:
    """A raw token request with client_secret_basic."""
    return api.post("/oauth/token", data=form, auth=(creds.client_id, creds.client_secret))


def me(api: httpx.Client, access_token: str) -> httpx.Response:
    return api.get("/vendor/v1/me", headers={"Authorization": f"Bearer {access_token}"})


def introspect(api: httpx.Client, creds: VendorCreds, token: str) -> httpx.Response:
    return api.post(
        "/oauth/introspect", data={"token": token}, auth=(creds.client_id, creds.client_secret)
    )
