"""The vendor's webhook endpoints over the API: create (the secret shown once), list, read,
change, delete; validation as problem+json; who may reach them; the test event, the
delivery log and replays; and which events an endpoint gets."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.consents.conftest import VendorApi, granted, make_vendor
from tests.webhooks.conftest import WEBHOOK_SCOPES, add_endpoint
from tests.webhooks.test_feed import person_token
from vrm import clock
from vrm.events.models import Delivery, DeliveryAttempt
from vrm.events.types import EVENT_TYPES

WEBHOOKS = "/vendor/v1/webhooks"
PROBLEM_JSON = "application/problem+json"
HOOK = "https://hooks.example.com/vrm"


def patch(vendor: VendorApi, endpoint_id: str, **body: Any) -> TestResponse:
    return vendor.client.patch(f"{WEBHOOKS}/{endpoint_id}", json=body, headers=vendor.auth)


def delete(vendor: VendorApi, endpoint_id: str) -> TestResponse:
    return vendor.client.delete(f"{WEBHOOKS}/{endpoint_id}", headers=vendor.auth)


def listed(vendor: VendorApi, **query: Any) -> dict[str, Any]:
    response = vendor.get(WEBHOOKS, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def deliveries(vendor: VendorApi, endpoint_id: str, **query: Any) -> list[dict[str, Any]]:
    response = vendor.get(f"{WEBHOOKS}/{endpoint_id}/deliveries", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["data"]


def send_test(vendor: VendorApi, endpoint_id: str) -> TestResponse:
    return vendor.post(f"{WEBHOOKS}/{endpoint_id}/test")


def refused(response: TestResponse, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is a problem document with ``status`` naming ``field``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    problem = response.json
    assert problem["status"] == status and problem["type"].startswith("urn:vrm:problem:")
    if field is not None:
        assert [e["field"] for e in problem["errors"]] == [field], problem
    return problem


def count(app: Flask, model: Any, **where: Any) -> int:
    with app.extensions["vrm"].sessions() as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return session.scalar(stmt)


def withdraw(client: FlaskClient, person: Any, consent_id: str) -> None:
    response = client.post(f"/personal/v1/consents/{consent_id}/withdraw", headers=person.auth)
    assert response.status_code == 200, response.json


@pytest.fixture
def globex(app: Flask, client: FlaskClient) -> VendorApi:
    vendor = make_vendor(app, client, "Globex Market")
    vendor.new_token(WEBHOOK_SCOPES)
    return vendor


# Create, read, list


def test_creating_an_endpoint_shows_its_secret_once(hooks_vendor):
    response = hooks_vendor.post(
        WEBHOOKS,
        json={
            "url": HOOK,
            "event_types": ["consent.withdrawn", "consent.given", "consent.withdrawn"],
            "description": "Production",
        },
    )
    assert response.status_code == 201, response.json
    made = response.json
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(secret) > len("whsec_") + 20
    assert made["url"] == HOOK
    assert made["event_types"] == ["consent.given", "consent.withdrawn"]
    assert made["description"] == "Production"
    assert made["enabled"] is True
    assert made["disabled_reason"] is None and made["previous_secret_expires_at"] is None
    uuid.UUID(made["id"])

    got = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}")
    assert got.status_code == 200
    assert "secret" not in got.json
    assert got.json == {k: v for k, v in made.items() if k != "secret"}
    page = hooks_vendor.get(WEBHOOKS)
    assert [e["id"] for e in page.json["data"]] == [made["id"]]
    assert "secret" not in page.json["data"][0]
    for text in (got.get_data(as_text=True), page.get_data(as_text=True)):
        assert secret not in text and secret.removeprefix("whsec_") not in text


def test_an_endpoint_without_event_types_gets_every_type(hooks_vendor):
    made = add_endpoint(hooks_vendor, HOOK)
    assert made["event_types"] == [] and made["description"] is None


def test_each_endpoint_has_its_own_secret(hooks_vendor):
    first = add_endpoint(hooks_vendor, HOOK)
    second = add_endpoint(hooks_vendor, HOOK)
    assert first["id"] != second["id"] and first["secret"] != second["secret"]


def test_the_list_is_newest_first_and_pages_with_the_cursor(hooks_vendor, frozen_clock):
    made = []
    for n in range(5):
        frozen_clock[0] += timedelta(seconds=1)
        made.append(add_endpoint(hooks_vendor, f"{HOOK}/{n}")["id"])
    newest_first = list(reversed(made))

    first = listed(hooks_vendor, limit=2)
    assert [e["id"] for e in first["data"]] == newest_first[:2]
    second = listed(hooks_vendor, limit=2, cursor=first["next_cursor"])
    assert [e["id"] for e in second["data"]] == newest_first[2:4]
    last = listed(hooks_vendor, limit=2, cursor=second["next_cursor"])
    assert [e["id"] for e in last["data"]] == newest_first[4:]
    assert last["next_cursor"] is None
    assert [e["id"] for e in listed(hooks_vendor)["data"]] == newest_first


def test_endpoints_made_in_the_same_instant_page_without_gaps_or_repeats(
    hooks_vendor, frozen_clock
):
    made = {add_endpoint(hooks_vendor, HOOK)["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = listed(hooks_vendor, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [e["id"] for e in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == 5 and set(seen) == made


def test_a_bad_list_cursor_or_limit_is_refused(hooks_vendor):
    refused(hooks_vendor.get(WEBHOOKS, query_string={"cursor": "nope"}), 422, "cursor")
    refused(hooks_vendor.get(WEBHOOKS, query_string={"limit": 0}), 422, "limit")


def test_an_unknown_endpoint_is_404(hooks_vendor):
    refused(hooks_vendor.get(f"{WEBHOOKS}/{uuid.uuid4()}"), 404)
    assert hooks_vendor.get(f"{WEBHOOKS}/not-a-uuid").status_code == 404


# Change


def test_patch_changes_url_types_and_description_one_at_a_time(hooks_vendor, frozen_clock):
    made = add_endpoint(hooks_vendor, HOOK, event_types=["consent.given"], description="Old")
    frozen_clock[0] += timedelta(minutes=1)

    moved = patch(hooks_vendor, made["id"], url="https://other.example.org/hooks")
    assert moved.status_code == 200, moved.json
    assert moved.json["url"] == "https://other.example.org/hooks"
    assert moved.json["event_types"] == ["consent.given"]
    assert moved.json["description"] == "Old"
    assert moved.json["updated_at"] > made["updated_at"]
    assert moved.json["created_at"] == made["created_at"]
    assert "secret" not in moved.json

    retyped = patch(hooks_vendor, made["id"], event_types=["offer.accepted", "consent.expired"])
    assert retyped.json["event_types"] == ["consent.expired", "offer.accepted"]
    assert retyped.json["url"] == "https://other.example.org/hooks"
    assert patch(hooks_vendor, made["id"], event_types=[]).json["event_types"] == []

    described = patch(hooks_vendor, made["id"], description="New")
    assert described.json["description"] == "New"
    assert patch(hooks_vendor, made["id"], description=None).json["description"] is None

    got = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}").json
    assert (got["url"], got["event_types"], got["description"]) == (
        "https://other.example.org/hooks",
        [],
        None,
    )


def test_disabling_and_enabling_an_endpoint(hooks_vendor, frozen_clock):
    made = add_endpoint(hooks_vendor, HOOK)
    off = patch(hooks_vendor, made["id"], enabled=False)
    assert off.status_code == 200
    assert off.json["enabled"] is False
    assert off.json["disabled_reason"] == "Disabled by you"
    assert off.json["disabled_at"] is not None
    assert hooks_vendor.get(f"{WEBHOOKS}/{made['id']}").json["enabled"] is False

    on = patch(hooks_vendor, made["id"], enabled=True)
    assert on.json["enabled"] is True
    assert on.json["disabled_reason"] is None and on.json["disabled_at"] is None


def test_patch_validates_like_create(hooks_vendor):
    made = add_endpoint(hooks_vendor, HOOK, description="Kept")
    refused(patch(hooks_vendor, made["id"], url="http://hooks.example.com/"), 422, "url")
    refused(patch(hooks_vendor, made["id"], event_types=["consent.lost"]), 422, "event_types")
    refused(patch(hooks_vendor, made["id"], description="x" * 501), 422, "description")
    refused(patch(hooks_vendor, made["id"], enabled="maybe"), 422, "enabled")
    refused(patch(hooks_vendor, made["id"], secret="whsec_mine"), 422, "secret")
    got = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}").json
    assert (got["url"], got["event_types"], got["description"]) == (HOOK, [], "Kept")


# Delete


def test_deleting_an_endpoint_removes_it_and_its_deliveries(app, hooks_vendor, receiver):
    made = add_endpoint(hooks_vendor, receiver.url())
    kept = add_endpoint(hooks_vendor, receiver.url("/kept"))
    assert send_test(hooks_vendor, made["id"]).status_code == 202
    assert send_test(hooks_vendor, kept["id"]).status_code == 202
    assert count(app, Delivery, endpoint_id=uuid.UUID(made["id"])) == 1

    response = delete(hooks_vendor, made["id"])
    assert response.status_code == 204 and response.get_data() == b""
    refused(hooks_vendor.get(f"{WEBHOOKS}/{made['id']}"), 404)
    refused(hooks_vendor.get(f"{WEBHOOKS}/{made['id']}/deliveries"), 404)
    refused(delete(hooks_vendor, made["id"]), 404)
    assert count(app, Delivery, endpoint_id=uuid.UUID(made["id"])) == 0
    assert [e["id"] for e in listed(hooks_vendor)["data"]] == [kept["id"]]
    assert len(deliveries(hooks_vendor, kept["id"])) == 1


def test_a_deleted_endpoints_deliveries_are_never_sent(hooks_vendor, receiver, dispatcher_for):
    made = add_endpoint(hooks_vendor, receiver.url())
    send_test(hooks_vendor, made["id"])
    delete(hooks_vendor, made["id"])
    assert dispatcher_for().deliver_due() == 0
    assert receiver.to() == []


# Validation


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hooks.example.com/vrm",
        "ftp://hooks.example.com/vrm",
        "https://",
        "http://hooks.example.com/vrm",
        "https://user:pass@hooks.example.com/vrm",
        "https://hooks.example.com/vrm#top",
        "https://hooks.example.com:99999/vrm",
        "https://" + "a" * 2000 + ".example.com/",
    ],
)
def test_a_bad_url_is_refused_naming_url(hooks_vendor, url):
    refused(hooks_vendor.post(WEBHOOKS, json={"url": url}), 422, "url")
    assert listed(hooks_vendor)["data"] == []


def test_a_missing_url_is_refused_naming_url(hooks_vendor):
    refused(hooks_vendor.post(WEBHOOKS, json={}), 422, "url")


def test_an_unknown_event_type_is_refused_naming_event_types(hooks_vendor):
    body = {"url": HOOK, "event_types": ["consent.given", "consent.gone"]}
    problem = refused(hooks_vendor.post(WEBHOOKS, json=body), 422, "event_types")
    assert "consent.gone" in problem["detail"]
    # A test event is not one an endpoint can subscribe to.
    body = {"url": HOOK, "event_types": ["webhook.test"]}
    refused(hooks_vendor.post(WEBHOOKS, json=body), 422, "event_types")
    assert listed(hooks_vendor)["data"] == []


def test_every_event_type_may_be_chosen(hooks_vendor):
    made = add_endpoint(hooks_vendor, HOOK, event_types=list(EVENT_TYPES))
    assert made["event_types"] == sorted(EVENT_TYPES)


def test_a_description_over_500_characters_is_refused_naming_description(hooks_vendor):
    body = {"url": HOOK, "description": "x" * 501}
    refused(hooks_vendor.post(WEBHOOKS, json=body), 422, "description")
    assert add_endpoint(hooks_vendor, HOOK, description="x" * 500)["description"] == "x" * 500


def test_a_vendor_has_at_most_twenty_endpoints(hooks_vendor, globex):
    for n in range(20):
        add_endpoint(hooks_vendor, f"{HOOK}/{n}")
    problem = refused(hooks_vendor.post(WEBHOOKS, json={"url": HOOK}), 422, "url")
    assert "20" in problem["detail"]
    assert len(listed(hooks_vendor, limit=100)["data"]) == 20
    # Another vendor's count is its own.
    add_endpoint(globex, HOOK)
    # Deleting one makes room for one.
    delete(hooks_vendor, listed(hooks_vendor)["data"][0]["id"])
    add_endpoint(hooks_vendor, HOOK)


# Who may reach an endpoint


@pytest.fixture
def targets(hooks_vendor, receiver, dispatcher_for) -> dict[str, str]:
    """Acme's endpoint with a delivered test event."""
    made = add_endpoint(hooks_vendor, receiver.url())
    delivery = send_test(hooks_vendor, made["id"]).json
    dispatcher_for().deliver_due()
    return {"endpoint": made["id"], "delivery": delivery["id"]}


