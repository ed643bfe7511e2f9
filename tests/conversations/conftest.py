"""What the conversation tests share: a clock the test sets, which ticks a millisecond on
every reading (so messages and conversations have a strict order, as in real life); the
person and the vendor as httpx clients of the live server; and the three ways a
conversation opens (the person writes first, accepts an offer, approves a contact request)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import Account
from tests.consents.conftest import VendorApi, make_vendor
from vrm import clock
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.service import VendorService

PROBLEM_JSON = "application/problem+json"
PROBLEM = "urn:vrm:problem:"
# A Monday, at noon in London and 13:00 in Paris (winter time, UTC+1).
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class TickingClock:
    """The time the app reads: set by the test, one millisecond later at every reading."""

    def __init__(self, start: datetime):
        self._at = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._at += timedelta(milliseconds=1)
            return self._at

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._at = moment

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._at += delta


@pytest.fixture(autouse=True)
def now() -> Iterator[TickingClock]:
    """Autouse, so it is in place before any account, token or vendor exists."""
    ticking = TickingClock(START)
    clock.set_source(ticking)
    yield ticking
    clock.set_source(None)


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    # trust_env=False: no proxy from the environment between us and 127.0.0.1.
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as client:
        yield client


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The RFC 9457 body of a refusal, checked for its status and problem type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM + code, body
    assert body["status"] == status
    return body


def fields_of(response: httpx.Response) -> list[str]:
    """The fields a 422 problem names."""
    body = problem_of(response, 422, "validation-failed")
    return [error["field"] for error in body.get("errors", [])]


@dataclass
class Caller:
    http: httpx.Client
    token: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers(headers), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@dataclass
class Person(Caller):
    id: str = ""
    email: str = ""

    # Conversations

    def open(self, vendor: Vendor, text: str = "Hello, is my order on its way?") -> httpx.Response:
        return self.post(
            "/personal/v1/conversations", json={"vendor_id": str(vendor.id), "text": text}
        )

    def conversations(self, **params: Any) -> list[dict[str, Any]]:
        return self.ok("GET", "/personal/v1/conversations", params=params)["data"]

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/personal/v1/conversations/{conversation_id}")

    def unread(self, conversation_id: str) -> int:
        return self.conversation(conversation_id)["unread"]

    def say(self, conversation_id: str, text: str = "Thanks!", **body: Any) -> httpx.Response:
        return self.post(
            f"/personal/v1/conversations/{conversation_id}/messages", json={"text": text, **body}
        )

    def said(self, conversation_id: str, text: str = "Thanks!", **body: Any) -> dict[str, Any]:
        response = self.say(conversation_id, text, **body)
        assert response.status_code == 201, response.text
        return response.json()

    def messages(self, conversation_id: str, **params: Any) -> list[dict[str, Any]]:
        path = f"/personal/v1/conversations/{conversation_id}/messages"
        return self.ok("GET", path, params={"limit": 100, **params})["data"]

    def read(self, conversation_id: str) -> httpx.Response:
        return self.post(f"/personal/v1/conversations/{conversation_id}/read")

    def close(self, conversation_id: str) -> httpx.Response:
        return self.post(f"/personal/v1/conversations/{conversation_id}/close")

    # The rest of the person's side

    def set_rules(self, **rules: Any) -> dict[str, Any]:
        """PUT /terms with the default terms and durations, and these conversation rules."""
        body = {
            "terms": list(DEFAULT_TERMS),
            "consent_default_days": rules.pop("consent_default_days", 90),
            "consent_max_days": 365,
            **rules,
        }
        return self.ok("PUT", "/personal/v1/terms", json=body)

    def block(self, vendor: Vendor) -> None:
        self.ok("POST", "/personal/v1/blocks", 201, json={"vendor_id": str(vendor.id)})

    def withdraw(self, consent_id: str) -> dict[str, Any]:
        return self.ok("POST", f"/personal/v1/consents/{consent_id}/withdraw")

    def access_log(self) -> list[dict[str, Any]]:
        return self.ok("GET", "/personal/v1/access-log", params={"limit": 100})["data"]


@dataclass
class Vendor(Caller):
    """A vendor with a client-credentials token; a new token is fetched whenever the test
    clock has moved past the last one's hour (as the vendor's OAuth client would)."""

    api: VendorApi | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    name: str = ""
    scope: str | None = None
    issued_at: datetime = START

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        moment = clock.now()
        if self.api is not None and not (
            self.issued_at <= moment < self.issued_at + timedelta(minutes=50)
        ):
            self.token, self.issued_at = self.api.new_token(self.scope), clock.now()
        return super().headers(extra)

    def with_scope(self, scope: str) -> Vendor:
        """The same vendor holding a token with only ``scope``."""
        assert self.api is not None
        return Vendor(self.http, "", self.api, self.id, self.name, scope, START - timedelta(days=1))

    def say(
        self, conversation_id: str, text: str = "Your order ships today.", **body: Any
    ) -> httpx.Response:
        return self.post(
            f"/vendor/v1/conversations/{conversation_id}/messages", json={"text": text, **body}
        )

    def said(
        self, conversation_id: str, text: str = "Your order ships today.", **body: Any
    ) -> dict[str, Any]:
        response = self.say(conversation_id, text, **body)
        assert response.status_code == 201, response.text
        return response.json()

    def conversations(self) -> list[dict[str, Any]]:
        return self.ok("GET", "/vendor/v1/conversations", params={"limit": 100})["data"]

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/vendor/v1/conversations/{conversation_id}")

    def messages(self, conversation_id: str, **params: Any) -> list[dict[str, Any]]:
        path = f"/vendor/v1/conversations/{conversation_id}/messages"
        return self.ok("GET", path, params={"limit": 100, **params})["data"]

    def events(self, *types: str) -> list[dict[str, Any]]:
        """The vendor's events feed (oldest first), only ``types`` if given."""
        params: dict[str, Any] = {"limit": 500}
        if types:
            params["types"] = list(types)
        body = self.ok("GET", "/vendor/v1/events", params=params)
        return body["data"]

    def accept_terms(self) -> None:
        self.ok("PUT", "/vendor/v1/terms", json={"accepted": list(DEFAULT_TERMS)})


