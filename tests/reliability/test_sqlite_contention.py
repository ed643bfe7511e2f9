"""The embedded default under contention: gunicorn with several processes and threads on
one SQLite file, eight clients writing (profile changes, intentions, messages) and eight
reading at once. No request fails (no 500, no 503, no "database is locked"), and every
write that was acknowledged is there afterwards.

It uses its own SQLite file whatever the pass, so it runs in the SQLite pass only."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import (
    Load,
    Person,
    Step,
    every_item,
    expect,
    gunicorn,
    new_keys,
    new_person,
    on_sqlite,
    vendor_token,
    vrm_env,
)
from vrm.crypto import KeyMaterial, Keyring
from vrm.db import make_engine, make_sessionmaker
from vrm.migrate import upgrade
from vrm.vendors.service import VendorService

WRITERS = READERS = 8


class Acknowledged:
    """What the service said it stored, per person."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intentions: dict[str, set[str]] = defaultdict(set)
        self.messages: dict[str, set[str]] = defaultdict(set)
        self.profile: dict[str, tuple[int, str]] = {}  # (ETag version, given_name)

    def record(self, person: Person, what: str, response: httpx.Response, value: str) -> None:
        if response.status_code not in (200, 201):
            return
        with self.lock:
            if what == "publish":
                self.intentions[person.id].add(response.json()["id"])
            elif what == "message":
                self.messages[person.id].add(response.json()["id"])
            else:
                # One writer per person: the last acknowledged change is the one kept.
                self.profile[person.id] = (int(response.headers["ETag"].strip('"')), value)


def writing(person: Person, conversation: str, acknowledged: Acknowledged) -> Step:
    def step(http: httpx.Client, i: int) -> tuple[str, httpx.Response]:
        token = uuid.uuid4().hex[:8]
        if i % 3 == 0:
            what, value = "profile", f"Ada {token}"
            response = http.patch(
                "/personal/v1/profile", json={"given_name": value}, headers=person.auth
            )
        elif i % 3 == 1:
            what, value = "publish", f"A gravel bike, request {token}"
            body = {"title": value, "category": "sports/cycling/bicycles"}
            response = http.post("/personal/v1/intentions", json=body, headers=person.auth)
        else:
            what, value = "message", f"Any news? ({token})"
            response = http.post(
                f"/personal/v1/conversations/{conversation}/messages",
                json={"text": value},
                headers=person.auth,
            )
        acknowledged.record(person, what, response, value)
        return what, response

    return step


def reading(person: Person, conversation: str, vendor: dict[str, str]) -> Step:
    def step(http: httpx.Client, i: int) -> tuple[str, httpx.Response]:
        kind = i % 4
        if kind == 0:
            return "feed", http.get("/vendor/v1/intentions", headers=vendor)
        if kind == 1:
            return "profile", http.get("/personal/v1/profile", headers=person.auth)
        if kind == 2:
            return "intentions", http.get("/personal/v1/intentions", headers=person.auth)
        path = f"/personal/v1/conversations/{conversation}/messages"
        return "messages", http.get(path, headers=person.auth)

    return step


@on_sqlite
@pytest.mark.parametrize(
    "seconds", [pytest.param(15, id="15s"), pytest.param(180, id="soak", marks=pytest.mark.soak)]
)
def test_many_writers_and_readers_on_one_sqlite_file_lose_nothing_and_never_fail(
    tmp_path: Path, seconds: float
) -> None:
    url = f"sqlite:///{tmp_path / 'vrm.sqlite3'}"
    upgrade(url)
    keys = new_keys()
    env = vrm_env(url, keys, tmp_path, VRM_MESSAGE_RATE_LIMIT="1000000 per minute")
    engine = make_engine(url)
    stack = ExitStack()
    stack.callback(engine.dispose)
    with stack:
        server = stack.enter_context(gunicorn(env, tmp_path / "gunicorn.log", workers=3))
        http = stack.enter_context(httpx.Client(base_url=server.url, timeout=60))
        people = [new_person(http, f"writer{n}@example.org") for n in range(WRITERS)]
        keyring = Keyring(KeyMaterial.from_json(keys))
        with make_sessionmaker(engine)() as session:
            service = VendorService(session, keyring)
            vendor_row, oauth_client, secret = service.create_vendor(
                "Acme Cycles", redirect_uris=()
            )
            for person in people:
                service.relate(vendor_row.id, uuid.UUID(person.id))
        vendor = vendor_token(http, oauth_client.client_id, secret, "intentions:read")
        expect(
            http.post("/vendor/v1/subscriptions", json={"categories": ["sports"]}, headers=vendor),
            201,
        )
        conversations = {}
        for person in people:
            opened = http.post(
                "/personal/v1/conversations",
                json={"vendor_id": str(vendor_row.id), "text": "Hello"},
                headers=person.auth,
            )
            conversations[person.id] = expect(opened, 201)["id"]

        acknowledged = Acknowledged()
        load = Load()
        for person in people:
            conversation = conversations[person.id]
            load.run(writing(person, conversation, acknowledged), server.url, 1)
            load.run(reading(person, conversation, vendor), server.url, 1)
        try:
            time.sleep(seconds)
        finally:
            outcomes = load.finish()

        failed = [o for o in outcomes if o.error or o.status not in (200, 201)]
        assert not failed, failed[:5]
        assert not [o for o in outcomes if "database is locked" in o.body]
        stored = sum(map(len, acknowledged.intentions.values())) + sum(
            map(len, acknowledged.messages.values())
        )
        assert stored > WRITERS * 5, f"only {stored} writes: too few to mean anything"

        # Every acknowledged write is there, and nothing that was not.
        for person in people:
            listed = every_item(http, "/personal/v1/intentions", person.auth)
            assert {i["id"] for i in listed} == acknowledged.intentions[person.id]
            path = f"/personal/v1/conversations/{conversations[person.id]}/messages"
            messages = {m["id"] for m in every_item(http, path, person.auth)}
            assert acknowledged.messages[person.id] <= messages
            assert len(messages) == len(acknowledged.messages[person.id]) + 1  # and the "Hello"
            profile = http.get("/personal/v1/profile", headers=person.auth)
            version, given_name = acknowledged.profile[person.id]
            assert expect(profile, 200)["given_name"] == given_name
            assert profile.headers["ETag"] == f'"{version}"'