def endpoint_calls(endpoint: str, delivery: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{WEBHOOKS}/{endpoint}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"description": "Taken over"}),
        ("POST", f"{base}/rotate-secret", None),
        ("POST", f"{base}/test", None),
        ("GET", f"{base}/deliveries", None),
        ("GET", f"{base}/deliveries/{delivery}", None),
        ("POST", f"{base}/deliveries/{delivery}/replay", None),
        ("POST", f"{base}/replay", {"since": (clock.now() - timedelta(hours=1)).isoformat()}),
        ("DELETE", base, None),
    ]


def call(vendor: VendorApi, method: str, path: str, body: Any = None) -> TestResponse:
    return vendor.client.open(path, method=method, json=body, headers=vendor.auth)


def test_another_vendor_gets_404_on_every_endpoint_route(app, hooks_vendor, globex, targets):
    before = hooks_vendor.get(f"{WEBHOOKS}/{targets['endpoint']}").json
    sent = count(app, Delivery)
    for method, path, body in endpoint_calls(targets["endpoint"], targets["delivery"]):
        response = call(globex, method, path, body)
        refused(response, 404)
        assert targets["endpoint"] not in response.get_data(as_text=True)
    assert listed(globex)["data"] == []
    # Nothing changed for the owner: same endpoint, same secret, no new deliveries.
    assert hooks_vendor.get(f"{WEBHOOKS}/{targets['endpoint']}").json == before
    assert count(app, Delivery) == sent


