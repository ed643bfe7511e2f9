"""How a consent starts (directly, or on a vendor's request), how long it lasts, and how it
ends by the person's or the vendor's hand. The consent screen has its own module."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Account
from tests.consents.conftest import (
    VendorApi,
    fill_profile,
    grant,
    granted,
    person_receipts,
    relate,
)

CONSENTS = "/personal/v1/consents"
REQUESTS = "/personal/v1/consent-requests"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ask(vendor: VendorApi, ref: str, **body: Any):
    payload = {
        "customer_ref": ref,
        "fields": ["given_name", "phone", "postal_address"],
        "purposes": ["ServiceProvision", "CustomerCare"],
        "duration_days": 60,
        "message": "To deliver your order and call you if it is late.",
        **body,
    }
    return vendor.post("/vendor/v1/consent-requests", json=payload)


@pytest.fixture
def asked(app: Flask, client: FlaskClient, ada: Account, acme: VendorApi) -> dict[str, Any]:
    """Acme, which accepts Ada's terms, asks her for consent; the pending request."""
    acme.accept()
    fill_profile(client, ada)
    response = ask(acme, relate(app, acme, ada))
    assert response.status_code == 201, response.json
    return response.json


def approve(client: FlaskClient, person: Account, consent_id: str, **body: Any):
    return client.post(f"{REQUESTS}/{consent_id}/approve", json=body, headers=person.auth)


def consent_of(client: FlaskClient, person: Account, consent_id: str) -> dict[str, Any]:
    response = client.get(f"{CONSENTS}/{consent_id}", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json


# 1. The person gives consent directly


def test_a_direct_grant(client: FlaskClient, ada: Account, acme: VendorApi) -> None:
    acme.accept()
    consent = granted(
        client,
        ada,
        acme,
        ["phone", "given_name", "phone"],
        purposes=["ServiceProvision", "CustomerCare"],
        days=14,
    )
    assert consent["state"] == "given"
    assert consent["origin"] == "person"
    assert consent["fields"] == ["given_name", "phone"]
    assert consent["purposes"] == ["CustomerCare", "ServiceProvision"]
    assert consent["vendor_id"] == str(acme.id) and consent["vendor_name"] == "Acme Shop"
    assert consent["customer_ref"].startswith("cus_")
    assert at(consent["expires_at"]) - at(consent["given_at"]) == timedelta(days=14)
    assert consent["requested_days"] is None and consent["message"] is None

    assert consent_of(client, ada, consent["id"]) == consent
    assert client.get(CONSENTS, headers=ada.auth).json["data"] == [consent]
    assert acme.get(f"/vendor/v1/consents/{consent['id']}").json == consent
    [receipt] = person_receipts(client, ada, consent["id"])
    assert (receipt["seq"], receipt["type"]) == (1, "given")


def test_the_customer_ref_is_per_vendor(
    client: FlaskClient, ada: Account, acme: VendorApi, globex: VendorApi
) -> None:
    acme.accept()
    globex.accept()
    at_acme = granted(client, ada, acme, ["given_name"])
    at_globex = granted(client, ada, globex, ["given_name"])
    assert at_acme["customer_ref"] != at_globex["customer_ref"]
    # Stable: a second consent at the same vendor carries the same ref.
    assert granted(client, ada, acme, ["phone"])["customer_ref"] == at_acme["customer_ref"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": ["shoe_size"]}, "fields.0"),
        ({"fields": []}, "fields"),
        ({"purposes": ["WorldDomination"]}, "purposes.0"),
        ({"purposes": []}, "purposes"),
        ({"duration_days": 0}, "duration_days"),
        ({"vendor_id": "not-a-uuid"}, "vendor_id"),
    ],
)
def test_a_malformed_grant_is_refused(
    client: FlaskClient, ada: Account, acme: VendorApi, body: dict[str, Any], field: str
) -> None:
    acme.accept()
    payload = {
        "vendor_id": str(acme.id),
        "fields": ["given_name"],
        "purposes": ["ServiceProvision"],
        **body,
    }
    response = client.post(CONSENTS, json=payload, headers=ada.auth)
    assert response.status_code == 422, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    assert client.get(CONSENTS, headers=ada.auth).json["data"] == []


def test_a_grant_to_an_unknown_vendor_is_404(client: FlaskClient, ada: Account) -> None:
    response = client.post(
        CONSENTS,
        json={
            "vendor_id": str(uuid.uuid4()),
            "fields": ["given_name"],
            "purposes": ["CustomerCare"],
        },
        headers=ada.auth,
    )
    assert response.status_code == 404


# Durations


