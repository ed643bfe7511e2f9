"""Races across processes, against gunicorn with three workers on the suite's database
(SQLite, or PostgreSQL when VRM_TEST_DATABASE_URL is set): twenty POSTs at once with one
Idempotency-Key make one resource and get one answer, for a person and for a vendor; and a
consent withdrawn while vendor threads read in a tight loop is refused to every read sent
after the withdrawal's answer came back."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.reliability.conftest import expect, sign_up, vendor_token, wait_until
from tests.reliability.test_production_layout import (
    Deployment,
    access_log,
    deployment,
    scratch_database,
)
from vrm.consents.models import Consent
from vrm.db import make_engine
from vrm.terms.roster import DEFAULT_TERMS

RACERS = 20
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("races")
    with (
        scratch_database(directory) as database_url,
        deployment(directory, database_url, web_workers=3, threads=4) as vrm,
    ):
        yield vrm


@dataclass
class Parties:
    """A person and a vendor that accepts her terms, each with its own credentials."""

    person: dict[str, str]
    vendor_id: str
    vendor: dict[str, str]
    customer_ref: str


@pytest.fixture(scope="module")
def parties(served: Deployment) -> Parties:
    with served.http() as http:
        person = sign_up(http, "ada@example.org")
        profile = {"given_name": "Ada", "family_name": "Lovelace", "phone": "+447911123456"}
        expect(http.patch("/personal/v1/profile", json=profile, headers=person), 200)
        creds = json.loads(served.vrm("vendor", "create", "--name", "Velo Shop", "--json"))
        vendor = vendor_token(
            http, creds["client_id"], creds["client_secret"], "consents:request profile:read"
        )
        terms = {"accepted": list(DEFAULT_TERMS)}
        expect(http.put("/vendor/v1/terms", json=terms, headers=vendor), 200)
        # A standing consent for another purpose: how the vendor comes to know her ref.
        standing = {
            "vendor_id": creds["vendor_id"],
            "fields": ["family_name"],
            "purposes": ["CustomerCare"],
        }
        first = expect(http.post("/personal/v1/consents", json=standing, headers=person), 201)
    return Parties(person, creds["vendor_id"], vendor, first["customer_ref"])


def consent_ids(served: Deployment) -> set[str]:
    """Every consent in the database, whatever its state."""
    engine = make_engine(served.database_url)
    try:
        with engine.connect() as connection:
            return {str(i) for i in connection.scalars(select(Consent.id))}
    finally:
        engine.dispose()


def at_once(
    count: int, call: Callable[[httpx.Client], httpx.Response], base: str
) -> list[httpx.Response]:
    """``call`` from ``count`` threads released together, each on its own connection (so
    the kernel spreads them over gunicorn's workers)."""
    start = threading.Barrier(count)
    answers: list[httpx.Response | BaseException | None] = [None] * count

    def run(n: int) -> None:
        try:
            with httpx.Client(base_url=base, trust_env=False, timeout=60) as http:
                http.get("/healthz")  # connect first, so the POSTs leave together
                start.wait(timeout=30)
                answers[n] = call(http)
        except BaseException as error:  # reported below, in the test's thread
            answers[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [a for a in answers if not isinstance(a, httpx.Response)]
    assert not failed, failed
    return answers  # type: ignore[return-value]


def workers_answering(served: Deployment, request_line: str, after: int, count: int) -> set[str]:
    """The gunicorn workers (pids) that answered the ``count`` requests like
    ``request_line`` logged after the first ``after`` of them."""

    def logged() -> list[tuple[str, str]] | None:
        lines = access_log(served.log("gunicorn"), request_line)[after:]
        return lines if len(lines) >= count else None

    found = wait_until(logged, timeout=10, what=f"gunicorn logs {count} x {request_line}")
    return {pid for pid, _ in found}


def personal_grant(parties: Parties) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = {
        "vendor_id": parties.vendor_id,
        "fields": ["given_name"],
        "purposes": ["Personalisation"],
    }
    return "/personal/v1/consents", parties.person, body


def vendor_request(parties: Parties) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = {
        "customer_ref": parties.customer_ref,
        "fields": ["phone"],
        "purposes": ["DirectMarketing"],
        "message": "News of our autumn range?",
    }
    return "/vendor/v1/consent-requests", parties.vendor, body


@pytest.mark.parametrize("creating", [personal_grant, vendor_request], ids=["person", "vendor"])
def test_twenty_posts_with_one_key_across_processes_make_one_resource_and_one_answer(
    served: Deployment,
    parties: Parties,
    creating: Callable[[Parties], tuple[str, dict[str, str], dict[str, Any]]],
) -> None:
    path, auth, body = creating(parties)
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    before = consent_ids(served)
    logged_before = len(access_log(served.log("gunicorn"), f"POST {path}"))

    answers = at_once(RACERS, lambda http: http.post(path, json=body, headers=headers), served.base)

    assert [a.status_code for a in answers] == [201] * RACERS, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    replayed = [a.headers.get("Idempotent-Replayed") for a in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * (RACERS - 1)
    assert consent_ids(served) - before == {answers[0].json()["id"]}
    # The race crossed processes: more than one gunicorn worker answered it.
    assert len(workers_answering(served, f"POST {path}", logged_before, RACERS)) >= 2


# A withdrawal while the vendor reads


@dataclass
class Read:
    sent: float
    status: int
    content_type: str
    body: dict[str, Any]


@dataclass
class Reader:
    """A vendor thread reading the profile in a tight loop on its own connection."""

    reads: list[Read] = field(default_factory=list)
    error: BaseException | None = None


def read_in_a_loop(
    served: Deployment, parties: Parties, stop: threading.Event, reader: Reader
) -> None:
    path = f"/vendor/v1/customers/{parties.customer_ref}/profile"
    try:
        with served.http() as http:
            while not stop.is_set():
                sent = time.monotonic()
                answer = http.get(
                    path, params={"purpose": "ServiceProvision"}, headers=parties.vendor
                )
                reader.reads.append(
                    Read(sent, answer.status_code, answer.headers["content-type"], answer.json())
                )
    except BaseException as error:  # reported in the test's thread
        reader.error = error


def withdraw_during_reads(served: Deployment, parties: Parties, readers: int = 4) -> None:
    """One round: grant, let the readers read, withdraw while they do; then check every
    read, by when it was sent against when the withdrawal's answer arrived."""
    with served.http() as http:
        granted = http.post(
            "/personal/v1/consents",
            json={
                "vendor_id": parties.vendor_id,
                "fields": ["given_name", "phone"],
                "purposes": ["ServiceProvision"],
            },
            headers=parties.person,
        )
        assert granted.status_code == 201, granted.text
        stop = threading.Event()
        running = [Reader() for _ in range(readers)]
        threads = [
            threading.Thread(target=read_in_a_loop, args=(served, parties, stop, r))
            for r in running
        ]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 30
            while not all(r.reads or r.error for r in running):
                assert time.monotonic() < deadline, "the readers did not get an answer"
                time.sleep(0.01)
            time.sleep(random.uniform(0, 0.05))
            withdrawn = http.post(
                f"/personal/v1/consents/{granted.json()['id']}/withdraw", headers=parties.person
            )
            returned = time.monotonic()
            assert withdrawn.status_code == 200, withdrawn.text
            assert withdrawn.json()["state"] == "withdrawn"
            while not all(sum(x.sent > returned for x in r.reads) >= 3 or r.error for r in running):
                assert time.monotonic() < deadline, "the readers stopped reading"
                time.sleep(0.01)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert [r.error for r in running] == [None] * readers
    reads = [read for r in running for read in r.reads]
    before = [r for r in reads if r.sent <= returned]
    after = [r for r in reads if r.sent > returned]
    live = {"given_name": "Ada", "phone": "+447911123456"}
    assert any(r.status == 200 for r in before)
    for read in before:
        # Sent while the withdrawal was on its way: either answer, but never more fields.
        assert read.status in (200, 403), read
        if read.status == 200:
            assert read.body["profile"] == live
    assert after
    for read in after:
        assert (read.status, read.content_type) == (403, PROBLEM_JSON), read
        assert "profile" not in read.body and read.body["status"] == 403


@pytest.mark.parametrize(
    "rounds",
    [pytest.param(6, id="6-rounds"), pytest.param(300, id="300-rounds", marks=pytest.mark.soak)],
)
def test_no_read_sent_after_a_withdrawal_returned_discloses_a_field(
    served: Deployment, parties: Parties, rounds: int
) -> None:
    for _ in range(rounds):
        withdraw_during_reads(served, parties)