def test_the_owner_reaches_every_endpoint_route(hooks_vendor, targets):
    expected = {"GET": 200, "PATCH": 200, "POST": 200, "DELETE": 204}
    for method, path, body in endpoint_calls(targets["endpoint"], targets["delivery"]):
        response = call(hooks_vendor, method, path, body)
        wanted = 202 if path.endswith(("/test", "/replay")) else expected[method]
        assert response.status_code == wanted, (method, path, response.json)


def test_a_delivery_of_another_endpoint_is_404_even_to_its_owner(hooks_vendor, targets):
    other = add_endpoint(hooks_vendor, HOOK)
    base = f"{WEBHOOKS}/{other['id']}/deliveries/{targets['delivery']}"
    refused(hooks_vendor.get(base), 404)
    refused(hooks_vendor.post(f"{base}/replay"), 404)
    refused(hooks_vendor.get(f"{WEBHOOKS}/{targets['endpoint']}/deliveries/{uuid.uuid4()}"), 404)


def test_a_token_without_webhooks_manage_gets_403(hooks_vendor, targets):
    hooks_vendor.new_token("events:read consents:request")
    calls = [("GET", WEBHOOKS, None), ("POST", WEBHOOKS, {"url": HOOK})]
    for method, path, body in calls + endpoint_calls(targets["endpoint"], targets["delivery"]):
        response = call(hooks_vendor, method, path, body)
        problem = refused(response, 403)
        assert problem["error"] == "insufficient_scope"
        assert 'scope="webhooks:manage"' in response.headers["WWW-Authenticate"]


