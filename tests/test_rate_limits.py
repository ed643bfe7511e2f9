"""Abuse limits: token issuance per OAuth client, personal tokens per account, offers and
messages per vendor and per person. Each refusal is a 429 problem with Retry-After and the
RateLimit fields; each limit reads its rate from the settings, lowered here per test."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, Account, basic, make_account
from tests.consents.conftest import VendorApi, csrf_of, make_vendor, relate, web_login
from tests.intentions.conftest import offer_response, publish, subscribe
from vrm.config import ConfigError, load

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def rate(app: Flask) -> Iterator[Callable[[str, str], None]]:
    """Set ``<NAME>_RATE_LIMIT`` for this test only."""
    settings = app.extensions["vrm"].settings
    saved = dict(settings)

    def set_rate(name: str, value: str) -> None:
        settings[f"{name}_RATE_LIMIT"] = value

    yield set_rate
    settings.update(saved)


def client_basic(vendor: VendorApi, secret: str | None = None) -> dict[str, str]:
    raw = f"{vendor.client_id}:{secret or vendor.client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def token_request(
    client: FlaskClient, vendor: VendorApi, secret: str | None = None, address: str = "127.0.0.1"
) -> TestResponse:
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=client_basic(vendor, secret),
        environ_base={"REMOTE_ADDR": address},
    )


def assert_rate_limited(response: TestResponse, policy: str) -> None:
    """A 429 problem, with when to retry and the limit it hit, in both header styles."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    assert response.json["type"] == "urn:vrm:problem:rate-limited"
    assert response.json["status"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert f'"{policy}";q=' in response.headers["RateLimit-Policy"]
    assert f'"{policy}";r=0;t=' in response.headers["RateLimit"]


def test_a_client_gets_only_so_many_tokens_and_other_clients_are_unaffected(
    app: Flask, client: FlaskClient, rate: Callable[[str, str], None]
) -> None:
    acme, globex = make_vendor(app, client, "Acme"), make_vendor(app, client, "Globex")
    rate("OAUTH_TOKEN", "2 per minute")
    first = token_request(client, acme)
    assert first.status_code == 200
    assert '"oauth-token";q=2;w=60' in first.headers["RateLimit-Policy"].split(", ")
    assert '"oauth-token";r=1;t=' in first.headers["RateLimit"]
    assert token_request(client, acme).status_code == 200
    refused = token_request(client, acme)
    assert_rate_limited(refused, "oauth-token")
    assert "2 per 1 minute" in refused.json["detail"]
    assert token_request(client, globex).status_code == 200


def test_refused_token_requests_count_per_address_not_against_the_client(
    app: Flask, client: FlaskClient, rate: Callable[[str, str], None]
) -> None:
    """Someone guessing a client's secret is stopped, and does not use up its share."""
    acme = make_vendor(app, client, "Acme")
    rate("OAUTH_TOKEN", "2 per minute")
    guesses = [token_request(client, acme, "vrm_cs_guess", "10.0.0.9") for _ in range(3)]
    assert [g.status_code for g in guesses[:2]] == [401, 401]
    assert_rate_limited(guesses[2], "oauth-token-refused")
    assert token_request(client, acme, address="10.0.0.9").status_code == 429
    assert token_request(client, acme, address="10.0.0.1").status_code == 200


def token_page_post(browser: FlaskClient, name: str) -> TestResponse:
    page = browser.get("/tokens")
    form = {"name": name, "password": PASSWORD, "csrf_token": csrf_of(page)}
    return browser.post("/tokens", data=form)


def test_personal_tokens_are_limited_per_account_across_the_api_and_the_web_page(
    app: Flask, client: FlaskClient, rate: Callable[[str, str], None]
) -> None:
    ada = make_account(client, "ada@example.org")  # one token already, before the limit
    bob = make_account(client, "bob@example.org")
    rate("PERSONAL_TOKEN", "2 per hour")
    api = client.post("/personal/v1/tokens", json={"name": "script"}, headers=basic(ada.email))
    assert api.status_code == 201
    browser = app.test_client()
    web_login(browser, ada.email)
    assert token_page_post(browser, "laptop").status_code == 200
    assert "vrm_pat_" in browser.get("/tokens").get_data(as_text=True)  # listed, not shown
    third = client.post("/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email))
    assert_rate_limited(third, "personal-token")
    page = token_page_post(browser, "again")
    assert page.status_code == 429
    assert page.mimetype == "text/html"
    assert "Retry-After" in page.headers
    other = client.post("/personal/v1/tokens", json={"name": "x"}, headers=basic(bob.email))
    assert other.status_code == 201


def test_a_wrong_password_does_not_use_up_the_token_creation_share(
    client: FlaskClient, ada: Account, rate: Callable[[str, str], None]
) -> None:
    rate("PERSONAL_TOKEN", "1 per hour")
    wrong = client.post(
        "/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email, "not the password")
    )
    assert wrong.status_code == 401
    ok = client.post("/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email))
    assert ok.status_code == 201


def test_offers_are_limited_per_vendor(
    app: Flask, client: FlaskClient, ada: Account, rate: Callable[[str, str], None]
) -> None:
    acme, globex = make_vendor(app, client, "Acme"), make_vendor(app, client, "Globex")
    for vendor in (acme, globex):
        subscribe(vendor, categories=["sports"])
        vendor.accept()
    first, second = publish(client, ada), publish(client, ada, title="A helmet")
    rate("OFFER", "1 per minute")
    assert offer_response(acme, first["id"]).status_code == 201
    assert_rate_limited(offer_response(acme, second["id"]), "offer")
    assert offer_response(globex, first["id"]).status_code == 201


def test_a_persons_messages_are_limited_across_the_api_and_the_inbox(
    app: Flask, client: FlaskClient, ada: Account, rate: Callable[[str, str], None]
) -> None:
    acme = make_vendor(app, client, "Acme")
    relate(app, acme, ada)
    rate("MESSAGE", "2 per minute")
    opened = client.post(
        "/personal/v1/conversations",
        json={"vendor_id": str(acme.id), "text": "Hello"},
        headers=ada.auth,
    )
    assert opened.status_code == 201, opened.json
    path = f"/personal/v1/conversations/{opened.json['id']}/messages"
    assert client.post(path, json={"text": "Still there?"}, headers=ada.auth).status_code == 201
    assert_rate_limited(client.post(path, json={"text": "Hello?"}, headers=ada.auth), "message")
    browser = app.test_client()
    web_login(browser, ada.email)
    thread = f"/inbox/{opened.json['id']}"
    reply = browser.post(thread, data={"text": "Hi", "csrf_token": csrf_of(browser.get(thread))})
    assert reply.status_code == 429
    # Reading is not limited.
    assert client.get(path, headers=ada.auth).status_code == 200
    assert browser.get(thread).status_code == 200


def test_a_vendors_messages_are_limited_per_vendor(
    app: Flask, client: FlaskClient, ada: Account, bob: Account, rate: Callable[[str, str], None]
) -> None:
    acme = make_vendor(app, client, "Acme")
    conversations = []
    for person in (ada, bob):
        relate(app, acme, person)
        opened = client.post(
            "/personal/v1/conversations",
            json={"vendor_id": str(acme.id), "text": "Hello"},
            headers=person.auth,
        )
        assert opened.status_code == 201, opened.json
        conversations.append(opened.json["id"])
    rate("MESSAGE", "1 per minute")
    first = acme.post(f"/vendor/v1/conversations/{conversations[0]}/messages", json={"text": "Hi"})
    assert first.status_code == 201, first.json
    other = acme.post(f"/vendor/v1/conversations/{conversations[1]}/messages", json={"text": "Hi"})
    assert_rate_limited(other, "message")


def test_routes_without_a_limit_carry_no_rate_limit_fields(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert "RateLimit" not in response.headers
    assert "RateLimit-Policy" not in response.headers


def test_a_rate_that_cannot_be_parsed_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="VRM_MESSAGE_RATE_LIMIT"):
        load({"MESSAGE_RATE_LIMIT": "lots"}, environ={})


def test_default_rates_are_generous() -> None:
    settings = load(environ={})
    assert settings["OAUTH_TOKEN_RATE_LIMIT"] == "300 per minute"
    assert settings["MESSAGE_RATE_LIMIT"] == "120 per minute"
    assert settings["RATELIMIT_STORAGE_URL"] == "memory://"


# Shared limits in Redis: separate processes count together.

REDIS = ("127.0.0.1", 6379)
REDIS_URL = "redis://127.0.0.1:6379/13"


def redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5):
            return True
    except OSError:
        return False


# One app in a fresh process, asking for a client-credentials token ``n`` times.
ASK_FOR_TOKENS = """
import base64, json, sys
from vrm.app import create_app
client_id, secret, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app()
auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
with app.test_client() as client:
    print(json.dumps([
        client.post("/oauth/token", data={"grant_type": "client_credentials"},
                    headers={"Authorization": "Basic " + auth}).status_code
        for _ in range(n)
    ]))
"""


def statuses_from_another_process(
    app_settings: dict[str, Any], vendor: VendorApi, storage: str, n: int, prefix: str = "vrm"
) -> list[int]:
    env = {
        **os.environ,
        **{f"VRM_{k}": str(v) for k, v in app_settings.items() if v is not None},
        "VRM_RATELIMIT_STORAGE_URL": storage,
        "VRM_RATELIMIT_KEY_PREFIX": prefix,
        "VRM_OAUTH_TOKEN_RATE_LIMIT": "3 per minute",
    }
    done = subprocess.run(
        [sys.executable, "-c", ASK_FOR_TOKENS, vendor.client_id, vendor.client_secret, str(n)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(s) for s in done.stdout.strip().strip("[]").split(",")]


@pytest.mark.skipif(not redis_reachable(), reason="no Redis on 127.0.0.1:6379")
def test_app_instances_sharing_redis_count_together(
    app: Flask, client: FlaskClient, app_settings: dict[str, Any]
) -> None:
    pytest.importorskip("redis")
    acme = make_vendor(app, client, "Acme")  # a new client id: keys no other run uses
    assert statuses_from_another_process(app_settings, acme, REDIS_URL, 2) == [200, 200]
    assert statuses_from_another_process(app_settings, acme, REDIS_URL, 2) == [200, 429]


@pytest.mark.skipif(not redis_reachable(), reason="no Redis on 127.0.0.1:6379")
def test_deployments_sharing_one_redis_count_apart_under_their_own_prefix(
    app: Flask, client: FlaskClient, app_settings: dict[str, Any]
) -> None:
    pytest.importorskip("redis")
    acme = make_vendor(app, client, "Acme")
    assert statuses_from_another_process(app_settings, acme, REDIS_URL, 3, "blue") == [200] * 3
    assert statuses_from_another_process(app_settings, acme, REDIS_URL, 2, "green") == [200] * 2
    assert statuses_from_another_process(app_settings, acme, REDIS_URL, 1, "blue") == [429]


def test_app_instances_in_memory_count_apart(
    app: Flask, client: FlaskClient, app_settings: dict[str, Any]
) -> None:
    """The control: without a shared store each process has its own count."""
    acme = make_vendor(app, client, "Acme")
    assert statuses_from_another_process(app_settings, acme, "memory://", 2) == [200, 200]
    assert statuses_from_another_process(app_settings, acme, "memory://", 2) == [200, 200]


LIMITED_OPERATIONS = [
    ("post", "/oauth/token"),
    ("post", "/personal/v1/accounts"),
    ("post", "/personal/v1/tokens"),
    ("post", "/personal/v1/conversations"),
    ("post", "/personal/v1/conversations/{conversation_id}/messages"),
    ("post", "/vendor/v1/intentions/{intention_id}/offers"),
    ("post", "/vendor/v1/conversations/{conversation_id}/messages"),
]


@pytest.mark.parametrize(("method", "path"), LIMITED_OPERATIONS)
def test_limited_operations_document_the_429_and_its_headers(method: str, path: str) -> None:
    spec = yaml.safe_load((Path(__file__).parent.parent / "openapi.yaml").read_text())
    response = spec["paths"][path][method]["responses"]["429"]
    assert response == {"$ref": "#/components/responses/TOO_MANY_REQUESTS"}
    documented = spec["components"]["responses"]["TOO_MANY_REQUESTS"]
    assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(documented["headers"])
    assert "application/problem+json" in documented["content"]
