"""What a vendor may read: the fields of a given, unexpired consent naming the purpose, and
nothing of anyone else's; the scopes each endpoint needs; and who may touch which consent."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Account
from tests.consents.conftest import (
    VendorApi,
    fill_profile,
    granted,
    make_vendor,
    person_receipts,
    relate,
    verify,
)
from vrm.consents.models import Consent
from vrm.vendors.service import VendorService
from vrm.worker import run_once

CONSENTS = "/personal/v1/consents"


def db_state(app: Flask, consent_id: str) -> str:
    with app.extensions["vrm"].engine.connect() as connection:
        return connection.scalar(select(Consent.state).where(Consent.id == uuid.UUID(consent_id)))


@pytest.fixture
def shared(client: FlaskClient, ada: Account, acme: VendorApi) -> dict[str, Any]:
    """Ada's profile, and her consent to Acme for three fields (one of them unset)."""
    acme.accept()
    fill_profile(client, ada)
    return granted(
        client, ada, acme, ["given_name", "phone", "birth_date"], purposes=["ServiceProvision"]
    )


# The read


def test_exactly_the_consented_fields_that_are_set(
    client: FlaskClient, ada: Account, acme: VendorApi, shared: dict[str, Any]
) -> None:
    response = acme.read(shared["customer_ref"], "ServiceProvision")
    assert response.status_code == 200, response.json
    assert response.json == {
        "customer_ref": shared["customer_ref"],
        "purpose": "ServiceProvision",
        "profile": {"given_name": "Ada", "phone": "+447911123456"},
    }
    # birth_date is consented but unset: absent, not null. family_name and contact_email
    # are set but not consented: absent too.
    assert "birth_date" not in response.json["profile"]
    assert "family_name" not in response.json["profile"]
    assert None not in response.json["profile"].values()

    # A value set later shows on the next read; one cleared disappears.
    fill_profile(client, ada, birth_date="1990-12-10", phone=None)
    again = acme.read(shared["customer_ref"], "ServiceProvision").json["profile"]
    assert again == {"given_name": "Ada", "birth_date": "1990-12-10"}


def test_consents_for_the_same_purpose_add_up(
    client: FlaskClient, ada: Account, acme: VendorApi, shared: dict[str, Any]
) -> None:
    granted(client, ada, acme, ["family_name"], purposes=["ServiceProvision", "CustomerCare"])
    ref = shared["customer_ref"]
    assert set(acme.read(ref, "ServiceProvision").json["profile"]) == {
        "given_name",
        "phone",
        "family_name",
    }
    assert acme.read(ref, "CustomerCare").json["profile"] == {"family_name": "Lovelace"}


def test_a_purpose_not_consented_is_403(acme: VendorApi, shared: dict[str, Any]) -> None:
    response = acme.read(shared["customer_ref"], "DirectMarketing")
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert "DirectMarketing" in response.json["detail"]
    assert "Ada" not in response.get_data(as_text=True)


@pytest.mark.parametrize("purpose", [None, "", "Marketing", "serviceprovision"])
def test_a_missing_or_unknown_purpose_is_422(
    acme: VendorApi, shared: dict[str, Any], purpose: str | None
) -> None:
    response = acme.read(shared["customer_ref"], purpose)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "purpose"
    assert "Ada" not in response.get_data(as_text=True)


def test_an_unknown_customer_ref_is_404(acme: VendorApi, shared: dict[str, Any]) -> None:
    assert acme.read("cus_nobody").status_code == 404


def test_withdrawal_takes_effect_on_the_very_next_read(
    client: FlaskClient, ada: Account, acme: VendorApi, shared: dict[str, Any]
) -> None:
    ref = shared["customer_ref"]
    assert acme.read(ref).status_code == 200
    response = client.post(f"{CONSENTS}/{shared['id']}/withdraw", headers=ada.auth)
    assert response.status_code == 200
    after = acme.read(ref)
    assert after.status_code == 403
    assert "Ada" not in after.get_data(as_text=True)


