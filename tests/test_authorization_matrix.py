"""Object- and function-level authorization, as a matrix generated from openapi.yaml.

Every operation under /personal/v1 and /vendor/v1 whose path takes an id is called with
an id that exists but belongs to someone else, by each kind of caller who must be refused:

- person routes: another person (404, the same refusal as for an id that does not exist),
  a vendor's access token (401), no token (401);
- vendor routes: another vendor (404, the same as for a made-up id), the owner's own token
  without the operation's scope (403 insufficient_scope, the scope taken from the spec's
  ``security``), a person's access token (401), no token (401).

A refusal carries no data of the object (its title, texts, URL, names...), and changes
nothing: the whole database is compared before and after each call, so a DELETE by the
wrong owner that deleted, or a PATCH that wrote, fails. A route added to the spec without a
way to reach it here fails ``test_every_operation_with_an_id_is_covered``.

One world serves the whole module (building it takes a few seconds): two persons (A, B),
three vendors (X, Y, and Z, which only B knows), each owning one of every kind of object.
The conftest's per-test emptying is replaced by one emptying when the module ends.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, Account, make_account
from tests.consents.conftest import VendorApi, fill_profile, granted, make_vendor, relate
from vrm import clock
from vrm.limits import limiter
from vrm.models import Base
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.grants import GrantStore

SPEC = yaml.safe_load((Path(__file__).resolve().parent.parent / "openapi.yaml").read_text())
PREFIXES = ("/personal/v1/", "/vendor/v1/")
METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_JSON = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "errors", "error"}
ALL_SCOPES = tuple(
    SPEC["components"]["securitySchemes"]["vendorOAuth"]["flows"]["clientCredentials"]["scopes"]
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    scopes: tuple[str, ...]  # the vendor scopes the spec asks for; () for person routes
    has_body: bool

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def side(self) -> str:
        return "personal" if self.path.startswith("/personal/") else "vendor"

    @property
    def writes(self) -> bool:
        return self.method != "get"


def operations_with_ids() -> list[Operation]:
    found = []
    for path, item in SPEC["paths"].items():
        if not path.startswith(PREFIXES) or "{" not in path:
            continue
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            scopes: tuple[str, ...] = ()
            for requirement in op.get("security", SPEC.get("security", [])):
                scopes += tuple(requirement.get("vendorOAuth", ()))
            found.append(Operation(method, path, scopes, "requestBody" in op))
    return found


OPERATIONS = operations_with_ids()
PERSON_CALLERS = ("other_person", "vendor_token", "no_token")
VENDOR_CALLERS = ("other_vendor", "missing_scope", "person_token", "no_token")

# A valid body for each operation that takes one, so that a refusal is about who asks,
# not about what was sent.
OFFER_BODY = {
    "price": "700.00",
    "currency": "EUR",
    "description": "An offer from the wrong vendor",
    "accepted_terms": list(DEFAULT_TERMS),
}
BODIES: dict[str, Any] = {
    "PATCH /personal/v1/intentions/{intention_id}": {"title": "Hijacked by someone else"},
    "POST /personal/v1/consent-requests/{consent_id}/approve": {},
    "POST /personal/v1/offers/{offer_id}/accept": {},
    "POST /personal/v1/conversations/{conversation_id}/messages": {"text": "Not my thread"},
    "POST /vendor/v1/intentions/{intention_id}/offers": OFFER_BODY,
    "PATCH /vendor/v1/webhooks/{endpoint_id}": {"enabled": False},
    "POST /vendor/v1/webhooks/{endpoint_id}/replay": lambda: {
        "since": (clock.now() - timedelta(days=1)).isoformat()
    },
    "POST /vendor/v1/conversations/{conversation_id}/messages": {"text": "Not my thread"},
}
QUERIES: dict[str, dict[str, str]] = {
    "GET /vendor/v1/customers/{customer_ref}/profile": {"purpose": "ServiceProvision"},
}


def cases() -> list[Any]:
    made = []
    for op in OPERATIONS:
        for caller in PERSON_CALLERS if op.side == "personal" else VENDOR_CALLERS:
            made.append(pytest.param(op, caller, id=f"{op.id} as {caller}"))
    return made


# The world


@dataclass
class World:
    app: Flask
    client: FlaskClient
    a: Account
    b: Account
    x: VendorApi
    y: VendorApi
    z: VendorApi
    # Path parameter values of the victims' objects, per side: B's (person routes) and
    # X's (vendor routes).
    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    # Strings only the victims' objects hold; none may appear in a refusal.
    secrets: list[str] = field(default_factory=list)
    scoped_tokens: dict[str, str] = field(default_factory=dict)

    def token_without(self, scope: str) -> str:
        """X's own client-credentials token with every scope but ``scope``."""
        if scope not in self.scoped_tokens:
            others = " ".join(s for s in ALL_SCOPES if s != scope)
            saved = self.x.token
            self.scoped_tokens[scope] = self.x.new_token(others)
            self.x.token = saved
        return self.scoped_tokens[scope]


def ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def build_world(app: Flask) -> World:
    client = app.test_client()
    a = make_account(client, "alice.matrix@example.org")
    b = make_account(client, "bruno.matrix@example.org")
    fill_profile(client, a, given_name="Alice-secret-name", family_name="Anders")
    fill_profile(client, b, given_name="Bruno-secret-name", family_name="Brandt")
    x = make_vendor(app, client, "Xylo Cycles")
    y = make_vendor(app, client, "Yonder Electronics", redirect_uris=("https://y.example/cb",))
    z = make_vendor(app, client, "Zenith Hidden", redirect_uris=("https://z.example/cb",))
    for vendor in (x, y, z):
        vendor.accept()
    world = World(app, client, a, b, x, y, z)

    # Each vendor subscribes to its own kind of demand: X sells bikes, Y electronics.
    x_sub = ok(x.post("/vendor/v1/subscriptions", json={"categories": ["sports"]}), 201)
    ok(y.post("/vendor/v1/subscriptions", json={"categories": ["electronics"]}), 201)

    def person_post(person: Account, path: str, body: Any, status: int = 201) -> Any:
        return ok(client.post(path, json=body, headers=person.auth), status)

    # Intentions: B's matches X only, A's matches Y only.
    b_intention = person_post(
        b,
        "/personal/v1/intentions",
        {"title": "Bruno-secret-intention gravel bike", "category": "sports/cycling/bicycles"},
    )
    person_post(
        a,
        "/personal/v1/intentions",
        {"title": "Alice laptop wanted", "category": "electronics/computers/laptops"},
    )
    # Offers: X answers B, Y answers A; both stay open.
    x_offer = ok(
        x.post(
            f"/vendor/v1/intentions/{b_intention['id']}/offers",
            json=OFFER_BODY | {"description": "Xylo-secret-offer steel frame"},
        ),
        201,
    )
    a_feed = ok(y.get("/vendor/v1/intentions"))["data"]
    ok(y.post(f"/vendor/v1/intentions/{a_feed[0]['id']}/offers", json=OFFER_BODY), 201)

    # Relationships, consents, consent requests, conversations: B with X, A with Y.
    x_ref_b = relate(app, x, b)
    relate(app, y, a)
    b_consent = granted(client, b, x, ["given_name", "family_name"])
    granted(client, a, y, ["given_name"])
    x_request = ok(
        x.post(
            "/vendor/v1/consent-requests",
            json={
                "customer_ref": x_ref_b,
                "fields": ["family_name"],
                "purposes": ["DirectMarketing"],
                "message": "Xylo-secret-request newsletter",
            },
        ),
        201,
    )
    b_talk = person_post(
        b,
        "/personal/v1/conversations",
        {"vendor_id": str(x.id), "text": "Bruno-secret-message where is my bike"},
    )
    ok(
        x.post(
            f"/vendor/v1/conversations/{b_talk['id']}/messages",
            json={"text": "Xylo-secret-reply it ships today"},
        ),
        201,
    )
    person_post(a, "/personal/v1/conversations", {"vendor_id": str(y.id), "text": "Hi Y"})

    # Agreements come with the consents; B's with X.
    b_agreements = ok(client.get("/personal/v1/agreements", headers=b.auth))["data"]
    assert b_agreements, "B has no agreement to attack"

    # Tokens: B's spare personal access token (its own stays in use by the tests).
    spare = ok(
        client.post(
            "/personal/v1/tokens",
            json={"name": "Bruno-secret-token-name"},
            headers={"Authorization": "Basic " + _basic(b.email)},
        ),
        201,
    )

    # Z: only B knows it; B gave its app a token, then blocked it.
    relate(app, z, b)
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        store = GrantStore(session)
        z_client = store.client(z.client_id)
        assert z_client is not None
        store.save_token(
            {
                "access_token": "vrm_at_" + uuid.uuid4().hex,
                "expires_in": 3600,
                "scope": "intentions:read",
            },
            z_client,
            uuid.UUID(b.id),
        )
    person_post(b, "/personal/v1/blocks", {"vendor_id": str(z.id)})

    # Webhooks: X's endpoint, with one delivery (its test event); Y has one too.
    x_hook = ok(
        x.post("/vendor/v1/webhooks", json={"url": "http://127.0.0.1:9/xylo-secret-hook"}), 201
    )
    x_delivery = ok(x.post(f"/vendor/v1/webhooks/{x_hook['id']}/test"), 202)
    y_hook = ok(y.post("/vendor/v1/webhooks", json={"url": "http://127.0.0.1:9/y-hook"}), 201)

    world.ids = {
        "personal": {
            "token_id": spare["id"],
            "vendor_id": str(z.id),
            "agreement_id": b_agreements[0]["id"],
            "consent_id": b_consent["id"],
            "intention_id": b_intention["id"],
            "offer_id": x_offer["id"],
            "conversation_id": b_talk["id"],
        },
        "vendor": {
            "consent_id": b_consent["id"],
            "customer_ref": x_ref_b,
            "subscription_id": x_sub["id"],
            "intention_id": b_intention["id"],
            "offer_id": x_offer["id"],
            "endpoint_id": x_hook["id"],
            "delivery_id": x_delivery["id"],
            "conversation_id": b_talk["id"],
        },
        # Y's own endpoint, for asking about X's delivery through it.
        "y_endpoint_id": {"endpoint_id": y_hook["id"]},
    }
    # X's tokens short of one scope each, minted now so the calls' snapshots exclude them.
    for scope in ALL_SCOPES:
        world.token_without(scope)
    # The consent-request routes take the id of the pending request.
    world.ids["personal_requests"] = {"consent_id": x_request["id"]}
    world.secrets = [
        "Bruno-secret",
        "Xylo-secret",
        "xylo-secret-hook",
        "Brandt",
        x.name,
        z.name,
        x_hook.get("secret", "whsec_none"),
    ]
    return world


