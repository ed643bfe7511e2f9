"""A person blocks a vendor: their intentions leave its feed, its open offers close, and
nothing of theirs matches it until they unblock it."""

from __future__ import annotations

import uuid

from tests.consents.conftest import fill_profile
from tests.intentions.conftest import (
    TERMS,
    count,
    edit,
    error_fields,
    feed,
    feed_ids,
    offer,
    offer_response,
    person_offer,
    publish,
    sees,
    subscribe,
    vendor_consents,
    vendor_offer,
)
from vrm.vendors.models import VendorBlock


def block(client, person, vendor_id) -> dict:
    response = client.post(
        "/personal/v1/blocks", json={"vendor_id": str(vendor_id)}, headers=person.auth
    )
    assert response.status_code == 201, response.json
    return response.json


def unblock(client, person, vendor_id):
    return client.delete(f"/personal/v1/blocks/{vendor_id}", headers=person.auth)


def test_blocking_takes_the_persons_intentions_out_of_the_feed_and_closes_its_offers(
    client, ada, bob, acme, globex
):
    fill_profile(client, ada)
    acme.accept(TERMS)  # so the disclosure reaches it
    subscribe(acme)
    subscribe(globex)
    first = publish(client, ada, disclose=["given_name"])
    second = publish(client, ada, title="A tent", category="sports/camping/tents")
    bobs = publish(client, bob, title="Bob's bike")
    made = offer(acme, first["id"])
    (ref,) = [i["customer_ref"] for i in feed(acme)["data"] if i["id"] == first["id"]]

    blocked = block(client, ada, acme.id)
    assert (blocked["vendor_id"], blocked["vendor_name"]) == (str(acme.id), acme.name)

    assert feed_ids(acme) == [bobs["id"]]
    for gone in (first, second):
        assert acme.get(f"/vendor/v1/intentions/{gone['id']}").status_code == 404
        assert offer_response(acme, gone["id"]).status_code == 404
    assert vendor_offer(acme, made["id"])["state"] == "closed"
    assert person_offer(client, ada, made["id"])["state"] == "closed"
    # What the intention disclosed to it ends too.
    (disclosure,) = [c for c in vendor_consents(acme) if c["origin"] == "intention"]
    assert disclosure["state"] == "withdrawn"
    assert acme.read(ref).status_code == 403
    # Other vendors are untouched.
    assert set(feed_ids(globex)) == {first["id"], second["id"], bobs["id"]}


def test_a_blocked_vendor_matches_none_of_the_persons_later_intentions(
    client, ada, bob, acme, initech
):
    subscribe(acme, categories=["sports"])
    block(client, ada, acme.id)
    later = publish(client, ada)
    assert later["matched_vendors"] == 0
    assert not sees(acme, later["id"])
    # Not through a new subscription's backfill either, nor through an edit.
    subscribe(acme, keywords=["gravel"])
    subscribe(acme, categories=["electronics"])
    assert edit(client, ada, later["id"], category="electronics/tv").status_code == 200
    assert not sees(acme, later["id"])
    # Someone else's intentions still reach it.
    assert sees(acme, publish(client, bob)["id"])


def test_unblocking_lets_new_intentions_match_again(client, ada, acme):
    subscribe(acme)
    block(client, ada, acme.id)
    while_blocked = publish(client, ada, title="While blocked")
    assert client.get("/personal/v1/blocks", headers=ada.auth).json["data"][0]["vendor_id"] == (
        str(acme.id)
    )

    assert unblock(client, ada, acme.id).status_code == 204
    assert client.get("/personal/v1/blocks", headers=ada.auth).json["data"] == []
    after = publish(client, ada, title="After unblocking")
    assert after["matched_vendors"] == 1
    assert feed_ids(acme) == [after["id"]]
    assert not sees(acme, while_blocked["id"])
    assert error_fields(unblock(client, ada, acme.id), 404) == []


def test_blocking_an_unknown_vendor_is_refused_naming_vendor_id(app, client, ada):
    response = client.post(
        "/personal/v1/blocks", json={"vendor_id": str(uuid.uuid4())}, headers=ada.auth
    )
    assert error_fields(response, 404) == ["vendor_id"]
    malformed = client.post("/personal/v1/blocks", json={"vendor_id": "acme"}, headers=ada.auth)
    assert error_fields(malformed) == ["vendor_id"]
    assert count(app, VendorBlock) == 0


def test_blocking_twice_is_harmless_and_one_persons_block_is_not_anothers(
    app, client, ada, bob, acme
):
    subscribe(acme)
    first = block(client, ada, acme.id)
    second = block(client, ada, acme.id)
    assert second["created_at"] == first["created_at"]
    assert count(app, VendorBlock) == 1
    assert client.get("/personal/v1/blocks", headers=bob.auth).json["data"] == []
    assert unblock(client, bob, acme.id).status_code == 404
    assert publish(client, bob)["matched_vendors"] == 1


def test_after_unblocking_a_new_subscription_matches_the_persons_open_intentions_again(
    client, ada, acme
):
    subscribe(acme)
    before_block = publish(client, ada, title="Seen, then blocked")
    block(client, ada, acme.id)
    while_blocked = publish(client, ada, title="Published while blocked")
    assert not sees(acme, while_blocked["id"])
    assert unblock(client, ada, acme.id).status_code == 204
    # Unblocking says the vendor is welcome again: a new subscription backfills what is open.
    subscribe(acme, categories=["sports"])
    assert sees(acme, before_block["id"])
    assert sees(acme, while_blocked["id"])
    after = publish(client, ada, title="After unblocking")
    assert feed_ids(acme)[0] == after["id"]
