"""Security headers on every response: every route of the URL map, as a stranger and as the
logged-in person, pages and API, successes and every kind of error (problem+json and the
HTML error page), static files, the API reference and its assets. HSTS only outside
development."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account, basic
from tests.consents.conftest import make_vendor, web_login
from vrm.app import create_app
from vrm.crypto import KeyMaterial

PROBLEM_JSON = "application/problem+json"


def _rules() -> list[tuple[str, str]]:
    """(method, rule) for every route, read from a throwaway app."""
    app = create_app(
        {
            "KEYS": KeyMaterial.generate().to_json(),
            "DATABASE_URL": "sqlite:///:memory:",
            "ENV": "test",
        }
    )
    found = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


ROUTES = _rules()


def concrete(rule: str) -> str:
    path = re.sub(r"<uuid:[^>]+>", lambda _: str(uuid.uuid4()), rule)
    path = re.sub(r"<int:[^>]+>", "1", path)
    path = path.replace("<path:filename>", "style.css").replace("<name>", "swagger-ui.css")
    return re.sub(r"<(?:string:)?[^>]+>", "cus_unknown", path)


def assert_security_headers(response: TestResponse, *, hsts: bool = False) -> None:
    where = f"{response.request.method} {response.request.path} -> {response.status_code}"
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip() for d in policy.split(";")}
    assert "frame-ancestors 'none'" in directives, (where, policy)
    assert "object-src 'none'" in directives, (where, policy)
    assert any(d.startswith("default-src ") for d in directives), (where, policy)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "no-referrer", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert ("Strict-Transport-Security" in response.headers) is hsts, where


@pytest.fixture
def callers(app: Flask, client: FlaskClient, ada: Account) -> dict[str, dict[str, str]]:
    """Credentials a route might want: the person's token and a vendor's token."""
    vendor = make_vendor(app, client, "Acme")
    return {"/personal/": ada.auth, "/vendor/": vendor.auth}


def call(client: FlaskClient, method: str, path: str, **kwargs: Any) -> TestResponse:
    body = {} if method in {"POST", "PUT", "PATCH", "DELETE"} else None
    with client.open(path, method=method, json=body, **kwargs) as response:
        response.get_data()  # read (and close) a file response such as a static file
        return response


def missing_headers(response: TestResponse, *, hsts: bool = False) -> str | None:
    try:
        assert_security_headers(response, hsts=hsts)
    except AssertionError as error:
        return str(error)
    return None


def test_every_route_sends_the_security_headers(
    app: Flask, client: FlaskClient, ada: Account, callers: dict[str, dict[str, str]]
) -> None:
    """Each route once as a stranger (pages redirect to log-in, the API answers 401 or
    another problem) and once as the account holder (the answer itself, or its refusal)."""
    stranger = app.test_client()
    browser = app.test_client()
    web_login(browser, ada.email)
    failures, statuses = [], set()
    for method, rule in ROUTES:
        path = concrete(rule)
        headers = next((auth for prefix, auth in callers.items() if path.startswith(prefix)), {})
        for response in (
            call(stranger, method, path),
            call(browser, method, path, headers=headers),
        ):
            statuses.add(response.status_code)
            failures.append(missing_headers(response))
    assert [f for f in failures if f] == []
    assert len(failures) == 2 * len(ROUTES) > 200
    assert {200, 302, 400, 401, 404, 422} <= statuses
    assert browser.get("/profile").status_code == 200  # still logged in: pages were seen


def test_api_errors_of_every_kind_carry_them(client: FlaskClient, ada: Account) -> None:
    responses = [
        client.get("/personal/v1/no-such-thing"),  # 404
        client.put("/personal/v1/tokens", json={}),  # 405
        client.get("/personal/v1/profile"),  # 401
        client.get("/personal/v1/tokens", query_string={"limit": 0}, headers=ada.auth),  # 422
        client.post("/personal/v1/profile", data="x", content_type="text/plain"),  # 405/415
        client.post(
            "/personal/v1/accounts", data="{" + " " * 70_000 + "}", content_type="application/json"
        ),  # 413
    ]
    assert {r.status_code for r in responses} >= {401, 404, 405, 413, 422}
    for response in responses:
        assert response.mimetype == PROBLEM_JSON
        assert_security_headers(response)


def test_a_rate_limited_answer_carries_them(app: Flask, client: FlaskClient, ada: Account) -> None:
    settings = app.extensions["vrm"].settings
    saved = settings["PERSONAL_TOKEN_RATE_LIMIT"]
    settings["PERSONAL_TOKEN_RATE_LIMIT"] = "1 per hour"
    try:
        for _ in range(2):
            response = client.post(
                "/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email)
            )
    finally:
        settings["PERSONAL_TOKEN_RATE_LIMIT"] = saved
    assert response.status_code == 429
    assert_security_headers(response)


@pytest.fixture
def failing_view(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """/healthz and /profile raise an unexpected error."""

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "health.healthz", boom)
    monkeypatch.setitem(app.view_functions, "web.signup", boom)
    yield


def test_unexpected_errors_carry_them(client: FlaskClient, failing_view: None) -> None:
    api = client.get("/healthz")
    assert api.status_code == 500 and api.mimetype == PROBLEM_JSON
    assert_security_headers(api)
    page = client.get("/signup")
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert_security_headers(page)


@pytest.mark.parametrize(
    "path", ["/static/style.css", "/docs", "/docs/assets/swagger-ui-bundle.js", "/openapi.json"]
)
def test_static_files_and_the_api_reference_carry_them(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        assert response.status_code == 200
        assert_security_headers(response)


@pytest.fixture(params=["development", "production"])
def deployed(
    request: pytest.FixtureRequest, app_settings: dict[str, Any], tmp_path: Any
) -> Iterator[tuple[str, Flask]]:
    settings = {
        **app_settings,
        "ENV": request.param,
        "ISSUER": "https://vrm.example",
        "INSTANCE_PATH": str(tmp_path),
    }
    application = create_app(settings)
    yield request.param, application
    application.extensions["vrm"].engine.dispose()


def test_hsts_is_sent_outside_development_only(deployed: tuple[str, Flask]) -> None:
    env, application = deployed
    browser = application.test_client()
    for path in ("/", "/healthz", "/personal/v1/profile", "/no-such-page"):
        response = browser.get(path, base_url="https://vrm.example")
        assert_security_headers(response, hsts=env == "production")
        if env == "production":
            hsts = response.headers["Strict-Transport-Security"]
            assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000  # type: ignore[union-attr]