def _basic(email: str) -> str:
    return base64.b64encode(f"{email}:{PASSWORD}".encode()).decode()


@pytest.fixture(autouse=True)
def _empty_tables() -> Iterator[None]:
    """Overrides the conftest's: the world is kept for the whole module (see ``world``)."""
    yield


@pytest.fixture(scope="module")
def world(app: Flask) -> Iterator[World]:
    built = build_world(app)
    yield built
    with app.extensions["vrm"].engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    with app.app_context():
        limiter.reset()


# Calls and checks


def ids_for(world: World, op: Operation) -> dict[str, str]:
    if op.side == "personal" and op.path.startswith("/personal/v1/consent-requests/"):
        return world.ids["personal_requests"]
    return world.ids[op.side]


def made_up(name: str) -> str:
    return "cref_" + uuid.uuid4().hex if name == "customer_ref" else str(uuid.uuid4())


def url_of(op: Operation, values: Callable[[str], str]) -> str:
    path = op.path
    for name in _params(op):
        path = path.replace("{" + name + "}", values(name))
    return path


def _params(op: Operation) -> list[str]:
    return [part[1:-1] for part in op.path.split("/") if part.startswith("{")]


def call(world: World, op: Operation, path: str, auth: dict[str, str]) -> TestResponse:
    kwargs: dict[str, Any] = {"headers": auth}
    if op.id in BODIES:
        body = BODIES[op.id]
        kwargs["json"] = body() if callable(body) else body
    if op.id in QUERIES:
        kwargs["query_string"] = QUERIES[op.id]
    return world.client.open(path, method=op.method.upper(), **kwargs)


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as the database holds it."""
    with app.extensions["vrm"].engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(repr(v) for v in row) for row in connection.execute(select(table))),
            )
            for table in Base.metadata.sorted_tables
        }


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"gone": set(rows) - set(after[name]), "new": set(after[name]) - set(rows)}
        for name, rows in before.items()
        if rows != after[name]
    }


def refusal(response: TestResponse, world: World, status: int) -> dict[str, Any]:
    """A problem+json refusal with ``status`` that holds none of the victims' data."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == PROBLEM_JSON, (response.mimetype, text)
    body: dict[str, Any] = response.json
    assert set(body) <= PROBLEM_KEYS, body
    leaked = [s for s in world.secrets if s.lower() in text.lower()]
    assert not leaked, (leaked, text)
    return body


