"""`vrm demo`: demo data made through the services, usable at once, and idempotent."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import FAST_ARGON2, Account, basic
from vrm.accounts.models import Person
from vrm.consents.models import Consent
from vrm.conversations.models import Conversation, Message
from vrm.intentions.models import Intention, Offer
from vrm.vendors.models import OAuthClient, Vendor

MODELS = (Person, Vendor, OAuthClient, Intention, Offer, Conversation, Message, Consent)


def vrm_demo(app_settings: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VRM_DATABASE_URL": app_settings["DATABASE_URL"],
        "VRM_KEYS": app_settings["KEYS"],
        "VRM_ENV": "test",
        "VRM_INSTANCE_PATH": app_settings["INSTANCE_PATH"],
        **{f"VRM_{name}": str(value) for name, value in FAST_ARGON2.items()},
    }
    result = subprocess.run(
        [sys.executable, "-m", "vrm.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def counts(app: Flask) -> dict[str, int]:
    with app.extensions["vrm"].sessions() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in MODELS
        }


def personal(client: FlaskClient, token: str, path: str) -> Any:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def vendor_token(client: FlaskClient, client_id: str, secret: str) -> str:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["access_token"]


def test_demo_data_is_ready_to_use_and_a_second_run_changes_nothing(
    app: Flask, client: FlaskClient, app_settings: dict[str, Any]
):
    first = vrm_demo(app_settings, "--base-url", "http://127.0.0.1:5123")
    made = json.loads(first.stdout)
    assert "log in at http://127.0.0.1:5123/login" in first.stderr
    person = made["person"]
    assert person == {
        "email": "demo@vrm.example",
        "password": person["password"],
        "login_url": "http://127.0.0.1:5123/login",
    }
    assert [v["name"] for v in made["vendors"]] == ["Velo Verde", "Gravel & Co"]
    assert all(
        set(v) == {"name", "vendor_id", "client_id", "client_secret"} for v in made["vendors"]
    )
    assert "note" not in made

    # The person logs in with the printed credentials and finds everything.
    response = client.post(
        "/personal/v1/tokens",
        json={"name": "demo test"},
        headers=basic(person["email"], person["password"]),
    )
    assert response.status_code == 201, response.json
    token = response.json["token"]
    profile = personal(client, token, "/personal/v1/profile")
    assert profile["given_name"] == "Dana"
    intentions = personal(client, token, "/personal/v1/intentions")["data"]
    assert [i["title"] for i in intentions] == ["A gravel bike for commuting"]
    assert intentions[0]["state"] == "open"  # kept open: the second offer awaits an answer
    offers = personal(client, token, f"/personal/v1/intentions/{intentions[0]['id']}/offers")
    states = {o["vendor_id"]: o["state"] for o in offers["data"]}
    first_vendor, second_vendor = (v["vendor_id"] for v in made["vendors"])
    assert states == {first_vendor: "accepted", second_vendor: "open"}
    conversations = personal(client, token, "/personal/v1/conversations")["data"]
    assert len(conversations) == 1
    assert str(conversations[0]["vendor_id"]) == first_vendor
    messages = personal(
        client, token, f"/personal/v1/conversations/{conversations[0]['id']}/messages"
    )["data"]
    assert sorted(m["sender"] for m in messages) == ["person", "vendor"]
    consents = personal(client, token, "/personal/v1/consents")["data"]
    assert {(str(c["vendor_id"]), c["state"]) for c in consents} == {
        (first_vendor, "given"),
        (second_vendor, "given"),
    }

    # Each vendor's printed client works, and sees what it should.
    for vendor in made["vendors"]:
        access = vendor_token(client, vendor["client_id"], vendor["client_secret"])
        me = client.get("/vendor/v1/me", headers={"Authorization": f"Bearer {access}"})
        assert me.status_code == 200, me.json
        feed = client.get("/vendor/v1/intentions", headers={"Authorization": f"Bearer {access}"})
        assert [i["id"] for i in feed.json["data"]] == [intentions[0]["id"]]

    before = counts(app)
    again = json.loads(vrm_demo(app_settings, "--base-url", "http://127.0.0.1:5123").stdout)
    assert counts(app) == before
    # The same, but the secrets, which only their digests keep.
    assert again["person"] == made["person"]
    assert again["vendors"] == [{**v, "client_secret": None} for v in made["vendors"]]
    assert "--new-secrets" in again["note"]


def test_new_secrets_gives_each_demo_vendor_a_working_client(
    app: Flask, client: FlaskClient, app_settings: dict[str, Any]
):
    made = json.loads(vrm_demo(app_settings).stdout)
    renewed = json.loads(vrm_demo(app_settings, "--new-secrets").stdout)
    assert "note" not in renewed
    for old, new in zip(made["vendors"], renewed["vendors"], strict=True):
        assert new["vendor_id"] == old["vendor_id"]
        assert new["client_id"] != old["client_id"]
        vendor_token(client, new["client_id"], new["client_secret"])
    latest = json.loads(vrm_demo(app_settings).stdout)
    assert [v["client_id"] for v in latest["vendors"]] == [
        v["client_id"] for v in renewed["vendors"]
    ]


def test_if_empty_adds_nothing_once_anyone_has_an_account(
    app: Flask, ada: Account, app_settings: dict[str, Any]
):
    before = counts(app)
    result = vrm_demo(app_settings, "--if-empty")
    assert result.stdout == ""
    assert "no demo data added" in result.stderr
    assert counts(app) == before
