"""Webhook delivery under faults, against a real local HTTP receiver (the edge of the
world) with dispatchers in this process and the clock moved by the test:

- an endpoint down for a simulated day gets every event once it is back, each attempt
  made when the retry schedule says; one that never comes back has every delivery
  dead-lettered exactly when the schedule ends;
- when it recovers with hundreds of events backlogged, the receiver never has more
  deliveries in flight at once than the endpoint's cap, with two workers draining it;
- a poison event (always 500, or always past the timeout) is retried on schedule and
  dead-lettered, and never delays the other events to the same endpoint.

What tests/webhooks/test_delivery.py covers for one event (signatures, a retry or three,
disabling a failing endpoint) is not repeated here. Runs on the database the session uses
(SQLite, or PostgreSQL when VRM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tests.consents.conftest import VendorApi, make_vendor
from tests.webhooks.conftest import (
    WEBHOOK_SCOPES,
    Received,
    add_endpoint,
    quick_settings,
    receiver_on,
)
from tests.webhooks.test_delivery import emit
from vrm.db import make_engine, make_sessionmaker
from vrm.events.delivery import JITTER, MAX_ATTEMPTS, Dispatcher, retry_delay
from vrm.events.models import Delivery, DeliveryAttempt

DAY = timedelta(days=1)

# Other events to an endpoint arrive within this long of being emitted, poison or not.
PROMPT_S = 3.0


def nominal_wait(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt``, without its jitter."""
    return retry_delay(attempt, rng=lambda _low, _high: 1.0)


def within_schedule(times: list[datetime]) -> list[str]:
    """Each wait between consecutive attempts that is not its nominal wait +-JITTER."""
    wrong = []
    for number, (before, after) in enumerate(zip(times, times[1:], strict=False), start=1):
        wait, nominal = after - before, nominal_wait(number)
        if not nominal * (1 - JITTER) <= wait <= nominal * (1 + JITTER):
            wrong.append(f"after attempt {number}: waited {wait}, the schedule says {nominal}")
    return wrong


def signed_by(secret: str, request: Received) -> bool:
    """The request carries a Standard Webhooks signature of its body under ``secret``
    (checked without the library's five-minute window: the clock here is moved)."""
    headers = request.headers
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], sent_at, request.body.decode())
    return expected in headers["webhook-signature"].split(" ")


@pytest.fixture
def vendor(app: Flask, client: FlaskClient) -> VendorApi:
    made = make_vendor(app, client, "Acme Shop")
    made.new_token(WEBHOOK_SCOPES)
    return made


@pytest.fixture
def dispatchers(app: Flask, app_settings: dict[str, Any]) -> Iterator[Callable[..., Dispatcher]]:
    """Dispatchers with short timeouts, each on its own engine (as separate worker
    processes would be), closed after the test."""
    made: list[tuple[Dispatcher, Any]] = []

    def make(**overrides: Any) -> Dispatcher:
        engine = make_engine(app_settings["DATABASE_URL"])
        settings = quick_settings(app, **overrides)
        dispatcher = Dispatcher(make_sessionmaker(engine), app.extensions["vrm"].keyring, settings)
        made.append((dispatcher, engine))
        return dispatcher

    yield make
    for dispatcher, engine in made:
        dispatcher.close()
        engine.dispose()


