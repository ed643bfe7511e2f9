"""The stores VRM depends on go away and come back.

PostgreSQL (its own cluster, restarted under load): every answer is a success or a 503
problem with Retry-After, never a 500 or a dropped connection; service resumes by itself
within seconds, without restarting gunicorn or the worker; every event committed before,
during and after the outage reaches the vendor's webhook, duplicates only under the same
webhook-id.

Redis (the shared rate-limit store, killed mid-test): limited routes keep answering, each
process counting alone meanwhile; once Redis is back the processes count together again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import FAST_ARGON2, PASSWORD
from tests.reliability.conftest import (
    PROBLEM_JSON,
    Load,
    Outcome,
    PostgresCluster,
    RedisServer,
    Step,
    basic,
    create_vendor,
    expect,
    gunicorn,
    new_keys,
    new_person,
    on_postgres,
    on_sqlite,
    run_vrm,
    vendor_token,
    vrm_env,
    vrm_worker,
    wait_until,
)
from tests.webhooks.conftest import Receiver
from vrm.app import create_app
from vrm.db import make_engine
from vrm.events.models import OutboxEvent
from vrm.migrate import upgrade

# Nothing the server knows about itself belongs in an answer.
LEAKS = ("Traceback", "SELECT", "INSERT", "UPDATE ", "sqlalchemy", "psycopg", "postgres")

# Seconds after PostgreSQL answers again by which requests succeed again.
RECOVERY_S = 8.0


def assert_unavailable_problem(outcome: Outcome) -> None:
    """A 503 is the documented problem, with when to come back, and nothing else."""
    assert outcome.content_type.startswith(PROBLEM_JSON), outcome
    problem = outcome.json
    assert problem["type"] == "urn:vrm:problem:unavailable", problem
    assert (problem["status"], problem["title"]) == (503, "Service unavailable"), problem
    assert outcome.retry_after is not None and int(outcome.retry_after) > 0, outcome
    assert not [leak for leak in LEAKS if leak in outcome.body], outcome.body


# One app in this process, against the private cluster


@on_postgres
def test_a_lost_database_is_a_503_and_a_bug_in_sql_stays_a_500(
    private_postgres: PostgresCluster, tmp_path: Path
) -> None:
    url = private_postgres.create_database("vrm_lost")
    upgrade(url)
    settings = {"ENV": "test", "DATABASE_URL": url, "KEYS": new_keys(), **FAST_ARGON2}
    app = create_app({**settings, "INSTANCE_PATH": str(tmp_path)})
    try:
        client = app.test_client()
        health = client.get("/healthz")
        assert health.status_code == 200, health.json
        private_postgres.stop()
        try:
            api = client.post(
                "/personal/v1/accounts", json={"email": "ada@example.org", "password": PASSWORD}
            )
            assert api.status_code == 503, api.get_data(as_text=True)
            assert_unavailable_problem(
                Outcome(
                    "signup",
                    0,
                    api.status_code,
                    api.headers["Content-Type"],
                    api.headers.get("Retry-After"),
                    api.get_data(as_text=True),
                )
            )
            assert client.get("/healthz").status_code == 503
            with client.session_transaction() as web_session:
                web_session["sid"] = "a web session the database must be asked about"
            page = client.get("/")
            assert page.status_code == 503
            assert page.mimetype == "text/html"
            assert int(page.headers["Retry-After"]) > 0
            assert "Service unavailable" in page.get_data(as_text=True)
        finally:
            private_postgres.start()
        # Back without a restart of the app: the pool drops its dead connections.
        wait_until(lambda: client.get("/healthz").status_code == 200, 10, "the app recovers")
        again = client.post(
            "/personal/v1/accounts", json={"email": "ada@example.org", "password": PASSWORD}
        )
        assert again.status_code == 201, again.json
    finally:
        app.extensions["vrm"].engine.dispose()

    # A database without the tables is a deployment bug (ProgrammingError), not an outage.
    unmigrated = create_app(
        {
            **settings,
            "DATABASE_URL": private_postgres.create_database(),
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    try:
        response = unmigrated.test_client().post(
            "/personal/v1/accounts", json={"email": "ada@example.org", "password": PASSWORD}
        )
        assert response.status_code == 500, response.get_data(as_text=True)
        assert response.json["type"] == "urn:vrm:problem:internal-error"
    finally:
        unmigrated.extensions["vrm"].engine.dispose()


# gunicorn and `vrm worker` under load while the cluster restarts

INTENTION = {"category": "sports/cycling/bicycles"}


def publishing_and_reading(person: dict[str, str], vendor: dict[str, str]) -> Step:
    """A thread's requests: mostly publishing intentions (each one an event for the
    subscribed vendor), sometimes a profile change, and reads on both sides."""

    def step(http: httpx.Client, i: int) -> tuple[str, httpx.Response]:
        kind = i % 5
        if kind in (0, 2):
            body = {**INTENTION, "title": f"A gravel bike, request {uuid.uuid4().hex[:8]}"}
            return "publish", http.post("/personal/v1/intentions", json=body, headers=person)
        if kind == 1:
            changes = {"given_name": f"Ada {i}"}
            return "profile", http.patch("/personal/v1/profile", json=changes, headers=person)
        if kind == 3:
            return "feed", http.get("/vendor/v1/intentions", headers=vendor)
        return "list", http.get("/personal/v1/intentions", headers=person)

    return step


@on_postgres
@pytest.mark.parametrize(
    ("restarts", "seconds_between"),
    [
        pytest.param(1, 2.0, id="one-restart"),
        pytest.param(6, 20.0, id="soak", marks=pytest.mark.soak),
    ],
)
def test_a_postgres_restart_under_load_gives_503s_then_recovers_and_loses_no_event(
    private_postgres: PostgresCluster,
    webhook_receiver: Receiver,
    tmp_path: Path,
    restarts: int,
    seconds_between: float,
) -> None:
    url = private_postgres.create_database("vrm_outage")
    env = vrm_env(url, new_keys(), tmp_path)
    run_vrm(env, "db", "upgrade")
    vendor_id, client_id, secret = create_vendor(url, env["VRM_KEYS"], "Acme Cycles")
    with ExitStack() as stack:
        server = stack.enter_context(gunicorn(env, tmp_path / "gunicorn.log", workers=2))
        worker = stack.enter_context(vrm_worker(env, tmp_path / "worker.log"))
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=30))
        vendor = vendor_token(http, client_id, secret, "intentions:read webhooks:manage")
        expect(
            http.post("/vendor/v1/subscriptions", json={"categories": ["sports"]}, headers=vendor),
            201,
        )
        expect(
            http.post("/vendor/v1/webhooks", json={"url": webhook_receiver.url()}, headers=vendor),
            201,
        )
        people = [new_person(http, f"person{n}@example.org") for n in range(3)]

        load = Load()
        for person in people:
            load.run(publishing_and_reading(person.auth, vendor), server.url, 1)
        back_at: list[float] = []
        try:
            for _ in range(restarts):
                time.sleep(seconds_between)
                private_postgres.stop("fast")
                time.sleep(2)
                private_postgres.start()
                back_at.append(time.monotonic())
            time.sleep(RECOVERY_S + 3)  # the last recovery, then a stretch of normal service
        finally:
            outcomes = load.finish()

        broken = [o for o in outcomes if o.error or o.status not in (200, 201, 503)]
        assert not broken, broken[:5]
        refused = [o for o in outcomes if o.status == 503]
        assert refused, "no request met the outage: the test proves nothing"
        for outcome in refused:
            assert_unavailable_problem(outcome)
        # Within seconds of the cluster answering again, everything succeeds (generous for
        # a loaded machine: the point is recovery without a restart, not its speed).
        settled = [o for o in outcomes if o.started > back_at[-1] + RECOVERY_S]
        assert settled and all(o.status in (200, 201) for o in settled), settled[:5]
        for moment in back_at:
            assert any(
                moment < o.started < moment + RECOVERY_S and o.status == 200 for o in outcomes
            )

        # The outbox drains: every committed event reaches the receiver, once per id.
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                committed = {
                    str(event_id)
                    for event_id in connection.scalars(
                        select(OutboxEvent.id).where(OutboxEvent.vendor_id == vendor_id)
                    )
                }
        finally:
            engine.dispose()

        def delivered() -> set[str]:
            return {r.headers["webhook-id"] for r in webhook_receiver.to() if r.status == 200}

        assert committed, "no event was committed: the test proves nothing"
        wait_until(lambda: committed <= delivered(), 60, "every committed event is delivered")
        assert worker.poll() is None and server.process.poll() is None

    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in webhook_receiver.to():
        bodies[request.headers["webhook-id"]].add(request.body)
    assert set(bodies) == committed  # nothing delivered that was not committed
    assert all(len(sent) == 1 for sent in bodies.values())  # a duplicate is the same event
    acknowledged = {o.json["id"] for o in outcomes if o.what == "publish" and o.status == 201}
    matched = [json.loads(next(iter(sent)))["data"]["intention_id"] for sent in bodies.values()]
    assert len(matched) == len(set(matched))  # one event per intention, not one per attempt
    assert acknowledged <= set(matched)


# Redis, the shared rate-limit store


def token_statuses(http: httpx.Client, vendor: tuple[str, str], times: int) -> list[int]:
    """Ask for a client-credentials token ``times`` times; the statuses."""
    return [
        http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(*vendor)
        ).status_code
        for _ in range(times)
    ]


def counts_in_redis(http: httpx.Client, redis: Any) -> bool:
    """Whether the server behind ``http`` counts in Redis (again): a refused login there
    writes a counter into the emptied store."""
    redis.flushall()
    answer = http.post(
        "/personal/v1/tokens",
        json={"name": "x"},
        headers=basic("nobody@example.org", "not the password"),
    )
    assert answer.status_code == 401, answer.text
    return bool(redis.dbsize())


@on_sqlite
def test_limits_hold_per_process_while_redis_is_down_and_are_shared_again_after(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    redis = pytest.importorskip("redis")
    url = f"sqlite:///{tmp_path / 'vrm.sqlite3'}"
    upgrade(url)
    keys = new_keys()
    vendors = [create_vendor(url, keys, name)[1:] for name in ("Before", "During", "After")]
    env = vrm_env(
        url,
        keys,
        tmp_path,
        VRM_RATELIMIT_STORAGE_URL=private_redis.url,
        VRM_OAUTH_TOKEN_RATE_LIMIT="3 per hour",
    )
    before, during, after = vendors
    with ExitStack() as stack:
        # Two instances, one process each: whatever one counts, the other must see.
        one = stack.enter_context(gunicorn(env, tmp_path / "one.log", workers=1, threads=2))
        two = stack.enter_context(gunicorn(env, tmp_path / "two.log", workers=1, threads=2))
        at_one = stack.enter_context(httpx.Client(base_url=one.url, timeout=30))
        at_two = stack.enter_context(httpx.Client(base_url=two.url, timeout=30))
        store = redis.Redis(port=private_redis.port)
        stack.callback(store.close)

        assert token_statuses(at_one, before, 3) == [200] * 3
        assert token_statuses(at_two, before, 1) == [429]

        private_redis.kill()
        statuses = token_statuses(at_one, during, 4) + token_statuses(at_two, during, 4)
        # Each process allows its own three, then refuses; none fails.
        assert statuses == [200, 200, 200, 429] * 2

        private_redis.start()
        for http in (at_one, at_two):
            wait_until(
                lambda http=http: counts_in_redis(http, store),
                45,
                "the instance counts in Redis again",
                every=0.5,
            )
        assert token_statuses(at_one, after, 3) == [200] * 3
        assert token_statuses(at_two, after, 1) == [429]
