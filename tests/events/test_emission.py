"""Every change a vendor must hear of becomes an event in the same transaction: to the
vendor concerned and no other, with only what that vendor may know, and never for a
change that did not happen."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import PASSWORD, Account
from tests.consents.conftest import (
    VendorApi,
    access_log,
    fill_profile,
    granted,
    make_vendor,
    person_receipts,
    relate,
    verify,
)
from tests.events.conftest import data_of, events, feed_page, kinds, ref
from tests.intentions.conftest import (
    TERMS,
    accept,
    count,
    edit,
    feed,
    offer,
    publish,
    stored,
    subscribe,
    withdraw,
)
from vrm.audit.service import AuditLog
from vrm.events.models import Delivery, OutboxEvent
from vrm.events.webhooks import WebhookService
from vrm.intentions.models import Intention, Offer
from vrm.worker import expire_consents, expire_intentions

CONSENTS = "/personal/v1/consents"
REQUESTS = "/personal/v1/consent-requests"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ask(vendor: VendorApi, customer_ref: str, **body: Any) -> dict[str, Any]:
    """The vendor asks the person for consent; the pending request."""
    response = vendor.post(
        "/vendor/v1/consent-requests",
        json={
            "customer_ref": customer_ref,
            "fields": ["given_name", "phone"],
            "purposes": ["ServiceProvision"],
            "duration_days": 60,
            **body,
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def patch_profile(client: FlaskClient, person: Account, **changes: Any) -> None:
    response = client.patch("/personal/v1/profile", json=changes, headers=person.auth)
    assert response.status_code == 200, response.json


def post(client: FlaskClient, person: Account, path: str, **body: Any) -> Any:
    return client.post(path, json=body, headers=person.auth)


# Consents


def test_a_consent_the_person_gives_is_announced_to_that_vendor_alone_with_its_receipt(
    app, client, ada, acme, globex
):
    acme.accept()
    globex.accept()
    consent = granted(
        client, ada, acme, ["phone", "given_name"], purposes=["ServiceProvision", "CustomerCare"]
    )

    [event] = events(app, acme)
    assert event["type"] == "consent.given"
    assert uuid.UUID(event["id"]) and at(event["timestamp"])
    data = event["data"]
    assert data == {
        "consent_id": consent["id"],
        "customer_ref": consent["customer_ref"],
        "state": "given",
        "origin": "person",
        "fields": ["given_name", "phone"],
        "purposes": ["CustomerCare", "ServiceProvision"],
        "expires_at": data["expires_at"],
        "receipt": data["receipt"],
    }
    assert at(data["expires_at"]) == at(consent["expires_at"])
    # The receipt is the signed record the person holds of that very change.
    [held] = person_receipts(client, ada, consent["id"])
    assert data["receipt"] == held["receipt"]
    receipt = verify(data["receipt"], client)
    assert receipt["record_id"] == consent["id"]
    assert receipt["event"]["type"] == "given"
    assert receipt["principal"]["customer_ref"] == consent["customer_ref"]
    assert events(app, globex) == []


def test_an_approved_request_is_announced_as_approved_and_as_a_given_consent(
    app, client, ada, acme, globex
):
    acme.accept()
    fill_profile(client, ada)
    asked = ask(acme, relate(app, acme, ada))
    assert events(app, acme) == []  # the vendor asked: nothing to tell it

    approved = post(client, ada, f"{REQUESTS}/{asked['id']}/approve", fields=["phone"])
    assert approved.status_code == 200, approved.json

    assert kinds(app, acme) == ["consent_request.approved", "consent.given"]
    [answer] = data_of(app, acme, "consent_request.approved")
    [given] = data_of(app, acme, "consent.given")
    assert answer == given
    assert given["consent_id"] == asked["id"]
    assert given["customer_ref"] == asked["customer_ref"]
    assert given["origin"] == "vendor"
    assert given["fields"] == ["phone"]  # as the person narrowed it
    assert at(given["expires_at"]) == at(approved.json["expires_at"])
    assert verify(given["receipt"], client)["event"]["type"] == "given"
    assert events(app, globex) == []


def test_an_approval_that_fails_leaves_no_event(app, client, ada, acme):
    acme.accept()
    asked = ask(acme, relate(app, acme, ada))

    wider = post(client, ada, f"{REQUESTS}/{asked['id']}/approve", fields=["family_name"])
    assert wider.status_code == 422, wider.json
    # The person's terms changed since the request: the approval is refused (its
    # agreement record is committed, the consent stays requested).
    terms = client.put(
        "/personal/v1/terms",
        json={
            "terms": [*TERMS, "third-party-sharing"],
            "consent_default_days": 90,
            "consent_max_days": 365,
        },
        headers=ada.auth,
    )
    assert terms.status_code == 200, terms.json
    refused = post(client, ada, f"{REQUESTS}/{asked['id']}/approve")
    assert refused.status_code == 409, refused.json
    assert refused.json["type"].endswith("terms-not-accepted")

    assert events(app, acme) == []


def test_a_denied_request_is_announced_to_the_vendor_that_asked(app, client, ada, acme, globex):
    acme.accept()
    asked = ask(acme, relate(app, acme, ada))
    denied = post(client, ada, f"{REQUESTS}/{asked['id']}/deny")
    assert denied.status_code == 200, denied.json

    [data] = data_of(app, acme, "consent_request.denied")
    assert kinds(app, acme) == ["consent_request.denied"]
    assert data["consent_id"] == asked["id"]
    assert data["state"] == "refused"
    assert data["expires_at"] is None
    assert verify(data["receipt"], client)["event"]["type"] == "refused"
    assert events(app, globex) == []


def test_a_withdrawal_is_announced_but_the_vendors_own_revocation_is_not(app, client, ada, acme):
    acme.accept()
    first = granted(client, ada, acme, ["given_name"])
    second = granted(client, ada, acme, ["phone"])
    withdrawn = post(client, ada, f"{CONSENTS}/{first['id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.json
    revoked = acme.post(f"/vendor/v1/consents/{second['id']}/revoke")
    assert revoked.status_code == 200, revoked.json

    assert kinds(app, acme) == ["consent.given", "consent.given", "consent.withdrawn"]
    [data] = data_of(app, acme, "consent.withdrawn")
    assert data["consent_id"] == first["id"]
    assert data["state"] == "withdrawn"
    assert data["fields"] == ["given_name"]
    assert verify(data["receipt"], client)["event"]["type"] == "withdrawn"


def test_an_expiry_the_worker_records_is_announced_once(frozen_clock, app, client, ada, acme):
    acme.accept()
    consent = granted(client, ada, acme, ["given_name"], days=1)
    frozen_clock[0] += timedelta(days=1, seconds=1)
    assert expire_consents(app) == 1
    assert expire_consents(app) == 0

    assert kinds(app, acme) == ["consent.given", "consent.expired"]
    [data] = data_of(app, acme, "consent.expired")
    assert data["consent_id"] == consent["id"]
    assert data["state"] == "expired"
    assert verify(data["receipt"], client)["event"]["type"] == "expired"


def test_moving_an_intentions_expiry_announces_its_disclosure_consent_as_modified(
    app, client, ada, acme
):
    acme.accept(TERMS)
    subscribe(acme)
    published = publish(client, ada, disclose=["given_name"])
    [given] = data_of(app, acme, "consent.given")
    later = at(published["expires_at"]) + timedelta(days=10)

    response = edit(client, ada, published["id"], expires_at=later.isoformat())
    assert response.status_code == 200, response.json

    assert kinds(app, acme) == ["consent.given", "intention.matched", "consent.modified"]
    [modified] = data_of(app, acme, "consent.modified")
    assert modified["consent_id"] == given["consent_id"]
    assert modified["origin"] == "intention"
    assert at(modified["expires_at"]) == later
    assert verify(modified["receipt"], client)["event"]["type"] == "modified"


# The profile


@pytest.fixture
def consented(frozen_clock, app, client, ada, acme, globex, initech) -> dict[str, Any]:
    """Ada's profile, and consents: Acme live for her name and phone, Globex live for
    her family name (for marketing), Initech withdrawn for her phone, Umbrella lapsed
    (unrecorded) for her phone."""
    fill_profile(client, ada)
    for vendor in (acme, globex, initech):
        vendor.accept()
    umbrella = make_umbrella(app, client)
    umbrella.accept()
    made = {
        "acme": granted(client, ada, acme, ["given_name", "phone"], days=30),
        "globex": granted(
            client, ada, globex, ["family_name"], purposes=["DirectMarketing"], days=30
        ),
        "initech": granted(client, ada, initech, ["phone"], days=30),
        "umbrella": granted(client, ada, umbrella, ["phone"], days=1),
    }
    post(client, ada, f"{CONSENTS}/{made['initech']['id']}/withdraw")
    frozen_clock[0] += timedelta(days=1, seconds=1)
    return {**made, "umbrella_vendor": umbrella}


def make_umbrella(app: Flask, client: FlaskClient) -> VendorApi:
    return make_vendor(app, client, "Umbrella Corp")


def updates(app: Flask, vendor: VendorApi) -> list[dict[str, Any]]:
    return data_of(app, vendor, "profile.updated")


def test_a_profile_change_reaches_only_vendors_whose_live_consent_covers_it(
    frozen_clock, app, client, ada, acme, globex, initech, consented
):
    # Phone changed; the name and family name are sent again unchanged.
    patch_profile(client, ada, phone="+447911000000", given_name="Ada", family_name="Lovelace")

    assert updates(app, acme) == [
        {
            "customer_ref": consented["acme"]["customer_ref"],
            "consent_ids": [consented["acme"]["id"]],
            "changed": {"phone": "+447911000000"},
        }
    ]
    assert updates(app, globex) == []  # its field did not change
    assert updates(app, initech) == []  # withdrawn
    assert updates(app, consented["umbrella_vendor"]) == []  # expired, not yet recorded


def test_a_pushed_value_is_in_the_persons_access_log_like_a_read(
    frozen_clock, app, client, ada, acme, globex, initech, consented
):
    patch_profile(client, ada, phone="+447911000000")

    pushes = [e for e in access_log(client, ada)["data"] if e["action"] == "profile.pushed"]
    assert [(e["vendor_id"], e["fields"]) for e in pushes] == [(str(acme.id), ["phone"])]
    assert pushes[0]["detail"]["consent_ids"] == [consented["acme"]["id"]]


def test_withdrawing_the_consent_takes_pushed_values_out_of_the_vendors_events(
    frozen_clock, app, client, ada, acme, globex, initech, consented
):
    patch_profile(client, ada, phone="+447911000000", given_name="Augusta")
    assert updates(app, acme)[0]["changed"] == {"given_name": "Augusta", "phone": "+447911000000"}
    # Another consent to Acme still covers the given name, not the phone.
    granted(client, ada, acme, ["given_name"], days=30)

    post(client, ada, f"{CONSENTS}/{consented['acme']['id']}/withdraw")

    [update] = updates(app, acme)
    assert update["changed"] == {"given_name": "Augusta"}
    assert update["withdrawn_fields"] == ["phone"]
    stored_bodies = [e["data"] for e in events(app, acme)]
    assert "+447911000000" not in repr(stored_bodies)


def test_a_removed_field_is_announced_as_null_under_a_consent_of_any_purpose(
    frozen_clock, app, client, ada, acme, globex, initech, consented
):
    patch_profile(client, ada, phone=None, family_name="Byron", contact_email="ada@byron.example")

    [to_acme] = updates(app, acme)
    assert to_acme["changed"] == {"phone": None}
    [to_globex] = updates(app, globex)
    assert to_globex == {
        "customer_ref": consented["globex"]["customer_ref"],
        "consent_ids": [consented["globex"]["id"]],
        "changed": {"family_name": "Byron"},
    }
    assert updates(app, initech) == []
    assert updates(app, consented["umbrella_vendor"]) == []


def test_a_profile_change_names_every_live_consent_that_covers_it_and_nothing_else(
    app, client, ada, acme
):
    fill_profile(client, ada)
    acme.accept()
    name = granted(client, ada, acme, ["given_name"])
    phone = granted(client, ada, acme, ["phone"], purposes=["CustomerCare"])
    granted(client, ada, acme, ["contact_email"])
    assert events(app, acme)  # the three consents

    patch_profile(client, ada, given_name="Augusta", phone="+447911000001", family_name="King")

    [data] = updates(app, acme)
    assert data["consent_ids"] == [name["id"], phone["id"]]
    assert data["changed"] == {"given_name": "Augusta", "phone": "+447911000001"}


def test_an_unchanged_or_refused_profile_edit_announces_nothing(app, client, ada, acme):
    fill_profile(client, ada)
    acme.accept()
    granted(client, ada, acme, ["given_name", "phone"])
    patch_profile(client, ada, given_name="Ada", phone="+447911123456")
    stale = client.patch(
        "/personal/v1/profile",
        json={"given_name": "Augusta"},
        headers={**ada.auth, "If-Match": '"0"'},
    )
    assert stale.status_code == 412, stale.json

    assert kinds(app, acme) == ["consent.given"]


# Intentions


def test_a_publication_is_announced_to_each_matched_vendor_with_no_content(
    app, client, ada, acme, globex, initech
):
    subscribe(acme, categories=["sports/cycling"])
    subscribe(globex)
    subscribe(initech, categories=["sports/camping"])
    published = publish(client, ada, description="Steel frame, size 56", keywords=["gravel"])

    for vendor in (acme, globex):
        [listed] = feed(vendor)["data"]
        [event] = events(app, vendor)
        assert event["type"] == "intention.matched"
        assert event["data"] == {
            "intention_id": published["id"],
            "customer_ref": listed["customer_ref"],
            "category": "sports/cycling/bicycles",
            "expires_at": event["data"]["expires_at"],
            "matched_at": event["data"]["matched_at"],
        }
        assert at(event["data"]["expires_at"]) == at(published["expires_at"])
        assert at(event["data"]["matched_at"]) == at(listed["matched_at"])
    assert data_of(app, acme, "intention.matched")[0]["customer_ref"] == ref(app, acme, ada)
    assert events(app, initech) == []


def test_an_edit_announces_only_new_matches_and_tells_a_dropped_vendor_it_is_gone(
    app, client, ada, acme, globex, initech
):
    subscribe(acme, categories=["sports/cycling"])
    subscribe(globex)
    subscribe(initech, categories=["sports/camping"])
    published = publish(client, ada)

    assert edit(client, ada, published["id"], title="A steel gravel bike").status_code == 200
    assert kinds(app, acme) == kinds(app, globex) == ["intention.matched"]
    assert kinds(app, initech) == []

    moved = edit(client, ada, published["id"], category="sports/camping/tents")
    assert moved.status_code == 200, moved.json
    assert kinds(app, acme) == ["intention.matched", "intention.withdrawn"]
    assert data_of(app, acme, "intention.withdrawn") == [
        {"intention_id": published["id"], "customer_ref": ref(app, acme, ada)}
    ]
    assert kinds(app, globex) == ["intention.matched"]  # still matched: nothing new
    [matched] = data_of(app, initech, "intention.matched")
    assert matched["intention_id"] == published["id"]
    assert matched["category"] == "sports/camping/tents"


def test_a_new_subscription_announces_the_open_intentions_it_adds_oldest_matched_first(
    app, client, ada, bob, acme, globex
):
    acme.accept(TERMS)
    first = publish(client, ada, title="A gravel bike")
    second = publish(client, bob, title="A road bike", disclose=["given_name"])
    publish(client, ada, title="A tent", category="sports/camping/tents")

    subscribe(acme, categories=["sports/cycling"])

    newest_first = [item["id"] for item in feed(acme)["data"]]
    assert newest_first == [second["id"], first["id"]]
    assert kinds(app, acme) == ["consent.given", "intention.matched", "intention.matched"]
    matched = data_of(app, acme, "intention.matched")
    assert [m["intention_id"] for m in matched] == [first["id"], second["id"]]
    assert [m["customer_ref"] for m in matched] == [ref(app, acme, ada), ref(app, acme, bob)]
    # A second subscription matching the same intentions adds nothing, so says nothing.
    subscribe(acme, keywords=["bike"])
    assert len(events(app, acme)) == 3
    assert events(app, globex) == []


def test_a_publication_refused_as_invalid_announces_nothing(app, client, ada, acme):
    subscribe(acme)
    response = client.post(
        "/personal/v1/intentions",
        json={"title": "A bike", "category": "sports/cycling/bicycles", "disclose": ["shoe"]},
        headers=ada.auth,
    )
    assert response.status_code == 422, response.json
    assert count(app, Intention) == 0
    assert events(app, acme) == []


def test_a_withdrawal_reaches_each_vendor_that_held_the_intention_once(
    app, client, ada, bob, acme, globex, initech
):
    subscribe(acme)
    subscribe(globex)
    subscribe(initech, categories=["sports/camping"])
    published = publish(client, ada)
    bobs = publish(client, bob, title="Bob's bike")
    offer(acme, published["id"])  # in its feed and with an open offer

    assert withdraw(client, ada, published["id"]).status_code == 200

    for vendor in (acme, globex):
        assert data_of(app, vendor, "intention.withdrawn") == [
            {"intention_id": published["id"], "customer_ref": ref(app, vendor, ada)}
        ]
        assert kinds(app, vendor)[-1] == "intention.withdrawn"
    assert events(app, initech) == []
    assert bobs["id"] in [item["id"] for item in feed(acme)["data"]]


def test_an_expired_intention_is_announced_with_the_end_of_its_disclosure_consent(
    frozen_clock, app, client, ada, acme, globex
):
    acme.accept(TERMS)
    subscribe(acme)
    published = publish(client, ada, disclose=["given_name"], expires_at="2026-11-25T12:00:00Z")
    frozen_clock[0] += timedelta(days=2)

    expire_consents(app)
    assert expire_intentions(app) == 1
    assert expire_intentions(app) == 0

    assert kinds(app, acme) == [
        "consent.given",
        "intention.matched",
        "consent.expired",
        "intention.expired",
    ]
    assert data_of(app, acme, "intention.expired") == [
        {"intention_id": published["id"], "customer_ref": ref(app, acme, ada)}
    ]
    assert events(app, globex) == []


def test_an_edit_refused_for_a_lapsed_intention_still_announces_its_expiry(
    frozen_clock, app, client, ada, acme
):
    subscribe(acme)
    published = publish(client, ada, expires_at="2026-11-25T12:00:00Z")
    frozen_clock[0] += timedelta(days=2, seconds=1)

    assert edit(client, ada, published["id"], title="Later").status_code == 409
    assert kinds(app, acme) == ["intention.matched", "intention.expired"]


def test_an_accepted_offer_is_announced_to_its_vendor_and_the_fulfilled_intention_to_no_one(
    app, client, ada, acme, globex
):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    chosen = offer(acme, published["id"])
    offer(globex, published["id"])

    accepted = accept(client, ada, chosen["id"], fields=["phone", "given_name"], duration_days=10)
    assert accepted.status_code == 200, accepted.json

    assert kinds(app, acme) == ["intention.matched", "consent.given", "offer.accepted"]
    assert data_of(app, acme, "offer.accepted") == [
        {
            "offer_id": chosen["id"],
            "intention_id": published["id"],
            "customer_ref": ref(app, acme, ada),
            "consent_id": accepted.json["consent_id"],
            "conversation_id": accepted.json["conversation_id"],
            "fields": ["given_name", "phone"],
        }
    ]
    [given] = data_of(app, acme, "consent.given")
    assert given["consent_id"] == accepted.json["consent_id"]
    assert given["origin"] == "offer"
    # Globex's offer closed with the fulfilled intention; it is told nothing of it.
    assert kinds(app, globex) == ["intention.matched"]


def test_a_declined_offer_is_announced_to_its_vendor_only(app, client, ada, acme, globex):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    declined = offer(acme, published["id"])
    offer(globex, published["id"])

    response = post(client, ada, f"/personal/v1/offers/{declined['id']}/decline")
    assert response.status_code == 200, response.json

    assert data_of(app, acme, "offer.declined") == [
        {
            "offer_id": declined["id"],
            "intention_id": published["id"],
            "customer_ref": ref(app, acme, ada),
        }
    ]
    assert kinds(app, globex) == ["intention.matched"]


def test_the_events_of_a_change_that_fails_midway_go_with_it(
    monkeypatch, app, client, ada, acme, globex
):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    chosen = offer(acme, published["id"])
    real_append = AuditLog.append

    def failing(self, person_id, action, *args, **kwargs):
        if action == "intention.fulfilled":
            raise RuntimeError("the disk is full")
        return real_append(self, person_id, action, *args, **kwargs)

    monkeypatch.setattr(AuditLog, "append", failing)
    # The offer was accepted and its consent given before the failure: both roll back,
    # and with them their events.
    failed = accept(client, ada, chosen["id"], fields=["given_name"])
    assert failed.status_code == 500
    assert stored(app, Offer, chosen["id"], "state") == ("open",)
    assert kinds(app, acme) == ["intention.matched"]
    assert kinds(app, globex) == ["intention.matched"]

    monkeypatch.setattr(AuditLog, "append", real_append)
    assert accept(client, ada, chosen["id"], fields=["given_name"]).status_code == 200
    assert kinds(app, acme) == ["intention.matched", "consent.given", "offer.accepted"]


def test_a_blocked_vendor_is_told_each_intention_it_loses_as_withdrawn(
    app, client, ada, bob, acme, globex
):
    subscribe(acme)
    subscribe(globex)
    bike = publish(client, ada)
    tent = publish(client, ada, title="A tent", category="sports/camping/tents")
    publish(client, bob, title="Bob's bike")
    offer(acme, bike["id"])

    blocked = post(client, ada, "/personal/v1/blocks", vendor_id=str(acme.id))
    assert blocked.status_code == 201, blocked.json

    gone = data_of(app, acme, "intention.withdrawn")
    assert sorted(gone, key=lambda d: d["intention_id"]) == sorted(
        (
            {"intention_id": bike["id"], "customer_ref": ref(app, acme, ada)},
            {"intention_id": tent["id"], "customer_ref": ref(app, acme, ada)},
        ),
        key=lambda d: d["intention_id"],
    )
    assert kinds(app, globex) == ["intention.matched"] * 3


# Erasure


def test_erasure_reaches_every_vendor_that_knew_the_person_and_removes_their_events(
    app, client, ada, bob, acme, globex, initech
):
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        WebhookService(session, rt.keyring, rt.settings).create(acme.id, "http://127.0.0.1:9/h")
    umbrella = make_umbrella(app, client)
    fill_profile(client, ada)
    acme.accept()
    globex.accept()
    live = granted(client, ada, acme, ["given_name"])
    ended = granted(client, ada, acme, ["phone"])
    post(client, ada, f"{CONSENTS}/{ended['id']}/withdraw")
    bobs = granted(client, bob, acme, ["given_name"])
    asked = ask(globex, relate(app, globex, ada))
    subscribe(initech)  # knows Ada only as the author of an intention in its feed
    publish(client, ada)
    acme_ref, globex_ref, initech_ref = (ref(app, v, ada) for v in (acme, globex, initech))
    assert acme_ref == live["customer_ref"]
    assert globex_ref == asked["customer_ref"]
    assert feed(initech)["data"][0]["customer_ref"] == initech_ref

    wrong = client.delete("/personal/v1/account", json={"password": "not it"}, headers=ada.auth)
    assert wrong.status_code == 422, wrong.json
    assert "customer.erased" not in kinds(app, acme)

    erased = client.delete("/personal/v1/account", json={"password": PASSWORD}, headers=ada.auth)
    assert erased.status_code == 204

    for vendor, customer_ref, ended_ids in (
        (acme, acme_ref, [live["id"]]),
        (globex, globex_ref, [asked["id"]]),
        (initech, initech_ref, []),
    ):
        [data] = data_of(app, vendor, "customer.erased")
        assert data == {
            "customer_ref": customer_ref,
            "ended_consent_ids": ended_ids,
            "erased_at": data["erased_at"],
        }
        assert at(data["erased_at"])
    # Everything earlier about Ada is gone, what is about Bob stays.
    assert kinds(app, acme) == ["consent.given", "customer.erased"]
    assert events(app, acme)[0]["data"]["consent_id"] == bobs["id"]
    assert kinds(app, globex) == kinds(app, initech) == ["customer.erased"]
    assert events(app, umbrella) == []
    assert count(app, OutboxEvent, OutboxEvent.person_id == uuid.UUID(ada.id)) == 0
    assert count(app, OutboxEvent, OutboxEvent.type == "customer.erased") == 3
    assert count(app, OutboxEvent, OutboxEvent.person_id.is_(None)) == 3
    with rt.sessions() as session:
        delivered = session.scalars(
            select(OutboxEvent.type).join(Delivery, Delivery.event_id == OutboxEvent.id)
        ).all()
    assert sorted(delivered) == ["consent.given", "customer.erased"]


# The feed


def test_the_feed_returns_a_vendors_events_in_order_page_by_page(app, client, ada, bob, acme):
    acme.accept()
    first = granted(client, ada, acme, ["given_name"])
    post(client, ada, f"{CONSENTS}/{first['id']}/withdraw")
    second = granted(client, ada, acme, ["phone"])
    third = granted(client, bob, acme, ["given_name"])

    page, cursor, more = feed_page(app, acme, limit=3)
    assert [(e["type"], e["data"]["consent_id"]) for e in page] == [
        ("consent.given", first["id"]),
        ("consent.withdrawn", first["id"]),
        ("consent.given", second["id"]),
    ]
    assert more
    rest, cursor, more = feed_page(app, acme, cursor=cursor, limit=3)
    assert [(e["type"], e["data"]["consent_id"]) for e in rest] == [("consent.given", third["id"])]
    assert not more
    stamps = [at(e["timestamp"]) for e in page + rest]
    assert stamps == sorted(stamps)
    assert len({e["id"] for e in page + rest}) == 4

    assert feed_page(app, acme, cursor=cursor)[:2] == ([], cursor)
    post(client, bob, f"{CONSENTS}/{third['id']}/withdraw")
    [latest], _, more = feed_page(app, acme, cursor=cursor)
    assert (latest["type"], latest["data"]["consent_id"]) == ("consent.withdrawn", third["id"])
    assert not more
