"""The events feed: the same events webhooks send, oldest first, behind a cursor that
resumes exactly after the last event seen; only the caller's own events (and, for a token
a person issued, only that person's); never a test event."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account
from tests.consents.conftest import (
    REDIRECT_URI,
    VendorApi,
    csrf_of,
    granted,
    make_vendor,
    pkce_pair,
    query_of,
    web_login,
)
from tests.webhooks.conftest import WEBHOOK_SCOPES, Receiver, add_endpoint

EVENTS = "/vendor/v1/events"
PROBLEM_JSON = "application/problem+json"


# Helpers (test_api.py uses person_token too)


def person_token(
    app: Flask,
    client: FlaskClient,
    vendor: VendorApi,
    person: Account,
    scope: str = WEBHOOK_SCOPES,
) -> VendorApi:
    """The vendor holding an access token ``person`` issued through the authorization code
    flow (PKCE, the consent screen on Flask's test client). With ``profile:read`` in the
    scope the person consents to ``given_name``, which records a consent (consent.given)."""
    browser = app.test_client()
    web_login(browser, person.email)
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": vendor.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"/oauth/authorize?{urlencode(params)}"
    page = browser.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    answer = browser.post(
        url, data={"csrf_token": csrf_of(page), "decision": "approve", "fields": ["given_name"]}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    code = query_of(answer.headers["Location"])["code"]
    basic = base64.b64encode(f"{vendor.client_id}:{vendor.client_secret}".encode()).decode()
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.json
    return dataclasses.replace(vendor, token=token.json["access_token"])


def poll(vendor: VendorApi, **query: Any) -> TestResponse:
    return vendor.get(EVENTS, query_string=query)


def feed(vendor: VendorApi, **query: Any) -> dict[str, Any]:
    response = poll(vendor, **query)
    assert response.status_code == 200, response.json
    return response.json


def withdraw(client: FlaskClient, person: Account, consent_id: str) -> None:
    response = client.post(f"/personal/v1/consents/{consent_id}/withdraw", headers=person.auth)
    assert response.status_code == 200, response.json


def history(client: FlaskClient, vendor: VendorApi, ada: Account, bob: Account) -> list[tuple]:
    """Five consent events in a known order: what the feed must show, in that order."""
    vendor.accept()
    first = granted(client, ada, vendor, ["given_name"])
    withdraw(client, ada, first["id"])
    bobs = granted(client, bob, vendor, ["given_name"])
    second = granted(client, ada, vendor, ["given_name", "phone"])
    withdraw(client, bob, bobs["id"])
    return [
        ("consent.given", first["id"]),
        ("consent.withdrawn", first["id"]),
        ("consent.given", bobs["id"]),
        ("consent.given", second["id"]),
        ("consent.withdrawn", bobs["id"]),
    ]


def seen(events: list[dict[str, Any]]) -> list[tuple]:
    return [(e["type"], e["data"]["consent_id"]) for e in events]


def error_fields(response: TestResponse) -> list[str]:
    return [e["field"] for e in response.json.get("errors", [])]


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# Scope


def test_the_feed_needs_the_events_read_scope(client, hooks_vendor):
    hooks_vendor.new_token("webhooks:manage consents:request")
    response = poll(hooks_vendor)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM_JSON
    assert 'scope="events:read"' in response.headers["WWW-Authenticate"]
    assert client.get(EVENTS).status_code == 401

    hooks_vendor.new_token("events:read")
    assert poll(hooks_vendor).status_code == 200


# Order and the cursor


def test_events_come_oldest_first_in_the_order_they_happened(client, hooks_vendor, ada, bob):
    expected = history(client, hooks_vendor, ada, bob)
    page = feed(hooks_vendor)
    assert seen(page["data"]) == expected
    assert page["has_more"] is False
    assert [e["data"]["state"] for e in page["data"]] == [t.split(".")[1] for t, _ in expected]
    assert len({e["id"] for e in page["data"]}) == 5


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_paging_with_the_cursor_has_no_gaps_and_no_repeats(client, hooks_vendor, ada, bob, limit):
    expected = history(client, hooks_vendor, ada, bob)
    everything = feed(hooks_vendor)["data"]
    collected: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = feed(hooks_vendor, limit=limit, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(page["data"]) <= limit
        collected += page["data"]
        cursor = page["next_cursor"]
        assert page["has_more"] is (len(collected) < len(expected))
        if not page["has_more"]:
            break
        assert pages < 10, "the cursor does not advance"
    assert [e["id"] for e in collected] == [e["id"] for e in everything]
    assert seen(collected) == expected
    assert pages == -(-len(expected) // limit)
    # The last cursor resumes after the last event: nothing more, and the same position.
    after = feed(hooks_vendor, limit=limit, cursor=cursor)
    assert after == {"data": [], "next_cursor": cursor, "has_more": False}


def test_an_empty_feed_still_gives_a_cursor_to_poll_with(client, hooks_vendor, ada):
    first = feed(hooks_vendor)
    assert first["data"] == [] and first["has_more"] is False
    assert first["next_cursor"]
    # Polling an empty feed again keeps the position.
    assert feed(hooks_vendor, cursor=first["next_cursor"]) == first

    hooks_vendor.accept()
    consent = granted(client, ada, hooks_vendor, ["given_name"])
    later = feed(hooks_vendor, cursor=first["next_cursor"])
    assert seen(later["data"]) == [("consent.given", consent["id"])]


def test_new_events_after_a_poll_appear_on_the_next_poll_with_the_saved_cursor(
    client, hooks_vendor, ada, bob
):
    hooks_vendor.accept()
    first = granted(client, ada, hooks_vendor, ["given_name"])
    polled = feed(hooks_vendor)
    assert seen(polled["data"]) == [("consent.given", first["id"])]
    saved = polled["next_cursor"]

    nothing_new = feed(hooks_vendor, cursor=saved)
    assert nothing_new == {"data": [], "next_cursor": saved, "has_more": False}

    withdraw(client, ada, first["id"])
    second = granted(client, bob, hooks_vendor, ["given_name"])
    following = feed(hooks_vendor, cursor=saved)
    assert seen(following["data"]) == [
        ("consent.withdrawn", first["id"]),
        ("consent.given", second["id"]),
    ]
    assert following["next_cursor"] != saved
    assert feed(hooks_vendor, cursor=following["next_cursor"])["data"] == []


def test_the_types_filter_keeps_only_those_types_and_the_cursor_skips_past_the_rest(
    client, hooks_vendor, ada, bob
):
    expected = history(client, hooks_vendor, ada, bob)
    withdrawals = [e for e in expected if e[0] == "consent.withdrawn"]
    page = feed(hooks_vendor, types="consent.withdrawn")
    assert seen(page["data"]) == withdrawals
    # A filtered first page of one resumes after it, not after what the filter hid.
    one = feed(hooks_vendor, types="consent.withdrawn", limit=1)
    assert seen(one["data"]) == withdrawals[:1] and one["has_more"] is True
    rest = feed(hooks_vendor, types="consent.withdrawn", cursor=one["next_cursor"])
    assert seen(rest["data"]) == withdrawals[1:] and rest["has_more"] is False
    # Several types at once.
    both = hooks_vendor.get(
        f"{EVENTS}?types=consent.withdrawn&types=consent.given", query_string=None
    ).json
    assert seen(both["data"]) == expected
    assert feed(hooks_vendor, types="offer.accepted")["data"] == []


def test_an_unknown_type_is_refused_naming_types(hooks_vendor):
    response = poll(hooks_vendor, types="consent.gone")
    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert error_fields(response) == ["types"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        cursor_of({"after": -1}),
        cursor_of({"after": "3"}),
        cursor_of({"after": True}),
        cursor_of({"after": 1.5}),
        cursor_of({"before": 3}),
        cursor_of([3]),
        cursor_of(3),
        base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
        "x" * 201,
    ],
)
def test_a_bad_cursor_is_refused_naming_cursor(hooks_vendor, cursor):
    response = poll(hooks_vendor, cursor=cursor)
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM_JSON
    assert error_fields(response) == ["cursor"]


def test_a_cursor_beyond_any_position_is_refused_naming_cursor(hooks_vendor):
    response = poll(hooks_vendor, cursor=cursor_of({"after": 2**63}))
    assert response.status_code == 422
    assert error_fields(response) == ["cursor"]


def test_a_limit_outside_one_to_five_hundred_is_refused(hooks_vendor):
    for limit in (0, 501):
        response = poll(hooks_vendor, limit=limit)
        assert response.status_code == 422
        assert error_fields(response) == ["limit"]
    assert poll(hooks_vendor, limit=500).status_code == 200


# Whose events


def test_a_vendor_never_sees_another_vendors_events(app, client, hooks_vendor, ada, bob):
    globex = make_vendor(app, client, "Globex Market")
    globex.new_token(WEBHOOK_SCOPES)
    hooks_vendor.accept()
    globex.accept()
    acmes = granted(client, ada, hooks_vendor, ["given_name"])
    globexes = granted(client, ada, globex, ["phone"])
    granted(client, bob, globex, ["given_name"])

    acme_feed = feed(hooks_vendor)
    globex_feed = feed(globex)
    assert seen(acme_feed["data"]) == [("consent.given", acmes["id"])]
    assert [e["data"]["consent_id"] for e in globex_feed["data"]][0] == globexes["id"]
    assert len(globex_feed["data"]) == 2
    assert not {e["id"] for e in acme_feed["data"]} & {e["id"] for e in globex_feed["data"]}
    # Each vendor knows Ada by its own pseudonym only.
    assert (
        acme_feed["data"][0]["data"]["customer_ref"]
        != (globex_feed["data"][0]["data"]["customer_ref"])
    )
    # Another vendor's cursor does not open this vendor's events either.
    assert feed(hooks_vendor, cursor=globex_feed["next_cursor"])["data"] == []


def test_a_test_event_is_never_in_the_feed(client, hooks_vendor, receiver: Receiver, ada):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    sent = hooks_vendor.post(f"/vendor/v1/webhooks/{endpoint['id']}/test")
    assert sent.status_code == 202
    hooks_vendor.accept()
    consent = granted(client, ada, hooks_vendor, ["given_name"])
    sent_again = hooks_vendor.post(f"/vendor/v1/webhooks/{endpoint['id']}/test")
    assert sent_again.status_code == 202

    page = feed(hooks_vendor)
    assert seen(page["data"]) == [("consent.given", consent["id"])]
    assert feed(hooks_vendor, types="consent.given")["data"] == page["data"]
    assert feed(hooks_vendor, cursor=page["next_cursor"])["data"] == []
    # webhook.test is not a type the feed can be asked for.
    assert poll(hooks_vendor, types="webhook.test").status_code == 422


def test_a_token_a_person_issued_sees_only_that_persons_events(app, client, hooks_vendor, ada, bob):
    hooks_vendor.accept()
    bobs = granted(client, bob, hooks_vendor, ["given_name"])
    as_ada = person_token(app, client, hooks_vendor, ada)  # Ada consents on the screen
    withdraw(client, bob, bobs["id"])

    everything = feed(hooks_vendor)
    assert [e["type"] for e in everything["data"]] == [
        "consent.given",
        "consent.given",
        "consent.withdrawn",
    ]
    adas = everything["data"][1]
    assert adas["data"]["origin"] == "oauth"

    mine = feed(as_ada)
    assert mine["data"] == [adas]
    assert feed(as_ada, cursor=mine["next_cursor"])["data"] == []
    # Even with a cursor from before Bob's events, Ada's token gets none of them.
    assert feed(as_ada, cursor=cursor_of({"after": 0}))["data"] == [adas]


# The feed and webhooks tell the same story


def test_feed_event_ids_are_the_webhook_ids_of_their_deliveries(
    client, hooks_vendor, receiver: Receiver, dispatcher_for, ada
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    hooks_vendor.accept()
    consent = granted(client, ada, hooks_vendor, ["given_name"])
    withdraw(client, ada, consent["id"])

    assert dispatcher_for().deliver_due() == 2
    received = receiver.wait_for(2)
    events = feed(hooks_vendor)["data"]
    by_id = {r.headers["webhook-id"]: r.event for r in received}
    assert set(by_id) == {e["id"] for e in events}
    for event in events:
        assert by_id[event["id"]] == event  # the same body, the same id
    logged = hooks_vendor.get(f"/vendor/v1/webhooks/{endpoint['id']}/deliveries").json["data"]
    assert {d["event_id"] for d in logged} == set(by_id)
    assert {(d["event_id"], d["event_type"]) for d in logged} == {
        (e["id"], e["type"]) for e in events
    }
