"""Secrets, codes and tokens: their shape on the wire, and only their SHA-256 digests in
the database."""

from __future__ import annotations

import re
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import select

from tests.conftest import Account
from tests.vendor_api.conftest import (
    Browser,
    VendorCreds,
    authorize,
    exchange,
    token_request,
)
from vrm.crypto import token_digest
from vrm.models import Base
from vrm.vendors.models import AuthorizationCode, OAuthClient, OAuthToken, RegistrationToken
from vrm.vendors.service import VendorService

SHAPES = {
    "access_token": re.compile(r"^vrm_at_[A-Za-z0-9_-]{43,}$"),
    "refresh_token": re.compile(r"^vrm_rt_[A-Za-z0-9_-]{43,}$"),
}


def every_value(app: Flask) -> list[tuple[str, str, str]]:
    """Every non-null value in every column of every table, as text."""
    found = []
    with app.extensions["vrm"].engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None:
                        found.append((table.name, column, str(value)))
    return found


def test_tokens_have_a_prefix_and_256_random_bits(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    for name, shape in SHAPES.items():
        assert shape.match(tokens[name]), (name, tokens[name])
        # 43 base64url characters carry 258 bits, so at least 256 random bits are there.
        assert len(tokens[name].split("_", 2)[2]) >= 43
    machine = token_request(api, vendor, grant_type="client_credentials").json()
    assert SHAPES["access_token"].match(machine["access_token"])
    # Two tokens never share their random part.
    assert len({tokens["access_token"][7:], tokens["refresh_token"][7:]}) == 2


def test_the_database_holds_only_digests(
    app: Flask,
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
) -> None:
    secrets: dict[str, str] = {"client_secret": vendor.client_secret}

    auth = authorize(live_server, browser, vendor, ada)
    secrets["code"] = auth.code
    secrets["code_verifier"] = auth.code_verifier
    first = exchange(live_server, vendor, auth)
    secrets["access_token"] = first["access_token"]
    secrets["refresh_token"] = first["refresh_token"]
    second = token_request(
        api, vendor, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    secrets["rotated_access_token"] = second["access_token"]
    secrets["rotated_refresh_token"] = second["refresh_token"]
    machine = token_request(api, vendor, grant_type="client_credentials").json()
    secrets["client_credentials_token"] = machine["access_token"]
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        secrets["registration_token"] = VendorService(
            session, rt.keyring
        ).issue_registration_token()

    values = every_value(app)
    tables = {table for table, _, _ in values}
    assert {"oauth_tokens", "oauth_authorization_codes", "oauth_clients"} <= tables
    for name, secret in secrets.items():
        random_part = secret.split("_", 2)[2] if secret.startswith("vrm_") else secret
        for table, column, value in values:
            assert secret not in value, (name, table, column)
            assert random_part not in value, (name, table, column)

    # What is there instead: the SHA-256 digest of each.
    with rt.sessions() as session:
        client = session.scalar(
            select(OAuthClient).where(OAuthClient.client_id == vendor.client_id)
        )
        assert client.secret_digest == token_digest(vendor.client_secret)
        code = session.scalar(select(AuthorizationCode))
        assert code.digest == token_digest(auth.code)
        assert code.used_at is not None
        digests: dict[str, Any] = {
            row.access_digest: row for row in session.scalars(select(OAuthToken))
        }
        for name in ("access_token", "rotated_access_token", "client_credentials_token"):
            assert token_digest(secrets[name]) in digests, name
        assert digests[token_digest(first["access_token"])].refresh_digest == token_digest(
            first["refresh_token"]
        )
        assert digests[token_digest(second["access_token"])].refresh_digest == token_digest(
            second["refresh_token"]
        )
        registration = session.scalar(select(RegistrationToken))
        assert registration.digest == token_digest(secrets["registration_token"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in digests)