def person_of(http: httpx.Client, account: Account) -> Person:
    return Person(http, account.token, account.id, account.email)


def vendor_of(app: Flask, client: FlaskClient, http: httpx.Client, name: str) -> Vendor:
    api = make_vendor(app, client, name)
    return Vendor(http, api.token, api, api.id, api.name, None, clock.now())


@pytest.fixture
def person(http: httpx.Client, ada: Account) -> Person:
    return person_of(http, ada)


@pytest.fixture
def other(http: httpx.Client, bob: Account) -> Person:
    return person_of(http, bob)


@pytest.fixture
def shop(app: Flask, client: FlaskClient, http: httpx.Client) -> Vendor:
    return vendor_of(app, client, http, "Acme Shop")


@pytest.fixture
def rival(app: Flask, client: FlaskClient, http: httpx.Client) -> Vendor:
    return vendor_of(app, client, http, "Globex Market")


# Relationships and the three ways a conversation opens


def relate(app: Flask, vendor: Vendor, person: Person) -> str:
    """Begin the relationship (as a sign-in at the vendor would); the customer_ref."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        made = VendorService(session, rt.keyring).relate(vendor.id, uuid.UUID(person.id))
        return made.customer_ref


def ref(app: Flask, vendor: Vendor, person: Person) -> str:
    """The person's customer_ref at this vendor."""
    return app.extensions["vrm"].keyring.pseudonym(vendor.id, uuid.UUID(person.id))


def opened_by_person(
    app: Flask, person: Person, vendor: Vendor, text: str = "Hello, is my order on its way?"
) -> dict[str, Any]:
    relate(app, vendor, person)
    response = person.open(vendor, text)
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class OfferFlow:
    conversation_id: str
    offer_id: str
    intention_id: str
    consent_id: str


def opened_by_offer(
    person: Person, vendor: Vendor, category: str = "sports/cycling/bicycles"
) -> OfferFlow:
    """The vendor subscribes to the category's top level, the person publishes an
    intention in it, the vendor offers, the person accepts."""
    vendor.accept_terms()
    subscribed = vendor.post(
        "/vendor/v1/subscriptions", json={"categories": [category.split("/")[0]]}
    )
    assert subscribed.status_code in (201, 409), subscribed.text  # 409: subscribed already
    intention = person.ok(
        "POST",
        "/personal/v1/intentions",
        201,
        json={"title": "Looking for one", "category": category},
    )
    offered = vendor.ok(
        "POST",
        f"/vendor/v1/intentions/{intention['id']}/offers",
        201,
        json={
            "price": "650.00",
            "currency": "EUR",
            "description": "Steel gravel bike, delivered within a week",
            "accepted_terms": list(DEFAULT_TERMS),
        },
    )
    accepted = person.ok("POST", f"/personal/v1/offers/{offered['id']}/accept", json={})
    assert accepted["conversation_id"], accepted
    return OfferFlow(
        accepted["conversation_id"], offered["id"], intention["id"], accepted["consent_id"]
    )


def requested(
    app: Flask, person: Person, vendor: Vendor, purposes: tuple[str, ...] = ("CustomerCare",)
) -> dict[str, Any]:
    """A vendor's consent request to a customer, not yet answered."""
    vendor.accept_terms()
    customer_ref = relate(app, vendor, person)
    return vendor.ok(
        "POST",
        "/vendor/v1/consent-requests",
        201,
        json={
            "customer_ref": customer_ref,
            "fields": ["given_name"],
            "purposes": list(purposes),
            "message": "May we write to you about your order?",
        },
    )


def opened_by_request(
    app: Flask, person: Person, vendor: Vendor, purposes: tuple[str, ...] = ("CustomerCare",)
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The vendor asks for consent to contact, the person approves: (consent, conversation)."""
    request = requested(app, person, vendor, purposes)
    consent = person.ok("POST", f"/personal/v1/consent-requests/{request['id']}/approve", json={})
    found = [c for c in person.conversations() if c["consent_id"] == consent["id"]]
    assert len(found) == 1, found
    return consent, found[0]


@pytest.fixture
def talk(app: Flask, person: Person, shop: Vendor) -> dict[str, Any]:
    """An open conversation the person began with the shop (one message, theirs)."""
    return opened_by_person(app, person, shop)


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.extensions["vrm"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
