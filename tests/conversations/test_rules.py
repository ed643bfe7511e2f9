"""The person's rules, enforced on every vendor message whichever way the conversation
opened: not closed, a live consent, not blocked, at most N messages in a row without a
reply. Each refusal is a problem+json that says which rule, and writes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

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
)
from vrm.conversations.models import Message

OPENINGS = ["person", "offer", "request"]


def open_conversation(how, app, person, vendor) -> tuple[str, str]:
    """A conversation opened ``how``: (its id, the id of the consent behind it)."""
    if how == "person":
        opened = opened_by_person(app, person, vendor)
        return opened["id"], opened["consent_id"]
    if how == "offer":
        flow = opened_by_offer(person, vendor)
        return flow.conversation_id, flow.consent_id
    consent, opened = opened_by_request(app, person, vendor)
    return opened["id"], consent["id"]


def nothing_written(app, person, vendor, conversation_id, messages: int, received: int) -> None:
    """A refusal left no message, no message event and no access-log entry behind."""
    assert count(app, Message, Message.conversation_id == uuid.UUID(conversation_id)) == messages
    assert len(vendor.events("message.created")) == messages
    log = [e for e in person.access_log() if e["action"] == "message.received"]
    assert len(log) == received


# Messages in a row


@pytest.mark.parametrize("how", OPENINGS)
def test_with_the_default_limit_the_third_vendor_message_in_a_row_passes_and_the_fourth_is_refused(
    app, person, shop, how
):
    conversation_id, _ = open_conversation(how, app, person, shop)
    before = count(app, Message, Message.conversation_id == uuid.UUID(conversation_id))
    assert person.ok("GET", "/personal/v1/terms")["max_unanswered_messages"] == 3

    for n in (1, 2, 3):
        shop.said(conversation_id, f"Message {n}")
        assert shop.conversation(conversation_id)["unanswered"] == n
    refused = shop.say(conversation_id, "Message 4")

    body = problem_of(refused, 409, "awaiting-reply")
    assert body["max_unanswered"] == 3
    assert "3 messages in a row" in body["detail"]
    nothing_written(app, person, shop, conversation_id, before + 3, 3)


def test_a_reply_from_the_person_lets_the_vendor_write_again(app, person, shop, talk):
    for n in (1, 2, 3):
        shop.said(talk["id"], f"Message {n}")
    problem_of(shop.say(talk["id"], "Hello?"), 409, "awaiting-reply")

    person.said(talk["id"], "Sorry, I was away.")

    assert shop.conversation(talk["id"])["unanswered"] == 0
    for n in (4, 5, 6):
        shop.said(talk["id"], f"Message {n}")
    problem_of(shop.say(talk["id"], "Hello again?"), 409, "awaiting-reply")


def test_with_a_limit_of_one_the_second_vendor_message_in_a_row_is_refused(app, person, shop, talk):
    person.set_rules(max_unanswered_messages=1)

    shop.said(talk["id"], "One")
    body = problem_of(shop.say(talk["id"], "Two"), 409, "awaiting-reply")

    assert body["max_unanswered"] == 1
    person.said(talk["id"], "Yes?")
    shop.said(talk["id"], "Two")
    problem_of(shop.say(talk["id"], "Three"), 409, "awaiting-reply")


def test_a_changed_limit_applies_to_the_messages_already_sent(app, person, shop, talk):
    shop.said(talk["id"], "One")
    shop.said(talk["id"], "Two")

    person.set_rules(max_unanswered_messages=2)
    problem_of(shop.say(talk["id"], "Three"), 409, "awaiting-reply")
    person.set_rules(max_unanswered_messages=4)
    shop.said(talk["id"], "Three")
    shop.said(talk["id"], "Four")
    problem_of(shop.say(talk["id"], "Five"), 409, "awaiting-reply")


def test_the_person_may_write_any_number_of_messages_in_a_row(app, person, shop, talk):
    person.set_rules(max_unanswered_messages=1)
    for n in range(5):
        person.said(talk["id"], f"And another thing, {n}")
    assert person.conversation(talk["id"])["message_count"] == 6


OUT_OF_RANGE = [
    ({"max_unanswered_messages": 0}, "max_unanswered_messages"),
    ({"max_unanswered_messages": 21}, "max_unanswered_messages"),
    ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00", "end": "eight"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours.end"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
]


def test_rules_out_of_range_are_refused_naming_the_field_and_change_nothing(person):
    terms = person.ok("GET", "/personal/v1/terms")
    body = {
        "terms": [t["code"] for t in terms["terms"]],
        "consent_default_days": 90,
        "consent_max_days": 365,
    }

    named = [
        fields_of(person.call("PUT", "/personal/v1/terms", json={**body, **rules}))
        for rules, _ in OUT_OF_RANGE
    ]

    assert named == [[field] for _, field in OUT_OF_RANGE]
    after = person.ok("GET", "/personal/v1/terms")
    assert (after["max_unanswered_messages"], after["quiet_hours"], after["time_zone"]) == (
        3,
        None,
        "UTC",
    )


def test_the_rules_left_out_of_a_change_keep_their_value(person):
    person.set_rules(
        max_unanswered_messages=20,
        quiet_hours={"start": "22:00", "end": "08:00"},
        time_zone="Europe/Paris",
    )
    kept = person.set_rules()
    assert kept["max_unanswered_messages"] == 20
    assert kept["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    assert kept["time_zone"] == "Europe/Paris"
    assert person.set_rules(quiet_hours=None)["quiet_hours"] is None


# A closed conversation


def test_once_the_person_closes_a_conversation_neither_side_can_write_in_it(
    app, person, shop, talk
):
    shop.said(talk["id"], "Anything else?")

    closed = person.close(talk["id"])

    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    assert closed.json()["closed_at"]
    problem_of(shop.say(talk["id"], "Wait!"), 409, "conversation-closed")
    problem_of(person.say(talk["id"], "One more thing"), 409, "conversation-closed")
    problem_of(person.close(talk["id"]), 409, "conversation-closed")
    seen = shop.conversation(talk["id"])
    assert (seen["state"], seen["can_write"]) == ("closed", False)
    # Both still read what was said.
    assert len(person.messages(talk["id"])) == len(shop.messages(talk["id"])) == 2
    assert [c["id"] for c in person.conversations(state="closed")] == [talk["id"]]
    assert person.conversations(state="open") == []
    # The vendor is told once.
    told = shop.events("conversation.closed")
    assert [e["data"]["conversation_id"] for e in told] == [talk["id"]]
    assert told[0]["data"]["customer_ref"] == ref(app, shop, person)
    assert told[0]["data"]["closed_at"] == closed.json()["closed_at"]


# The consent behind the conversation


@pytest.mark.parametrize("how", OPENINGS)
def test_once_the_consent_is_withdrawn_the_vendor_can_no_longer_write(app, person, shop, how):
    conversation_id, consent_id = open_conversation(how, app, person, shop)
    shop.said(conversation_id, "Before")

    person.withdraw(consent_id)
    refused = shop.say(conversation_id, "After")

    body = problem_of(refused, 403, "consent-ended")
    assert body["consent_id"] == consent_id
    assert shop.conversation(conversation_id)["can_write"] is False
    assert [m["text"] for m in shop.messages(conversation_id)][0] == "Before"


def test_once_the_consent_expires_the_vendor_can_no_longer_write(app, now, person, shop):
    person.set_rules(consent_default_days=1)
    opened = opened_by_person(app, person, shop)
    expires_at = person.ok("GET", f"/personal/v1/consents/{opened['consent_id']}")["expires_at"]
    assert expires_at.startswith("2026-11-24T12:00:00")

    now.advance(timedelta(days=1) - timedelta(seconds=1))
    shop.said(opened["id"], "Just in time")
    now.advance(timedelta(seconds=2))
    refused = shop.say(opened["id"], "Too late")

    body = problem_of(refused, 403, "consent-ended")
    assert body["consent_id"] == opened["consent_id"]
    assert shop.conversation(opened["id"])["can_write"] is False


def test_the_vendor_revoking_its_consent_ends_its_writing_too(app, person, shop):
    consent, opened = opened_by_request(app, person, shop)
    shop.ok("POST", f"/vendor/v1/consents/{consent['id']}/revoke")
    problem_of(shop.say(opened["id"], "Hello"), 403, "consent-ended")


# Blocking


def test_blocking_a_vendor_closes_its_conversations_and_tells_it(app, person, shop, rival):
    first = opened_by_person(app, person, shop)
    second = opened_by_person(app, person, shop)
    elsewhere = opened_by_person(app, person, rival)

    person.block(shop)

    for conversation in (first, second):
        assert person.conversation(conversation["id"])["state"] == "closed"
        problem_of(person.say(conversation["id"], "Hi"), 409, "conversation-closed")
    assert person.conversation(elsewhere["id"])["state"] == "open"
    told = {e["data"]["conversation_id"] for e in shop.events("conversation.closed")}
    assert told == {first["id"], second["id"]}
    assert rival.events("conversation.closed") == []
    assert rival.say(elsewhere["id"], "Still here").status_code == 201


def test_a_blocked_vendor_is_refused_as_blocked(app, person, shop, talk):
    person.block(shop)
    problem_of(shop.say(talk["id"], "Please come back"), 403, "blocked")


def test_a_blocked_vendor_stays_refused_in_a_conversation_opened_after_the_block(app, person, shop):
    # The one way a conversation with a blocked vendor is open: the person approves its
    # request to contact them while it is blocked.
    relate(app, shop, person)
    person.block(shop)
    consent, conversation = opened_by_request(app, person, shop)
    assert conversation["state"] == "open"

    body = problem_of(shop.say(conversation["id"], "Thanks for having us back"), 403, "blocked")

    assert "blocked" in body["detail"]
    assert count(app, Message, Message.conversation_id == uuid.UUID(conversation["id"])) == 0
