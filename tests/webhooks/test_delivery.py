"""Webhook delivery over real HTTP, with dispatchers in this process: Standard Webhooks
signatures checked with the reference library, retries on the backoff schedule with one
webhook-id, dead-letter and replay, disabling a failing endpoint, secret rotation, a
hanging (or trickling) endpoint that cannot hold back the others, and leases that run out.

Time moves with ``frozen_clock`` (claims, leases and retries read ``vrm.clock``); the
vendor's access token is renewed after every jump, since it lives an hour."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks.webhooks as standard_webhooks
from flask import Flask
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.consents.conftest import VendorApi
from tests.webhooks.conftest import (
    WEBHOOK_SCOPES,
    Received,
    Receiver,
    add_endpoint,
    receiver_on,
)
from vrm import clock
from vrm.db import write_transaction
from vrm.events.delivery import (
    JITTER,
    MAX_ATTEMPTS,
    Dispatcher,
    Outcome,
    retry_delay,
)
from vrm.events.outbox import Outbox
from vrm.events.signing import new_secret

SECOND = timedelta(seconds=1)


# Short-hands


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def move_clock(frozen_clock: list[datetime], vendor: VendorApi, to: datetime) -> None:
    """Move time (the vendor's token would expire on a long jump, so renew it)."""
    frozen_clock[0] = to
    vendor.new_token(WEBHOOK_SCOPES)


def send_test(vendor: VendorApi, endpoint_id: str) -> dict[str, Any]:
    response = vendor.post(f"/vendor/v1/webhooks/{endpoint_id}/test")
    assert response.status_code == 202, response.json
    return response.json


def endpoint_view(vendor: VendorApi, endpoint_id: str) -> dict[str, Any]:
    response = vendor.get(f"/vendor/v1/webhooks/{endpoint_id}")
    assert response.status_code == 200, response.json
    return response.json


def deliveries(vendor: VendorApi, endpoint_id: str, **query: Any) -> list[dict[str, Any]]:
    response = vendor.get(
        f"/vendor/v1/webhooks/{endpoint_id}/deliveries", query_string={"limit": 100, **query}
    )
    assert response.status_code == 200, response.json
    return response.json["data"]


def delivery(vendor: VendorApi, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    response = vendor.get(f"/vendor/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}")
    assert response.status_code == 200, response.json
    return response.json


def emit(
    app: Flask, vendor: VendorApi, count: int = 1, event_type: str = "consent.given"
) -> list[str]:
    """Events in the vendor's feed (and to every endpoint taking them), committed at once."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session, write_transaction(session):
        outbox = Outbox(session, rt.keyring)
        ids = [outbox.emit(vendor.id, event_type, {"number": n}) for n in range(count)]
    return [str(event_id) for event_id in ids]


def signatures(request: Received) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def ids_of(requests: list[Received]) -> list[str]:
    return [r.headers["webhook-id"] for r in requests]


@pytest.fixture
def roomy_receiver() -> Iterator[Receiver]:
    with receiver_on() as made:
        yield made


@pytest.fixture
def receiver_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference library checks webhook-timestamp against its own clock (five minutes
    either way): let the receiver's clock agree with the moved one."""

    class Agreeing(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return clock.now().astimezone(tz)

    monkeypatch.setattr(standard_webhooks, "datetime", Agreeing)


# 1. Signatures


def test_a_delivery_is_signed_so_that_the_standard_webhooks_library_verifies_it(
    app, receiver, hooks_vendor, dispatcher_for
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    queued = send_test(hooks_vendor, endpoint["id"])
    [feed_event_id] = emit(app, hooks_vendor)

    assert dispatcher_for().deliver_due() == 2

    received = {r.headers["webhook-id"]: r for r in receiver.wait_for(2)}
    assert set(received) == {queued["event_id"], feed_event_id}
    for webhook_id, request in received.items():
        assert request.path == "/hook"
        assert request.headers["content-type"] == "application/json"
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert len(signatures(request)) == 1 and signatures(request)[0].startswith("v1,")
        payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert set(payload) == {"id", "type", "timestamp", "data"}
        assert payload["id"] == webhook_id
    test_event = received[queued["event_id"]].event
    assert test_event["type"] == "webhook.test"
    assert test_event["data"]["endpoint_id"] == endpoint["id"]
    # The body is the event exactly as the events feed shows it.
    feed = hooks_vendor.get("/vendor/v1/events")
    assert feed.status_code == 200, feed.json
    assert feed.json["data"] == [received[feed_event_id].event]
    assert received[feed_event_id].event["type"] == "consent.given"
    assert [d["state"] for d in deliveries(hooks_vendor, endpoint["id"])] == ["succeeded"] * 2


def test_a_tampered_delivery_or_a_wrong_secret_fails_verification(
    receiver, hooks_vendor, dispatcher_for
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    send_test(hooks_vendor, endpoint["id"])
    dispatcher_for().deliver_due()
    [request] = receiver.wait_for(1)
    secret, body, headers = endpoint["secret"], request.body, request.headers
    assert Webhook(secret).verify(body, headers) == request.event

    tampered_body = body.replace(b"A test event", b"A fake event")
    assert tampered_body != body
    other_id = {**headers, "webhook-id": "msg_someone_else"}
    earlier = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)}
    for wrong_body, wrong_headers, wrong_secret in (
        (tampered_body, headers, secret),
        (body, headers, new_secret()),
        (body, other_id, secret),
        (body, earlier, secret),
    ):
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(wrong_secret).verify(wrong_body, wrong_headers)


# 2. Retries


@pytest.mark.parametrize(
    ("failure", "times"),
    [("HTTP 500", 3), ("a hang past the timeout", 2), ("a refused connection", 3)],
)
def test_a_receiver_that_fails_then_recovers_gets_the_event_once_with_the_same_webhook_id(
    frozen_clock, receiver, hooks_vendor, dispatcher_for, failure, times
):
    arrivals: list[str] = []

    def script(request: Received) -> int | float:
        arrivals.append(request.headers["webhook-id"])
        if failure == "a refused connection" or len(arrivals) > times:
            return 200
        return 500 if failure == "HTTP 500" else 1.5

    receiver.script = script
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    with ExitStack() as later, refused:
        if failure == "a refused connection":
            url = f"http://127.0.0.1:{refused.getsockname()[1]}/hook"
        else:
            url = receiver.url()
        endpoint = add_endpoint(hooks_vendor, url)
        queued = send_test(hooks_vendor, endpoint["id"])
        dispatcher = dispatcher_for()
        waits, attempted_at = [], []
        for attempt in range(1, times + 1):
            attempted_at.append(frozen_clock[0])
            assert dispatcher.deliver_due() == 1
            view = delivery(hooks_vendor, endpoint["id"], queued["id"])
            assert (view["state"], view["attempt_count"]) == ("pending", attempt)
            due = parse(view["next_attempt_at"])
            waits.append((due - frozen_clock[0]).total_seconds())
            # Just before the retry is due nothing is sent again.
            move_clock(frozen_clock, hooks_vendor, due - SECOND)
            assert dispatcher.deliver_due() == 0
            assert len(arrivals) == (0 if failure == "a refused connection" else attempt)
            move_clock(frozen_clock, hooks_vendor, due)
        if failure == "a refused connection":
            port = refused.getsockname()[1]
            refused.close()
            later.enter_context(receiver_on(port)).script = script
        attempted_at.append(frozen_clock[0])
        assert dispatcher.deliver_due() == 1
        move_clock(frozen_clock, hooks_vendor, frozen_clock[0] + timedelta(days=4))
        assert dispatcher.deliver_due() == 0

    sent = 1 if failure == "a refused connection" else times + 1
    assert arrivals == [queued["event_id"]] * sent
    if failure == "HTTP 500":
        assert [r.status for r in receiver.to()] == [500] * times + [200]
    view = delivery(hooks_vendor, endpoint["id"], queued["id"])
    assert view["state"] == "succeeded"
    assert (view["attempt_count"], view["last_status_code"], view["last_error"]) == (
        times + 1,
        200,
        None,
    )
    assert view["next_attempt_at"] is None
    assert parse(view["delivered_at"]) == attempted_at[-1]
    attempts = view["attempts"]
    assert [a["number"] for a in attempts] == list(range(1, times + 2))
    assert [parse(a["started_at"]) for a in attempts] == attempted_at
    assert all(isinstance(a["duration_ms"], int) and a["duration_ms"] >= 0 for a in attempts)
    expected = {
        "HTTP 500": (500, None),
        "a hang past the timeout": (None, "timeout"),
        "a refused connection": (None, "connection failed"),
    }[failure]
    assert [(a["status_code"], a["error"]) for a in attempts] == [expected] * times + [(200, None)]
    if failure == "a hang past the timeout":
        # The dispatcher's timeout is one second (an attempt may take one per phase).
        assert all(900 <= a["duration_ms"] < 3000 for a in attempts[:-1])
    # The waits grow: each is its nominal delay (10 s, then three times the last) +-20 %.
    nominal = [retry_delay(n, rng=lambda _lo, _hi: 1.0).total_seconds() for n in range(1, 4)]
    assert nominal[0] >= 5 and nominal[1] > nominal[0] and nominal[2] > nominal[1]
    for wait, expected_wait in zip(waits, nominal, strict=False):
        assert expected_wait * (1 - JITTER) <= wait <= expected_wait * (1 + JITTER)


def test_retry_delays_grow_exponentially_with_jitter_and_span_about_three_days():
    def lowest(low: float, _high: float) -> float:
        return low

    def highest(_low: float, high: float) -> float:
        return high

    def middle(_low: float, _high: float) -> float:
        return 1.0

    retries = range(1, MAX_ATTEMPTS)  # the waits between MAX_ATTEMPTS attempts
    nominal = [retry_delay(n, rng=middle) for n in retries]
    # Exponential: a constant factor between consecutive waits until the longest wait.
    factors = {round(b / a, 6) for a, b in zip(nominal[:5], nominal[1:6], strict=True)}
    assert len(factors) == 1 and factors.pop() >= 2
    assert nominal == sorted(nominal)
    assert nominal[-1] <= timedelta(days=1)
    # Jitter stays within +-20 % and really varies.
    for n, wait in zip(retries, nominal, strict=True):
        assert retry_delay(n, rng=lowest) == wait * 0.8
        assert retry_delay(n, rng=highest) == wait * 1.2
        for _ in range(20):
            assert wait * 0.8 <= retry_delay(n) <= wait * 1.2
    assert len({retry_delay(4) for _ in range(20)}) > 1
    # The whole schedule, first attempt to dead-letter, spans roughly three days.
    assert timedelta(days=2.75) <= sum(nominal, timedelta()) <= timedelta(days=3.5)
    assert sum((retry_delay(n, rng=lowest) for n in retries), timedelta()) >= timedelta(days=2.5)
    assert sum((retry_delay(n, rng=highest) for n in retries), timedelta()) <= timedelta(days=4)


# 3. Dead-letter and replay


def test_after_the_last_attempt_fails_the_delivery_is_dead_and_a_replay_sends_it_again(
    frozen_clock, receiver, hooks_vendor, dispatcher_for
):
    receiver.script = lambda _request: 500
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    queued = send_test(hooks_vendor, endpoint["id"])
    # The endpoint stays enabled however long this takes (disabling is tested below).
    dispatcher = dispatcher_for(WEBHOOK_DISABLE_AFTER_HOURS=10_000)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert dispatcher.deliver_due() == 1
        view = delivery(hooks_vendor, endpoint["id"], queued["id"])
        assert view["attempt_count"] == attempt
        if attempt < MAX_ATTEMPTS:
            assert view["state"] == "pending"
            move_clock(frozen_clock, hooks_vendor, parse(view["next_attempt_at"]))
    assert view["state"] == "dead"
    assert (view["next_attempt_at"], view["last_status_code"]) == (None, 500)
    assert [a["status_code"] for a in view["attempts"]] == [500] * MAX_ATTEMPTS
    [dead] = deliveries(hooks_vendor, endpoint["id"], state="dead")
    assert dead["id"] == queued["id"]

    # Never attempted again.
    move_clock(frozen_clock, hooks_vendor, frozen_clock[0] + timedelta(days=7))
    assert dispatcher.deliver_due() == 0
    assert len(receiver.to()) == MAX_ATTEMPTS

    receiver.script = lambda _request: 200
    response = hooks_vendor.post(
        f"/vendor/v1/webhooks/{endpoint['id']}/deliveries/{queued['id']}/replay"
    )
    assert response.status_code == 202, response.json
    replay = response.json
    assert replay["id"] != queued["id"]
    assert (replay["replay_of"], replay["event_id"]) == (queued["id"], queued["event_id"])
    assert (replay["state"], replay["attempt_count"]) == ("pending", 0)
    # A delivery still on its way cannot be replayed.
    again = hooks_vendor.post(
        f"/vendor/v1/webhooks/{endpoint['id']}/deliveries/{replay['id']}/replay"
    )
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"

    assert dispatcher.deliver_due() == 1
    received = receiver.wait_for(MAX_ATTEMPTS + 1)
    assert set(ids_of(received)) == {queued["event_id"]}
    assert received[-1].status == 200 and received[-1].event["id"] == queued["event_id"]
    assert delivery(hooks_vendor, endpoint["id"], replay["id"])["state"] == "succeeded"
    original = delivery(hooks_vendor, endpoint["id"], queued["id"])
    assert (original["state"], original["attempt_count"]) == ("dead", MAX_ATTEMPTS)


def test_replay_since_a_time_sends_every_event_from_that_time_on_again(
    frozen_clock, app, receiver, hooks_vendor, dispatcher_for
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    start = frozen_clock[0]
    hourly = []
    for hour in range(4):
        move_clock(frozen_clock, hooks_vendor, start + timedelta(hours=hour))
        hourly += emit(app, hooks_vendor)
    dispatcher = dispatcher_for()
    assert dispatcher.deliver_due() == 4
    first_time = {r.headers["webhook-id"]: r.body for r in receiver.wait_for(4)}
    assert set(first_time) == set(hourly)

    move_clock(frozen_clock, hooks_vendor, start + timedelta(hours=5))
    since = (start + timedelta(hours=2)).isoformat()
    response = hooks_vendor.post(
        f"/vendor/v1/webhooks/{endpoint['id']}/replay", json={"since": since}
    )
    assert response.status_code == 202, response.json
    assert response.json == {"replayed": 2}
    assert dispatcher.deliver_due() == 2

    again = receiver.wait_for(6)[4:]
    assert sorted(ids_of(again)) == sorted(hourly[2:])
    assert all(r.body == first_time[r.headers["webhook-id"]] for r in again)
    states = Counter(d["state"] for d in deliveries(hooks_vendor, endpoint["id"]))
    assert states == {"succeeded": 6}
    assert dispatcher.deliver_due() == 0


# 4. Disabling a failing endpoint


def test_an_endpoint_failing_longer_than_the_window_is_disabled_until_enabled_again(
    frozen_clock, app, receiver, hooks_vendor, dispatcher_for
):
    window = timedelta(hours=app.extensions["vrm"].settings["WEBHOOK_DISABLE_AFTER_HOURS"])
    broken = {"/failing": True}
    receiver.script = lambda request: 500 if broken.get(request.path) else 200
    failing = add_endpoint(hooks_vendor, receiver.url("/failing"))
    healthy = add_endpoint(hooks_vendor, receiver.url("/healthy"))
    dispatcher = dispatcher_for()
    start = frozen_clock[0]

    first = emit(app, hooks_vendor)
    assert dispatcher.deliver_due() == 2
    move_clock(frozen_clock, hooks_vendor, start + window - timedelta(hours=1))
    second = emit(app, hooks_vendor)
    assert dispatcher.deliver_due() == 3  # the first retried, the second to both
    view = endpoint_view(hooks_vendor, failing["id"])
    assert (view["enabled"], parse(view["failing_since"])) == (True, start)

    disabled_at = start + window + timedelta(minutes=1)
    move_clock(frozen_clock, hooks_vendor, disabled_at)
    assert dispatcher.deliver_due() == 2
    view = endpoint_view(hooks_vendor, failing["id"])
    assert view["enabled"] is False
    assert parse(view["disabled_at"]) == disabled_at
    assert "HTTP 500" in view["disabled_reason"]
    other = endpoint_view(hooks_vendor, healthy["id"])
    assert (other["enabled"], other["failing_since"], other["disabled_reason"]) == (
        True,
        None,
        None,
    )

    # Disabled: its deliveries wait, untouched, however long; the other endpoint is served.
    tried = len(receiver.to("/failing"))
    third = emit(app, hooks_vendor)
    move_clock(frozen_clock, hooks_vendor, disabled_at + timedelta(days=2))
    assert dispatcher.deliver_due() == 1
    assert len(receiver.to("/failing")) == tried
    waiting = deliveries(hooks_vendor, failing["id"], state="pending")
    assert sorted(d["event_id"] for d in waiting) == sorted(first + second)
    assert send_test(hooks_vendor, healthy["id"])
    refused = hooks_vendor.post(f"/vendor/v1/webhooks/{failing['id']}/test")
    assert refused.status_code == 409

    broken["/failing"] = False
    response = hooks_vendor.client.patch(
        f"/vendor/v1/webhooks/{failing['id']}", json={"enabled": True}, headers=hooks_vendor.auth
    )
    assert response.status_code == 200, response.json
    assert (response.json["enabled"], response.json["disabled_reason"]) == (True, None)
    assert dispatcher.deliver_due() == 3  # the two paused ones, and the healthy test event

    resumed = [r for r in receiver.to("/failing") if r.status == 200]
    assert sorted(ids_of(resumed)) == sorted(first + second)
    assert {d["state"] for d in deliveries(hooks_vendor, failing["id"])} == {"succeeded"}
    served = [r for r in receiver.to("/healthy") if r.event["type"] != "webhook.test"]
    assert sorted(ids_of(served)) == sorted(first + second + third)
    assert all(r.status == 200 for r in receiver.to("/healthy"))
    assert endpoint_view(hooks_vendor, failing["id"])["failing_since"] is None


def test_a_success_restarts_the_window_so_an_endpoint_failing_now_and_then_stays_enabled(
    frozen_clock, app, receiver, hooks_vendor, dispatcher_for
):
    window = timedelta(hours=app.extensions["vrm"].settings["WEBHOOK_DISABLE_AFTER_HOURS"])
    answers = iter([500, 200, 500])
    receiver.script = lambda _request: next(answers)
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    dispatcher = dispatcher_for()
    start = frozen_clock[0]

    emit(app, hooks_vendor)
    assert dispatcher.deliver_due() == 1  # fails
    move_clock(frozen_clock, hooks_vendor, start + timedelta(minutes=1))
    assert dispatcher.deliver_due() == 1  # succeeds
    assert endpoint_view(hooks_vendor, endpoint["id"])["failing_since"] is None

    later = start + window + timedelta(hours=1)
    move_clock(frozen_clock, hooks_vendor, later)
    emit(app, hooks_vendor)
    assert dispatcher.deliver_due() == 1  # fails again, a window after the first failure
    view = endpoint_view(hooks_vendor, endpoint["id"])
    assert (view["enabled"], parse(view["failing_since"])) == (True, later)


# 5. Secret rotation


def test_after_a_rotation_deliveries_verify_with_both_secrets_until_the_grace_period_ends(
    frozen_clock, receiver_clock, receiver, hooks_vendor, dispatcher_for
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    old = endpoint["secret"]
    dispatcher = dispatcher_for()

    def deliver_one() -> Received:
        sent = len(receiver.to())
        send_test(hooks_vendor, endpoint["id"])
        assert dispatcher.deliver_due() == 1
        return receiver.wait_for(sent + 1)[-1]

    before = deliver_one()
    assert len(signatures(before)) == 1
    Webhook(old).verify(before.body, before.headers)

    response = hooks_vendor.post(f"/vendor/v1/webhooks/{endpoint['id']}/rotate-secret")
    assert response.status_code == 200, response.json
    new = response.json["secret"]
    assert new.startswith("whsec_") and new != old
    grace_ends = parse(response.json["previous_secret_expires_at"])
    assert grace_ends > frozen_clock[0]

    during = deliver_one()
    assert len(signatures(during)) == 2
    assert Webhook(new).verify(during.body, during.headers) == during.event
    assert Webhook(old).verify(during.body, during.headers) == during.event
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(during.body, during.headers)

    move_clock(frozen_clock, hooks_vendor, grace_ends - SECOND)
    assert len(signatures(deliver_one())) == 2

    move_clock(frozen_clock, hooks_vendor, grace_ends + SECOND)
    after = deliver_one()
    assert len(signatures(after)) == 1
    assert Webhook(new).verify(after.body, after.headers) == after.event
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(old).verify(after.body, after.headers)
    assert endpoint_view(hooks_vendor, endpoint["id"])["previous_secret_expires_at"] is None


# 6. A hanging endpoint


class InFlight(httpx.HTTPTransport):
    """Counts the requests in flight per path, and the most seen at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self.lock:
            self.now[path] += 1
            self.most[path] = max(self.most[path], self.now[path])
        try:
            return super().handle_request(request)
        finally:
            with self.lock:
                self.now[path] -= 1


HANG_TIMEOUT_S = 2


@pytest.fixture
def counted_dispatcher(app: Flask) -> Iterator[tuple[Dispatcher, InFlight]]:
    rt = app.extensions["vrm"]
    settings = {
        **rt.settings,
        "WEBHOOK_TIMEOUT_S": HANG_TIMEOUT_S,
        "WEBHOOK_LEASE_S": 7,
        "WEBHOOK_POLL_MS": 20,
    }
    transport = InFlight()
    dispatcher = Dispatcher(rt.sessions, rt.keyring, settings, transport=transport)
    yield dispatcher, transport
    dispatcher.close()


def test_a_hanging_endpoint_does_not_hold_back_another_endpoints_deliveries(
    app, roomy_receiver, hooks_vendor, counted_dispatcher
):
    receiver = roomy_receiver
    dispatcher, transport = counted_dispatcher
    cap = app.extensions["vrm"].settings["WEBHOOK_ENDPOINT_CONCURRENCY"]
    timeout = HANG_TIMEOUT_S
    arrived_slow: list[float] = []

    def script(request: Received) -> int | float:
        if request.path == "/slow":
            arrived_slow.append(time.time())
            return 30.0  # far beyond the timeout; released when the test ends
        return 200

    receiver.script = script
    add_endpoint(hooks_vendor, receiver.url("/slow"))
    add_endpoint(hooks_vendor, receiver.url("/fast"))
    events = emit(app, hooks_vendor, 24)

    stop = threading.Event()
    loop = threading.Thread(target=dispatcher.run, args=(stop,))
    began = time.time()
    loop.start()
    try:
        fast = receiver.wait_for(len(events), path="/fast")
        # Let the first hanging attempts time out and the next ones begin.
        deadline = time.monotonic() + 10
        while len(arrived_slow) < 2 * cap and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        loop.join(timeout=10)

    assert sorted(ids_of(fast)) == sorted(events)
    assert max(r.at for r in fast) - began < timeout, "the fast endpoint waited for the slow"
    assert len(arrived_slow) >= 2 * cap
    assert transport.most["/slow"] == cap
    assert sum(1 for at in arrived_slow if at - began < timeout * 0.9) <= cap


@contextmanager
def trickling_endpoint(seconds: float) -> Iterator[str]:
    """An endpoint that starts its answer at once, then sends its headers a byte every
    quarter of a second for ``seconds``: never silent for as long as a timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nx-slow: ")
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline and not stop.wait(0.25):
                    connection.sendall(b"z")
                connection.sendall(b"\r\ncontent-length: 0\r\n\r\n")
            except OSError:
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_receiver_trickling_its_answer_is_cut_off_before_the_lease_runs_out(
    hooks_vendor, dispatcher_for
):
    lease = 4
    dispatcher = dispatcher_for(WEBHOOK_TIMEOUT_S=1, WEBHOOK_LEASE_S=lease)
    with trickling_endpoint(seconds=lease + 0.5) as url:
        endpoint = add_endpoint(hooks_vendor, url)
        queued = send_test(hooks_vendor, endpoint["id"])
        began = time.monotonic()
        assert dispatcher.deliver_due() == 1
        took = time.monotonic() - began
    [attempt] = delivery(hooks_vendor, endpoint["id"], queued["id"])["attempts"]
    assert took < lease, f"one attempt took {took:.1f} s, longer than its {lease} s lease"
    assert attempt["status_code"] is None and attempt["error"]


# 7. Leases


def test_a_claim_whose_lease_ran_out_is_sent_again_and_its_late_result_is_ignored(
    frozen_clock, receiver, hooks_vendor, dispatcher_for
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    queued = send_test(hooks_vendor, endpoint["id"])
    dispatcher = dispatcher_for()  # lease: 4 s
    claimed_at = frozen_clock[0]

    [stalled] = dispatcher.queue.claim(10)
    assert (str(stalled.delivery_id), stalled.message_id) == (queued["id"], queued["event_id"])
    # This worker sends, then stalls before it can record what came back.
    late = dispatcher.sender.send(stalled)
    assert late.status_code == 200
    move_clock(frozen_clock, hooks_vendor, claimed_at + timedelta(seconds=3))
    assert dispatcher.deliver_due() == 0  # still leased

    move_clock(frozen_clock, hooks_vendor, claimed_at + timedelta(seconds=5))
    assert dispatcher.deliver_due() == 1
    received = receiver.wait_for(2)
    assert ids_of(received) == [queued["event_id"]] * 2
    view = delivery(hooks_vendor, endpoint["id"], queued["id"])
    assert view["state"] == "succeeded"

    failed_late = Outcome(claimed_at, 10, 500, None)
    assert dispatcher.queue.record(stalled, failed_late) is False
    assert dispatcher.queue.record(stalled, late) is False
    assert delivery(hooks_vendor, endpoint["id"], queued["id"]) == view
    assert [(a["number"], a["status_code"]) for a in view["attempts"]] == [(2, 200)]


def test_a_late_failure_of_an_expired_claim_does_not_overwrite_its_successor(
    frozen_clock, receiver, hooks_vendor, dispatcher_for
):
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    queued = send_test(hooks_vendor, endpoint["id"])
    dispatcher = dispatcher_for()
    claimed_at = frozen_clock[0]
    [first] = dispatcher.queue.claim(10)
    assert dispatcher.queue.claim(10) == []
    move_clock(frozen_clock, hooks_vendor, claimed_at + timedelta(seconds=5))
    [second] = dispatcher.queue.claim(10)
    assert second.delivery_id == first.delivery_id and second.claim_token != first.claim_token
    assert second.message_id == first.message_id == queued["event_id"]

    # The first claim's timeout arrives while the second is still being sent.
    assert dispatcher.queue.record(first, Outcome(claimed_at, 1000, None, "timeout")) is False
    view = delivery(hooks_vendor, endpoint["id"], queued["id"])
    assert (view["state"], view["attempts"], view["last_error"]) == ("pending", [], None)
    assert dispatcher.queue.claim(10) == []  # the successor still holds it

    assert dispatcher.queue.record(second, dispatcher.sender.send(second)) is True
    view = delivery(hooks_vendor, endpoint["id"], queued["id"])
    assert view["state"] == "succeeded"
    assert [(a["number"], a["status_code"]) for a in view["attempts"]] == [(2, 200)]
    assert ids_of(receiver.wait_for(1)) == [queued["event_id"]]