def test_revocation_by_the_vendor_takes_effect_at_once(
    acme: VendorApi, shared: dict[str, Any]
) -> None:
    assert acme.post(f"/vendor/v1/consents/{shared['id']}/revoke").status_code == 200
    assert acme.read(shared["customer_ref"]).status_code == 403


def test_expiry_ends_reads_before_the_worker_runs_and_the_worker_records_it(
    frozen_clock: list[datetime],
    app: Flask,
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
) -> None:
    acme.accept()
    fill_profile(client, ada)
    consent = granted(client, ada, acme, ["given_name"], days=30)
    expires_at = datetime.fromisoformat(consent["expires_at"])
    assert expires_at == frozen_clock[0] + timedelta(days=30)
    ref = consent["customer_ref"]

    # A second before expiry it still reads (with a fresh token: the first one is an hour old).
    frozen_clock[0] = expires_at - timedelta(seconds=1)
    acme.new_token()
    assert acme.read(ref).status_code == 200
    assert run_once(app)["expire_consents"] == 0

    # At the very moment of expiry, it no longer does.
    frozen_clock[0] = expires_at
    assert acme.read(ref).status_code == 403
    frozen_clock[0] = expires_at + timedelta(seconds=1)
    assert acme.read(ref).status_code == 403
    # The worker has not run: stored as given, shown to both sides as expired.
    assert db_state(app, consent["id"]) == "given"
    assert client.get(f"{CONSENTS}/{consent['id']}", headers=ada.auth).json["state"] == "expired"
    assert acme.get(f"/vendor/v1/consents/{consent['id']}").json["state"] == "expired"
    listed = client.get(CONSENTS, headers=ada.auth).json["data"]
    assert [c["state"] for c in listed] == ["expired"]
    assert [r["type"] for r in person_receipts(client, ada, consent["id"])] == ["given"]
    # A consent past its expiry cannot be withdrawn any more.
    assert client.post(f"{CONSENTS}/{consent['id']}/withdraw", headers=ada.auth).status_code == 409

    assert run_once(app)["expire_consents"] == 1
    assert db_state(app, consent["id"]) == "expired"
    receipts = person_receipts(client, ada, consent["id"])
    assert [(r["seq"], r["type"]) for r in receipts] == [(1, "given"), (2, "expired")]
    payload = verify(receipts[1]["receipt"], client)
    assert payload["state"] == "expired"
    assert payload["event"]["type"] == "expired"
    assert datetime.fromisoformat(payload["event"]["time"]) == frozen_clock[0]
    assert acme.read(ref).status_code == 403

    # Idempotent: nothing more to expire.
    assert run_once(app)["expire_consents"] == 0
    assert len(person_receipts(client, ada, consent["id"])) == 2


def test_the_worker_leaves_live_and_other_consents_alone(
    frozen_clock: list[datetime],
    app: Flask,
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
) -> None:
    acme.accept()
    short = granted(client, ada, acme, ["given_name"], days=1)
    long = granted(client, ada, acme, ["phone"], days=10)
    withdrawn = granted(client, ada, acme, ["family_name"], days=1)
    client.post(f"{CONSENTS}/{withdrawn['id']}/withdraw", headers=ada.auth)
    frozen_clock[0] += timedelta(days=2)
    assert run_once(app)["expire_consents"] == 1
    assert db_state(app, short["id"]) == "expired"
    assert db_state(app, long["id"]) == "given"
    assert db_state(app, withdrawn["id"]) == "withdrawn"


# Between vendors


def test_another_vendor_cannot_use_the_first_vendors_customer_ref(
    client: FlaskClient, ada: Account, acme: VendorApi, globex: VendorApi, shared: dict[str, Any]
) -> None:
    globex.accept()
    # Even with a consent of its own for the same person and purpose.
    own = granted(client, ada, globex, ["given_name", "phone"])
    assert own["customer_ref"] != shared["customer_ref"]
    response = globex.read(shared["customer_ref"])
    assert response.status_code == 404
    assert "Ada" not in response.get_data(as_text=True)
    assert globex.read(own["customer_ref"]).status_code == 200
    # And the first vendor cannot use the second's.
    assert acme.read(own["customer_ref"]).status_code == 404


