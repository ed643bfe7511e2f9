"""Delivery across workers: a `vrm worker` process killed in the middle of a delivery loses
nothing (its lease runs out and the next worker sends the event again, same webhook-id),
two workers side by side never deliver the same attempt twice (on PostgreSQL the claims
skip each other's locked rows; on SQLite a claim is one immediate transaction), and one
endpoint's cap on deliveries in flight holds across workers. These run on the database the
session uses: PostgreSQL when VRM_TEST_DATABASE_URL is set, SQLite otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from standardwebhooks.webhooks import Webhook

from tests.webhooks.conftest import Received, Receiver, add_endpoint, receiver_on
from vrm.db import make_engine, make_sessionmaker, write_transaction
from vrm.events.delivery import DeliveryQueue, Dispatcher, Job
from vrm.events.models import Delivery, DeliveryAttempt
from vrm.events.outbox import Outbox


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


# A worker killed mid-delivery


def worker_env(app_settings: dict[str, Any]) -> dict[str, str]:
    return {
        **os.environ,
        "VRM_DATABASE_URL": app_settings["DATABASE_URL"],
        "VRM_KEYS": app_settings["KEYS"],
        "VRM_ENV": "test",
        "VRM_INSTANCE_PATH": app_settings["INSTANCE_PATH"],
        "VRM_WEBHOOK_TIMEOUT_S": "2",
        "VRM_WEBHOOK_LEASE_S": "7",
        "VRM_WEBHOOK_POLL_MS": "50",
    }


@contextmanager
def vrm_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`vrm worker` in its own process, its output in ``log``; killed if still running."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "vrm.cli", "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    ("events", "kills"),
    [
        pytest.param(1, 1, id="one event, one kill"),
        pytest.param(300, 6, id="soak: 300 events, six kills", marks=pytest.mark.soak),
    ],
)
def test_a_worker_killed_in_the_middle_of_a_delivery_loses_nothing(
    app, app_settings, roomy_receiver, hooks_vendor, tmp_path, events, kills
):
    receiver, rt = roomy_receiver, app.extensions["vrm"]
    arrivals: list[Received] = []  # every request that reached the receiver, answered or not
    trap, caught = threading.Event(), threading.Event()
    trapped: list[str] = []

    def script(request: Received) -> int | float:
        arrivals.append(request)
        if trap.is_set():
            trap.clear()
            trapped.append(request.headers["webhook-id"])
            caught.set()
            return 60.0  # no answer before the worker is killed
        return 200

    receiver.script = script
    endpoint = add_endpoint(hooks_vendor, receiver.url())
    if events == 1:
        ids = [hooks_vendor.post(f"/vendor/v1/webhooks/{endpoint['id']}/test").json["event_id"]]
    else:
        with rt.sessions() as session, write_transaction(session):
            outbox = Outbox(session, rt.keyring)
            ids = [
                str(outbox.emit(hooks_vendor.id, "consent.given", {"number": n}))
                for n in range(events)
            ]
    env = worker_env(app_settings)

    def deliveries() -> dict[str, Delivery]:
        with rt.sessions() as session:
            return {str(d.event_id): d for d in session.scalars(select(Delivery))}

    def recorded() -> set[tuple[str, int, int | None]]:
        with rt.sessions() as session:
            return {
                (str(a.delivery_id), a.number, a.status_code)
                for a in session.scalars(select(DeliveryAttempt))
            }

    for kill in range(kills):
        trap.set()
        caught.clear()
        log = tmp_path / f"killed-{kill}.log"
        with vrm_worker(env, log) as killed:
            assert caught.wait(30), log.read_text()
            killed.kill()
            assert killed.wait(timeout=10) == -signal.SIGKILL
        # The attempt in flight was never recorded: its lease runs out, then it goes again.
        held = deliveries()[trapped[-1]]
        assert (held.state, held.claim_token is not None) == ("pending", True)
        assert not {a for a in recorded() if a[0] == str(held.id)}

    last_log = tmp_path / "last.log"
    with vrm_worker(env, last_log) as last:
        wait_until(
            lambda: all(d.state == "succeeded" for d in deliveries().values()),
            timeout=30 + events / 10,
            what=f"every delivery succeeds; worker output:\n{last_log.read_text()}",
        )
        last.terminate()
        assert last.wait(timeout=15) == 0, last_log.read_text()

    # Every event was answered 200; a duplicate only ever repeats the same webhook-id with
    # the same body, and every request, answered or cut off, carries a valid signature.
    answered = receiver.to()  # the requests hanging when their worker died are unanswered
    assert {r.headers["webhook-id"] for r in answered} == set(ids)
    assert all(r.status == 200 for r in answered)
    bodies: dict[str, set[bytes]] = {}
    for request in arrivals:
        payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
        assert payload["id"] == request.headers["webhook-id"]
        bodies.setdefault(payload["id"], set()).add(request.body)
    assert set(bodies) == set(ids) and {len(b) for b in bodies.values()} == {1}
    assert len(arrivals) >= len(ids) + kills
    # Each delivery recorded one attempt, its success; a killed claim counted an attempt
    # but recorded nothing.
    assert len(trapped) == kills
    assert recorded() == {(str(d.id), d.attempts, 200) for d in deliveries().values()}
    if events == 1:
        assert len(arrivals) == 2 and len(answered) == 1
        assert deliveries()[ids[0]].attempts == 2


# Two workers at once


@pytest.fixture
def roomy_receiver() -> Iterator[Receiver]:
    """A receiver with room for many connections at once (under the default listen
    backlog of 5 some are dropped, and retried a second later)."""
    with receiver_on() as made:
        yield made


def claims_of(dispatcher: Dispatcher) -> list[tuple[str, int]]:
    """Record every (delivery, attempt) this dispatcher claims."""
    claimed: list[tuple[str, int]] = []
    claim = dispatcher.queue.claim

    def recording(limit: int) -> list[Job]:
        jobs = claim(limit)
        claimed.extend((str(job.delivery_id), job.attempt) for job in jobs)
        return jobs

    dispatcher.queue.claim = recording  # type: ignore[method-assign]
    return claimed


def test_two_workers_at_once_never_deliver_the_same_attempt_twice(
    app, app_settings, roomy_receiver, hooks_vendor
):
    receiver = roomy_receiver
    rt = app.extensions["vrm"]
    settings = {**rt.settings, "WEBHOOK_TIMEOUT_S": 2, "WEBHOOK_LEASE_S": 7, "WEBHOOK_POLL_MS": 20}
    paths = [f"/shop-{n}" for n in range(4)]
    for path in paths:
        add_endpoint(hooks_vendor, receiver.url(path))
    receiver.script = lambda _request: 0.005  # a short wait, then 200: attempts overlap

    # Each worker with its own engine (its own connections), as two processes would have.
    engines = [make_engine(app_settings["DATABASE_URL"]) for _ in range(2)]
    workers = [Dispatcher(make_sessionmaker(engine), rt.keyring, settings) for engine in engines]
    claimed = [claims_of(worker) for worker in workers]
    stop = threading.Event()
    loops = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for loop in loops:
        loop.start()
    try:
        with rt.sessions() as session, write_transaction(session):
            outbox = Outbox(session, rt.keyring)
            events = {
                str(outbox.emit(hooks_vendor.id, "consent.given", {"number": n}))
                for n in range(100)
            }
        total = len(events) * len(paths)
        receiver.wait_for(total, timeout=60)

        def settled() -> bool:
            with rt.sessions() as session:
                return not session.scalar(select(func.count()).where(Delivery.state != "succeeded"))

        wait_until(settled, timeout=10, what="every delivery is recorded")
        time.sleep(0.2)  # anything sent twice would arrive now
    finally:
        stop.set()
        for loop in loops:
            loop.join(timeout=10)
        for worker in workers:
            worker.close()
        for engine in engines:
            engine.dispose()

    received = receiver.to()
    arrived = Counter((r.path, r.headers["webhook-id"]) for r in received)
    assert set(arrived) == {(path, event_id) for path in paths for event_id in events}
    assert set(arrived.values()) == {1}
    assert all(r.status == 200 for r in received)
    with rt.sessions() as session:
        assert session.execute(
            select(Delivery.state, Delivery.attempts, func.count()).group_by(
                Delivery.state, Delivery.attempts
            )
        ).all() == [("succeeded", 1, total)]
        assert session.execute(
            select(DeliveryAttempt.number, DeliveryAttempt.status_code, func.count()).group_by(
                DeliveryAttempt.number, DeliveryAttempt.status_code
            )
        ).all() == [(1, 200, total)]
    # Both workers took part, and no attempt was claimed by both.
    assert all(claimed), [len(c) for c in claimed]
    assert len(claimed[0]) + len(claimed[1]) == total
    assert not set(claimed[0]) & set(claimed[1])


def test_the_endpoint_cap_holds_when_another_worker_claims_while_one_is_choosing(
    app, app_settings, hooks_vendor
):
    rt = app.extensions["vrm"]
    cap = rt.settings["WEBHOOK_ENDPOINT_CONCURRENCY"]
    add_endpoint(hooks_vendor, "http://127.0.0.1:9/hook")  # claims only: nothing is sent
    with rt.sessions() as session, write_transaction(session):
        outbox = Outbox(session, rt.keyring)
        for n in range(2 * cap):
            outbox.emit(hooks_vendor.id, "consent.given", {"number": n})
    engines = [make_engine(app_settings["DATABASE_URL"]) for _ in range(2)]
    try:
        one, other = (
            DeliveryQueue(make_sessionmaker(engine), rt.keyring, rt.settings) for engine in engines
        )
        held = other.claim(cap - 1)
        assert len(held) == cap - 1
        meanwhile: list[list[Job]] = []

        @event.listens_for(engines[0], "after_cursor_execute")
        def other_worker_claims(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # Right after the first worker's first query, the other takes the last free place.
            if not meanwhile and statement.lstrip().upper().startswith("SELECT"):
                meanwhile.append(other.claim(cap))

        chosen = one.claim(cap)
        assert meanwhile and len(meanwhile[0]) == 1
        in_flight = len(held) + len(meanwhile[0]) + len(chosen)
        assert in_flight <= cap, f"{in_flight} deliveries in flight to one endpoint, cap {cap}"
    finally:
        for engine in engines:
            engine.dispose()