def test_the_default_duration_comes_from_the_persons_terms(
    client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    default = granted(client, ada, acme, ["given_name"])
    assert at(default["expires_at"]) - at(default["given_at"]) == timedelta(days=90)

    response = client.put(
        "/personal/v1/terms",
        json={"terms": ["service-delivery-only", "deletion-and-portability"]}
        | {"consent_default_days": 10, "consent_max_days": 20},
        headers=ada.auth,
    )
    assert response.status_code == 200
    mine = granted(client, ada, acme, ["phone"])
    assert at(mine["expires_at"]) - at(mine["given_at"]) == timedelta(days=10)

    longest = granted(client, ada, acme, ["phone"], days=20)
    assert at(longest["expires_at"]) - at(longest["given_at"]) == timedelta(days=20)

    too_long = grant(client, ada, acme, ["phone"], days=21)
    assert too_long.status_code == 422
    assert too_long.json["errors"][0]["field"] == "duration_days"
    assert "20" in too_long.json["detail"]
    assert len(client.get(CONSENTS, headers=ada.auth).json["data"]) == 3


def test_the_standard_maximum_is_a_year(client: FlaskClient, ada: Account, acme: VendorApi) -> None:
    acme.accept()
    assert grant(client, ada, acme, ["phone"], days=365).status_code == 201
    assert grant(client, ada, acme, ["phone"], days=366).status_code == 422


# 2. A vendor asks, the person decides


def test_a_vendor_request_waits_for_the_person(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    assert asked["state"] == "requested"
    assert asked["origin"] == "vendor"
    assert asked["fields"] == ["given_name", "phone", "postal_address"]
    assert asked["purposes"] == ["CustomerCare", "ServiceProvision"]
    assert asked["requested_days"] == 60
    assert asked["message"] == "To deliver your order and call you if it is late."
    assert asked["given_at"] is None and asked["expires_at"] is None

    [pending] = client.get(REQUESTS, headers=ada.auth).json["data"]
    assert pending == asked
    # Not given yet: the vendor reads nothing.
    assert acme.read(asked["customer_ref"]).status_code == 403
    [receipt] = person_receipts(client, ada, asked["id"])
    assert receipt["type"] == "requested"


def test_approving_as_asked(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    response = approve(client, ada, asked["id"])
    assert response.status_code == 200, response.json
    consent = response.json
    assert consent["id"] == asked["id"]
    assert consent["state"] == "given"
    assert consent["origin"] == "vendor"
    assert consent["fields"] == asked["fields"]
    assert consent["purposes"] == asked["purposes"]
    assert at(consent["expires_at"]) - at(consent["given_at"]) == timedelta(days=60)

    assert client.get(REQUESTS, headers=ada.auth).json["data"] == []
    assert acme.get(f"/vendor/v1/consents/{asked['id']}").json["state"] == "given"
    assert [r["type"] for r in person_receipts(client, ada, asked["id"])] == [
        "requested",
        "given",
    ]
    read = acme.read(asked["customer_ref"], "CustomerCare")
    assert read.status_code == 200
    assert read.json["profile"] == {"given_name": "Ada", "phone": "+447911123456"}


def test_approving_narrowed(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    response = approve(
        client,
        ada,
        asked["id"],
        fields=["given_name"],
        purposes=["ServiceProvision"],
        duration_days=7,
    )
    assert response.status_code == 200, response.json
    consent = response.json
    assert consent["fields"] == ["given_name"]
    assert consent["purposes"] == ["ServiceProvision"]
    assert at(consent["expires_at"]) - at(consent["given_at"]) == timedelta(days=7)
    assert consent_of(client, ada, asked["id"])["fields"] == ["given_name"]

    ref = asked["customer_ref"]
    assert acme.read(ref, "ServiceProvision").json["profile"] == {"given_name": "Ada"}
    assert acme.read(ref, "CustomerCare").status_code == 403


def test_approving_only_fewer_fields_keeps_the_rest_as_asked(
    client: FlaskClient, ada: Account, asked: dict[str, Any]
) -> None:
    consent = approve(client, ada, asked["id"], fields=["phone"]).json
    assert consent["fields"] == ["phone"]
    assert consent["purposes"] == asked["purposes"]
    assert at(consent["expires_at"]) - at(consent["given_at"]) == timedelta(days=60)


@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"fields": ["given_name", "birth_date"]}, "fields", "birth_date"),
        ({"purposes": ["ServiceProvision", "DirectMarketing"]}, "purposes", "DirectMarketing"),
        ({"duration_days": 366}, "duration_days", "60 days were asked"),
        ({"fields": ["no_such_field"]}, "fields.0", None),
    ],
)
def test_widening_a_request_is_refused(
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
    asked: dict[str, Any],
    body: dict[str, Any],
    field: str,
    named: str | None,
) -> None:
    response = approve(client, ada, asked["id"], **body)
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == field
    if named:
        assert named in response.json["detail"]
    # Still waiting, unchanged, and nothing to read.
    assert consent_of(client, ada, asked["id"]) == asked
    assert [r["type"] for r in person_receipts(client, ada, asked["id"])] == ["requested"]
    assert acme.read(asked["customer_ref"]).status_code == 403