class Gauge:
    """Requests being answered at the receiver right now, and the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def hold(self, seconds: float) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(seconds)
        finally:
            with self.lock:
                self.now -= 1


def pending_due(app: Flask) -> tuple[datetime | None, int]:
    """When the next pending delivery is due, and how many are due then."""
    with app.extensions["vrm"].sessions() as session:
        due = session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(Delivery.state == "pending")
        )
        if due is None:
            return None, 0
        count = session.scalar(
            select(func.count()).where(Delivery.state == "pending", Delivery.next_attempt_at <= due)
        )
        return due, count


def attempts_by_event(app: Flask) -> dict[str, list[DeliveryAttempt]]:
    with app.extensions["vrm"].sessions() as session:
        rows = session.execute(
            select(Delivery.event_id, DeliveryAttempt)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == Delivery.id)
            .order_by(DeliveryAttempt.number)
        ).all()
    found: dict[str, list[DeliveryAttempt]] = defaultdict(list)
    for event_id, attempt in rows:
        found[str(event_id)].append(attempt)
    return found


def states_by_event(app: Flask) -> dict[str, tuple[str, int]]:
    with app.extensions["vrm"].sessions() as session:
        return {
            str(event_id): (state, attempts)
            for event_id, state, attempts in session.execute(
                select(Delivery.event_id, Delivery.state, Delivery.attempts)
            )
        }


# 1. Down for a day


@pytest.mark.parametrize(
    ("outage", "back_after", "events"),
    [
        pytest.param("HTTP 500", DAY, 10, id="500s for a day, then back"),
        pytest.param("refused", None, 10, id="refuses connections, never back"),
        pytest.param("HTTP 500", DAY, 150, id="soak: 500s for a day", marks=pytest.mark.soak),
        pytest.param("refused", None, 150, id="soak: never back", marks=pytest.mark.soak),
    ],
)
def test_an_endpoint_down_for_a_day_gets_every_event_each_attempt_on_schedule(
    app, frozen_clock, vendor, dispatchers, outage, back_after, events
):
    start = frozen_clock[0]
    arrivals: list[Received] = []

    def script(request: Received) -> int:
        arrivals.append(request)
        up = back_after is not None and frozen_clock[0] >= start + back_after
        return 200 if up else 500

    with ExitStack() as stack:
        if outage == "refused":
            refused = stack.enter_context(socket.socket())
            refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
            port = refused.getsockname()[1]
        else:
            receiver = stack.enter_context(receiver_on())
            receiver.script = script
            port = receiver.port
        endpoint = add_endpoint(vendor, f"http://127.0.0.1:{port}/hook")
        ids = emit(app, vendor, events)
        # The endpoint stays enabled however long this takes (disabling is tested in
        # tests/webhooks/test_delivery.py).
        dispatcher = dispatchers(WEBHOOK_DISABLE_AFTER_HOURS=10_000)
        # Time jumps from one due attempt to the next: each is made the moment it is due,
        # so any attempt made early or late shows as a wait off the schedule.
        while True:
            due, count = pending_due(app)
            if due is None:
                break
            frozen_clock[0] = due
            assert dispatcher.deliver_due() == count, f"at {due}"
        # Nothing is attempted again, however long we wait.
        frozen_clock[0] += timedelta(days=7)
        assert dispatcher.deliver_due() == 0

    attempts = attempts_by_event(app)
    states = states_by_event(app)
    assert set(attempts) == set(states) == set(ids)
    for event_id in ids:
        times = [a.started_at for a in attempts[event_id]]
        assert [a.number for a in attempts[event_id]] == list(range(1, len(times) + 1))
        assert times[0] == start  # the first attempt at once
        assert not within_schedule(times), (event_id, within_schedule(times))
    if back_after is None:
        # Dead-lettered at the end of the schedule: the twelfth failed attempt, not before.
        assert set(states.values()) == {("dead", MAX_ATTEMPTS)}
        assert {len(a) for a in attempts.values()} == {MAX_ATTEMPTS}
        assert all(a.status_code is None and a.error for a in sum(attempts.values(), []))
        return
    # Back after the day: every event delivered, at its first attempt due after the
    # outage, and every earlier attempt failed.
    assert set(states.values()) <= {("succeeded", n) for n in range(2, MAX_ATTEMPTS + 1)}
    back = start + back_after
    for event_id in ids:
        *failed, succeeded = attempts[event_id]
        assert all(a.status_code == 500 and a.started_at < back for a in failed)
        assert succeeded.status_code == 200 and succeeded.started_at >= back
    # What the receiver saw matches: the same attempts at the same (moved) times, each
    # signed, once successfully per event.
    seen: dict[str, list[Received]] = defaultdict(list)
    for request in arrivals:
        seen[request.headers["webhook-id"]].append(request)
    assert set(seen) == set(ids)
    for event_id in ids:
        sent_at = [int(r.headers["webhook-timestamp"]) for r in seen[event_id]]
        assert sent_at == [int(a.started_at.timestamp()) for a in attempts[event_id]]
        assert all(signed_by(endpoint["secret"], r) for r in seen[event_id])
        assert len({r.body for r in seen[event_id]}) == 1


# 2. A backlog when it recovers


@pytest.mark.parametrize(
    "backlog",
    [pytest.param(300, id="300 events"), pytest.param(3000, id="soak", marks=pytest.mark.soak)],
)
def test_a_recovering_endpoint_never_has_more_deliveries_in_flight_than_its_cap(
    app, frozen_clock, vendor, dispatchers, backlog
):
    cap = app.extensions["vrm"].settings["WEBHOOK_ENDPOINT_CONCURRENCY"]
    gauge = Gauge()
    up = threading.Event()

    def script(_request: Received) -> int:
        gauge.hold(0.03)  # long enough for attempts to overlap
        return 200 if up.is_set() else 500

    with receiver_on() as receiver:
        receiver.script = script
        endpoint = add_endpoint(vendor, receiver.url())
        ids = emit(app, vendor, backlog)
        # Down: every event's first attempt fails (one worker, catching up at once).
        assert dispatchers(WEBHOOK_CONCURRENCY=32).deliver_due() == backlog
        assert gauge.most <= cap
        # Hours later the endpoint is back and everything is due: two workers drain it.
        frozen_clock[0] += timedelta(hours=12)
        up.set()
        workers = [dispatchers(WEBHOOK_CONCURRENCY=16) for _ in range(2)]
        stop = threading.Event()
        loops = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
        for loop in loops:
            loop.start()
        try:
            deadline = time.monotonic() + 30 * backlog / 300
            while sum(r.status == 200 for r in receiver.to()) < backlog:
                assert time.monotonic() < deadline, f"{len(receiver.to())} arrived"
                time.sleep(0.05)
            while any(state != ("succeeded", 2) for state in states_by_event(app).values()):
                assert time.monotonic() < deadline, Counter(states_by_event(app).values())
                time.sleep(0.05)
        finally:
            stop.set()
            for loop in loops:
                loop.join(timeout=10)
        received = receiver.to()

    # Never over the cap; and the attempts did overlap (or the cap was never tested).
    assert 1 < gauge.most <= cap, f"at most {gauge.most} in flight at once, the cap is {cap}"
    delivered = Counter(r.headers["webhook-id"] for r in received if r.status == 200)
    assert delivered == Counter({event_id: 1 for event_id in ids})
    assert len(received) == 2 * backlog
    assert all(signed_by(endpoint["secret"], r) for r in received)


# 3. A poison event


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.01)
    return found


@pytest.mark.parametrize("poison", ["HTTP 500", "a hang past the timeout"])
def test_a_poison_event_is_retried_on_schedule_then_dead_lettered_and_never_delays_the_others(
    app, frozen_clock, vendor, dispatchers, poison
):
    timeout = 1
    poisoned: list[tuple[float, Received]] = []
    others: dict[str, float] = {}  # each other event's arrival (monotonic)

    with receiver_on() as receiver:

        def script(request: Received) -> int | float:
            if request.headers["webhook-id"] == poison_id:
                poisoned.append((time.monotonic(), request))
                return 500 if poison == "HTTP 500" else timeout + 1.0
            others.setdefault(request.headers["webhook-id"], time.monotonic())
            return 200

        receiver.script = script
        endpoint = add_endpoint(vendor, receiver.url())
        [poison_id] = emit(app, vendor)
        dispatcher = dispatchers(WEBHOOK_TIMEOUT_S=timeout)
        stop = threading.Event()
        loop = threading.Thread(target=dispatcher.run, args=(stop,))
        loop.start()
        emitted: dict[str, tuple[float, datetime]] = {}  # when, in real and moved time
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                wait_for(lambda n=attempt: len(poisoned) >= n, f"poison attempt {attempt}")
                # While the poison event is being tried, others arrive at once.
                for event_id in emit(app, vendor, 3):
                    emitted[event_id] = (time.monotonic(), frozen_clock[0])
                wait_for(lambda: set(emitted) <= set(others), "the other events")
                wait_for(
                    lambda n=attempt: len(attempts_by_event(app).get(poison_id, [])) == n,
                    f"poison attempt {attempt} recorded",
                )
                wait_for(
                    lambda: all(
                        s == ("succeeded", 1)
                        for e, s in states_by_event(app).items()
                        if e != poison_id
                    ),
                    "the other events recorded",
                )
                state, _ = states_by_event(app)[poison_id]
                if attempt < MAX_ATTEMPTS:
                    assert state == "pending"
                    due, _ = pending_due(app)
                    frozen_clock[0] = due
            # Dead: never tried again, even long after.
            wait_for(lambda: states_by_event(app)[poison_id][0] == "dead", "dead-lettered")
            frozen_clock[0] += timedelta(days=7)
            time.sleep(0.2)
        finally:
            stop.set()
            loop.join(timeout=10)
        received = receiver.to()

    assert len(poisoned) == MAX_ATTEMPTS
    assert states_by_event(app)[poison_id] == ("dead", MAX_ATTEMPTS)
    attempts = attempts_by_event(app)
    times = [a.started_at for a in attempts[poison_id]]
    assert not within_schedule(times), within_schedule(times)
    expected = (500, None) if poison == "HTTP 500" else (None, "timeout")
    assert {(a.status_code, a.error) for a in attempts[poison_id]} == {expected}
    # The others: each delivered once, at its first attempt, the moment it was emitted
    # (in moved time), and promptly in real time, not after the poison's retries (a
    # bound generous enough for a loaded machine, far below any retry delay).
    assert set(others) == set(emitted) and len(emitted) == 3 * MAX_ATTEMPTS
    for event_id, (at, moved_at) in emitted.items():
        assert others[event_id] - at < PROMPT_S, f"{event_id} took {others[event_id] - at:.2f} s"
        [attempt] = attempts[event_id]
        assert (attempt.status_code, attempt.started_at) == (200, moved_at)
    answered = Counter(r.headers["webhook-id"] for r in received)
    del answered[poison_id]  # counted as it arrived, above (a hanging one is answered late)
    assert answered == Counter(dict.fromkeys(emitted, 1))
    assert all(signed_by(endpoint["secret"], r) for _, r in poisoned)
    assert {r.headers["webhook-id"] for _, r in poisoned} == {poison_id}
