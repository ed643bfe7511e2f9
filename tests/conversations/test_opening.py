"""A conversation opens three ways, all of them the person's act: writing first to a vendor
they deal with, accepting an offer, approving a request to contact them. A vendor cannot
open one, and sees the person only as its customer_ref."""

from __future__ import annotations

import uuid

import pytest

from tests.conversations.conftest import (
    count,
    fields_of,
    opened_by_offer,
    opened_by_person,
    opened_by_request,
    problem_of,
    ref,
    relate,
    requested,
)
from vrm.consents.models import Consent
from vrm.conversations.models import Conversation, Message


def test_a_person_opens_a_conversation_by_writing_first_to_a_vendor_they_deal_with(
    app, person, shop
):
    relate(app, shop, person)
    response = person.open(shop, "Hello, is my order on its way?")

    assert response.status_code == 201, response.text
    opened = response.json()
    assert opened["vendor_id"] == str(shop.id)
    assert opened["vendor_name"] == "Acme Shop"
    assert (opened["state"], opened["opened_by"]) == ("open", "person")
    assert (opened["message_count"], opened["unread"]) == (1, 0)
    # Writing first is consent to an answer: CustomerCare, no profile field.
    consent = person.ok("GET", f"/personal/v1/consents/{opened['consent_id']}")
    assert consent["state"] == "given"
    assert consent["purposes"] == ["CustomerCare"]
    assert consent["fields"] == []
    assert consent["origin"] == "conversation"
    assert [m["text"] for m in person.messages(opened["id"])] == ["Hello, is my order on its way?"]

    seen = shop.conversation(opened["id"])
    assert seen["customer_ref"] == ref(app, shop, person)
    assert (seen["opened_by"], seen["unanswered"], seen["can_write"]) == ("person", 0, True)
    assert [(m["sender"], m["text"]) for m in shop.messages(opened["id"])] == [
        ("person", "Hello, is my order on its way?")
    ]
    assert shop.say(opened["id"], "It left this morning.").status_code == 201
    assert [m["text"] for m in person.messages(opened["id"])] == [
        "It left this morning.",
        "Hello, is my order on its way?",
    ]


def test_accepting_an_offer_opens_a_conversation_the_vendor_may_write_in(person, shop):
    flow = opened_by_offer(person, shop)

    conversation = person.conversation(flow.conversation_id)
    assert (conversation["opened_by"], conversation["state"]) == ("offer", "open")
    assert conversation["offer_id"] == flow.offer_id
    assert conversation["consent_id"] == flow.consent_id
    assert conversation["message_count"] == 0
    assert shop.conversation(flow.conversation_id)["can_write"] is True

    sent = shop.said(flow.conversation_id, "When shall we deliver?", offer_id=flow.offer_id)
    assert sent["offer_id"] == flow.offer_id
    assert [m["text"] for m in person.messages(flow.conversation_id)] == ["When shall we deliver?"]


@pytest.mark.parametrize(
    "purposes",
    [("CustomerCare",), ("DirectMarketing",), ("ServiceProvision", "DirectMarketing")],
)
def test_approving_a_request_to_contact_opens_a_conversation(app, person, shop, purposes):
    consent, conversation = opened_by_request(app, person, shop, purposes)

    assert (conversation["opened_by"], conversation["state"]) == ("request", "open")
    assert conversation["consent_id"] == consent["id"]
    listed = shop.conversations()
    assert [c["id"] for c in listed] == [conversation["id"]]
    assert listed[0]["customer_ref"] == ref(app, shop, person)
    assert shop.say(conversation["id"], "We have news for you.").status_code == 201


def test_a_request_without_a_contact_purpose_or_narrowed_to_none_opens_no_conversation(
    app, person, shop
):
    plain = requested(app, person, shop, ("ServiceProvision",))
    person.ok("POST", f"/personal/v1/consent-requests/{plain['id']}/approve", json={})
    narrowed = requested(app, person, shop, ("ServiceProvision", "CustomerCare"))
    approved = person.ok(
        "POST",
        f"/personal/v1/consent-requests/{narrowed['id']}/approve",
        json={"purposes": ["ServiceProvision"]},
    )
    assert approved["purposes"] == ["ServiceProvision"]

    assert person.conversations() == []
    assert shop.conversations() == []


def test_a_person_cannot_open_a_conversation_with_a_vendor_they_have_no_relationship_with(
    app, person, shop
):
    refused = person.open(shop)
    problem_of(refused, 404, "not-found")
    assert [e["field"] for e in refused.json()["errors"]] == ["vendor_id"]

    unknown = person.post(
        "/personal/v1/conversations", json={"vendor_id": str(uuid.uuid4()), "text": "Hello"}
    )
    problem_of(unknown, 404, "not-found")
    assert [e["field"] for e in unknown.json()["errors"]] == ["vendor_id"]

    assert count(app, Conversation) == 0
    assert count(app, Consent) == 0


def test_a_person_cannot_open_a_conversation_with_a_vendor_they_blocked(app, person, shop):
    relate(app, shop, person)
    person.block(shop)

    refused = person.open(shop)

    problem_of(refused, 409, "conflict")
    assert [e["field"] for e in refused.json()["errors"]] == ["vendor_id"]
    assert count(app, Conversation) == 0


def test_opening_needs_a_text_of_at_most_4000_characters_and_leaves_nothing_behind(
    app, person, shop
):
    relate(app, shop, person)

    for text in ("", "   \n\t ", "x" * 4001):
        assert fields_of(person.open(shop, text)) == ["text"], repr(text[:5])

    assert (count(app, Conversation), count(app, Message), count(app, Consent)) == (0, 0, 0)


def test_opening_needs_a_vendor_id(person):
    refused = person.post("/personal/v1/conversations", json={"text": "Hello"})
    assert fields_of(refused) == ["vendor_id"]


def test_a_vendor_has_no_way_to_open_a_conversation(app, person, shop):
    relate(app, shop, person)

    for body in ({"customer_ref": ref(app, shop, person), "text": "Buy now!"}, {}):
        refused = shop.post("/vendor/v1/conversations", json=body)
        assert refused.status_code in (404, 405), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert count(app, Conversation) == 0


def test_the_vendor_sees_the_person_only_as_a_customer_ref(app, person, shop):
    person.ok(
        "PATCH",
        "/personal/v1/profile",
        json={"given_name": "Augusta", "family_name": "Lovelace", "phone": "+447911123456"},
    )
    conversation = opened_by_person(app, person, shop, "Where is parcel 42?")
    sent = shop.say(conversation["id"], "On its way.")
    person.said(conversation["id"], "Thank you.")
    customer_ref = ref(app, shop, person)

    naming = [
        shop.get("/vendor/v1/conversations"),
        shop.get(f"/vendor/v1/conversations/{conversation['id']}"),
        shop.get("/vendor/v1/events", params={"types": ["message.created"]}),
    ]
    for response in naming:
        assert customer_ref in response.text, response.request.url
    messages = [sent, shop.get(f"/vendor/v1/conversations/{conversation['id']}/messages")]
    for response in naming + messages:
        assert response.status_code in (200, 201), response.text
        # (A pseudonym is random text: take it out before looking for anything personal.)
        raw = response.text.replace(customer_ref, "")
        for personal in (
            person.id,
            person.id.replace("-", ""),
            person.email,
            "Augusta",
            "Lovelace",
            "+447911123456",
            "person_id",
        ):
            assert personal not in raw, (personal, response.request.url)
