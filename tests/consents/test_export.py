"""The export carries the person's consents with their receipts, agreements and access log."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Account
from tests.consents.conftest import (
    VendorApi,
    access_log,
    fill_profile,
    grant,
    granted,
    person_receipts,
    relate,
    verify,
)


def test_the_export_holds_consents_receipts_agreements_and_the_log(
    app: Flask, client: FlaskClient, ada: Account, bob: Account, acme: VendorApi
) -> None:
    fill_profile(client, ada)
    assert grant(client, ada, acme, ["given_name"]).status_code == 409
    acme.accept()
    given = granted(client, ada, acme, ["given_name", "phone"])
    acme.read(given["customer_ref"])
    asked = acme.post(
        "/vendor/v1/consent-requests",
        json={
            "customer_ref": relate(app, acme, ada),
            "fields": ["family_name"],
            "purposes": ["CustomerCare"],
            "message": "Hello",
        },
    ).json
    client.post(f"/personal/v1/consent-requests/{asked['id']}/deny", headers=ada.auth)
    client.post(f"/personal/v1/consents/{given['id']}/withdraw", headers=ada.auth)
    granted(client, bob, acme, ["given_name"])  # someone else's, never in Ada's export

    response = client.get("/personal/v1/export", headers=ada.auth)
    assert response.status_code == 200, response.json
    export = response.json

    # Consents, each with every receipt, as the API shows them.
    by_id = {c["id"]: c for c in export["consents"]}
    assert set(by_id) == {given["id"], asked["id"]}
    api_view = {
        c["id"]: c for c in client.get("/personal/v1/consents", headers=ada.auth).json["data"]
    }
    for consent_id, exported in by_id.items():
        receipts = exported.pop("receipts")
        assert exported == api_view[consent_id]
        held = person_receipts(client, ada, consent_id)
        assert [r["receipt"] for r in receipts] == [r["receipt"] for r in held]
        assert [(r["seq"], r["type"]) for r in receipts] == [(r["seq"], r["type"]) for r in held]
        for receipt in receipts:
            assert verify(receipt["receipt"], client)["record_id"] == consent_id
    assert by_id[given["id"]]["state"] == "withdrawn"
    assert by_id[asked["id"]]["state"] == "refused"
    assert by_id[asked["id"]]["message"] == "Hello"

    # Agreements, refused and accepted, with their signed records.
    assert (
        export["agreements"] == client.get("/personal/v1/agreements", headers=ada.auth).json["data"]
    )
    assert [a["status"] for a in export["agreements"]] == ["accepted", "refused"]
    for agreement in export["agreements"]:
        assert verify(agreement["record"], client)["agreement_id"] == agreement["id"]

    # The whole access log, oldest first, the same entries as the API's.
    log = access_log(client, ada, limit=100)["data"]
    assert export["access_log"] == list(reversed(log))
    assert [e["seq"] for e in export["access_log"]] == list(range(1, len(log) + 1))
    actions = [e["action"] for e in export["access_log"]]
    assert actions == [
        "agreement.refused",
        "agreement.accepted",
        "consent.given",
        "profile.read",
        "consent.requested",
        "consent.refused",
        "consent.withdrawn",
    ]
    assert bob.id not in response.get_data(as_text=True)