def test_no_token_gets_401(client, targets):
    calls = [("GET", WEBHOOKS, None), ("POST", WEBHOOKS, {"url": HOOK})]
    for method, path, body in calls + endpoint_calls(targets["endpoint"], targets["delivery"]):
        response = client.open(path, method=method, json=body)
        refused(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.get(WEBHOOKS, headers={"Authorization": "Bearer not-a-token"})
    refused(bad, 401)


def test_a_token_a_person_issued_cannot_manage_webhooks(app, client, hooks_vendor, ada, targets):
    as_ada = person_token(app, client, hooks_vendor, ada, scope="webhooks:manage events:read")
    refused(as_ada.get(WEBHOOKS), 403)
    refused(as_ada.post(WEBHOOKS, json={"url": HOOK}), 403)
    for method, path, body in endpoint_calls(targets["endpoint"], targets["delivery"]):
        refused(call(as_ada, method, path, body), 403)
    assert [e["id"] for e in listed(hooks_vendor)["data"]] == [targets["endpoint"]]
    # The same token still reads the feed (its own person's events).
    assert as_ada.get("/vendor/v1/events").status_code == 200


# Idempotency


def test_an_idempotency_key_makes_one_endpoint_however_often_it_is_sent(app, hooks_vendor):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    headers = {**hooks_vendor.auth, **key}
    body = {"url": HOOK, "description": "Once"}
    first = hooks_vendor.client.post(WEBHOOKS, json=body, headers=headers)
    again = hooks_vendor.client.post(WEBHOOKS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json  # the first response, secret and all
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [e["id"] for e in listed(hooks_vendor)["data"]] == [first.json["id"]]

    other = hooks_vendor.client.post(
        WEBHOOKS, json=body, headers={**hooks_vendor.auth, "Idempotency-Key": "another"}
    )
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    assert len(listed(hooks_vendor)["data"]) == 2


def test_an_idempotency_key_reused_for_another_body_is_refused(hooks_vendor):
    headers = {**hooks_vendor.auth, "Idempotency-Key": "k1"}
    hooks_vendor.client.post(WEBHOOKS, json={"url": HOOK}, headers=headers)
    other = hooks_vendor.client.post(WEBHOOKS, json={"url": f"{HOOK}/2"}, headers=headers)
    assert other.status_code == 409
    assert len(listed(hooks_vendor)["data"]) == 1


def test_a_refused_create_does_not_use_up_its_idempotency_key(hooks_vendor):
    headers = {**hooks_vendor.auth, "Idempotency-Key": "k2"}
    body = {"url": HOOK, "description": "x" * 501}
    refused(hooks_vendor.client.post(WEBHOOKS, json=body, headers=headers), 422, "description")
    refused(hooks_vendor.client.post(WEBHOOKS, json=body, headers=headers), 422, "description")


# The test event, the delivery log, replays


def test_the_test_event_queues_a_pending_delivery(hooks_vendor):
    made = add_endpoint(hooks_vendor, HOOK)
    response = send_test(hooks_vendor, made["id"])
    assert response.status_code == 202, response.json
    delivery = response.json
    assert delivery["event_type"] == "webhook.test"
    assert delivery["state"] == "pending"
    assert delivery["attempt_count"] == 0 and delivery["attempts"] == []
    assert delivery["next_attempt_at"] is not None
    assert delivery["replay_of"] is None and delivery["delivered_at"] is None
    assert deliveries(hooks_vendor, made["id"]) == [delivery]


def test_the_test_event_goes_to_that_endpoint_alone(hooks_vendor, receiver, dispatcher_for):
    tested = add_endpoint(hooks_vendor, receiver.url("/tested"))
    other = add_endpoint(hooks_vendor, receiver.url("/other"))
    send_test(hooks_vendor, tested["id"])
    assert dispatcher_for().deliver_due() == 1
    [request] = receiver.wait_for(1)
    assert request.path == "/tested"
    assert request.event["type"] == "webhook.test"
    assert request.event["data"]["endpoint_id"] == tested["id"]
    assert deliveries(hooks_vendor, other["id"]) == []


def test_a_disabled_endpoint_cannot_be_tested(app, hooks_vendor):
    made = add_endpoint(hooks_vendor, HOOK)
    patch(hooks_vendor, made["id"], enabled=False)
    refused(send_test(hooks_vendor, made["id"]), 409)
    assert count(app, Delivery) == 0


def test_a_delivery_waits_while_its_endpoint_is_disabled_and_resumes_when_enabled(
    hooks_vendor, receiver, dispatcher_for
):
    made = add_endpoint(hooks_vendor, receiver.url())
    delivery = send_test(hooks_vendor, made["id"]).json
    patch(hooks_vendor, made["id"], enabled=False)
    dispatcher = dispatcher_for()
    assert dispatcher.deliver_due() == 0
    assert receiver.to() == []
    patch(hooks_vendor, made["id"], enabled=True)
    assert dispatcher.deliver_due() == 1
    [request] = receiver.wait_for(1)
    assert request.headers["webhook-id"] == delivery["event_id"]


def test_a_pending_delivery_cannot_be_replayed(app, hooks_vendor):
    made = add_endpoint(hooks_vendor, HOOK)
    delivery = send_test(hooks_vendor, made["id"]).json
    path = f"{WEBHOOKS}/{made['id']}/deliveries/{delivery['id']}/replay"
    refused(hooks_vendor.post(path), 409)
    assert count(app, Delivery) == 1


def test_a_delivered_event_is_replayed_with_the_same_webhook_id(
    hooks_vendor, receiver, dispatcher_for
):
    made = add_endpoint(hooks_vendor, receiver.url())
    delivery = send_test(hooks_vendor, made["id"]).json
    dispatcher_for().deliver_due()
    path = f"{WEBHOOKS}/{made['id']}/deliveries/{delivery['id']}/replay"
    replay = hooks_vendor.post(path)
    assert replay.status_code == 202, replay.json
    assert replay.json["replay_of"] == delivery["id"]
    assert replay.json["event_id"] == delivery["event_id"]
    assert replay.json["state"] == "pending" and replay.json["id"] != delivery["id"]
    assert dispatcher_for().deliver_due() == 1
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["event_id"]
    assert first.body == second.body


def test_replay_since_refuses_the_future_and_times_beyond_retention(hooks_vendor, frozen_clock):
    made = add_endpoint(hooks_vendor, HOOK)
    path = f"{WEBHOOKS}/{made['id']}/replay"
    now = frozen_clock[0]
    for since in (now + timedelta(seconds=1), now - timedelta(days=30, seconds=1)):
        problem = refused(hooks_vendor.post(path, json={"since": since.isoformat()}), 422, "since")
        assert problem["detail"]
    refused(hooks_vendor.post(path, json={"since": "2026-11-23T11:00:00"}), 422, "since")
    refused(hooks_vendor.post(path, json={}), 422, "since")
    inside = hooks_vendor.post(path, json={"since": (now - timedelta(days=29)).isoformat()})
    assert inside.status_code == 202 and inside.json == {"replayed": 0}


def test_replay_since_queues_every_event_the_endpoint_takes_from_that_time(
    client, hooks_vendor, frozen_clock, ada, bob
):
    made = add_endpoint(hooks_vendor, HOOK, event_types=["consent.given"])
    hooks_vendor.accept()
    granted(client, ada, hooks_vendor, ["given_name"])
    frozen_clock[0] += timedelta(minutes=10)
    since = frozen_clock[0]
    later = granted(client, bob, hooks_vendor, ["given_name"])
    withdraw(client, bob, later["id"])  # a type this endpoint does not take
    send_test(hooks_vendor, made["id"])  # a test event is never replayed
    frozen_clock[0] += timedelta(minutes=10)

    response = hooks_vendor.post(
        f"{WEBHOOKS}/{made['id']}/replay", json={"since": since.isoformat()}
    )
    assert response.status_code == 202 and response.json == {"replayed": 1}
    listed_now = deliveries(hooks_vendor, made["id"], limit=100)
    replays = [d for d in listed_now if d["created_at"] == frozen_clock[0].isoformat()]
    assert [d["event_type"] for d in replays] == ["consent.given"]


def test_the_delivery_log_filters_by_state_and_shows_every_attempt(
    hooks_vendor, receiver, dispatcher_for, frozen_clock
):
    answers = iter([500, 200, 200])
    receiver.script = lambda _request: next(answers)
    made = add_endpoint(hooks_vendor, receiver.url())
    first = send_test(hooks_vendor, made["id"]).json
    dispatcher = dispatcher_for()
    assert dispatcher.deliver_due() == 1  # answered 500: retried later
    failed = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}/deliveries/{first['id']}").json
    assert failed["state"] == "pending"
    assert failed["attempt_count"] == 1 and failed["last_status_code"] == 500
    assert failed["next_attempt_at"] > frozen_clock[0].isoformat()

    frozen_clock[0] += timedelta(minutes=1)
    assert dispatcher.deliver_due() == 1  # the retry succeeds
    frozen_clock[0] += timedelta(minutes=1)
    second = send_test(hooks_vendor, made["id"]).json

    [succeeded] = deliveries(hooks_vendor, made["id"], state="succeeded")
    assert succeeded["id"] == first["id"]
    assert succeeded["attempt_count"] == 2
    assert [a["number"] for a in succeeded["attempts"]] == [1, 2]
    assert [a["status_code"] for a in succeeded["attempts"]] == [500, 200]
    assert all(a["error"] is None and a["duration_ms"] >= 0 for a in succeeded["attempts"])
    assert succeeded["attempts"][0]["started_at"] < succeeded["attempts"][1]["started_at"]
    assert succeeded["last_status_code"] == 200 and succeeded["delivered_at"]
    assert succeeded["next_attempt_at"] is None

    [pending] = deliveries(hooks_vendor, made["id"], state="pending")
    assert pending["id"] == second["id"] and pending["attempts"] == []
    assert deliveries(hooks_vendor, made["id"], state="dead") == []
    assert [d["id"] for d in deliveries(hooks_vendor, made["id"])] == [second["id"], first["id"]]
    refused(
        hooks_vendor.get(f"{WEBHOOKS}/{made['id']}/deliveries", query_string={"state": "lost"}),
        422,
        "state",
    )
    assert [r.status for r in receiver.to()] == [500, 200]


def test_an_unreachable_endpoint_records_the_error(hooks_vendor, dispatcher_for):
    made = add_endpoint(hooks_vendor, "http://127.0.0.1:9/closed")
    delivery = send_test(hooks_vendor, made["id"]).json
    dispatcher_for().deliver_due()
    got = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}/deliveries/{delivery['id']}").json
    assert got["state"] == "pending"
    assert got["last_status_code"] is None and got["last_error"] == "connection failed"
    assert got["attempts"][0]["error"] == "connection failed"