def comparable(body: dict[str, Any], path: str) -> dict[str, Any]:
    """A refusal with the request's own path taken out (``instance`` names it)."""
    return {k: v for k, v in body.items() if k != "instance"} | {
        "instance": body.get("instance", "").replace(path, "<path>")
    }


@pytest.mark.parametrize(("op", "caller"), cases())
def test_refused(world: World, op: Operation, caller: str) -> None:
    victim = ids_for(world, op)
    missing = [name for name in _params(op) if name not in victim]
    assert not missing, f"{op.id}: the world has no object for {missing}; add one"
    path = url_of(op, victim.__getitem__)
    before = snapshot(world.app)

    if caller in ("other_person", "other_vendor"):
        auth = world.a.auth if caller == "other_person" else world.y.auth
        response = call(world, op, path, auth)
        mine = refusal(response, world, 404)
        # Exists-but-not-yours answers exactly as does-not-exist.
        fake_path = url_of(op, made_up)
        fake = refusal(call(world, op, fake_path, auth), world, 404)
        assert comparable(mine, path) == comparable(fake, fake_path)
        if "delivery_id" in _params(op):
            # X's delivery asked for through Y's own endpoint.
            mixed_path = url_of(op, (world.ids["y_endpoint_id"] | victim).__getitem__)
            mixed = refusal(call(world, op, mixed_path, auth), world, 404)
            assert comparable(mixed, mixed_path) == comparable(fake, fake_path)
    elif caller == "missing_scope":
        assert op.scopes, f"{op.id} names no scope in the spec"
        for scope in op.scopes:
            auth = {"Authorization": f"Bearer {world.token_without(scope)}"}
            body = refusal(call(world, op, path, auth), world, 403)
            assert body.get("error") == "insufficient_scope", body
    elif caller in ("no_token", "vendor_token", "person_token"):
        auth = {
            "no_token": {},
            "vendor_token": world.x.auth,  # the owner's vendor, on a person route
            "person_token": world.b.auth,  # the owner's person, on a vendor route
        }[caller]
        response = call(world, op, path, auth)
        refusal(response, world, 401)
        assert "Bearer" in response.headers.get("WWW-Authenticate", ""), response.headers
    else:  # pragma: no cover - a caller without a check
        raise AssertionError(caller)

    changes = changed_tables(before, snapshot(world.app))
    assert not changes, f"{op.id} as {caller} changed the database: {changes}"


def test_every_operation_with_an_id_is_covered() -> None:
    """The matrix is the spec's: every operation with an id under both APIs, each with
    every caller of its side (a new route shows up here, and in ``test_refused``)."""
    in_spec = {
        f"{method.upper()} {path}"
        for path, item in SPEC["paths"].items()
        if path.startswith(PREFIXES) and "{" in path
        for method in METHODS
        if method in item
    }
    covered = {param.values[0].id for param in cases()}
    assert covered == in_spec
    assert len(in_spec) >= 40, sorted(in_spec)
    for param in cases():
        op, caller = param.values
        assert caller in (PERSON_CALLERS if op.side == "personal" else VENDOR_CALLERS)
    # Every vendor operation names the scope its missing-scope case takes away.
    assert all(op.scopes for op in OPERATIONS if op.side == "vendor")


def test_the_checks_would_see_an_owners_call(world: World) -> None:
    """The controls: the owner's own calls pass where the others' were refused, show the
    data the refusals were checked for, and change what the snapshot compares."""
    intention = world.ids["personal"]["intention_id"]
    own = world.client.get(f"/personal/v1/intentions/{intention}", headers=world.b.auth)
    assert own.status_code == 200
    assert "Bruno-secret" in own.get_data(as_text=True)
    hook = world.ids["vendor"]["endpoint_id"]
    assert "xylo-secret-hook" in ok(world.x.get(f"/vendor/v1/webhooks/{hook}"))["url"]
    before = snapshot(world.app)
    path = f"/vendor/v1/webhooks/{hook}"
    ok(world.client.patch(path, json={"enabled": False}, headers=world.x.auth))
    assert "webhook_endpoints" in changed_tables(before, snapshot(world.app))
    ok(world.client.patch(path, json={"enabled": True}, headers=world.x.auth))
