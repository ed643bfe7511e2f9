"""Signed consent receipts: the same for the person and the vendor, verifiable by anyone with
the published JWKS (checked here with joserfc, not the app's own code), tamper-evident, and
still verifiable after the signing key rotates."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.errors import BadSignatureError

from tests.conftest import Account, make_account
from tests.consents.conftest import (
    VendorApi,
    fill_profile,
    granted,
    key_set,
    make_vendor,
    person_receipts,
    relate,
    verify,
)
from vrm.terms.roster import DEFAULT_TERMS


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64d(token.split(".")[0]))


def vendor_receipts(vendor: VendorApi, consent_id: str) -> list[dict[str, Any]]:
    response = vendor.get(f"/vendor/v1/consents/{consent_id}/receipts")
    assert response.status_code == 200, response.json
    return response.json["data"]


@pytest.fixture
def consent(client: FlaskClient, ada: Account, acme: VendorApi) -> dict[str, Any]:
    acme.accept()
    fill_profile(client, ada)
    return granted(
        client,
        ada,
        acme,
        ["given_name", "postal_address"],
        purposes=["ServiceProvision", "CustomerCare"],
        days=30,
    )


def test_the_person_and_the_vendor_hold_the_same_receipts(
    client: FlaskClient, ada: Account, acme: VendorApi, consent: dict[str, Any]
) -> None:
    client.post(f"/personal/v1/consents/{consent['id']}/withdraw", headers=ada.auth)
    mine = person_receipts(client, ada, consent["id"])
    theirs = vendor_receipts(acme, consent["id"])
    assert mine == theirs
    assert [(r["seq"], r["type"]) for r in mine] == [(1, "given"), (2, "withdrawn")]
    for receipt in mine:
        payload = verify(receipt["receipt"], client)
        assert payload["event"]["id"] == receipt["event_id"]
        assert payload["event"]["seq"] == receipt["seq"]
        assert datetime.fromisoformat(payload["event"]["time"]) == datetime.fromisoformat(
            receipt["at"]
        )


def test_the_receipt_says_what_was_consented_to_whom_under_which_terms(
    frozen_clock: list[datetime],
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
    consent: dict[str, Any],
) -> None:
    [receipt] = person_receipts(client, ada, consent["id"])
    token = receipt["receipt"]
    header = header_of(token)
    assert header["alg"] == "Ed25519"
    assert header["typ"] == "vrm-consent-receipt+jws"
    assert header["kid"] in [k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]]

    payload = verify(token, client)
    assert payload["record_id"] == consent["id"]
    assert payload["schema_version"].startswith("vrm-consent-receipt/1")
    assert payload["principal"] == {"customer_ref": consent["customer_ref"]}
    assert payload["controller"]["id"] == str(acme.id)
    assert payload["controller"]["name"] == "Acme Shop"
    assert payload["purposes"] == ["CustomerCare", "ServiceProvision"]
    assert payload["data_categories"] == ["given_name", "postal_address"]
    assert payload["terms"] == [{"code": code, "version": 1} for code in DEFAULT_TERMS]
    assert payload["event"]["type"] == "given"
    assert payload["state"] == "given"
    assert payload["origin"] == "person"
    assert datetime.fromisoformat(payload["event"]["time"]) == datetime.fromisoformat(
        consent["given_at"]
    )
    assert datetime.fromisoformat(payload["validity"]["from"]) == datetime.fromisoformat(
        consent["given_at"]
    )
    assert datetime.fromisoformat(payload["validity"]["until"]) == datetime.fromisoformat(
        consent["expires_at"]
    )
    assert payload["iat"] == int(frozen_clock[0].timestamp())
    assert datetime.fromisoformat(consent["given_at"]) == frozen_clock[0]

    # The person is named by the vendor's pseudonym only: no id, no email, no profile value.
    text = json.dumps(payload)
    for secret in (ada.id, ada.email, "Ada", "Lovelace", "ada.contact@example.net"):
        assert secret not in text


def test_a_request_and_its_denial_are_receipted(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    asked = acme.post(
        "/vendor/v1/consent-requests",
        json={
            "customer_ref": relate(app, acme, ada),
            "fields": ["phone"],
            "purposes": ["CustomerCare"],
            "duration_days": 10,
            "message": "May we call you?",
        },
    ).json
    client.post(f"/personal/v1/consent-requests/{asked['id']}/deny", headers=ada.auth)
    requested, refused = (verify(r["receipt"], client) for r in vendor_receipts(acme, asked["id"]))
    assert requested["event"]["type"] == requested["state"] == "requested"
    assert requested["origin"] == "vendor"
    assert requested["validity"] == {"from": None, "until": None}
    assert refused["event"]["type"] == refused["state"] == "refused"
    assert refused["record_id"] == requested["record_id"] == asked["id"]
    assert refused["data_categories"] == ["phone"]
    assert refused["event"]["seq"] == 2


def test_one_changed_character_breaks_the_signature(
    client: FlaskClient, ada: Account, consent: dict[str, Any]
) -> None:
    [receipt] = person_receipts(client, ada, consent["id"])
    header, payload, signature = receipt["receipt"].split(".")
    keys = key_set(client)

    # The payload with one character changed: a purpose the person never agreed to.
    claims = b64d(payload).decode()
    assert claims.count("CustomerCare") == 1
    forged_claims = claims.replace("CustomerCare", "CustomerCarf")
    forged = f"{header}.{b64e(forged_claims.encode())}.{signature}"
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(forged, keys, algorithms=["Ed25519"])

    # One character of the encoded payload changed, in the middle.
    middle = len(payload) // 2
    flipped = payload[:middle] + ("A" if payload[middle] != "A" else "B") + payload[middle + 1 :]
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(f"{header}.{flipped}.{signature}", keys, algorithms=["Ed25519"])

    # The untouched receipt still verifies.
    assert verify(receipt["receipt"], client)["record_id"] == consent["id"]


def test_a_signature_does_not_carry_over_to_another_receipt(
    client: FlaskClient, ada: Account, acme: VendorApi, consent: dict[str, Any]
) -> None:
    other = granted(client, ada, acme, ["phone"])
    [first] = person_receipts(client, ada, consent["id"])
    [second] = person_receipts(client, ada, other["id"])
    h1, _, s1 = first["receipt"].split(".")
    _, p2, _ = second["receipt"].split(".")
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(f"{h1}.{p2}.{s1}", key_set(client), algorithms=["Ed25519"])


# Rotation of the signing key


def run_vrm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vrm.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_old_receipts_verify_after_rotation_and_new_ones_use_the_new_key(
    file_keyed_app: tuple[Flask, Path, dict[str, str]],
) -> None:
    application, keys_file, env = file_keyed_app
    client = application.test_client()
    ada = make_account(client, "ada@example.org")
    acme = make_vendor(application, client, "Acme Shop")
    acme.accept()
    consent = granted(client, ada, acme, ["given_name"])
    [old] = person_receipts(client, ada, consent["id"])
    old_kid = header_of(old["receipt"])["kid"]
    assert old_kid == json.loads(keys_file.read_text())["signing"]["active"]
    old_agreement = client.get("/personal/v1/agreements", headers=ada.auth).json["data"][0]

    rotated = run_vrm("keys", "rotate-signing", env=env)
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert report["previous"] == old_kid
    new_kid = report["active"]
    assert new_kid != old_kid
    application.extensions["vrm"].keyring.refresh(force=True)

    jwks = client.get("/.well-known/jwks.json").json
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in jwks["keys"])

    # Everything signed before still verifies against the new JWKS.
    assert verify(old["receipt"], client)["record_id"] == consent["id"]
    assert verify(old_agreement["record"], client)["status"] == "accepted"

    # What is signed now carries the new kid, and verifies too.
    client.post(f"/personal/v1/consents/{consent['id']}/withdraw", headers=ada.auth)
    first, withdrawn = person_receipts(client, ada, consent["id"])
    assert first == old
    assert header_of(withdrawn["receipt"])["kid"] == new_kid
    assert verify(withdrawn["receipt"], client)["event"]["type"] == "withdrawn"
    another = granted(client, ada, acme, ["phone"])
    [fresh] = vendor_receipts(acme, another["id"])
    assert header_of(fresh["receipt"])["kid"] == new_kid
    assert verify(fresh["receipt"], client)["record_id"] == another["id"]

    # A receipt whose header is made to claim the other key does not verify.
    h, p, s = fresh["receipt"].split(".")
    lying = b64e(json.dumps({**header_of(fresh["receipt"]), "kid": old_kid}).encode())
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(f"{lying}.{p}.{s}", key_set(client), algorithms=["Ed25519"])
