"""Read markers: each conversation counts the vendor messages the person has not read;
marking it read, or answering, clears them; a message held in quiet hours counts only
once it can be seen."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conversations.conftest import opened_by_person
from vrm.conversations.service import ConversationService

PARIS = ZoneInfo("Europe/Paris")


def unread_by_vendor(person) -> dict[str, int]:
    return {c["vendor_name"]: c["unread"] for c in person.conversations()}


def test_each_conversation_counts_its_own_unread_vendor_messages(app, person, shop, rival):
    with_shop = opened_by_person(app, person, shop)
    with_rival = opened_by_person(app, person, rival)
    shop.said(with_shop["id"], "One")
    shop.said(with_shop["id"], "Two")
    rival.said(with_rival["id"], "Hi")

    assert unread_by_vendor(person) == {"Acme Shop": 2, "Globex Market": 1}
    assert person.unread(with_shop["id"]) == 2


def test_marking_a_conversation_read_clears_its_count_and_only_its_own(app, person, shop, rival):
    with_shop = opened_by_person(app, person, shop)
    with_rival = opened_by_person(app, person, rival)
    shop.said(with_shop["id"], "One")
    shop.said(with_shop["id"], "Two")
    rival.said(with_rival["id"], "Hi")

    marked = person.read(with_shop["id"])

    assert marked.status_code == 200, marked.text
    assert marked.json()["unread"] == 0
    assert unread_by_vendor(person) == {"Acme Shop": 0, "Globex Market": 1}
    assert all(m["read"] for m in person.messages(with_shop["id"]))
    assert [m["read"] for m in shop.messages(with_shop["id"])] == [True, True, True]
    assert [m["read"] for m in rival.messages(with_rival["id"])] == [False, True]
    # A later message is unread again; marking twice is harmless.
    shop.said(with_shop["id"], "Three")
    assert person.unread(with_shop["id"]) == 1
    assert person.read(with_shop["id"]).json()["unread"] == 0
    assert person.read(with_shop["id"]).json()["unread"] == 0


def test_answering_marks_the_messages_before_it_read(app, person, shop, talk):
    shop.said(talk["id"], "One")
    shop.said(talk["id"], "Two")
    assert person.unread(talk["id"]) == 2

    person.said(talk["id"], "Got them")

    assert person.unread(talk["id"]) == 0
    assert [m["read"] for m in shop.messages(talk["id"])] == [True, True, True, True]
    shop.said(talk["id"], "Three")
    assert person.unread(talk["id"]) == 1


@pytest.fixture
def night(now, person):
    """The person's nights are quiet (22:00-08:00, Paris); it is 23:00 there."""
    person.set_rules(quiet_hours={"start": "22:00", "end": "08:00"}, time_zone="Europe/Paris")

    def to(*args: int) -> None:
        now.set(datetime(*args, tzinfo=PARIS))

    return to


def test_a_held_message_is_not_unread_until_it_is_shown_and_reading_at_night_skips_it(
    app, person, shop, night
):
    talk = opened_by_person(app, person, shop)
    night(2026, 11, 24, 23, 0)
    shop.said(talk["id"], "Sent at night")
    assert person.unread(talk["id"]) == 0

    assert person.read(talk["id"]).json()["unread"] == 0

    night(2026, 11, 25, 8, 0, 1)
    assert person.unread(talk["id"]) == 1
    assert person.messages(talk["id"])[0]["read"] is False
    assert person.read(talk["id"]).json()["unread"] == 0


def test_answering_at_night_does_not_mark_a_held_message_read(app, person, shop, night):
    talk = opened_by_person(app, person, shop)
    night(2026, 11, 24, 23, 0)
    shop.said(talk["id"], "Held until morning")
    person.said(talk["id"], "Still awake, by the way")

    night(2026, 11, 25, 8, 0, 1)

    assert person.unread(talk["id"]) == 1
    shown = {m["text"]: m["read"] for m in person.messages(talk["id"])}
    assert shown["Held until morning"] is False


def test_marking_read_does_not_cover_a_message_still_held(app, person, shop, night):
    talk = opened_by_person(app, person, shop)
    night(2026, 11, 24, 23, 0)
    shop.said(talk["id"], "Held until morning")
    person.set_rules(quiet_hours=None)
    shop.said(talk["id"], "Shown at once")
    person.read(talk["id"])

    night(2026, 11, 25, 8, 0, 1)

    assert person.unread(talk["id"]) == 1


def test_the_inbox_lists_the_conversation_with_the_latest_message_first(
    app, person, shop, rival, now
):
    with_shop = opened_by_person(app, person, shop)
    now.advance(timedelta(minutes=1))
    opened_by_person(app, person, rival)
    assert [c["vendor_name"] for c in person.conversations()] == ["Globex Market", "Acme Shop"]

    now.advance(timedelta(minutes=1))
    shop.said(with_shop["id"], "News about your order")

    assert [c["vendor_name"] for c in person.conversations()] == ["Acme Shop", "Globex Market"]
    # Paging follows the same order.
    first = person.ok("GET", "/personal/v1/conversations", params={"limit": 1})
    rest = person.ok(
        "GET", "/personal/v1/conversations", params={"limit": 1, "cursor": first["next_cursor"]}
    )
    assert [c["vendor_name"] for c in first["data"] + rest["data"]] == [
        "Acme Shop",
        "Globex Market",
    ]


def test_marking_read_up_to_a_moment_leaves_later_messages_unread_and_never_moves_back(
    app, person, shop, talk, now
):
    shop.said(talk["id"], "One")
    shown_at = now()
    now.advance(timedelta(seconds=5))
    shop.said(talk["id"], "Arrived while the page was drawn")
    service = app_service(app)

    service(lambda s: s.mark_read(uuid.UUID(person.id), uuid.UUID(talk["id"]), up_to=shown_at))
    assert person.unread(talk["id"]) == 1

    assert person.read(talk["id"]).json()["unread"] == 0
    service(lambda s: s.mark_read(uuid.UUID(person.id), uuid.UUID(talk["id"]), up_to=shown_at))
    assert person.unread(talk["id"]) == 0


def app_service(app):
    def run(action):
        rt = app.extensions["vrm"]
        with rt.sessions() as session:
            return action(ConversationService(session, rt.keyring))

    return run
