"""The person's terms, the vendor's acceptance, and the agreement records between them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Account
from tests.consents.conftest import VendorApi, grant, relate, verify
from vrm.terms.roster import BY_CODE, DEFAULT_TERMS, ROSTER

TERMS = "/personal/v1/terms"
DEFAULT_REFS = [{"code": code, "version": 1} for code in DEFAULT_TERMS]


def put_terms(client: FlaskClient, person: Account, **body: Any):
    return client.put(TERMS, json=body, headers=person.auth)


def agreements(client: FlaskClient, person: Account) -> list[dict[str, Any]]:
    response = client.get("/personal/v1/agreements", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def vendor_agreements(vendor: VendorApi) -> list[dict[str, Any]]:
    response = vendor.get("/vendor/v1/agreements")
    assert response.status_code == 200, response.json
    return response.json["data"]


# The person's terms


def test_defaults_and_the_whole_roster(client: FlaskClient, ada: Account) -> None:
    response = client.get(TERMS, headers=ada.auth)
    assert response.status_code == 200
    body = response.json
    assert body["terms"] == DEFAULT_REFS
    assert body["consent_default_days"] == 90
    assert body["consent_max_days"] == 365

    roster = body["roster"]
    assert len(roster) >= 7
    assert [t["code"] for t in roster] == [t.code for t in ROSTER]
    for term in roster:
        assert set(term) == {"code", "version", "title", "text", "flags"}
        assert isinstance(term["version"], int) and term["version"] >= 1
        assert term["title"].strip() and term["text"].strip()
        assert isinstance(term["flags"], dict) and term["flags"]
    only = next(t for t in roster if t["code"] == "service-delivery-only")
    assert only["flags"]["purposes"] == ["ServiceProvision"]
    assert only["flags"]["tracking"] is False
    assert only["text"] == BY_CODE["service-delivery-only"].text


def test_terms_need_a_token(client: FlaskClient) -> None:
    assert client.get(TERMS).status_code == 401
    assert client.put(TERMS, json={}).status_code == 401


def test_put_terms_stores_them(client: FlaskClient, ada: Account, bob: Account) -> None:
    response = put_terms(
        client,
        ada,
        terms=[
            "service-delivery-analytics",
            "deletion-and-portability",
            "deletion-and-portability",
        ],
        consent_default_days=30,
        consent_max_days=60,
    )
    assert response.status_code == 200, response.json
    expected = [
        {"code": "service-delivery-analytics", "version": 1},
        {"code": "deletion-and-portability", "version": 1},
    ]
    assert response.json["terms"] == expected
    assert len(response.json["roster"]) == len(ROSTER)

    stored = client.get(TERMS, headers=ada.auth).json
    assert stored["terms"] == expected
    assert (stored["consent_default_days"], stored["consent_max_days"]) == (30, 60)
    # Nobody else's terms changed.
    assert client.get(TERMS, headers=bob.auth).json["terms"] == DEFAULT_REFS


BAD_TERMS = [
    pytest.param(
        {"terms": ["service-delivery-only", "no-such-term"]}, "terms.1", id="unknown-code"
    ),
    pytest.param(
        {"consent_default_days": 61, "consent_max_days": 60},
        "consent_default_days",
        id="default-above-max",
    ),
    pytest.param({"consent_default_days": 0}, "consent_default_days", id="zero-default"),
    pytest.param(
        {"consent_default_days": 0, "consent_max_days": 0}, "consent_max_days", id="zero-max"
    ),
    pytest.param({"consent_max_days": 3651}, "consent_max_days", id="max-above-ceiling"),
    pytest.param({"terms": []}, "terms", id="no-terms"),
    pytest.param({"consent_default_days": None}, "consent_default_days", id="null-days"),
]


@pytest.mark.parametrize(("change", "field"), BAD_TERMS)
def test_invalid_terms_are_refused_and_nothing_is_stored(
    client: FlaskClient, ada: Account, change: dict[str, Any], field: str
) -> None:
    good = {
        "terms": ["service-delivery-only"],
        "consent_default_days": 20,
        "consent_max_days": 40,
    }
    assert put_terms(client, ada, **good).status_code == 200
    before = client.get(TERMS, headers=ada.auth).json

    response = put_terms(client, ada, **{**good, **change})
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.json["errors"]]
    assert client.get(TERMS, headers=ada.auth).json == before


def test_an_invalid_first_put_leaves_the_defaults(client: FlaskClient, ada: Account) -> None:
    response = put_terms(
        client, ada, terms=["service-delivery-only"], consent_default_days=0, consent_max_days=10
    )
    assert response.status_code == 422
    body = client.get(TERMS, headers=ada.auth).json
    assert body["terms"] == DEFAULT_REFS
    assert (body["consent_default_days"], body["consent_max_days"]) == (90, 365)


def test_the_unknown_code_is_named(client: FlaskClient, ada: Account) -> None:
    response = put_terms(
        client,
        ada,
        terms=["service-delivery-only", "no-such-term"],
        consent_default_days=10,
        consent_max_days=20,
    )
    assert response.status_code == 422
    assert "no-such-term" in response.json["detail"]


def test_the_default_cannot_exceed_the_maximum(client: FlaskClient, ada: Account) -> None:
    response = put_terms(
        client, ada, terms=["service-delivery-only"], consent_default_days=61, consent_max_days=60
    )
    assert response.status_code == 422
    assert response.json["errors"] == [
        {
            "field": "consent_default_days",
            "message": "The default cannot be longer than the maximum",
        }
    ]
    # Equal is fine.
    response = put_terms(
        client, ada, terms=["service-delivery-only"], consent_default_days=60, consent_max_days=60
    )
    assert response.status_code == 200


# The vendor's acceptance


def test_vendor_terms_start_empty_then_store_what_it_accepts(acme: VendorApi) -> None:
    first = acme.get("/vendor/v1/terms")
    assert first.status_code == 200
    assert first.json["accepted"] == []
    assert [t["code"] for t in first.json["roster"]] == [t.code for t in ROSTER]

    put = acme.put(
        "/vendor/v1/terms", json={"accepted": ["intentions-only", "service-delivery-only"]}
    )
    assert put.status_code == 200, put.json
    expected = [
        {"code": "intentions-only", "version": 1},
        {"code": "service-delivery-only", "version": 1},
    ]
    assert put.json["accepted"] == expected
    assert acme.get("/vendor/v1/terms").json["accepted"] == expected

    bad = acme.put("/vendor/v1/terms", json={"accepted": ["service-delivery-only", "bogus"]})
    assert bad.status_code == 422
    assert bad.json["errors"][0]["field"] == "accepted.1"
    assert acme.get("/vendor/v1/terms").json["accepted"] == expected

    # Accepting nothing is allowed, and takes everything back.
    assert acme.put("/vendor/v1/terms", json={"accepted": []}).json["accepted"] == []
    assert acme.get("/vendor/v1/terms").json["accepted"] == []


def test_each_vendor_has_its_own_acceptance(acme: VendorApi, globex: VendorApi) -> None:
    acme.accept()
    assert globex.get("/vendor/v1/terms").json["accepted"] == []
    assert acme.get("/vendor/v1/terms").json["accepted"] == DEFAULT_REFS


# Agreements


def test_a_missing_term_refuses_the_consent_and_is_recorded_for_both_sides(
    client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept(["service-delivery-only"])
    refused = grant(client, ada, acme, ["given_name"])
    assert refused.status_code == 409, refused.json
    assert refused.mimetype == "application/problem+json"
    assert refused.json["missing_terms"] == ["deletion-and-portability"]
    assert "deletion-and-portability" in refused.json["detail"]
    assert refused.json["type"].endswith("terms-not-accepted")
    # No consent came of it.
    assert client.get("/personal/v1/consents", headers=ada.auth).json["data"] == []
    assert acme.get("/vendor/v1/consents").json["data"] == []

    [mine] = agreements(client, ada)
    assert mine["status"] == "refused"
    assert mine["missing"] == ["deletion-and-portability"]
    assert mine["terms"] == DEFAULT_REFS
    assert mine["vendor_id"] == str(acme.id)
    [theirs] = vendor_agreements(acme)
    assert theirs == mine

    # The record is signed and names the person by the vendor's pseudonym only.
    record = verify(mine["record"], client)
    assert record["status"] == "refused"
    assert record["agreement_id"] == mine["id"]
    assert record["missing"] == ["deletion-and-portability"]
    assert record["principal"]["customer_ref"].startswith("cus_")
    assert ada.id not in mine["record"] and ada.email not in str(record)

    # Once the vendor accepts every term, an accepted agreement, and the consent.
    acme.accept()
    given = grant(client, ada, acme, ["given_name"])
    assert given.status_code == 201, given.json
    assert given.json["customer_ref"] == record["principal"]["customer_ref"]

    accepted, earlier = agreements(client, ada)
    assert earlier["id"] == mine["id"] and earlier["status"] == "refused"
    assert accepted["status"] == "accepted"
    assert accepted["missing"] == []
    assert accepted["terms"] == DEFAULT_REFS
    assert verify(accepted["record"], client)["status"] == "accepted"
    assert given.json["terms"] == DEFAULT_REFS
    assert [a["id"] for a in vendor_agreements(acme)] == [accepted["id"], earlier["id"]]

    one = client.get(f"/personal/v1/agreements/{accepted['id']}", headers=ada.auth)
    assert one.status_code == 200 and one.json == accepted


def test_the_refusal_names_every_missing_term(
    client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    refused = grant(client, ada, acme, ["given_name"])
    assert refused.status_code == 409
    assert refused.json["missing_terms"] == list(DEFAULT_TERMS)


def test_a_second_refusal_for_the_same_reason_is_not_recorded_twice(
    client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    assert grant(client, ada, acme, ["given_name"]).status_code == 409
    assert grant(client, ada, acme, ["phone"]).status_code == 409
    assert len(agreements(client, ada)) == 1


def test_new_terms_of_the_person_need_the_vendor_again(
    client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    assert grant(client, ada, acme, ["given_name"]).status_code == 201
    response = client.put(
        TERMS,
        json={
            "terms": [*DEFAULT_TERMS, "third-party-sharing"],
            "consent_default_days": 90,
            "consent_max_days": 365,
        },
        headers=ada.auth,
    )
    assert response.status_code == 200
    refused = grant(client, ada, acme, ["phone"])
    assert refused.status_code == 409
    assert refused.json["missing_terms"] == ["third-party-sharing"]
    assert [a["status"] for a in agreements(client, ada)] == ["refused", "accepted"]


def test_a_vendor_lacking_a_term_cannot_even_ask(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    ref = relate(app, acme, ada)
    response = acme.post(
        "/vendor/v1/consent-requests",
        json={"customer_ref": ref, "fields": ["given_name"], "purposes": ["ServiceProvision"]},
    )
    assert response.status_code == 409
    assert response.json["missing_terms"] == list(DEFAULT_TERMS)
    assert client.get("/personal/v1/consent-requests", headers=ada.auth).json["data"] == []
    [refusal] = agreements(client, ada)
    assert refusal["status"] == "refused"
    assert vendor_agreements(acme) == [refusal]


def test_agreements_are_private_to_their_parties(
    client: FlaskClient, ada: Account, bob: Account, acme: VendorApi, globex: VendorApi
) -> None:
    acme.accept()
    assert grant(client, ada, acme, ["given_name"]).status_code == 201
    [adas] = agreements(client, ada)
    assert agreements(client, bob) == []
    assert vendor_agreements(globex) == []
    assert client.get(f"/personal/v1/agreements/{adas['id']}", headers=bob.auth).status_code == 404
    unknown = client.get(f"/personal/v1/agreements/{uuid.uuid4()}", headers=ada.auth)
    assert unknown.status_code == 404


def test_a_changed_but_still_short_acceptance_is_a_new_record(
    client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    first = grant(client, ada, acme, ["given_name"])
    assert first.status_code == 409
    assert first.json["missing_terms"] == ["service-delivery-only", "deletion-and-portability"]
    acme.accept(["service-delivery-only"])
    second = grant(client, ada, acme, ["given_name"])
    assert second.status_code == 409
    assert second.json["missing_terms"] == ["deletion-and-portability"]
    records = client.get("/personal/v1/agreements", headers=ada.auth).json["data"]
    assert [r["missing"] for r in records] == [
        ["deletion-and-portability"],
        ["service-delivery-only", "deletion-and-portability"],
    ]