# Which events an endpoint gets


def test_an_endpoint_gets_only_the_event_types_it_subscribed_to(
    app, client, hooks_vendor, receiver, dispatcher_for, ada
):
    withdrawals = add_endpoint(hooks_vendor, receiver.url("/w"), event_types=["consent.withdrawn"])
    everything = add_endpoint(hooks_vendor, receiver.url("/all"))
    hooks_vendor.accept()
    consent = granted(client, ada, hooks_vendor, ["given_name"])
    assert deliveries(hooks_vendor, withdrawals["id"]) == []
    assert [d["event_type"] for d in deliveries(hooks_vendor, everything["id"])] == [
        "consent.given"
    ]
    withdraw(client, ada, consent["id"])
    [only] = deliveries(hooks_vendor, withdrawals["id"])
    assert only["event_type"] == "consent.withdrawn"

    assert dispatcher_for().deliver_due() == 3
    receiver.wait_for(3)
    assert [r.event["type"] for r in receiver.to("/w")] == ["consent.withdrawn"]
    assert sorted(r.event["type"] for r in receiver.to("/all")) == [
        "consent.given",
        "consent.withdrawn",
    ]
    assert receiver.to("/w")[0].event["data"]["consent_id"] == consent["id"]


def test_changing_event_types_applies_to_the_next_event(client, hooks_vendor, ada):
    made = add_endpoint(hooks_vendor, HOOK, event_types=["consent.withdrawn"])
    hooks_vendor.accept()
    granted(client, ada, hooks_vendor, ["given_name"])
    patch(hooks_vendor, made["id"], event_types=["consent.given"])
    granted(client, ada, hooks_vendor, ["phone"])
    assert [d["event_type"] for d in deliveries(hooks_vendor, made["id"])] == ["consent.given"]


