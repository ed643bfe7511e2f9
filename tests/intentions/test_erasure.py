"""The person's intentions are in their export; erasing the account takes them with it:
their matches, offers, conversations and disclosure consents, and every vendor's feed
forgets them."""

from __future__ import annotations

import uuid

from tests.conftest import PASSWORD
from tests.consents.conftest import fill_profile
from tests.intentions.conftest import (
    TERMS,
    accept,
    count,
    feed_ids,
    offer,
    publish,
    subscribe,
    vendor_consents,
)
from vrm.consents.models import Consent
from vrm.conversations.models import Conversation
from vrm.intentions.models import Intention, IntentionKeyword, IntentionMatch, Offer, Subscription
from vrm.vendors.models import VendorBlock


def test_erasing_the_account_removes_its_intentions_matches_and_offers_from_every_feed(
    app, client, ada, bob, acme, globex
):
    fill_profile(client, ada)
    globex.accept(TERMS)  # so the disclosure below is a consent to it
    subscribe(acme)
    subscribe(globex)
    fulfilled = publish(client, ada, title="Fulfilled bike")
    accept(client, ada, offer(acme, fulfilled["id"])["id"], fields=["given_name"])
    open_one = publish(client, ada, disclose=["given_name"], keywords=["gravel"])
    offer(globex, open_one["id"])
    client.post("/personal/v1/blocks", json={"vendor_id": str(acme.id)}, headers=ada.auth)
    bobs = publish(client, bob, title="Bob's bike")
    assert set(feed_ids(globex)) == {open_one["id"], bobs["id"]}
    assert {c["origin"] for c in vendor_consents(globex)} == {"intention"}

    erased = client.delete("/personal/v1/account", json={"password": PASSWORD}, headers=ada.auth)
    assert erased.status_code == 204

    ada_id = uuid.UUID(ada.id)
    assert count(app, Intention, Intention.person_id == ada_id) == 0
    assert count(app, IntentionKeyword) == count(
        app, IntentionKeyword, IntentionKeyword.intention_id == uuid.UUID(bobs["id"])
    )
    assert count(app, IntentionMatch, IntentionMatch.person_id == ada_id) == 0
    assert count(app, Offer, Offer.person_id == ada_id) == 0
    assert count(app, Conversation, Conversation.person_id == ada_id) == 0
    assert count(app, Consent, Consent.person_id == ada_id) == 0
    assert count(app, VendorBlock, VendorBlock.person_id == ada_id) == 0
    # The vendors keep their subscriptions; their feeds hold only what is still someone's.
    assert count(app, Subscription) == 2
    assert feed_ids(acme) == feed_ids(globex) == [bobs["id"]]
    for vendor in (acme, globex):
        assert vendor.get("/vendor/v1/offers").json["data"] == []
        assert vendor.get(f"/vendor/v1/intentions/{open_one['id']}").status_code == 404
        assert vendor_consents(vendor) == []


def test_a_vendors_stored_response_about_an_erased_person_is_not_replayed(app, client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    path = f"/vendor/v1/intentions/{published['id']}/offers"
    body = {"price": "10.00", "currency": "EUR", "description": "A bike", "accepted_terms": TERMS}
    headers = {**acme.auth, "Idempotency-Key": "offer-1"}
    assert acme.client.post(path, json=body, headers=headers).status_code == 201
    erased = client.delete("/personal/v1/account", json={"password": PASSWORD}, headers=ada.auth)
    assert erased.status_code == 204
    retry = acme.client.post(path, json=body, headers=headers)
    assert retry.status_code == 404
    assert "Idempotent-Replayed" not in retry.headers


def test_the_export_holds_the_persons_intentions_their_offers_and_blocks(client, ada, acme):
    subscribe(acme)
    published = publish(client, ada, disclose=["given_name"])
    made = offer(acme, published["id"])
    client.post("/personal/v1/blocks", json={"vendor_id": str(acme.id)}, headers=ada.auth)
    document = client.get("/personal/v1/export", headers=ada.auth)
    assert document.status_code == 200
    (exported,) = document.json["intentions"]
    assert (exported["id"], exported["title"], exported["state"]) == (
        published["id"],
        published["title"],
        "open",
    )
    assert [(o["id"], o["state"]) for o in exported["received_offers"]] == [(made["id"], "closed")]
    assert [b["vendor_id"] for b in document.json["blocked_vendors"]] == [str(acme.id)]
