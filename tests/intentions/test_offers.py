"""Offers: one open offer per vendor and intention; the person accepts (a consent, a
conversation, the intention fulfilled unless kept open) or declines; nobody else can."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.intentions.conftest import (
    accept,
    count,
    error_fields,
    feed_ids,
    intention_of,
    offer,
    offer_response,
    person_offer,
    publish,
    sees,
    stored,
    subscribe,
    vendor_consents,
    vendor_offer,
)
from vrm.consents.models import Consent
from vrm.conversations.models import Conversation
from vrm.intentions.models import Offer


def test_a_vendor_holds_one_open_offer_per_intention_until_it_withdraws_it(app, client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    first = offer(acme, published["id"])
    second = offer_response(acme, published["id"], price="600.00")
    assert error_fields(second, 409) == ["intention_id"]
    assert count(app, Offer) == 1

    withdrawn = acme.post(f"/vendor/v1/offers/{first['id']}/withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.json["state"] == "withdrawn"
    assert error_fields(acme.post(f"/vendor/v1/offers/{first['id']}/withdraw"), 409) == ["state"]
    again = offer(acme, published["id"], price="600.00")
    assert again["state"] == "open"
    received = client.get(f"/personal/v1/intentions/{published['id']}/offers", headers=ada.auth)
    assert [(o["id"], o["state"]) for o in received.json["data"]] == [
        (again["id"], "open"),
        (first["id"], "withdrawn"),
    ]
    assert intention_of(client, ada, published["id"])["offers"] == {"open": 1, "total": 2}
    # A withdrawn offer cannot be accepted.
    assert error_fields(accept(client, ada, first["id"]), 409) == ["state"]


def test_each_matched_vendor_may_offer_on_the_same_intention(client, ada, acme, globex):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    offer(acme, published["id"])
    offer(globex, published["id"])
    assert intention_of(client, ada, published["id"])["offers"] == {"open": 2, "total": 2}


def test_accepting_gives_a_consent_opens_a_conversation_and_fulfils_the_intention(
    app, client, ada, acme, globex
):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    chosen = offer(acme, published["id"])
    other = offer(globex, published["id"])

    accepted = accept(client, ada, chosen["id"], fields=["given_name", "phone"], duration_days=10)
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["state"] == "accepted"
    assert accepted.json["answered_at"]
    consent_id, conversation_id = accepted.json["consent_id"], accepted.json["conversation_id"]
    assert consent_id and conversation_id

    consent = client.get(f"/personal/v1/consents/{consent_id}", headers=ada.auth).json
    assert consent["vendor_id"] == str(acme.id)
    assert consent["fields"] == ["given_name", "phone"]
    assert consent["purposes"] == ["ServiceProvision"]
    assert consent["state"] == "given"
    assert consent["origin"] == "offer"
    assert consent["terms"] == published["terms"]
    assert consent["expires_at"][:10] == (
        (stored(app, Consent, consent_id, "given_at")[0] + timedelta(days=10)).date().isoformat()
    )
    assert stored(app, Conversation, conversation_id, "person_id", "vendor_id", "offer_id") == (
        uuid.UUID(ada.id),
        acme.id,
        uuid.UUID(chosen["id"]),
    )
    assert stored(app, Conversation, conversation_id, "consent_id", "state", "opened_by") == (
        uuid.UUID(consent_id),
        "open",
        "offer",
    )
    assert vendor_offer(acme, chosen["id"])["conversation_id"] == conversation_id

    assert intention_of(client, ada, published["id"])["state"] == "fulfilled"
    assert vendor_offer(globex, other["id"])["state"] == "closed"
    assert error_fields(accept(client, ada, other["id"]), 409) == ["state"]
    assert feed_ids(acme) == feed_ids(globex) == []
    assert count(app, Conversation) == 1


def test_accepting_with_keep_open_leaves_the_intention_open_for_the_others(
    app, client, ada, acme, globex
):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    chosen = offer(acme, published["id"])
    other = offer(globex, published["id"])
    accepted = accept(client, ada, chosen["id"], fields=["given_name"], keep_open=True)
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["state"] == "accepted"
    assert intention_of(client, ada, published["id"])["state"] == "open"
    assert sees(globex, published["id"])
    assert vendor_offer(globex, other["id"])["state"] == "open"
    # The second offer can be accepted too: two vendors, two consents, two conversations.
    assert accept(client, ada, other["id"], fields=[]).status_code == 200
    assert intention_of(client, ada, published["id"])["state"] == "fulfilled"
    assert count(app, Conversation) == 2
    assert {c["origin"] for c in vendor_consents(acme) + vendor_consents(globex)} == {"offer"}


def test_declining_answers_the_offer_and_keeps_the_intention_open(app, client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"])
    declined = client.post(f"/personal/v1/offers/{made['id']}/decline", headers=ada.auth)
    assert declined.status_code == 200
    assert declined.json["state"] == "declined"
    assert declined.json["answered_at"]
    assert declined.json["consent_id"] is None and declined.json["conversation_id"] is None
    assert vendor_offer(acme, made["id"])["state"] == "declined"
    assert error_fields(accept(client, ada, made["id"]), 409) == ["state"]
    again = client.post(f"/personal/v1/offers/{made['id']}/decline", headers=ada.auth)
    assert error_fields(again, 409) == ["state"]
    assert error_fields(acme.post(f"/vendor/v1/offers/{made['id']}/withdraw"), 409) == ["state"]
    assert intention_of(client, ada, published["id"])["state"] == "open"
    assert sees(acme, published["id"])
    assert vendor_consents(acme) == []
    # Declined means no: the vendor cannot try again on the same intention.
    assert error_fields(offer_response(acme, published["id"], price="1.00"), 409) == [
        "intention_id"
    ]
    assert count(app, Offer) == 1


def test_an_offer_past_its_validity_cannot_be_accepted(frozen_clock, app, client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"], valid_until="2026-11-23T13:00:00Z")
    assert made["valid_until"].startswith("2026-11-23T13:00:00")
    frozen_clock[0] += timedelta(hours=2)
    acme.new_token()
    assert person_offer(client, ada, made["id"])["state"] == "expired"
    assert vendor_offer(acme, made["id"])["state"] == "expired"
    refused = accept(client, ada, made["id"], fields=["given_name"])
    assert error_fields(refused, 409) == ["state"]
    assert "expired" in refused.json["detail"]
    assert count(app, Consent) == 0
    assert count(app, Conversation) == 0
    assert stored(app, Offer, made["id"], "state") == ("expired",)
    assert intention_of(client, ada, published["id"])["state"] == "open"
    # The vendor may offer again, now that it has no open offer.
    assert offer_response(acme, published["id"]).status_code == 201


def test_an_intentions_offer_summary_does_not_count_a_lapsed_offer_as_open(
    frozen_clock, client, ada, acme
):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"], valid_until="2026-11-23T13:00:00Z")
    assert intention_of(client, ada, published["id"])["offers"] == {"open": 1, "total": 1}
    frozen_clock[0] += timedelta(hours=2)
    assert person_offer(client, ada, made["id"])["state"] == "expired"
    assert intention_of(client, ada, published["id"])["offers"] == {"open": 0, "total": 1}


def test_an_offer_without_a_validity_lasts_as_long_as_the_intention(client, ada, acme):
    subscribe(acme)
    published = publish(client, ada, expires_at="2027-01-01T00:00:00Z")
    made = offer(acme, published["id"])
    assert made["valid_until"] == published["expires_at"]


def test_another_person_can_neither_see_nor_answer_an_offer(client, ada, bob, acme):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"])
    for response in (
        client.get(f"/personal/v1/offers/{made['id']}", headers=bob.auth),
        client.post(f"/personal/v1/offers/{made['id']}/accept", json={}, headers=bob.auth),
        client.post(f"/personal/v1/offers/{made['id']}/decline", headers=bob.auth),
        client.get(f"/personal/v1/intentions/{published['id']}/offers", headers=bob.auth),
    ):
        assert response.status_code == 404, response.json
    assert person_offer(client, ada, made["id"])["state"] == "open"
    assert vendor_consents(acme) == []


def test_a_vendor_can_neither_see_nor_withdraw_another_vendors_offer(client, ada, acme, globex):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    theirs = offer(acme, published["id"])
    mine = offer(globex, published["id"])
    assert globex.get(f"/vendor/v1/offers/{theirs['id']}").status_code == 404
    assert globex.post(f"/vendor/v1/offers/{theirs['id']}/withdraw").status_code == 404
    assert [o["id"] for o in globex.get("/vendor/v1/offers").json["data"]] == [mine["id"]]
    assert vendor_offer(acme, theirs["id"])["state"] == "open"
    unknown = uuid.uuid4()
    assert globex.get(f"/vendor/v1/offers/{unknown}").status_code == 404


def test_a_vendor_lists_its_offers_newest_first_with_their_states(frozen_clock, client, ada, acme):
    subscribe(acme)
    made = []
    for n in range(3):
        frozen_clock[0] += timedelta(minutes=1)
        published = publish(client, ada, title=f"Bike {n}")
        made.append(offer(acme, published["id"]))
    acme.new_token()
    client.post(f"/personal/v1/offers/{made[0]['id']}/decline", headers=ada.auth)
    page = acme.get("/vendor/v1/offers", query_string={"limit": 2}).json
    assert [o["id"] for o in page["data"]] == [made[2]["id"], made[1]["id"]]
    rest = acme.get("/vendor/v1/offers", query_string={"cursor": page["next_cursor"]}).json
    assert [(o["id"], o["state"]) for o in rest["data"]] == [(made[0]["id"], "declined")]
