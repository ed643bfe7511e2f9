"""What a conversation leaves behind: events for its vendor only, an access-log entry for
every vendor message, the person's export; nothing after erasure; and the text of a
message nowhere in the database in the clear."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.conversations.conftest import count, opened_by_person, problem_of, ref
from vrm.conversations.models import Conversation, Message
from vrm.crypto import aad_for
from vrm.models import Base

TALK_TEXT = "Hello, is my order on its way?"


def test_every_message_both_ways_is_an_event_for_that_vendor_only(
    app, person, other, shop, rival, talk
):
    answer = shop.said(talk["id"], "It left this morning.")
    reply = person.said(talk["id"], "Great, thanks!")
    elsewhere = opened_by_person(app, person, rival, "A question for Globex")
    opened_by_person(app, other, shop, "Bob asks the shop")

    created = [
        e for e in shop.events("message.created") if e["data"]["conversation_id"] == talk["id"]
    ]
    assert [(e["data"]["sender"], e["data"]["text"]) for e in created] == [
        ("person", "Hello, is my order on its way?"),
        ("vendor", "It left this morning."),
        ("person", "Great, thanks!"),
    ]
    assert [e["data"]["message_id"] for e in created][1:] == [answer["id"], reply["id"]]
    assert {e["data"]["customer_ref"] for e in created} == {ref(app, shop, person)}
    assert all(e["type"] == "message.created" for e in created)
    # The other vendor hears only of its own conversation, under its own customer_ref.
    theirs = rival.events("message.created")
    assert [e["data"]["conversation_id"] for e in theirs] == [elsewhere["id"]]
    assert theirs[0]["data"]["customer_ref"] == ref(app, rival, person)
    assert "It left this morning" not in str(rival.events())


def test_the_access_log_shows_one_entry_per_vendor_message_and_none_for_refusals(
    app, person, shop, talk
):
    sent = [shop.said(talk["id"], f"Message {n}")["id"] for n in (1, 2, 3)]
    problem_of(shop.say(talk["id"], "Message 4"), 409, "awaiting-reply")
    person.said(talk["id"], "Stop, please")
    person.close(talk["id"])
    problem_of(shop.say(talk["id"], "But..."), 409, "conversation-closed")

    received = [e for e in person.access_log() if e["action"] == "message.received"]

    assert sorted(e["detail"]["message_id"] for e in received) == sorted(sent)
    assert {e["detail"]["conversation_id"] for e in received} == {talk["id"]}
    assert {(e["vendor_id"], e["vendor_name"]) for e in received} == {(str(shop.id), "Acme Shop")}
    assert person.ok("GET", "/personal/v1/access-log/verify")["valid"] is True


def test_the_export_holds_the_persons_conversations_with_their_messages(
    app, person, other, shop, rival, talk
):
    shop.said(talk["id"], "It left this morning.")
    person.said(talk["id"], "Great, thanks!")
    person.close(talk["id"])
    second = opened_by_person(app, person, rival, "Do you ship to Lyon?")
    opened_by_person(app, other, shop, "Bob's own question")

    exported = person.ok("GET", "/personal/v1/export")["conversations"]

    by_id = {c["id"]: c for c in exported}
    assert set(by_id) == {talk["id"], second["id"]}
    first = by_id[talk["id"]]
    assert (first["vendor_name"], first["state"], first["opened_by"]) == (
        "Acme Shop",
        "closed",
        "person",
    )
    assert [(m["sender"], m["text"]) for m in first["messages"]] == [
        ("person", "Great, thanks!"),
        ("vendor", "It left this morning."),
        ("person", "Hello, is my order on its way?"),
    ]
    assert [m["text"] for m in by_id[second["id"]]["messages"]] == ["Do you ship to Lyon?"]
    assert "Bob's own question" not in str(exported)


def test_erasing_the_account_removes_its_conversations_and_messages(app, person, other, shop, talk):
    shop.said(talk["id"], "It left this morning.")
    bobs = opened_by_person(app, other, shop, "Bob stays")

    erased = person.call("DELETE", "/personal/v1/account", json={"password": PASSWORD})

    assert erased.status_code == 204, erased.text
    assert count(app, Conversation, Conversation.person_id == uuid.UUID(person.id)) == 0
    assert count(app, Message, Message.conversation_id == uuid.UUID(talk["id"])) == 0
    problem_of(shop.get(f"/vendor/v1/conversations/{talk['id']}"), 404, "not-found")
    problem_of(shop.say(talk["id"], "Hello?"), 404, "not-found")
    assert [c["id"] for c in shop.conversations()] == [bobs["id"]]
    # The texts left the vendor's feed with the person's other events.
    assert [e["data"]["text"] for e in shop.events("message.created")] == ["Bob stays"]
    assert [e["type"] for e in shop.events("customer.erased")] == ["customer.erased"]


def test_no_table_holds_the_text_of_a_message_in_the_clear(app, person, shop, talk):
    secret = "The door code is 4711-ZEBRA"
    person.call(
        "POST",
        f"/personal/v1/conversations/{talk['id']}/messages",
        json={"text": f"{secret} (person)"},
        headers={"Idempotency-Key": "k1"},
    )
    shop.call(
        "POST",
        f"/vendor/v1/conversations/{talk['id']}/messages",
        json={"text": f"{secret} (vendor)"},
        headers={"Idempotency-Key": "k2"},
    )
    assert [m["text"] for m in person.messages(talk["id"])][:2] == [
        f"{secret} (vendor)",
        f"{secret} (person)",
    ]

    rt = app.extensions["vrm"]
    with rt.engine.connect() as connection:
        bodies = connection.execute(select(Message.__table__.c.id, Message.__table__.c.body)).all()
        assert len(bodies) == 3
        for message_id, body in bodies:
            assert "4711" not in body and "ZEBRA" not in body and "on its way" not in body
            # It is the text, sealed to its own row.
            plain = rt.keyring.decrypt(body, aad_for("messages", "body", message_id))
            assert plain in {f"{secret} (person)", f"{secret} (vendor)", TALK_TEXT}
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).all():
                assert "4711-ZEBRA" not in repr(row), table.name