def test_a_request_longer_than_the_persons_maximum_must_be_shortened(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    response = ask(acme, relate(app, acme, ada), duration_days=400)
    assert response.status_code == 201
    consent_id = response.json["id"]
    too_long = approve(client, ada, consent_id)
    assert too_long.status_code == 422
    assert too_long.json["errors"][0]["field"] == "duration_days"
    shortened = approve(client, ada, consent_id, duration_days=365)
    assert shortened.status_code == 200
    assert shortened.json["state"] == "given"


def test_denying_a_request(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    response = client.post(f"{REQUESTS}/{asked['id']}/deny", headers=ada.auth)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "refused"
    assert response.json["given_at"] is None and response.json["expires_at"] is None
    assert acme.get(f"/vendor/v1/consents/{asked['id']}").json["state"] == "refused"
    receipts = person_receipts(client, ada, asked["id"])
    assert [(r["seq"], r["type"]) for r in receipts] == [(1, "requested"), (2, "refused")]
    assert all(r["receipt"].count(".") == 2 for r in receipts)
    assert client.get(REQUESTS, headers=ada.auth).json["data"] == []
    assert acme.read(asked["customer_ref"]).status_code == 403

    # A decided request cannot be decided again.
    assert approve(client, ada, asked["id"]).status_code == 409
    assert client.post(f"{REQUESTS}/{asked['id']}/deny", headers=ada.auth).status_code == 409
    assert consent_of(client, ada, asked["id"])["state"] == "refused"


def test_an_approved_request_cannot_be_approved_or_denied_again(
    client: FlaskClient, ada: Account, asked: dict[str, Any]
) -> None:
    assert approve(client, ada, asked["id"]).status_code == 200
    assert approve(client, ada, asked["id"]).status_code == 409
    assert client.post(f"{REQUESTS}/{asked['id']}/deny", headers=ada.auth).status_code == 409
    assert len(person_receipts(client, ada, asked["id"])) == 2


def test_a_request_needs_a_known_customer_and_valid_fields(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    unknown = ask(acme, "cus_nobody")
    assert unknown.status_code == 404
    ref = relate(app, acme, ada)
    for body, field in [
        ({"fields": ["shoe_size"]}, "fields.0"),
        ({"purposes": []}, "purposes"),
        ({"duration_days": 0}, "duration_days"),
        ({"message": "x" * 1001}, "message"),
    ]:
        response = ask(acme, ref, **body)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json["errors"]]
    assert client.get(REQUESTS, headers=ada.auth).json["data"] == []


def test_approval_checks_the_terms_again(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    acme.accept(["service-delivery-only"])
    response = approve(client, ada, asked["id"])
    assert response.status_code == 409
    assert response.json["missing_terms"] == ["deletion-and-portability"]
    assert consent_of(client, ada, asked["id"])["state"] == "requested"


# How a consent ends


def test_withdrawal(client: FlaskClient, ada: Account, acme: VendorApi) -> None:
    acme.accept()
    consent = granted(client, ada, acme, ["given_name"])
    response = client.post(f"{CONSENTS}/{consent['id']}/withdraw", headers=ada.auth)
    assert response.status_code == 200
    assert response.json["state"] == "withdrawn"
    assert acme.get(f"/vendor/v1/consents/{consent['id']}").json["state"] == "withdrawn"
    assert [r["type"] for r in person_receipts(client, ada, consent["id"])] == [
        "given",
        "withdrawn",
    ]
    again = client.post(f"{CONSENTS}/{consent['id']}/withdraw", headers=ada.auth)
    assert again.status_code == 409


def test_a_request_cannot_be_withdrawn_only_denied(
    client: FlaskClient, ada: Account, asked: dict[str, Any]
) -> None:
    response = client.post(f"{CONSENTS}/{asked['id']}/withdraw", headers=ada.auth)
    assert response.status_code == 409
    assert consent_of(client, ada, asked["id"])["state"] == "requested"


def test_the_vendor_gives_up_a_consent_or_drops_its_request(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    dropped = acme.post(f"/vendor/v1/consents/{asked['id']}/revoke")
    assert dropped.status_code == 200
    assert dropped.json["state"] == "revoked"
    assert client.get(REQUESTS, headers=ada.auth).json["data"] == []
    assert approve(client, ada, asked["id"]).status_code == 409

    consent = granted(client, ada, acme, ["given_name"])
    assert acme.read(consent["customer_ref"]).status_code == 200
    given_up = acme.post(f"/vendor/v1/consents/{consent['id']}/revoke")
    assert given_up.status_code == 200 and given_up.json["state"] == "revoked"
    assert consent_of(client, ada, consent["id"])["state"] == "revoked"
    assert [r["type"] for r in person_receipts(client, ada, consent["id"])] == [
        "given",
        "revoked",
    ]
    assert acme.read(consent["customer_ref"]).status_code == 403
    assert acme.post(f"/vendor/v1/consents/{consent['id']}/revoke").status_code == 409


def test_lists_are_newest_first_and_filter_requests(
    frozen_clock: list[datetime],
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
    asked: dict[str, Any],
) -> None:
    frozen_clock[0] += timedelta(minutes=1)
    first = granted(client, ada, acme, ["given_name"])
    frozen_clock[0] += timedelta(minutes=1)
    second = granted(client, ada, acme, ["phone"])
    ids = [c["id"] for c in client.get(CONSENTS, headers=ada.auth).json["data"]]
    assert ids == [second["id"], first["id"], asked["id"]]
    assert [c["id"] for c in acme.get("/vendor/v1/consents").json["data"]] == ids
    assert [c["id"] for c in client.get(REQUESTS, headers=ada.auth).json["data"]] == [asked["id"]]


def test_a_narrowed_approval_refused_for_terms_leaves_the_request_as_asked(
    client: FlaskClient, ada: Account, acme: VendorApi, asked: dict[str, Any]
) -> None:
    """The refused agreement is committed; the narrowing the person chose is not."""
    acme.accept(["service-delivery-only"])
    response = approve(
        client, ada, asked["id"], fields=["given_name"], purposes=["ServiceProvision"]
    )
    assert response.status_code == 409
    assert consent_of(client, ada, asked["id"]) == asked
    assert [r["type"] for r in person_receipts(client, ada, asked["id"])] == ["requested"]
    statuses = [
        a["status"] for a in client.get("/personal/v1/agreements", headers=ada.auth).json["data"]
    ]
    assert statuses == ["refused", "accepted"]


def test_approving_for_longer_than_asked_is_refused(
    client: FlaskClient, ada: Account, asked: dict[str, Any]
) -> None:
    response = approve(client, ada, asked["id"], duration_days=90)
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == "duration_days"
    assert consent_of(client, ada, asked["id"])["state"] == "requested"


def test_the_consent_screen_shortens_but_never_lengthens_what_was_asked(
    app: Flask, ada: Account, acme: VendorApi
) -> None:
    from vrm.consents.service import ConsentService
    from vrm.errors import ValidationFailed

    acme.accept()
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        service = ConsentService(session, rt.keyring)
        with pytest.raises(ValidationFailed) as refused:
            service.grant(
                uuid.UUID(ada.id),
                acme.id,
                ["given_name"],
                ["ServiceProvision"],
                300,
                origin="oauth",
                requested_days=10,
            )
        assert refused.value.errors[0]["field"] == "duration_days"
        shorter = service.grant(
            uuid.UUID(ada.id),
            acme.id,
            ["given_name"],
            ["ServiceProvision"],
            5,
            origin="oauth",
            requested_days=10,
        )
        assert shorter.requested_days == 10
        assert shorter.expires_at - shorter.given_at == timedelta(days=5)


def test_consent_lists_page_with_a_cursor_on_both_sides(
    client: FlaskClient, ada: Account, acme: VendorApi, frozen_clock: list[datetime]
) -> None:
    acme.new_token()  # issued on the frozen clock
    acme.accept()
    for _ in range(3):
        frozen_clock[0] += timedelta(seconds=1)
        granted(client, ada, acme, ["given_name"])
    first = client.get("/personal/v1/consents?limit=2", headers=ada.auth).json
    rest = client.get(
        f"/personal/v1/consents?limit=2&cursor={first['next_cursor']}", headers=ada.auth
    ).json
    assert len(first["data"]) == 2 and len(rest["data"]) == 1 and rest["next_cursor"] is None
    ids = [c["id"] for c in first["data"] + rest["data"]]
    assert len(set(ids)) == 3
    vendor_first = acme.get("/vendor/v1/consents?limit=2").json
    assert [c["id"] for c in vendor_first["data"]] == ids[:2]
    assert acme.get("/vendor/v1/agreements?limit=1").json["next_cursor"] is None
