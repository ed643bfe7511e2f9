"""Requests at the same moment, over real HTTP against the threaded server: publications
and subscriptions never miss each other, two acceptances cannot both fulfil an intention,
and a vendor racing itself holds one open offer. (On PostgreSQL these run truly in
parallel; on SQLite the writes queue.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Account, make_account
from tests.consents.conftest import VendorApi
from tests.intentions.conftest import TERMS, count, intention_body, offer, publish, subscribe
from vrm.conversations.models import Conversation
from vrm.intentions.models import IntentionMatch, Offer


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, trust_env=False, timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_publications_and_subscriptions_at_the_same_moment_never_miss_each_other(
    app, client, http, acme, globex, initech
):
    people: list[Account] = [make_account(client, f"p{n}@example.org") for n in range(4)]
    vendors: list[VendorApi] = [acme, globex, initech]
    calls: list[Callable[[], httpx.Response]] = []
    for n, person in enumerate(people * 2):
        body = intention_body(title=f"Bike {n}", keywords=["gravel"])

        def publish_call(person: Account = person, body: dict[str, Any] = body) -> httpx.Response:
            return http.post("/personal/v1/intentions", json=body, headers=bearer(person.token))

        calls.append(publish_call)
    filters = [{"categories": ["sports"]}, {"keywords": ["gravel"]}, {"regions": []}]
    for vendor, body in zip(vendors, filters, strict=True):

        def subscribe_call(vendor: VendorApi = vendor, body: dict = body) -> httpx.Response:
            return http.post("/vendor/v1/subscriptions", json=body, headers=bearer(vendor.token))

        calls.insert(len(calls) // 2, subscribe_call)
    responses = at_once(calls)
    assert [r.status_code for r in responses] == [201] * len(calls), [r.text for r in responses]

    published = {r.json()["id"] for r in responses if "title" in r.json()}
    assert len(published) == 8
    for vendor in vendors:
        seen = http.get(
            "/vendor/v1/intentions", params={"limit": 100}, headers=bearer(vendor.token)
        )
        assert {i["id"] for i in seen.json()["data"]} == published, vendor.name
    assert count(app, IntentionMatch) == 8 * len(vendors)


def test_two_acceptances_at_once_fulfil_the_intention_once(app, client, http, ada, acme, globex):
    subscribe(acme)
    subscribe(globex)
    published = publish(client, ada)
    offers = [offer(acme, published["id"]), offer(globex, published["id"])]
    responses = at_once(
        [
            lambda o=o: http.post(
                f"/personal/v1/offers/{o['id']}/accept",
                json={"fields": ["given_name"]},
                headers=bearer(ada.token),
            )
            for o in offers
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    states = sorted(
        client.get(f"/personal/v1/offers/{o['id']}", headers=ada.auth).json["state"] for o in offers
    )
    assert states == ["accepted", "closed"]
    assert count(app, Conversation) == 1
    mine = client.get(f"/personal/v1/intentions/{published['id']}", headers=ada.auth).json
    assert mine["state"] == "fulfilled"


def test_a_vendor_racing_itself_holds_one_open_offer(app, client, http, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    body = {"price": "10.00", "currency": "EUR", "description": "A bike", "accepted_terms": TERMS}
    path = f"/vendor/v1/intentions/{published['id']}/offers"
    responses = at_once(
        [lambda: http.post(path, json=body, headers=bearer(acme.token)) for _ in range(4)]
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [
        r.text for r in responses
    ]
    assert count(app, Offer) == 1


def test_an_offer_racing_the_withdrawal_never_stays_open_on_a_withdrawn_intention(
    app, client, http, ada, acme
):
    subscribe(acme)
    published = publish(client, ada)
    body = {"price": "10.00", "currency": "EUR", "description": "A bike", "accepted_terms": TERMS}
    responses = at_once(
        [
            lambda: http.post(
                f"/vendor/v1/intentions/{published['id']}/offers",
                json=body,
                headers=bearer(acme.token),
            ),
            lambda: http.delete(
                f"/personal/v1/intentions/{published['id']}", headers=bearer(ada.token)
            ),
        ]
    )
    offered, withdrawn = responses
    assert withdrawn.status_code == 200, withdrawn.text
    assert offered.status_code in (201, 404), offered.text
    assert count(app, Offer, Offer.state == "open") == 0
