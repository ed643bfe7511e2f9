"""Nobody reads or writes a conversation that is not theirs: another person, another
vendor, a token without the conversation scopes, a token one person issued reaching for
another person's conversation. Not found looks the same as not theirs."""

from __future__ import annotations

import uuid

import pytest

from tests.conversations.conftest import count, opened_by_person, problem_of, ref
from tests.vendor_api.conftest import REDIRECT_URI, Browser, VendorCreds, authorize, exchange
from vrm.conversations.models import Message


def issued_by(live_server: str, shop, person) -> str:
    """An access token the person issued the vendor through the authorization-code flow."""
    assert shop.api is not None
    creds = VendorCreds(shop.id, shop.api.client_id, shop.api.client_secret, REDIRECT_URI, "Acme")
    browser = Browser(live_server)
    try:
        scope = "conversations:read conversations:write"
        tokens = exchange(
            live_server, creds, authorize(live_server, browser, creds, person, scope=scope)
        )
    finally:
        browser.close()
    return tokens["access_token"]


def person_attempts(person, conversation_id: str):
    base = f"/personal/v1/conversations/{conversation_id}"
    return {
        "get": person.get(base),
        "messages": person.get(f"{base}/messages"),
        "post": person.post(f"{base}/messages", json={"text": "Not mine"}),
        "read": person.post(f"{base}/read"),
        "close": person.post(f"{base}/close"),
    }


def vendor_attempts(vendor, conversation_id: str):
    base = f"/vendor/v1/conversations/{conversation_id}"
    return {
        "get": vendor.get(base),
        "messages": vendor.get(f"{base}/messages"),
        "post": vendor.post(f"{base}/messages", json={"text": "Not mine"}),
    }


def test_another_person_finds_nothing_of_a_conversation_and_changes_nothing(
    app, person, other, shop, talk
):
    shop.said(talk["id"], "For Ada only")
    for what, response in person_attempts(other, talk["id"]).items():
        problem_of(response, 404, "not-found")
        assert "For Ada only" not in response.text, what
    assert other.conversations() == []

    mine = person.conversation(talk["id"])
    assert (mine["state"], mine["message_count"], mine["unread"]) == ("open", 2, 1)
    assert count(app, Message) == 2


def test_another_vendor_finds_nothing_of_a_conversation_and_cannot_write_in_it(
    app, person, shop, rival, talk
):
    # Even a vendor the person also deals with.
    opened_by_person(app, person, rival)
    for what, response in vendor_attempts(rival, talk["id"]).items():
        problem_of(response, 404, "not-found")
        assert "on its way" not in response.text, what
    assert talk["id"] not in [c["id"] for c in rival.conversations()]
    assert count(app, Message) == 2
    assert [e["data"]["text"] for e in rival.events("message.created")] == [
        "Hello, is my order on its way?"
    ]
    assert len(shop.events("message.created")) == 1


def test_a_conversation_that_does_not_exist_is_not_found_on_either_side(person, shop):
    missing = str(uuid.uuid4())
    for response in [
        *person_attempts(person, missing).values(),
        *vendor_attempts(shop, missing).values(),
    ]:
        problem_of(response, 404, "not-found")


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        ("events:read profile:read", set()),
        ("conversations:read", {"list", "get", "messages"}),
        ("conversations:write", {"post"}),
        ("conversations:read conversations:write", {"list", "get", "messages", "post"}),
    ],
)
def test_a_vendor_token_reads_and_writes_conversations_only_with_those_scopes(
    app, person, shop, talk, scope, allowed
):
    limited = shop.with_scope(scope)
    base = f"/vendor/v1/conversations/{talk['id']}"
    responses = {
        "list": limited.get("/vendor/v1/conversations"),
        **vendor_attempts(limited, talk["id"]),
    }
    needed = {"list": "conversations:read", "get": "conversations:read"}
    needed |= {"messages": "conversations:read", "post": "conversations:write"}
    for what, response in responses.items():
        if what in allowed:
            assert response.status_code in (200, 201), (what, response.text)
        else:
            body = problem_of(response, 403, "insufficient-scope")
            assert body["error"] == "insufficient_scope"
            challenge = response.headers["WWW-Authenticate"]
            assert f'scope="{needed[what]}"' in challenge, (what, challenge)
    written = 1 + ("post" in allowed)
    assert count(app, Message) == written
    assert len(shop.get(f"{base}/messages").json()["data"]) == written


def test_without_a_token_neither_side_gets_in(http, talk):
    base = talk["id"]
    for path in (
        "/personal/v1/conversations",
        f"/personal/v1/conversations/{base}",
        f"/personal/v1/conversations/{base}/messages",
        "/vendor/v1/conversations",
        f"/vendor/v1/conversations/{base}/messages",
    ):
        for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
            response = http.get(path, headers=headers)
            assert response.status_code == 401, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")


def test_a_person_token_cannot_call_the_vendor_api_nor_a_vendor_token_the_personal_one(
    person, shop, talk
):
    as_vendor = shop.get("/personal/v1/conversations")
    as_person = person.get(f"/vendor/v1/conversations/{talk['id']}/messages")
    assert as_vendor.status_code == 401, as_vendor.text
    assert as_person.status_code == 401, as_person.text


def test_a_token_one_person_issued_reaches_only_that_persons_conversations(
    app, live_server, person, other, shop
):
    adas = opened_by_person(app, person, shop, "Ada's question")
    bobs = opened_by_person(app, other, shop, "Bob's question")
    token = issued_by(live_server, shop, other)
    as_bob = type(shop)(shop.http, token, None, shop.id, shop.name)

    listed = as_bob.conversations()
    assert [c["id"] for c in listed] == [bobs["id"]]
    assert listed[0]["customer_ref"] == ref(app, shop, other)
    for what, response in vendor_attempts(as_bob, adas["id"]).items():
        problem_of(response, 404, "not-found")
        assert "Ada's question" not in response.text, what
    assert as_bob.say(bobs["id"], "Hello Bob").status_code == 201
    assert [m["text"] for m in as_bob.messages(bobs["id"])][0] == "Hello Bob"
    # The vendor's own client-credentials token still sees both.
    assert {c["id"] for c in shop.conversations()} == {adas["id"], bobs["id"]}


def test_a_token_one_person_issued_cannot_replay_a_message_it_could_not_send(
    app, live_server, person, other, shop
):
    adas = opened_by_person(app, person, shop, "Ada's question")
    path = f"/vendor/v1/conversations/{adas['id']}/messages"
    body = {"text": "For Ada only"}
    first = shop.http.post(path, json=body, headers=shop.headers({"Idempotency-Key": "k1"}))
    assert first.status_code == 201, first.text
    token = issued_by(live_server, shop, other)

    replay = shop.http.post(
        path,
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"},
    )

    problem_of(replay, 404, "not-found")
    assert "For Ada only" not in replay.text