def test_another_vendor_cannot_touch_the_first_vendors_consents(
    client: FlaskClient, ada: Account, acme: VendorApi, globex: VendorApi, shared: dict[str, Any]
) -> None:
    consent_id = shared["id"]
    assert globex.get(f"/vendor/v1/consents/{consent_id}").status_code == 404
    assert globex.get(f"/vendor/v1/consents/{consent_id}/receipts").status_code == 404
    assert globex.post(f"/vendor/v1/consents/{consent_id}/revoke").status_code == 404
    assert globex.get("/vendor/v1/consents").json["data"] == []
    assert globex.get("/vendor/v1/agreements").json["data"] == []

    # Nothing changed for the consent's own vendor.
    assert acme.get(f"/vendor/v1/consents/{consent_id}").json["state"] == "given"
    assert len(acme.get(f"/vendor/v1/consents/{consent_id}/receipts").json["data"]) == 1
    assert acme.read(shared["customer_ref"]).status_code == 200


def test_a_vendor_cannot_ask_with_another_vendors_ref(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi, globex: VendorApi
) -> None:
    acme.accept()
    globex.accept()
    acme_ref = relate(app, acme, ada)
    response = globex.post(
        "/vendor/v1/consent-requests",
        json={"customer_ref": acme_ref, "fields": ["given_name"], "purposes": ["CustomerCare"]},
    )
    assert response.status_code == 404
    assert client.get("/personal/v1/consent-requests", headers=ada.auth).json["data"] == []


# Between persons


def test_a_person_cannot_touch_another_persons_consents(
    app: Flask, client: FlaskClient, ada: Account, bob: Account, acme: VendorApi
) -> None:
    acme.accept()
    given = granted(client, ada, acme, ["given_name"])
    asked = acme.post(
        "/vendor/v1/consent-requests",
        json={
            "customer_ref": relate(app, acme, ada),
            "fields": ["phone"],
            "purposes": ["CustomerCare"],
        },
    ).json

    for path, method in [
        (f"{CONSENTS}/{given['id']}", "get"),
        (f"{CONSENTS}/{given['id']}/receipts", "get"),
        (f"{CONSENTS}/{given['id']}/withdraw", "post"),
        (f"{CONSENTS}/{asked['id']}", "get"),
        (f"/personal/v1/consent-requests/{asked['id']}/approve", "post"),
        (f"/personal/v1/consent-requests/{asked['id']}/deny", "post"),
    ]:
        kwargs = {"json": {}} if path.endswith("approve") else {}
        response = getattr(client, method)(path, headers=bob.auth, **kwargs)
        assert response.status_code == 404, (path, response.status_code)

    assert client.get(CONSENTS, headers=bob.auth).json["data"] == []
    assert client.get("/personal/v1/consent-requests", headers=bob.auth).json["data"] == []
    # Nothing changed for Ada.
    mine = {c["id"]: c["state"] for c in client.get(CONSENTS, headers=ada.auth).json["data"]}
    assert mine == {given["id"]: "given", asked["id"]: "requested"}
    assert len(person_receipts(client, ada, given["id"])) == 1
    assert len(person_receipts(client, ada, asked["id"])) == 1


def test_consent_endpoints_need_the_persons_token(
    client: FlaskClient, shared: dict[str, Any]
) -> None:
    assert client.get(CONSENTS).status_code == 401
    assert client.post(f"{CONSENTS}/{shared['id']}/withdraw").status_code == 401
    assert client.get("/personal/v1/access-log").status_code == 401


# Scopes

CONSENT_ENDPOINTS = [
    ("get", "/vendor/v1/terms", None),
    ("put", "/vendor/v1/terms", {"accepted": []}),
    ("get", "/vendor/v1/agreements", None),
    ("post", "/vendor/v1/consent-requests", "request"),
    ("get", "/vendor/v1/consents", None),
    ("get", "/vendor/v1/consents/{id}", None),
    ("get", "/vendor/v1/consents/{id}/receipts", None),
    ("post", "/vendor/v1/consents/{id}/revoke", None),
]


