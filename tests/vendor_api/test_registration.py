"""Dynamic client registration (RFC 7591) behind an operator's initial access token, and
the operator's commands (``vrm vendor create``, ``vrm vendor registration-token``) run as
an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from tests.conftest import Account
from tests.vendor_api.conftest import (
    Browser,
    VendorCreds,
    authorize,
    exchange,
    me,
    oauth_client,
    token_request,
)
from vrm.vendors.service import VendorService

VRM = [sys.executable, "-m", "vrm.cli"]


def run_vrm(app_settings: dict[str, Any], tmp_path: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    env.update(
        VRM_DATABASE_URL=app_settings["DATABASE_URL"],
        VRM_KEYS=app_settings["KEYS"],
        VRM_ENV="test",
        VRM_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    done = subprocess.run(
        [*VRM, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def issue_token(app: Flask, vendor_id: uuid.UUID | None = None, days: int = 7) -> str:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        return VendorService(session, rt.keyring).issue_registration_token(vendor_id, days)


def register(api: httpx.Client, token: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.post("/oauth/register", json=body, headers=headers)


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.json()
    assert "client_secret" not in response.json()


def creds_of(body: dict[str, Any], vendor_id: uuid.UUID) -> VendorCreds:
    uris = body["redirect_uris"]
    return VendorCreds(
        vendor_id, body["client_id"], body["client_secret"], uris[0] if uris else None, ""
    )


# Operator commands


def test_vendor_create_on_the_command_line_gives_working_credentials(
    app: Flask, app_settings: dict[str, Any], tmp_path: Path, live_server: str
) -> None:
    created = run_vrm(
        app_settings,
        tmp_path,
        "vendor",
        "create",
        "--name",
        "Cli Coffee",
        "--redirect-uri",
        "https://coffee.example/cb",
        "--scope",
        "profile:read",
        "--scope",
        "events:read",
        "--json",
    )
    assert set(created) == {"vendor_id", "client_id", "client_secret"}
    assert created["client_id"].startswith("vrm_ci_")
    assert created["client_secret"].startswith("vrm_cs_")
    creds = VendorCreds(
        uuid.UUID(created["vendor_id"]),
        created["client_id"],
        created["client_secret"],
        "https://coffee.example/cb",
        "Cli Coffee",
    )
    with oauth_client(live_server, creds, scope=None) as client:
        token = client.fetch_token(grant_type="client_credentials")
        assert set(token["scope"].split()) == {"profile:read", "events:read"}
        body = client.get("/vendor/v1/me").json()
    assert body["vendor"]["id"] == created["vendor_id"]
    assert body["vendor"]["name"] == "Cli Coffee"
    assert body["client"]["redirect_uris"] == ["https://coffee.example/cb"]


def test_a_registration_token_from_the_command_line_registers_one_client(
    app: Flask, app_settings: dict[str, Any], tmp_path: Path, live_server: str, api: httpx.Client
) -> None:
    issued = run_vrm(app_settings, tmp_path, "vendor", "registration-token")
    token = issued["registration_token"]
    assert token.startswith("vrm_iat_")
    assert issued["expires_in_days"] == 7

    response = register(
        api,
        token,
        {
            "client_name": "Registered Roasters",
            "redirect_uris": ["https://roasters.example/cb"],
            "scope": "profile:read offers:write",
            "client_uri": "https://roasters.example",
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["client_id"].startswith("vrm_ci_")
    assert body["client_secret"].startswith("vrm_cs_")
    assert body["client_secret_expires_at"] == 0
    assert body["redirect_uris"] == ["https://roasters.example/cb"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert set(body["scope"].split()) == {"profile:read", "offers:write"}

    # The new client gets a token with a stock client library...
    creds = creds_of(body, uuid.uuid4())
    with oauth_client(live_server, creds, scope="profile:read") as client:
        token_body = client.fetch_token(grant_type="client_credentials")
        assert token_body["scope"] == "profile:read"
        mine = client.get("/vendor/v1/me").json()
    assert mine["vendor"]["name"] == "Registered Roasters"
    assert mine["vendor"]["website"] == "https://roasters.example"

    # ...and the initial access token is spent.
    again = register(api, token, {"client_name": "Second Try"})
    assert_error(again, 401, "invalid_token")


def test_a_registration_token_for_a_vendor_adds_a_client_to_it(
    app: Flask,
    app_settings: dict[str, Any],
    tmp_path: Path,
    api: httpx.Client,
    vendor: VendorCreds,
) -> None:
    issued = run_vrm(
        app_settings,
        tmp_path,
        "vendor",
        "registration-token",
        "--vendor-id",
        str(vendor.vendor_id),
        "--days",
        "1",
    )
    response = register(
        api, issued["registration_token"], {"client_name": "Acme Mobile", "scope": "events:read"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    # Without a redirect URI, a machine client: client credentials only.
    assert body["grant_types"] == ["client_credentials"]
    assert body["response_types"] == []
    creds = creds_of(body, vendor.vendor_id)
    token = token_request(api, creds, grant_type="client_credentials").json()["access_token"]
    mine = me(api, token).json()
    assert mine["vendor"]["id"] == str(vendor.vendor_id)
    assert mine["client"]["name"] == "Acme Mobile"
    assert mine["client"]["client_id"] != vendor.client_id


def test_registration_token_for_an_unknown_vendor_fails_on_the_command_line(
    app_settings: dict[str, Any], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    env.update(
        VRM_DATABASE_URL=app_settings["DATABASE_URL"],
        VRM_KEYS=app_settings["KEYS"],
        VRM_ENV="test",
        VRM_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    done = subprocess.run(
        [*VRM, "vendor", "registration-token", "--vendor-id", str(uuid.uuid4())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "No such vendor" in done.stderr
    assert "registration_token" not in done.stdout


# The initial access token


@pytest.mark.parametrize(
    "header",
    [None, "Bearer vrm_iat_" + "A" * 43, "Bearer", "Basic dXNlcjpwYXNz"],
    ids=["none", "unknown", "empty", "basic"],
)
def test_registration_without_a_valid_initial_access_token_is_401(
    app: Flask, api: httpx.Client, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = api.post("/oauth/register", json={"client_name": "Intruder"}, headers=headers)
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_person_or_vendor_token_is_not_an_initial_access_token(
    api: httpx.Client, vendor: VendorCreds, ada: Account
) -> None:
    access = token_request(api, vendor, grant_type="client_credentials").json()["access_token"]
    for token in (access, ada.token, vendor.client_secret):
        assert_error(register(api, token, {"client_name": "Intruder"}), 401, "invalid_token")


def test_an_expired_initial_access_token_is_401(
    frozen_clock: list[datetime], app: Flask, api: httpx.Client
) -> None:
    token = issue_token(app, days=1)
    frozen_clock[0] += timedelta(days=1, seconds=1)
    assert_error(register(api, token, {"client_name": "Late"}), 401, "invalid_token")


def test_a_refused_registration_does_not_spend_the_token(app: Flask, api: httpx.Client) -> None:
    token = issue_token(app)
    bad = register(api, token, {"client_name": "X", "redirect_uris": ["http://x.example/cb"]})
    assert bad.status_code == 400
    assert register(api, token, {"client_name": "X"}).status_code == 201


# Client metadata


@pytest.mark.parametrize(
    "uri",
    [
        "http://shop.example/cb",
        "ftp://shop.example/cb",
        "http://localhost.evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://0.0.0.0/cb",
    ],
)
def test_a_non_https_redirect_uri_is_refused(app: Flask, api: httpx.Client, uri: str) -> None:
    response = register(api, issue_token(app), {"client_name": "Shop", "redirect_uris": [uri]})
    assert_error(response, 400, "invalid_redirect_uri")


@pytest.mark.parametrize(
    "uri",
    ["javascript:alert(1)", "data:text/html,hi", "/relative/cb", "https://shop.example/cb#x"],
    ids=["javascript", "data", "relative", "fragment"],
)
def test_a_malformed_redirect_uri_is_invalid_redirect_uri(
    app: Flask, api: httpx.Client, uri: str
) -> None:
    response = register(api, issue_token(app), {"client_name": "Shop", "redirect_uris": [uri]})
    assert_error(response, 400, "invalid_redirect_uri")


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8765/callback",
        "http://localhost:3000/cb",
        "http://[::1]:8080/cb",
        "https://shop.example/cb",
    ],
)
def test_https_and_loopback_http_redirect_uris_are_accepted(
    app: Flask, api: httpx.Client, uri: str
) -> None:
    response = register(api, issue_token(app), {"client_name": "Shop", "redirect_uris": [uri]})
    assert response.status_code == 201, response.text
    assert response.json()["redirect_uris"] == [uri]


@pytest.mark.parametrize(
    "metadata",
    [
        {"scope": "profile:read nonsense:scope"},
        {"scope": "admin"},
        {"grant_types": ["password"]},
        {"grant_types": ["implicit"]},
        {"token_endpoint_auth_method": "none"},
    ],
    ids=["unknown-scope", "other-unknown-scope", "password", "implicit", "public-client"],
)
def test_metadata_the_server_does_not_support_is_refused(
    app: Flask, api: httpx.Client, metadata: dict[str, Any]
) -> None:
    token = issue_token(app)
    response = register(api, token, {"client_name": "Shop", **metadata})
    assert_error(response, 400, "invalid_client_metadata")


def test_a_new_vendor_must_be_named(app: Flask, api: httpx.Client) -> None:
    response = register(api, issue_token(app), {"redirect_uris": ["https://shop.example/cb"]})
    assert_error(response, 400, "invalid_client_metadata")


def test_a_registered_client_completes_the_code_flow(
    app: Flask, live_server: str, api: httpx.Client, browser: Browser, ada: Account
) -> None:
    response = register(
        api,
        issue_token(app),
        {
            "client_name": "Dynamic Deli",
            "redirect_uris": ["https://deli.example/cb"],
            "scope": "profile:read offers:write",
        },
    )
    assert response.status_code == 201, response.text
    creds = creds_of(response.json(), uuid.uuid4())
    tokens = exchange(live_server, creds, authorize(live_server, browser, creds, ada))
    mine = me(api, tokens["access_token"]).json()
    assert mine["vendor"]["name"] == "Dynamic Deli"
    assert mine["token"]["customer_ref"]
