"""The feed is served in its JSON form without a schema dump per request (the public part of
each intention is dumped once per version and kept): it must still be exactly what the
documented schema gives, and never an older version of an edited intention."""

from __future__ import annotations

import uuid

from flask import Flask

from tests.intentions.conftest import edit, feed, publish, subscribe, withdraw
from vrm.intentions.models import Intention, IntentionMatch
from vrm.intentions.schemas import MatchedIntentionSchema
from vrm.intentions.service import IntentionService


def _documented(app: Flask, vendor_id: uuid.UUID, intention_id: str) -> dict:
    """The item as MatchedIntentionSchema dumps it from the stored rows."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        intention = session.get(Intention, uuid.UUID(intention_id))
        match = session.get(IntentionMatch, (vendor_id, intention.id))
        raw = {
            **IntentionService(session, rt.keyring).public_view(intention),
            "customer_ref": rt.keyring.pseudonym(vendor_id, intention.person_id),
            "matched_at": match.created_at,
            "disclosed": None,
        }
    return MatchedIntentionSchema().dump(raw)


def test_a_feed_item_is_exactly_what_the_schema_documents(app, client, ada, acme):
    subscribe(acme, categories=["sports/cycling"])
    published = publish(
        client,
        ada,
        description="Steel frame, 54 cm",
        keywords=["gravel", "steel"],
        quantity=2,
        price={"currency": "EUR", "min": "300", "max": "800.5"},
        location={
            "country": "FR",
            "region": "FR-IDF",
            "city": "Paris",
            "point": {"lat": 48.85, "lon": 2.35},
            "radius_km": 25,
        },
        wanted_by="2026-12-20",
    )
    expected = _documented(app, acme.id, published["id"])

    listed = feed(acme)["data"]
    one = acme.get(f"/vendor/v1/intentions/{published['id']}").json
    # Twice: the second read is served from what the first one kept.
    assert listed == [expected] and feed(acme)["data"] == [expected]
    assert one == expected
    assert expected["price"] == {"currency": "EUR", "min": "300.00", "max": "800.50"}
    assert expected["location"]["city"] == "Paris"


def test_an_intention_with_only_what_is_required_is_documented_with_its_nulls(
    app, client, ada, acme
):
    subscribe(acme, categories=["sports/cycling"])
    published = publish(client, ada)
    [item] = feed(acme)["data"]
    assert item == _documented(app, acme.id, published["id"])
    assert (item["price"], item["location"], item["wanted_by"], item["disclosed"]) == (None,) * 4


def test_an_edit_is_in_the_feed_at_once_after_the_old_version_was_read(app, client, ada, acme):
    subscribe(acme, categories=["sports/cycling"])
    published = publish(client, ada, price={"currency": "EUR", "max": "500"})
    assert feed(acme)["data"][0]["price"]["max"] == "500.00"

    assert (
        edit(client, ada, published["id"], price={"currency": "EUR", "max": "650"}).status_code
        == 200
    )
    assert edit(client, ada, published["id"], description="Any colour").status_code == 200

    item = feed(acme)["data"][0]
    assert (item["price"]["max"], item["description"]) == ("650.00", "Any colour")
    assert acme.get(f"/vendor/v1/intentions/{published['id']}").json == item
    assert item == _documented(app, acme.id, published["id"])


def test_a_withdrawn_intention_kept_in_memory_is_not_served(client, ada, acme):
    subscribe(acme, categories=["sports/cycling"])
    published = publish(client, ada)
    assert [i["id"] for i in feed(acme)["data"]] == [published["id"]]

    assert withdraw(client, ada, published["id"]).status_code == 200
    assert feed(acme)["data"] == []
    assert acme.get(f"/vendor/v1/intentions/{published['id']}").status_code == 404
