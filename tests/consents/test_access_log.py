"""The person's access log: every read, consent event and agreement, newest first, paged,
hash-chained so that an edited or removed row is found; and only the person's own."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update

from tests.conftest import Account
from tests.consents.conftest import (
    VendorApi,
    access_log,
    fill_profile,
    grant,
    granted,
    relate,
)
from vrm.audit.models import AuditEvent
from vrm.audit.service import entry_hash
from vrm.vendors.models import Vendor

VERIFY = "/personal/v1/access-log/verify"


def build_history(app: Flask, client: FlaskClient, ada: Account, acme: VendorApi) -> dict[str, Any]:
    """Eight entries: a refused and an accepted agreement, consents given, asked, approved
    and withdrawn, and two reads."""
    fill_profile(client, ada)
    assert grant(client, ada, acme, ["given_name"]).status_code == 409  # 1 agreement.refused
    acme.accept()
    first = granted(client, ada, acme, ["given_name", "phone", "birth_date"])  # 2, 3
    ref = first["customer_ref"]
    assert acme.read(ref, "ServiceProvision").status_code == 200  # 4 profile.read
    asked = acme.post(  # 5 consent.requested
        "/vendor/v1/consent-requests",
        json={"customer_ref": ref, "fields": ["family_name"], "purposes": ["CustomerCare"]},
    ).json
    approved = client.post(  # 6 consent.given
        f"/personal/v1/consent-requests/{asked['id']}/approve", json={}, headers=ada.auth
    )
    assert approved.status_code == 200
    withdrawn = client.post(f"/personal/v1/consents/{first['id']}/withdraw", headers=ada.auth)
    assert withdrawn.status_code == 200  # 7 consent.withdrawn
    assert acme.read(ref, "CustomerCare").status_code == 200  # 8 profile.read
    return {"first": first, "asked": asked, "ref": ref}


def verify_log(client: FlaskClient, person: Account) -> dict[str, Any]:
    response = client.get(VERIFY, headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json


def tamper(app: Flask, person: Account, seq: int, **values: Any) -> uuid.UUID:
    row = (AuditEvent.person_id == uuid.UUID(person.id)) & (AuditEvent.seq == seq)
    with app.extensions["vrm"].engine.begin() as connection:
        event_id = connection.scalar(select(AuditEvent.id).where(row))
        assert connection.execute(update(AuditEvent).where(row).values(**values)).rowcount == 1
    return event_id


def remove(app: Flask, person: Account, seq: int) -> None:
    row = (AuditEvent.person_id == uuid.UUID(person.id)) & (AuditEvent.seq == seq)
    with app.extensions["vrm"].engine.begin() as connection:
        assert connection.execute(delete(AuditEvent).where(row)).rowcount == 1


def test_every_read_consent_event_and_agreement_is_logged_newest_first(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    history = build_history(app, client, ada, acme)
    log = access_log(client, ada, limit=100)
    assert log["next_cursor"] is None
    entries = log["data"]
    assert [e["seq"] for e in entries] == list(range(8, 0, -1))
    assert [e["action"] for e in entries] == [
        "profile.read",
        "consent.withdrawn",
        "consent.given",
        "consent.requested",
        "profile.read",
        "consent.given",
        "agreement.accepted",
        "agreement.refused",
    ]
    assert all(e["vendor_id"] == str(acme.id) for e in entries)
    assert all(e["vendor_name"] == "Acme Shop" for e in entries)
    assert len({e["hash"] for e in entries}) == 8

    last_read, _, given_on_request, requested, first_read, given, accepted, refused = entries
    # Reads: the fields actually shared (birth_date was consented but is unset), the purpose.
    assert first_read["fields"] == ["given_name", "phone"]
    assert first_read["purpose"] == "ServiceProvision"
    assert last_read["fields"] == ["family_name"]
    assert last_read["purpose"] == "CustomerCare"
    # Consent events name the consent, its fields and purposes.
    assert given["detail"]["consent_id"] == history["first"]["id"]
    assert given["fields"] == ["birth_date", "given_name", "phone"]
    assert given["purpose"] == "ServiceProvision"
    assert requested["detail"]["consent_id"] == history["asked"]["id"]
    assert given_on_request["detail"]["consent_id"] == history["asked"]["id"]
    assert entries[1]["detail"]["consent_id"] == history["first"]["id"]
    # Agreements name the terms and what was missing.
    assert refused["detail"]["missing"] == ["service-delivery-only", "deletion-and-portability"]
    assert accepted["detail"]["missing"] == []
    assert accepted["detail"]["terms"] == ["service-delivery-only", "deletion-and-portability"]
    agreements = client.get("/personal/v1/agreements", headers=ada.auth).json["data"]
    assert {a["id"] for a in agreements} == {
        accepted["detail"]["agreement_id"],
        refused["detail"]["agreement_id"],
    }
    # Receipts and the log point at the same events.
    receipts = client.get(
        f"/personal/v1/consents/{history['first']['id']}/receipts", headers=ada.auth
    ).json["data"]
    assert [r["event_id"] for r in receipts] == [
        given["detail"]["event_id"],
        entries[1]["detail"]["event_id"],
    ]


def test_a_log_entry_records_the_time_of_the_read(
    frozen_clock: list[datetime], app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    fill_profile(client, ada)
    consent = granted(client, ada, acme, ["given_name"])
    frozen_clock[0] += timedelta(minutes=5)
    acme.read(consent["customer_ref"])
    [read, *_] = access_log(client, ada)["data"]
    assert read["action"] == "profile.read"
    assert read["at"].startswith("2026-11-23T12:05:00")


def test_paging_with_limit_and_cursor(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    everything = access_log(client, ada, limit=100)["data"]

    pages, cursor = [], None
    while True:
        query: dict[str, Any] = {"limit": 3}
        if cursor:
            query["cursor"] = cursor
        page = access_log(client, ada, **query)
        assert len(page["data"]) <= 3
        pages.append(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [e for p in pages for e in p] == everything

    # Exactly a page's worth: no cursor to an empty page.
    exact = access_log(client, ada, limit=8)
    assert len(exact["data"]) == 8 and exact["next_cursor"] is None
    # The default page size covers this log.
    assert access_log(client, ada)["data"] == everything


@pytest.mark.parametrize(
    "query", [{"cursor": "abc"}, {"limit": 0}, {"limit": 101}, {"cursor": "-1"}]
)
def test_bad_paging_is_refused(client: FlaskClient, ada: Account, query: dict[str, Any]) -> None:
    response = client.get("/personal/v1/access-log", headers=ada.auth, query_string=query)
    assert response.status_code == 422


def test_the_chain_verifies(app: Flask, client: FlaskClient, ada: Account, acme: VendorApi) -> None:
    assert verify_log(client, ada) == {
        "valid": True,
        "entries": 0,
        "first_broken_seq": None,
        "first_broken_id": None,
        "reason": None,
    }
    build_history(app, client, ada, acme)
    report = verify_log(client, ada)
    assert report["valid"] is True
    assert report["entries"] == 8
    assert report["first_broken_seq"] is None and report["reason"] is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"fields": ["given_name", "phone", "postal_address"]}, id="fields"),
        pytest.param({"purpose": "CustomerCare"}, id="purpose"),
        pytest.param({"vendor_name": "Someone Else"}, id="vendor_name"),
        pytest.param({"action": "consent.given"}, id="action"),
        pytest.param({"detail": {"consent_id": "forged"}}, id="detail"),
        pytest.param({"vendor_id": None}, id="vendor_id"),
    ],
)
def test_an_edited_row_is_found(
    app: Flask,
    client: FlaskClient,
    ada: Account,
    acme: VendorApi,
    change: dict[str, Any],
) -> None:
    build_history(app, client, ada, acme)
    event_id = tamper(app, ada, 4, **change)  # the first read
    report = verify_log(client, ada)
    assert report["valid"] is False
    assert report["first_broken_seq"] == 4
    assert report["first_broken_id"] == str(event_id)
    assert "changed" in report["reason"]
    assert report["entries"] == 8


def test_an_edited_time_is_found(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    at = access_log(client, ada)["data"][-2]["at"]  # seq 2
    tamper(app, ada, 2, at=datetime.fromisoformat(at) - timedelta(days=1))
    assert verify_log(client, ada)["first_broken_seq"] == 2


def test_a_rehashed_row_breaks_the_link_to_the_next(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    """Editing a row and its hash still shows, at the entry after it."""
    build_history(app, client, ada, acme)
    with app.extensions["vrm"].sessions() as session:
        event = session.scalar(
            select(AuditEvent).where(AuditEvent.person_id == uuid.UUID(ada.id), AuditEvent.seq == 4)
        )
        event.fields = ["given_name"]
        event.hash = entry_hash(event.prev_hash, event)
        session.commit()
    report = verify_log(client, ada)
    assert report["valid"] is False
    assert report["first_broken_seq"] == 5
    assert "link" in report["reason"]


def test_a_removed_row_is_found(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    remove(app, ada, 5)
    report = verify_log(client, ada)
    assert report["valid"] is False
    assert report["entries"] == 7
    # The gap shows at the entry after it.
    assert report["first_broken_seq"] == 6
    assert "missing" in report["reason"]


def test_a_removed_first_row_is_found(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    remove(app, ada, 1)
    report = verify_log(client, ada)
    assert report["valid"] is False
    assert report["first_broken_seq"] == 2


def test_a_removed_newest_row_is_found(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    remove(app, ada, 8)  # the vendor's last read, erased from the person's view
    report = verify_log(client, ada)
    assert report["valid"] is False


def test_a_person_sees_and_verifies_only_their_own_log(
    app: Flask, client: FlaskClient, ada: Account, bob: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    fill_profile(client, bob, given_name="Bob")
    bobs = granted(client, bob, acme, ["given_name"], purposes=["CustomerCare"])
    acme.read(bobs["customer_ref"], "CustomerCare")

    bob_log = access_log(client, bob, limit=100)["data"]
    assert [(e["seq"], e["action"]) for e in bob_log] == [
        (3, "profile.read"),
        (2, "consent.given"),
        (1, "agreement.accepted"),
    ]
    ada_hashes = {e["hash"] for e in access_log(client, ada, limit=100)["data"]}
    assert not ada_hashes & {e["hash"] for e in bob_log}
    assert bob_log[1]["detail"]["consent_id"] == bobs["id"]
    assert verify_log(client, bob)["entries"] == 3

    # Breaking Ada's log does not touch Bob's, and the other way round.
    tamper(app, ada, 3, purpose="DirectMarketing")
    assert verify_log(client, ada)["first_broken_seq"] == 3
    assert verify_log(client, bob)["valid"] is True
    tamper(app, bob, 1, vendor_name="Nobody")
    assert verify_log(client, bob)["first_broken_seq"] == 1
    assert verify_log(client, ada)["first_broken_seq"] == 3


def test_a_refused_read_is_not_a_read(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    """A read refused for lack of consent shares nothing, and logs no profile.read."""
    acme.accept()
    ref = relate(app, acme, ada)
    assert acme.read(ref, "DirectMarketing").status_code == 403
    with app.extensions["vrm"].engine.connect() as connection:
        reads = connection.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.person_id == uuid.UUID(ada.id), AuditEvent.action == "profile.read")
        )
    assert reads == 0
    assert verify_log(client, ada)["valid"] is True


def test_deleting_a_vendor_does_not_look_like_tampering(
    app: Flask, client: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    build_history(app, client, ada, acme)
    with app.extensions["vrm"].engine.begin() as connection:
        connection.execute(delete(Vendor).where(Vendor.id == acme.id))
    entries = access_log(client, ada, limit=100)["data"]
    assert len(entries) == 8 and entries[0]["vendor_name"] == "Acme Shop"
    assert verify_log(client, ada)["valid"] is True
