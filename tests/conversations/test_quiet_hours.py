"""Quiet hours: a vendor message sent in them is accepted but held, in the person's own
time zone, and appears (and counts as unread) when they end. Whether a window spans
midnight or not, and across a change of summer time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conversations.conftest import opened_by_person, problem_of

PARIS = ZoneInfo("Europe/Paris")
NIGHT = {"start": "22:00", "end": "08:00"}


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def utc(*args: int) -> str:
    """An instant as the API writes it."""
    return datetime(*args, tzinfo=UTC).isoformat()


@pytest.fixture
def quiet_talk(app, person, shop):
    """A conversation with a person whose nights (22:00-08:00, Paris) are quiet; a
    year-long consent, so the clock can travel."""
    person.set_rules(quiet_hours=NIGHT, time_zone="Europe/Paris", consent_default_days=365)
    return opened_by_person(app, person, shop)


def test_a_vendor_message_at_night_is_held_until_morning_then_shown_and_unread(
    now, person, shop, quiet_talk
):
    cid = quiet_talk["id"]
    now.set(paris(2026, 11, 24, 23, 0))

    sent = shop.say(cid, "Flash sale tonight!")

    assert sent.status_code == 201, sent.text
    # 08:00 the next morning in Paris (winter time, UTC+1) is 07:00 UTC.
    assert sent.json()["held_until"] == utc(2026, 11, 25, 7, 0)
    assert [m["text"] for m in person.messages(cid)] == ["Hello, is my order on its way?"]
    assert person.unread(cid) == 0
    assert [c["unread"] for c in person.conversations()] == [0]
    on_vendor_side = shop.messages(cid)[0]
    assert (on_vendor_side["text"], on_vendor_side["held_until"]) == (
        "Flash sale tonight!",
        utc(2026, 11, 25, 7, 0),
    )
    assert on_vendor_side["read"] is False

    now.set(paris(2026, 11, 25, 7, 59, 59))
    assert len(person.messages(cid)) == 1
    assert person.unread(cid) == 0

    now.set(paris(2026, 11, 25, 8, 0))
    shown = person.messages(cid)
    assert [m["text"] for m in shown] == ["Flash sale tonight!", "Hello, is my order on its way?"]
    assert shown[0]["held_until"] is None and shown[0]["read"] is False
    assert person.unread(cid) == 1
    assert shop.messages(cid)[0]["held_until"] is None


def held_at(person, shop, now, conversation_id: str, moments) -> list:
    """When each vendor message, sent at each moment, is shown (None: at once); the
    person answers each, so the limit of messages in a row never gets in the way."""
    found = []
    for moment in moments:
        now.set(moment)
        found.append(shop.said(conversation_id, f"At {moment:%H:%M:%S}")["held_until"])
        person.said(conversation_id, "Noted")
    return found


def test_quiet_hours_across_midnight_hold_exactly_from_their_start_to_their_end(
    now, person, shop, quiet_talk
):
    expected = {
        paris(2026, 11, 24, 21, 59, 59): None,
        paris(2026, 11, 24, 22, 0): utc(2026, 11, 25, 7, 0),
        paris(2026, 11, 24, 23, 59, 59): utc(2026, 11, 25, 7, 0),
        paris(2026, 11, 25, 0, 0): utc(2026, 11, 25, 7, 0),
        paris(2026, 11, 25, 3, 30): utc(2026, 11, 25, 7, 0),
        paris(2026, 11, 25, 7, 59, 59): utc(2026, 11, 25, 7, 0),
        paris(2026, 11, 25, 8, 0): None,
        paris(2026, 11, 25, 13, 0): None,
    }
    found = held_at(person, shop, now, quiet_talk["id"], expected)
    assert dict(zip(expected, found, strict=True)) == expected


def test_quiet_hours_within_one_day_hold_until_their_end_the_same_day(app, now, person, shop):
    person.set_rules(quiet_hours={"start": "12:00", "end": "14:00"}, time_zone="Europe/Paris")
    conversation = opened_by_person(app, person, shop)
    expected = {
        paris(2026, 11, 24, 11, 59, 59): None,
        paris(2026, 11, 24, 12, 0): utc(2026, 11, 24, 13, 0),
        paris(2026, 11, 24, 13, 0): utc(2026, 11, 24, 13, 0),
        paris(2026, 11, 24, 13, 59, 59): utc(2026, 11, 24, 13, 0),
        paris(2026, 11, 24, 14, 0): None,
        paris(2026, 11, 24, 23, 0): None,
        paris(2026, 11, 25, 3, 0): None,
    }
    found = held_at(person, shop, now, conversation["id"], expected)
    assert dict(zip(expected, found, strict=True)) == expected


def test_quiet_hours_are_read_in_the_persons_time_zone(app, now, person, shop):
    conversation = opened_by_person(app, person, shop)
    # 23:00 in Paris is 22:00 UTC, 17:00 in New York and 07:00 the next day in Tokyo.
    expected = {
        "Europe/Paris": utc(2026, 11, 25, 7, 0),
        "UTC": utc(2026, 11, 25, 8, 0),
        "America/New_York": None,
        "Asia/Tokyo": utc(2026, 11, 24, 23, 0),
    }
    found = {}
    for time_zone in expected:
        person.set_rules(quiet_hours=NIGHT, time_zone=time_zone)
        found[time_zone] = held_at(
            person, shop, now, conversation["id"], [paris(2026, 11, 24, 23, 0)]
        )[0]
    assert found == expected


def test_a_night_across_a_change_of_summer_time_ends_at_eight_local_time(
    now, person, shop, quiet_talk
):
    found = held_at(
        person,
        shop,
        now,
        quiet_talk["id"],
        # Summer time starts on Sunday 28 March 2027 and ends on Sunday 31 October.
        [paris(2027, 3, 27, 23, 0), paris(2027, 10, 30, 23, 0)],
    )
    # 08:00 is UTC+2 on the first of those mornings, UTC+1 again on the second.
    assert found == [utc(2027, 3, 28, 6, 0), utc(2027, 10, 31, 7, 0)]


def test_without_quiet_hours_or_after_removing_them_messages_are_shown_at_once(
    now, person, shop, quiet_talk
):
    person.set_rules(quiet_hours=None)
    now.set(paris(2026, 11, 24, 23, 0))

    assert shop.said(quiet_talk["id"], "Now")["held_until"] is None
    assert person.messages(quiet_talk["id"])[0]["text"] == "Now"
    assert person.unread(quiet_talk["id"]) == 1


def test_held_messages_count_toward_the_messages_in_a_row(now, person, shop, quiet_talk):
    now.set(paris(2026, 11, 24, 23, 0))
    for n in (1, 2, 3):
        assert shop.said(quiet_talk["id"], f"Night {n}")["held_until"]

    problem_of(shop.say(quiet_talk["id"], "Night 4"), 409, "awaiting-reply")
    assert shop.conversation(quiet_talk["id"])["unanswered"] == 3


def test_a_person_writes_at_night_without_being_held(now, person, shop, quiet_talk):
    now.set(paris(2026, 11, 24, 23, 0))
    sent = person.said(quiet_talk["id"], "Can't sleep, any news?")
    assert sent["held_until"] is None
    assert shop.messages(quiet_talk["id"])[0]["text"] == "Can't sleep, any news?"


def test_a_held_message_leaves_no_trace_in_the_persons_view_of_the_conversation(
    now, person, shop, quiet_talk
):
    before = person.conversation(quiet_talk["id"])
    now.set(paris(2026, 11, 24, 23, 0))
    shop.said(quiet_talk["id"], "Psst")

    during = person.conversation(quiet_talk["id"])

    assert (during["message_count"], during["last_message_at"]) == (
        before["message_count"],
        before["last_message_at"],
    )
