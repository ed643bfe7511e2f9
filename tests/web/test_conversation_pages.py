"""The inbox and conversation pages through Flask's test client: conversations listed with
their unread counts, a thread read and answered, errors next to their inputs, a
conversation closed or its vendor blocked after confirming, another person's conversation
not found, the unread count in the navigation, and the conversation rules on the terms
page; every form needs its CSRF token."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account
from tests.consents.conftest import VendorApi, make_vendor, relate
from tests.web.test_intention_pages import (
    control,
    error_next_to,
    field_block,
    make_offer,
    publish,
    published,
    text_of,
    value_of,
    vendor_offer,
)
from tests.web.test_pages import csrf_from, web_login
from vrm.conversations.service import TEXT_MAX
from vrm.runtime import db_session
from vrm.terms.roster import DEFAULT_TERMS
from vrm.terms.service import TermsService
from vrm.web import conversations

CONVERSATIONS = "/personal/v1/conversations"
THREAD = re.compile(r"/inbox/([0-9a-f-]{36})\?started=1$")


# Helpers


def start(web: FlaskClient, vendor: VendorApi, text: str = "Is the blue one in size M?") -> str:
    """Write first to the vendor through the inbox form; the new conversation's id."""
    data = {"vendor_id": str(vendor.id), "text": text, "csrf_token": csrf_from(web, "/inbox")}
    response = web.post("/inbox", data=data)
    assert response.status_code == 302, text_of(response)
    match = THREAD.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def vendor_writes(vendor: VendorApi, conversation_id: str, text: str) -> TestResponse:
    return vendor.post(f"/vendor/v1/conversations/{conversation_id}/messages", json={"text": text})


def vendor_wrote(vendor: VendorApi, conversation_id: str, text: str) -> dict[str, Any]:
    response = vendor_writes(vendor, conversation_id, text)
    assert response.status_code == 201, response.json
    return response.json