def test_a_disabled_endpoint_gets_no_deliveries_for_new_events(app, client, hooks_vendor, ada):
    made = add_endpoint(hooks_vendor, HOOK)
    patch(hooks_vendor, made["id"], enabled=False)
    hooks_vendor.accept()
    granted(client, ada, hooks_vendor, ["given_name"])
    assert deliveries(hooks_vendor, made["id"]) == []
    assert count(app, DeliveryAttempt) == 0


def test_another_vendors_endpoint_never_gets_this_vendors_events(client, hooks_vendor, globex, ada):
    mine = add_endpoint(hooks_vendor, HOOK)
    theirs = add_endpoint(globex, HOOK)
    hooks_vendor.accept()
    granted(client, ada, hooks_vendor, ["given_name"])
    assert len(deliveries(hooks_vendor, mine["id"])) == 1
    assert deliveries(globex, theirs["id"]) == []


# Rotating the secret


def test_rotating_the_secret_shows_the_new_one_once_and_signs_with_both_for_a_while(
    hooks_vendor, receiver, dispatcher_for, frozen_clock
):
    made = add_endpoint(hooks_vendor, receiver.url())
    rotated = hooks_vendor.post(f"{WEBHOOKS}/{made['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != made["secret"]
    expires = rotated.json["previous_secret_expires_at"]
    assert expires == (frozen_clock[0] + timedelta(hours=24)).isoformat()
    assert "secret" not in hooks_vendor.get(f"{WEBHOOKS}/{made['id']}").json

    send_test(hooks_vendor, made["id"])
    dispatcher_for().deliver_due()
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split()) == 2

    frozen_clock[0] += timedelta(hours=24, seconds=1)
    hooks_vendor.new_token(WEBHOOK_SCOPES)  # the first token expired meanwhile
    assert hooks_vendor.get(f"{WEBHOOKS}/{made['id']}").json["previous_secret_expires_at"] is None
    send_test(hooks_vendor, made["id"])
    dispatcher_for().deliver_due()
    _, later = receiver.wait_for(2)
    assert len(later.headers["webhook-signature"].split()) == 1
