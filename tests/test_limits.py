"""Size limits on every API route: a body above MAX_CONTENT_LENGTH is refused (413, naming
the limit) before anything reads it, and every paginated list refuses a page size above its
maximum (422, naming ``limit``). The routes come from the app's URL map and the contract
(openapi.yaml, which tests/test_openapi.py keeps equal to the code), not from a hand list."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account
from tests.consents.conftest import make_vendor
from vrm.app import create_app
from vrm.config import DEFAULTS
from vrm.crypto import KeyMaterial

PROBLEM_JSON = "application/problem+json"
SPEC = yaml.safe_load((Path(__file__).parent.parent / "openapi.yaml").read_text())
API_PREFIXES = ("/personal/", "/vendor/", "/oauth/")
WEB_PAGES = {"/oauth/authorize"}


def _api_rules() -> list[tuple[str, str]]:
    """(method, rule) for every API route that takes a body, read from a throwaway app."""
    app = create_app(
        {
            "KEYS": KeyMaterial.generate().to_json(),
            "DATABASE_URL": "sqlite:///:memory:",
            "ENV": "test",
        }
    )
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIXES) or rule.rule in WEB_PAGES:
            continue
        for method in (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
            found.add((method, rule.rule))
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


def concrete(rule: str) -> str:
    """A URL for a rule, with made-up values for its variables."""
    path = re.sub(r"<uuid:[^>]+>", lambda _: str(uuid.uuid4()), rule)
    path = re.sub(r"<int:[^>]+>", "1", path)
    return re.sub(r"<(?:string:)?[^>]+>", "cus_unknown", path)


BODY_ROUTES = _api_rules()


def test_every_kind_of_api_route_is_covered() -> None:
    prefixes = {rule.split("/")[1] for _, rule in BODY_ROUTES}
    assert prefixes == {"personal", "vendor", "oauth"}
    assert len(BODY_ROUTES) > 40


@pytest.mark.parametrize(("method", "rule"), BODY_ROUTES)
def test_an_oversize_body_is_refused_naming_the_limit(
    client: FlaskClient, method: str, rule: str
) -> None:
    limit = DEFAULTS["MAX_CONTENT_LENGTH"]
    if rule.startswith("/oauth/") and rule != "/oauth/register":
        body, content_type = "token=" + "x" * limit, "application/x-www-form-urlencoded"
    else:
        body, content_type = '{"text": "' + "x" * limit + '"}', "application/json"
    response = client.open(concrete(rule), method=method, data=body, content_type=content_type)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM_JSON
    assert response.json["type"] == "urn:vrm:problem:payload-too-large"
    assert f"{limit} bytes" in response.json["detail"]


def test_an_oversize_body_without_a_content_length_is_refused(client: FlaskClient) -> None:
    """Chunked: the size is only known while reading, and the limit still holds."""
    body = b'{"email": "' + b"x" * DEFAULTS["MAX_CONTENT_LENGTH"] + b'"}'
    response = client.post(
        "/personal/v1/accounts",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.mimetype == PROBLEM_JSON


def test_a_body_within_the_limit_is_read(client: FlaskClient) -> None:
    small = client.post("/personal/v1/accounts", json={"email": "x" * 1000, "password": "p"})
    assert small.status_code == 422  # parsed and validated, not refused for its size


# Pagination


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _list_operations() -> list[tuple[str, str, dict[str, Any]]]:
    """Every GET whose answer is a page (``data`` and ``next_cursor``)."""
    found = []
    for path, item in SPEC["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if ok and "next_cursor" in _resolve(ok["schema"]).get("properties", {}):
            found.append((path, next(iter(operation["security"][0])), operation))
    return found


LIST_OPERATIONS = _list_operations()
# Whole, bounded lists in the page envelope: the shipped taxonomy, and one consent's own
# history (its events, made only by the person's own changes).
UNPAGED = {
    "/personal/v1/categories",
    "/vendor/v1/categories",
    "/personal/v1/consents/{consent_id}/receipts",
    "/vendor/v1/consents/{consent_id}/receipts",
}
PAGED = [(path, security, op) for path, security, op in LIST_OPERATIONS if path not in UNPAGED]


def test_the_unpaged_lists_are_only_the_known_bounded_ones() -> None:
    assert {path for path, _, _ in LIST_OPERATIONS} - {p for p, _, _ in PAGED} == UNPAGED
    assert len(PAGED) >= 20


def limit_maximum(operation: dict[str, Any]) -> int:
    (limit,) = [p for p in operation["parameters"] if p["name"] == "limit"]
    assert limit["in"] == "query" and limit["schema"]["minimum"] == 1
    maximum: int = limit["schema"]["maximum"]
    assert maximum <= 500
    return maximum


@pytest.fixture
def callers(app: Flask, client: FlaskClient, ada: Account) -> dict[str, dict[str, str]]:
    vendor = make_vendor(app, client, "Acme")
    return {"personalToken": ada.auth, "vendorOAuth": vendor.auth}


def get_page(client: FlaskClient, path: str, auth: dict[str, str], limit: object) -> TestResponse:
    url = re.sub(r"\{[^}]+\}", lambda m: str(uuid.uuid4()), path)
    if "{customer_ref}" in path:
        url = path.replace("{customer_ref}", "cus_unknown")
    return client.get(url, query_string={"limit": limit}, headers=auth)


@pytest.mark.parametrize(("path", "security", "operation"), PAGED, ids=[p for p, _, _ in PAGED])
def test_a_page_larger_than_the_maximum_is_refused_naming_limit(
    client: FlaskClient,
    callers: dict[str, dict[str, str]],
    path: str,
    security: str,
    operation: dict[str, Any],
) -> None:
    maximum = limit_maximum(operation)
    for wrong in (maximum + 1, 0, -1, "ten", 10**30):
        response = get_page(client, path, callers[security], wrong)
        assert response.status_code == 422, (wrong, response.get_data(as_text=True))
        assert response.mimetype == PROBLEM_JSON
        assert [e["field"] for e in response.json["errors"]] == ["limit"], response.json
    # The maximum itself is accepted (an unknown parent is then simply not found).
    assert get_page(client, path, callers[security], maximum).status_code in (200, 404)