def vendor_reads(vendor: VendorApi, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's messages as the vendor reads them, oldest first."""
    response = vendor.get(f"/vendor/v1/conversations/{conversation_id}/messages")
    assert response.status_code == 200, response.json
    return list(reversed(response.json["data"]))


def api_conversation(client: FlaskClient, person: Account, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"{CONVERSATIONS}/{conversation_id}", headers=person.auth)
    assert response.status_code == 200, response.json
    return response.json


def reply(web: FlaskClient, conversation_id: str, text: str) -> TestResponse:
    path = f"/inbox/{conversation_id}"
    return web.post(path, data={"text": text, "csrf_token": csrf_from(web, path)})


def rows(html: str) -> list[str]:
    """The inbox's table rows, top to bottom."""
    return re.findall(r"<tr data-conversation=.*?</tr>", html, re.S)


def cell(row: str, name: str) -> str:
    match = re.search(rf'<td data-field="{name}">(.*?)</td>', row, re.S)
    assert match, f"no {name} cell"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


def thread(html: str) -> list[tuple[str, str, bool]]:
    """The messages on a thread page, top to bottom: (who wrote, text, marked new)."""
    found = []
    for item in re.findall(r'<li id="m-.*?</li>', html, re.S):
        who = re.search(r"<strong>([^<]*)</strong> wrote on", item)
        text = re.search(r'<p class="prose">(.*?)</p>', item, re.S)
        assert who and text, item
        found.append((who.group(1), text.group(1), ">New</span>" in item))
    return found


def nav_unread(html: str) -> str | None:
    """The unread count the navigation's Inbox link shows, None when it shows none."""
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', html, re.S)
    assert nav
    link = re.search(r'<a href="/inbox">(.*?)</a>', nav.group(0), re.S)
    assert link, "no Inbox link"
    count = re.search(r'data-field="unread-total">(\d+)<', link.group(1))
    return count.group(1) if count else None


def state_of(html: str) -> str:
    match = re.search(r'<span data-field="state">([^<]*)</span>', html)
    assert match, "no state shown"
    return match.group(1)


# Fixtures


@pytest.fixture
def web(client: FlaskClient, ada: Account) -> FlaskClient:
    """Ada's browser, logged in."""
    web_login(client, ada.email)
    return client


@pytest.fixture
def velo(app: Flask, ada: Account) -> VendorApi:
    """A vendor Ada deals with (its own client: Ada's carries a web session)."""
    vendor = make_vendor(app, app.test_client(), "Velo Shop")
    relate(app, vendor, ada)
    return vendor


@pytest.fixture
def acme(app: Flask, ada: Account) -> VendorApi:
    vendor = make_vendor(app, app.test_client(), "Acme Market")
    relate(app, vendor, ada)
    return vendor


@pytest.fixture
def talk(web: FlaskClient, velo: VendorApi) -> str:
    """A conversation Ada started with Velo, which wrote back twice."""
    conversation_id = start(web, velo)
    vendor_wrote(velo, conversation_id, "Yes, we have it.")
    vendor_wrote(velo, conversation_id, "Shall we keep one for you?")
    return conversation_id


# Log-in gates and navigation


@pytest.mark.parametrize(
    "path",
    ["/inbox", "/inbox/{id}", "/inbox/{id}/close", "/inbox/{id}/block"],
)
def test_the_pages_need_a_session(client: FlaskClient, path: str) -> None:
    response = client.get(path.format(id=uuid.uuid4()))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_the_navigation_shows_the_unread_count_only_when_there_is_one(
    client: FlaskClient, web: FlaskClient, ada: Account, velo: VendorApi
) -> None:
    conversation_id = start(web, velo)
    assert nav_unread(text_of(web.get("/profile"))) is None  # one's own message is read

    vendor_wrote(velo, conversation_id, "Yes, we have it.")
    vendor_wrote(velo, conversation_id, "Shall we keep one for you?")
    html = text_of(web.get("/profile"))
    assert nav_unread(html) == "2"
    assert re.search(r'<a href="/inbox">Inbox <span class="badge"[^>]*>2<span', html)
    assert '<span class="visually-hidden"> unread</span>' in html

    # Reading the thread clears it, on that very page already.
    assert nav_unread(text_of(web.get(f"/inbox/{conversation_id}"))) is None
    assert nav_unread(text_of(web.get("/profile"))) is None
    assert api_conversation(client, ada, conversation_id)["unread"] == 0


def test_an_error_page_still_shows_the_navigation_after_the_request_failed_in_the_database(
    web: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        # On PostgreSQL this aborts the request's transaction.
        db_session().execute(sa.text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(conversations, "vendor_service", broken)
    response = web.get("/inbox")
    assert response.status_code == 500
    html = text_of(response)
    assert "<h1>Something went wrong</h1>" in html
    assert nav_unread(html) is None  # counted in a session of its own


def test_the_navigation_has_no_inbox_for_someone_logged_out(client: FlaskClient) -> None:
    html = text_of(client.get("/login"))
    assert 'href="/inbox"' not in html


def test_a_message_held_in_quiet_hours_counts_once_they_end(
    frozen_clock: list[datetime],  # 12:00 UTC, from before anything exists
    app: Flask,
    web: FlaskClient,
    ada: Account,
    velo: VendorApi,
) -> None:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        TermsService(session, rt.keyring).set_for_person(
            uuid.UUID(ada.id),
            list(DEFAULT_TERMS),
            90,
            365,
            {"quiet_hours": {"start": "11:00", "end": "13:00"}, "time_zone": "UTC"},
        )
    conversation_id = start(web, velo)
    held = vendor_wrote(velo, conversation_id, "Psst")
    assert held["held_until"] is not None

    assert nav_unread(text_of(web.get("/profile"))) is None
    html = text_of(web.get(f"/inbox/{conversation_id}"))
    assert [m[1] for m in thread(html)] == ["Is the blue one in size M?"]

    frozen_clock[0] += timedelta(hours=1, minutes=1)
    assert nav_unread(text_of(web.get("/profile"))) == "1"
    html = text_of(web.get(f"/inbox/{conversation_id}"))
    assert thread(html)[-1] == ("Velo Shop", "Psst", True)


# The inbox


def test_the_inbox_lists_conversations_newest_first_with_their_unread_counts(
    frozen_clock: list[datetime], web: FlaskClient, velo: VendorApi, acme: VendorApi
) -> None:
    first = start(web, velo)
    frozen_clock[0] += timedelta(minutes=5)
    vendor_wrote(velo, first, "Yes, we have it.")
    frozen_clock[0] += timedelta(minutes=5)
    vendor_wrote(velo, first, "Shall we keep one for you?")
    frozen_clock[0] += timedelta(minutes=5)
    second = start(web, acme, "Do you deliver on Sundays?")

    response = web.get("/inbox")
    assert response.status_code == 200
    html = text_of(response)
    assert "<h1>Your inbox</h1>" in html
    top, bottom = rows(html)
    assert f'data-conversation="{second}"' in top
    assert f'data-conversation="{first}"' in bottom

    assert 'class="unread"' not in top
    assert f'<a href="/inbox/{second}">Acme Market</a>' in top
    assert cell(top, "state") == "Open"
    assert cell(top, "unread") == "None"
    assert cell(top, "last_message_at") == "2026-11-23 12:15 UTC"

    assert 'class="unread"' in bottom
    assert f'<a href="/inbox/{first}"><strong>Velo Shop</strong></a>' in bottom
    assert "<strong>2 new</strong>" in bottom
    assert cell(bottom, "unread") == "2 new"
    assert cell(bottom, "last_message_at") == "2026-11-23 12:10 UTC"
    assert '<time datetime="2026-11-23T12:10:00+00:00">' in bottom


def test_an_empty_inbox_says_so_and_writing_needs_a_vendor_you_deal_with(
    web: FlaskClient,
) -> None:
    html = text_of(web.get("/inbox"))
    assert "No conversation yet." in html
    assert "You can write to a vendor once you deal with it" in html
    assert 'name="vendor_id"' not in html


def test_writing_first_to_a_vendor_starts_a_conversation(
    client: FlaskClient, web: FlaskClient, ada: Account, velo: VendorApi, acme: VendorApi
) -> None:
    form = text_of(web.get("/inbox"))
    assert '<label for="f-vendor_id">Vendor</label>' in form
    assert '<label for="f-text">Your message</label>' in form
    assert f'<option value="{velo.id}">Velo Shop</option>' in form
    assert f'<option value="{acme.id}">Acme Market</option>' in form

    conversation_id = start(web, velo, "Is the blue one\nin size M?")
    html = text_of(web.get(f"/inbox/{conversation_id}?started=1"))
    assert "Your message is sent. Velo Shop can answer you here." in html
    assert "<h1>Conversation with Velo Shop</h1>" in html
    assert state_of(html) == "Open"
    assert "You wrote first" in html
    assert thread(html) == [("You", "Is the blue one\nin size M?", False)]
    assert "Velo Shop may write to you here until" in html

    seen = vendor_reads(velo, conversation_id)
    assert [(m["sender"], m["text"]) for m in seen] == [("person", "Is the blue one\nin size M?")]
    assert api_conversation(client, ada, conversation_id)["opened_by"] == "person"


@pytest.mark.parametrize(
    ("vendor_id", "text", "errors"),
    [
        ("", "", {"vendor_id": "Choose a vendor to write to", "text": "Write something"}),
        ("not-a-vendor", "Hello", {"vendor_id": "Choose a vendor to write to"}),
        (
            str(uuid.uuid4()),
            "Hello",
            {"vendor_id": "You have no relationship with this vendor"},
        ),
        ("velo", "x" * (TEXT_MAX + 1), {"text": f"At most {TEXT_MAX} characters"}),
    ],
    ids=["nothing", "garbled", "a-stranger", "too-long"],
)
def test_starting_errors_are_shown_next_to_their_field(
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    velo: VendorApi,
    vendor_id: str,
    text: str,
    errors: dict[str, str],
) -> None:
    vendor_id = str(velo.id) if vendor_id == "velo" else vendor_id
    data = {"vendor_id": vendor_id, "text": text, "csrf_token": csrf_from(web, "/inbox")}
    response = web.post("/inbox", data=data)
    assert response.status_code == 422
    html = text_of(response)
    assert "Your message was not sent; each reason is below." in html
    for name, message in errors.items():
        assert error_next_to(html, name) == message
    for name in {"vendor_id", "text"} - set(errors):
        assert "invalid" not in field_block(html, name).split(">")[0]
    # What the person wrote comes back.
    assert f">{text}</textarea>" in html
    if vendor_id == str(velo.id):
        assert f'<option value="{velo.id}" selected>' in html
    listed = client.get(CONVERSATIONS, headers=ada.auth)
    assert listed.json["data"] == []


def test_writing_to_a_vendor_you_block_is_refused_next_to_the_vendor(
    web: FlaskClient, velo: VendorApi
) -> None:
    conversation_id = start(web, velo)
    path = f"/inbox/{conversation_id}/block"
    web.post(path, data={"csrf_token": csrf_from(web, path)})

    data = {"vendor_id": str(velo.id), "text": "Hello", "csrf_token": csrf_from(web, "/inbox")}
    response = web.post("/inbox", data=data)
    assert response.status_code == 409
    assert error_next_to(text_of(response), "vendor_id") == (
        "You blocked this vendor; unblock it first"
    )


# A thread


def test_accepting_an_offer_opens_a_conversation_the_vendor_writes_in(
    app: Flask, client: FlaskClient, web: FlaskClient, ada: Account
) -> None:
    cycles = make_vendor(app, app.test_client(), "Cycle Hub")
    cycles.accept()
    follows = cycles.post("/vendor/v1/subscriptions", json={"categories": ["sports/cycling"]})
    assert follows.status_code == 201, follows.json
    intention_id = published(publish(web))
    offer = make_offer(cycles, intention_id)
    token = csrf_from(web, f"/intentions/{intention_id}")
    accepted = web.post(f"/offers/{offer['id']}/accept", data={"csrf_token": token})
    assert accepted.status_code == 302, text_of(accepted)
    conversation_id = vendor_offer(cycles, offer["id"])["conversation_id"]
    vendor_wrote(cycles, conversation_id, "Thanks! When shall we deliver?")

    (row,) = rows(text_of(web.get("/inbox")))
    assert f'<a href="/inbox/{conversation_id}"><strong>Cycle Hub</strong></a>' in row
    assert cell(row, "unread") == "1 new"
    html = text_of(web.get(f"/inbox/{conversation_id}"))
    assert "Started when you accepted its offer" in html
    assert thread(html) == [("Cycle Hub", "Thanks! When shall we deliver?", True)]
    consent_id = api_conversation(client, ada, conversation_id)["consent_id"]
    assert f'href="/consents#c-{consent_id}"' in html

    # Once the consent behind it is withdrawn, the page says the vendor cannot write.
    withdrawn = client.post(f"/personal/v1/consents/{consent_id}/withdraw", headers=ada.auth)
    assert withdrawn.status_code == 200, withdrawn.json
    html = text_of(web.get(f"/inbox/{conversation_id}"))
    assert (
        "The consent behind this conversation is withdrawn: Cycle Hub cannot write to you "
        "here any more. You can still write to it."
    ) in html
    assert vendor_writes(cycles, conversation_id, "Hello?").status_code == 403
    assert reply(web, conversation_id, "Next week, please.").status_code == 302


def test_the_thread_shows_the_messages_oldest_first_and_marks_them_read(
    client: FlaskClient, web: FlaskClient, ada: Account, talk: str
) -> None:
    assert api_conversation(client, ada, talk)["unread"] == 2
    response = web.get(f"/inbox/{talk}")
    assert response.status_code == 200
    html = text_of(response)
    # What was new until now is marked so on this page; from now on it is read.
    assert thread(html) == [
        ("You", "Is the blue one in size M?", False),
        ("Velo Shop", "Yes, we have it.", True),
        ("Velo Shop", "Shall we keep one for you?", True),
    ]
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>', html)
    assert '<ol class="thread" aria-labelledby="messages">' in html
    assert api_conversation(client, ada, talk)["unread"] == 0
    assert [m[2] for m in thread(text_of(web.get(f"/inbox/{talk}")))] == [False] * 3
    assert cell(rows(text_of(web.get("/inbox")))[0], "unread") == "None"


def test_a_reply_is_sent_and_lets_the_vendor_write_again(
    web: FlaskClient, velo: VendorApi, talk: str
) -> None:
    vendor_wrote(velo, talk, "We close at six.")  # three in a row: Ada's default limit
    refused = vendor_writes(velo, talk, "Hello?")
    assert refused.status_code == 409
    assert refused.json["type"] == "urn:vrm:problem:awaiting-reply"

    html = text_of(web.get(f"/inbox/{talk}"))
    assert '<label for="f-text">Your reply</label>' in html
    response = reply(web, talk, "Yes please, I come by tomorrow.")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert re.search(rf"/inbox/{talk}\?sent=1#m-[0-9a-f-]{{36}}$", location)
    html = text_of(web.get(location))
    assert "Your reply is sent." in html
    assert thread(html)[-1] == ("You", "Yes please, I come by tomorrow.", False)
    assert f'id="m-{location.rsplit("#m-", 1)[1]}"' in html

    assert vendor_reads(velo, talk)[-1]["text"] == "Yes please, I come by tomorrow."
    assert vendor_writes(velo, talk, "See you then.").status_code == 201


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Write something"), ("   ", "Write something"), ("y" * 4001, "At most 4000 characters")],
    ids=["empty", "blank", "too-long"],
)
def test_reply_errors_are_shown_next_to_the_field(
    web: FlaskClient, velo: VendorApi, talk: str, text: str, message: str
) -> None:
    response = reply(web, talk, text)
    assert response.status_code == 422
    html = text_of(response)
    assert error_next_to(html, "text") == message
    assert 'aria-describedby="f-text-hint f-text-error"' in control(
        field_block(html, "text"), "text"
    )
    assert f">{text}</textarea>" in html  # what was typed comes back
    assert len(vendor_reads(velo, talk)) == 3


# Closing


def test_closing_asks_first_then_the_conversation_is_closed(
    client: FlaskClient, web: FlaskClient, ada: Account, velo: VendorApi, talk: str
) -> None:
    html = text_of(web.get(f"/inbox/{talk}"))
    assert (
        f'<a class="button danger" href="/inbox/{talk}/close">Close this conversation</a>' in html
    )

    confirm = web.get(f"/inbox/{talk}/close")
    assert confirm.status_code == 200
    page = text_of(confirm)
    assert "<h1>Close the conversation with Velo Shop?</h1>" in page
    assert '<button type="submit" class="danger">Close the conversation</button>' in page
    assert f'<a href="/inbox/{talk}">Keep it open</a>' in page
    assert api_conversation(client, ada, talk)["state"] == "open"  # asking changes nothing

    path = f"/inbox/{talk}/close"
    response = web.post(path, data={"csrf_token": csrf_from(web, path)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/inbox/{talk}?closed=1")
    html = text_of(web.get(response.headers["Location"]))
    assert "Conversation closed. Velo Shop can no longer write in it." in html
    assert state_of(html) == "Closed"
    assert "This conversation is closed since" in html
    assert 'name="text"' not in html  # no reply form
    assert "/close" not in html
    assert len(thread(html)) == 3  # what was written stays
    assert api_conversation(client, ada, talk)["state"] == "closed"
    assert cell(rows(text_of(web.get("/inbox")))[0], "state") == "Closed"

    refused = vendor_writes(velo, talk, "Still there?")
    assert refused.status_code == 409
    assert refused.json["type"] == "urn:vrm:problem:conversation-closed"

    # Asking again says there is nothing to close; closing again is refused, and said so.
    assert "already closed: there is nothing to close" in text_of(web.get(path))
    again = web.post(path, data={"csrf_token": csrf_from(web, path)})
    assert again.status_code == 409
    assert "This conversation is already closed" in text_of(again)


def test_a_reply_to_a_conversation_closed_meanwhile_is_refused_and_kept(
    client: FlaskClient, web: FlaskClient, ada: Account, talk: str
) -> None:
    token = csrf_from(web, f"/inbox/{talk}")
    closed = client.post(f"{CONVERSATIONS}/{talk}/close", headers=ada.auth)
    assert closed.status_code == 200, closed.json
    response = web.post(f"/inbox/{talk}", data={"text": "One more thing", "csrf_token": token})
    assert response.status_code == 409
    html = text_of(response)
    assert "Your reply was not sent: This conversation is closed" in html
    assert '<p class="prose">One more thing</p>' in html
    assert 'name="text"' not in html


# Blocking


def test_blocking_from_a_thread_asks_first_then_closes_it_and_blocks_the_vendor(
    client: FlaskClient, web: FlaskClient, ada: Account, velo: VendorApi, talk: str
) -> None:
    html = text_of(web.get(f"/inbox/{talk}"))
    assert f'<a class="button danger" href="/inbox/{talk}/block">Block Velo Shop</a>' in html

    path = f"/inbox/{talk}/block"
    confirm = text_of(web.get(path))
    assert "<h1>Block Velo Shop?</h1>" in confirm
    assert '<button type="submit" class="danger">Block Velo Shop</button>' in confirm
    assert f'<a href="/inbox/{talk}">Cancel</a>' in confirm
    assert api_conversation(client, ada, talk)["state"] == "open"

    response = web.post(path, data={"csrf_token": csrf_from(web, path)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/inbox/{talk}?blocked=1")
    html = text_of(web.get(response.headers["Location"]))
    assert "You blocked Velo Shop." in html
    assert state_of(html) == "Closed"
    assert "You block Velo Shop." in html
    assert f"{path}" not in html
    assert "Velo Shop" in text_of(web.get("/blocks"))
    refused = vendor_writes(velo, talk, "Hello?")
    assert refused.status_code == 403
    assert refused.json["type"] == "urn:vrm:problem:blocked"
    assert "You already block Velo Shop" in text_of(web.get(path))


# Ownership


@pytest.mark.parametrize("path", ["", "/close", "/block"])
def test_another_persons_conversation_is_not_found(
    app: Flask, client: FlaskClient, ada: Account, bob: Account, path: str
) -> None:
    velo = make_vendor(app, app.test_client(), "Velo Shop")
    relate(app, velo, bob)
    opened = client.post(
        CONVERSATIONS, json={"vendor_id": str(velo.id), "text": "Hi"}, headers=bob.auth
    )
    assert opened.status_code == 201, opened.json
    bobs = opened.json["id"]
    vendor_wrote(velo, bobs, "Hello Bob")

    web_login(client, ada.email)
    token = csrf_from(client, "/inbox")
    for target in (f"/inbox/{bobs}{path}", f"/inbox/{uuid.uuid4()}{path}"):
        seen = client.get(target)
        assert seen.status_code == 404
        assert "<h1>Not found</h1>" in text_of(seen)
        sent = client.post(target, data={"text": "Mine now", "csrf_token": token})
        assert sent.status_code == 404

    mine = api_conversation(client, bob, bobs)
    assert (mine["state"], mine["unread"], mine["message_count"]) == ("open", 1, 2)
    assert vendor_writes(velo, bobs, "Still yours").status_code == 201


# CSRF


@pytest.mark.parametrize(
    "path", ["/inbox", "/inbox/{id}", "/inbox/{id}/close", "/inbox/{id}/block"]
)
@pytest.mark.parametrize("csrf_token", [None, "forged-token"], ids=["missing", "forged"])
def test_the_forms_refuse_a_post_without_csrf(
    client: FlaskClient,
    web: FlaskClient,
    ada: Account,
    velo: VendorApi,
    talk: str,
    path: str,
    csrf_token: str | None,
) -> None:
    data = {"vendor_id": str(velo.id), "text": "Hello"}
    if csrf_token:
        data["csrf_token"] = csrf_token
    response = web.post(path.format(id=talk), data=data)
    assert response.status_code == 400
    conversations = client.get(CONVERSATIONS, headers=ada.auth).json["data"]
    assert [(c["state"], c["message_count"]) for c in conversations] == [("open", 3)]
    assert "You block no vendor." in text_of(web.get("/blocks"))


# The rules on the terms page


def test_the_terms_page_shows_the_conversation_rules(web: FlaskClient) -> None:
    html = text_of(web.get("/terms"))
    assert "<legend>Conversations with vendors</legend>" in html
    assert "<legend>Quiet hours</legend>" in html
    for name, label in [
        ("max_unanswered_messages", "Messages in a row before you reply"),
        ("quiet_hours.start", "Quiet from"),
        ("quiet_hours.end", "Quiet until"),
        ("time_zone", "Time zone"),
    ]:
        assert f'<label for="f-{name}">{label}</label>' in html
    assert value_of(html, "max_unanswered_messages") == "3"
    assert value_of(html, "quiet_hours.start") == ""
    assert value_of(html, "quiet_hours.end") == ""
    assert value_of(html, "time_zone") == "UTC"
    assert 'type="time"' in control(field_block(html, "quiet_hours.start"), "quiet_hours.start")


def _terms_form(**rules: str) -> dict[str, Any]:
    return {
        "terms": list(DEFAULT_TERMS),
        "consent_default_days": "30",
        "consent_max_days": "60",
        "max_unanswered_messages": "3",
        "quiet_hours.start": "",
        "quiet_hours.end": "",
        "time_zone": "UTC",
        **rules,
    }


def test_the_terms_page_saves_the_conversation_rules_with_the_rest(
    app: Flask, web: FlaskClient, ada: Account
) -> None:
    form = _terms_form(
        max_unanswered_messages="1",
        **{"quiet_hours.start": "21:30", "quiet_hours.end": "07:00"},
        time_zone="Europe/Paris",
    )
    response = web.post("/terms", data={**form, "csrf_token": csrf_from(web, "/terms")})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/terms?saved=1")
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        stored = TermsService(session, rt.keyring).of_person(uuid.UUID(ada.id))
        assert (stored.consent_default_days, stored.consent_max_days) == (30, 60)
        assert stored.max_unanswered == 1
        assert (stored.quiet_start, stored.quiet_end) == ("21:30", "07:00")
        assert stored.time_zone == "Europe/Paris"
    html = text_of(web.get("/terms?saved=1"))
    assert value_of(html, "max_unanswered_messages") == "1"
    assert value_of(html, "quiet_hours.start") == "21:30"
    assert value_of(html, "quiet_hours.end") == "07:00"
    assert value_of(html, "time_zone") == "Europe/Paris"

    # Both times emptied: no quiet hours any more.
    response = web.post("/terms", data={**_terms_form(), "csrf_token": csrf_from(web, "/terms")})
    assert response.status_code == 302
    with rt.sessions() as session:
        stored = TermsService(session, rt.keyring).of_person(uuid.UUID(ada.id))
        assert (stored.quiet_start, stored.quiet_end, stored.max_unanswered) == (None, None, 3)


@pytest.mark.parametrize(
    ("rules", "field_name", "message"),
    [
        ({"max_unanswered_messages": "0"}, "max_unanswered_messages", "Choose between 1 and 20"),
        ({"max_unanswered_messages": "21"}, "max_unanswered_messages", "Choose between 1 and 20"),
        ({"max_unanswered_messages": ""}, "max_unanswered_messages", "Give a number of messages"),
        ({"max_unanswered_messages": "three"}, "max_unanswered_messages", "Give a whole number"),
        (
            {"quiet_hours.start": "21:00"},
            "quiet_hours.end",
            "Give both times, or leave both empty for no quiet hours",
        ),
        (
            {"quiet_hours.end": "08:00"},
            "quiet_hours.start",
            "Give both times, or leave both empty for no quiet hours",
        ),
        (
            {"quiet_hours.start": "9pm", "quiet_hours.end": "08:00"},
            "quiet_hours.start",
            "Give a time as HH:MM",
        ),
        (
            {"quiet_hours.start": "21:00", "quiet_hours.end": "21:00"},
            "quiet_hours.end",
            "Quiet hours need an end after their start",
        ),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Give an IANA time zone"),
        ({"time_zone": ""}, "time_zone", "Give an IANA time zone"),
    ],
)
def test_the_terms_page_shows_rule_errors_next_to_their_field(
    app: Flask,
    web: FlaskClient,
    ada: Account,
    rules: dict[str, str],
    field_name: str,
    message: str,
) -> None:
    form = _terms_form(**rules)
    response = web.post("/terms", data={**form, "csrf_token": csrf_from(web, "/terms")})
    assert response.status_code == 422
    html = text_of(response)
    assert message in error_next_to(html, field_name)
    assert value_of(html, field_name) == form[field_name]  # what was typed comes back
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        stored = TermsService(session, rt.keyring).of_person(uuid.UUID(ada.id))
        assert stored.updated_at is None  # nothing saved