def call(vendor: VendorApi, method: str, path: str, body: Any, shared: dict[str, Any]):
    if body == "request":
        body = {
            "customer_ref": shared["customer_ref"],
            "fields": ["given_name"],
            "purposes": ["CustomerCare"],
        }
    kwargs = {"json": body} if body is not None else {}
    return getattr(vendor, method)(path.format(id=shared["id"]), **kwargs)


def assert_insufficient_scope(response: Any, scope: str) -> None:
    assert response.status_code == 403, response.json
    assert response.json["error"] == "insufficient_scope"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="vrm-vendor"')
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="{scope}"' in challenge


def test_a_token_without_the_scopes_reads_and_asks_nothing(
    app: Flask,
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
    shared: dict[str, Any],
) -> None:
    # A second client of the same vendor, registered for intentions:read only.
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        service = VendorService(session, rt.keyring)
        vendor = service.get_vendor(acme.id)
        narrow_client, secret = service.add_client(vendor, scope="intentions:read")
        narrow = VendorApi(acme.id, acme.name, narrow_client.client_id, secret, client)
    narrow.new_token()

    assert_insufficient_scope(narrow.read(shared["customer_ref"]), "profile:read")
    for method, path, body in CONSENT_ENDPOINTS:
        assert_insufficient_scope(call(narrow, method, path, body, shared), "consents:request")

    # Nothing was done on its behalf.
    assert acme.get(f"/vendor/v1/consents/{shared['id']}").json["state"] == "given"
    assert len(acme.get("/vendor/v1/consents").json["data"]) == 1
    assert acme.get("/vendor/v1/terms").json["accepted"] != []
    assert [
        e["action"] for e in client.get("/personal/v1/access-log", headers=ada.auth).json["data"]
    ].count("profile.read") == 0


def test_profile_read_and_consents_request_are_separate_scopes(
    app: Flask, client: FlaskClient, ada: Account, shared: dict[str, Any]
) -> None:
    """A vendor created with only one of the two scopes gets only that half."""
    reader = make_vendor(app, client, "Reader Ltd", scope="profile:read")
    asker = make_vendor(app, client, "Asker Ltd", scope="consents:request")
    for method, path, body in CONSENT_ENDPOINTS:
        assert_insufficient_scope(call(reader, method, path, body, shared), "consents:request")
    assert asker.accept().status_code == 200
    assert_insufficient_scope(asker.read("cus_anyone"), "profile:read")
    # A reader with a scope but no relationship sees only 404 for any ref.
    assert reader.read(shared["customer_ref"]).status_code == 404


def test_the_vendor_api_needs_a_token(client: FlaskClient, shared: dict[str, Any]) -> None:
    response = client.get(
        f"/vendor/v1/customers/{shared['customer_ref']}/profile",
        query_string={"purpose": "ServiceProvision"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    forged = client.get(
        "/vendor/v1/consents", headers={"Authorization": "Bearer vrm_at_never-issued"}
    )
    assert forged.status_code == 401


def test_a_vendor_cannot_revoke_a_consent_that_already_expired(
    frozen_clock: list[datetime],
    app: Flask,
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
) -> None:
    acme.accept()
    consent = granted(client, ada, acme, ["given_name"], days=1)
    frozen_clock[0] += timedelta(days=2)
    acme.new_token()
    assert acme.get(f"/vendor/v1/consents/{consent['id']}").json["state"] == "expired"
    response = acme.post(f"/vendor/v1/consents/{consent['id']}/revoke")
    assert response.status_code == 409, response.json
    run_once(app)
    assert [r["type"] for r in person_receipts(client, ada, consent["id"])] == [
        "given",
        "expired",
    ]


def test_the_vendor_never_sees_the_persons_account_id(
    client: FlaskClient, ada: Account, acme: VendorApi, shared: dict[str, Any]
) -> None:
    for path in [
        "/vendor/v1/consents",
        f"/vendor/v1/consents/{shared['id']}",
        f"/vendor/v1/consents/{shared['id']}/receipts",
        "/vendor/v1/agreements",
    ]:
        text = acme.get(path).get_data(as_text=True)
        assert ada.id not in text and ada.email not in text, path
    read = acme.read(shared["customer_ref"]).get_data(as_text=True)
    assert ada.id not in read and ada.email not in read
