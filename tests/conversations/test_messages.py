"""Messages both ways: what a message may hold, what it may point at, paging newest
first, and a retried POST that must not write twice."""

from __future__ import annotations

import uuid

import pytest

from tests.conversations.conftest import (
    count,
    fields_of,
    opened_by_offer,
    opened_by_person,
    problem_of,
)
from vrm.conversations.models import Message


def test_person_and_vendor_write_to_each_other_and_both_see_the_whole_exchange(
    app, person, shop, talk
):
    answer = shop.said(talk["id"], "It left this morning.")
    reply = person.said(talk["id"], "Great, thanks!")

    assert (answer["sender"], answer["seq"], answer["conversation_id"]) == ("vendor", 2, talk["id"])
    assert answer["held_until"] is None
    assert (reply["sender"], reply["seq"]) == ("person", 3)
    expected = [
        ("person", "Great, thanks!"),
        ("vendor", "It left this morning."),
        ("person", "Hello, is my order on its way?"),
    ]
    for side in (person, shop):
        assert [(m["sender"], m["text"]) for m in side.messages(talk["id"])] == expected
    assert person.conversation(talk["id"])["message_count"] == 3
    seen = shop.conversation(talk["id"])
    assert (seen["message_count"], seen["unanswered"]) == (3, 0)
    assert seen["last_message_at"] == reply["created_at"]


BAD_TEXTS = {
    "empty": "",
    "a space": " ",
    "only whitespace": "\n\t  \u00a0",
    "4001 characters": "x" * 4001,
    "null": None,
    "a number": 42,
    "a list": ["a list"],
}


@pytest.mark.parametrize("side", ["person", "vendor"])
def test_a_message_needs_some_text_of_at_most_4000_characters(app, person, shop, talk, side):
    writer = person if side == "person" else shop
    path = f"/{'personal' if side == 'person' else 'vendor'}/v1/conversations/{talk['id']}"

    refusals = {"missing": fields_of(writer.post(f"{path}/messages", json={}))}
    for name, text in BAD_TEXTS.items():
        refusals[name] = fields_of(writer.say(talk["id"], text))

    assert refusals == {name: ["text"] for name in ("missing", *BAD_TEXTS)}
    assert count(app, Message) == 1
    assert shop.conversation(talk["id"])["message_count"] == 1
    # The longest a message may be, counted in characters, is kept whole.
    longest = "é" * 3999 + "\U0001f6b2"
    assert writer.said(talk["id"], longest)["text"] == longest
    assert person.messages(talk["id"])[0]["text"] == longest


@pytest.mark.parametrize("side", ["person", "vendor"])
def test_a_message_may_point_at_an_offer_or_intention_the_two_of_them_share(
    app, person, other, shop, rival, side
):
    mine = opened_by_offer(person, shop)
    # The same person with another vendor, in a category the shop does not follow.
    elsewhere = opened_by_offer(person, rival, category="electronics/audio/headphones")
    # Another customer of the same shop.
    theirs = opened_by_offer(other, shop)
    writer = person if side == "person" else shop
    conversation_id = mine.conversation_id

    shared = writer.said(
        conversation_id, "About this", offer_id=mine.offer_id, intention_id=mine.intention_id
    )
    assert (shared["offer_id"], shared["intention_id"]) == (mine.offer_id, mine.intention_id)
    assert person.messages(conversation_id)[0]["offer_id"] == mine.offer_id

    for offer_id in (elsewhere.offer_id, theirs.offer_id, str(uuid.uuid4())):
        refused = writer.say(conversation_id, "About that", offer_id=offer_id)
        assert fields_of(refused) == ["offer_id"], offer_id
    for intention_id in (elsewhere.intention_id, theirs.intention_id, str(uuid.uuid4())):
        refused = writer.say(conversation_id, "About that", intention_id=intention_id)
        assert fields_of(refused) == ["intention_id"], intention_id
    assert fields_of(writer.say(conversation_id, "About that", offer_id="not-a-uuid")) == [
        "offer_id"
    ]
    assert person.conversation(conversation_id)["message_count"] == 1


def test_messages_come_newest_first_a_page_at_a_time_on_both_sides(app, person, shop, talk):
    for turn in range(3):
        shop.said(talk["id"], f"vendor {turn}")
        person.said(talk["id"], f"person {turn}")
    everything = ["person 2", "vendor 2", "person 1", "vendor 1", "person 0", "vendor 0"]
    everything.append("Hello, is my order on its way?")

    for side in (person, shop):
        path = (
            f"/{'personal' if side is person else 'vendor'}/v1/conversations/{talk['id']}/messages"
        )
        pages, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = side.ok("GET", path, params=params)
            pages.append([m["text"] for m in page["data"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [everything[0:3], everything[3:6], everything[6:]]
        seqs = [m["seq"] for m in side.messages(talk["id"])]
        assert seqs == [7, 6, 5, 4, 3, 2, 1]
    bad = person.get(
        f"/personal/v1/conversations/{talk['id']}/messages", params={"cursor": "nonsense"}
    )
    assert fields_of(bad) == ["cursor"]


def test_conversations_are_listed_newest_first_with_paging(app, person, shop, rival):
    first = opened_by_person(app, person, shop, "first")
    second = opened_by_person(app, person, rival, "second")
    third = opened_by_person(app, person, shop, "third")

    page = person.ok("GET", "/personal/v1/conversations", params={"limit": 2})
    assert [c["id"] for c in page["data"]] == [third["id"], second["id"]]
    rest = person.ok(
        "GET", "/personal/v1/conversations", params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert [c["id"] for c in rest["data"]] == [first["id"]]
    assert rest["next_cursor"] is None
    assert [c["id"] for c in shop.conversations()] == [third["id"], first["id"]]


def test_a_person_retrying_a_message_with_the_same_idempotency_key_writes_it_once(
    app, person, shop, talk
):
    path = f"/personal/v1/conversations/{talk['id']}/messages"
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = person.post(path, json={"text": "Only once"}, headers=key)
    again = person.post(path, json={"text": "Only once"}, headers=key)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert [m["text"] for m in person.messages(talk["id"])].count("Only once") == 1
    assert count(app, Message) == 2
    created = [e["data"]["message_id"] for e in shop.events("message.created")]
    assert created.count(first.json()["id"]) == 1 and len(created) == 2
    # The same key for another body is refused, not written.
    other_body = person.post(path, json={"text": "Something else"}, headers=key)
    problem_of(other_body, 409, "idempotency-key-reused")
    assert count(app, Message) == 2


def test_a_vendor_retrying_its_last_allowed_message_gets_it_back_rather_than_a_refusal(
    app, person, shop, talk
):
    path = f"/vendor/v1/conversations/{talk['id']}/messages"
    shop.said(talk["id"], "One")
    shop.said(talk["id"], "Two")
    key = {"Idempotency-Key": "retry-3"}

    third = shop.post(path, json={"text": "Three"}, headers=key)
    retried = shop.post(path, json={"text": "Three"}, headers=key)
    fourth = shop.post(path, json={"text": "Three"}, headers={"Idempotency-Key": "retry-4"})

    assert third.status_code == 201, third.text
    assert (retried.status_code, retried.json()["id"]) == (201, third.json()["id"])
    problem_of(fourth, 409, "awaiting-reply")
    assert count(app, Message) == 4
    assert shop.conversation(talk["id"])["unanswered"] == 3
