"""Text no column can hold (NUL, lone surrogates) and odd numbers are refused at the door,
on every entry point, naming the field: never a 500, never stored."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import basic


@pytest.mark.parametrize("bad", ["a\u0000b", "\ud800", "x\udfffy"])
def test_unstorable_text_in_json_is_named_and_not_stored(client, ada, bad):
    raw = json.dumps({"given_name": bad})  # json.dumps escapes it as \\u0000 / \\ud800
    response = client.patch(
        "/personal/v1/profile", data=raw, content_type="application/json", headers=ada.auth
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "given_name"
    assert client.get("/personal/v1/profile", headers=ada.auth).json["version"] == 0
    nested = json.dumps({"custom": {"ok": bad}})
    response = client.patch(
        "/personal/v1/profile", data=nested, content_type="application/json", headers=ada.auth
    )
    assert response.json["errors"][0]["field"] == "custom.ok"


def test_unstorable_text_elsewhere_is_refused(client, ada):
    token = client.post(
        "/personal/v1/tokens",
        data=json.dumps({"name": "\ud800"}),
        content_type="application/json",
        headers=basic(ada.email),
    )
    assert token.status_code == 422
    path = client.get("/vendor/v1/customers/a%00b/profile?purpose=ServiceProvision")
    assert path.status_code == 422 and path.mimetype == "application/problem+json"
    query = client.get("/personal/v1/tokens?cursor=a%00", headers=ada.auth)
    assert query.status_code == 422
    assert query.json["errors"][0]["field"] == "cursor"


def test_web_forms_refuse_nul_too(client):
    page = client.get("/login")
    response = client.post("/login", data={"email": "a\x00@example.org", "password": "x"})
    assert page.status_code == 200
    assert response.status_code == 422


@pytest.mark.parametrize("cursor", ["9" * 30, "²", "-1", "1.5"])
def test_odd_access_log_cursors_are_named(client, ada, cursor):
    response = client.get(
        "/personal/v1/access-log", query_string={"cursor": cursor}, headers=ada.auth
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "cursor"


def test_a_cursor_with_a_naive_time_is_refused(client, ada):
    forged = (
        base64.urlsafe_b64encode(
            json.dumps(["2024-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]).encode()
        )
        .decode()
        .rstrip("=")
    )
    for path in ("/personal/v1/tokens", "/personal/v1/profile/history"):
        response = client.get(path, query_string={"cursor": forged}, headers=ada.auth)
        assert response.status_code == 422, path
        assert response.json["errors"][0]["field"] == "cursor"


def test_deeply_nested_json_is_a_bad_request(client):
    body = "[" * 20000 + "]" * 20000
    response = client.post("/personal/v1/accounts", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_a_chunked_body_is_checked_too(live_server, ada):
    import httpx

    def chunks():
        yield b'{"given_name": "hi \\ud800 there"}'

    with httpx.Client(trust_env=False) as http:
        response = http.patch(
            f"{live_server}/personal/v1/profile",
            content=chunks(),
            headers={**ada.auth, "Content-Type": "application/json"},
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "given_name"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_cursor_at_the_edge_of_time_is_refused(client, ada, moment):
    forged = (
        base64.urlsafe_b64encode(
            json.dumps([moment, "00000000-0000-0000-0000-000000000000"]).encode()
        )
        .decode()
        .rstrip("=")
    )
    for path in ("/personal/v1/consents", "/personal/v1/tokens", "/personal/v1/agreements"):
        response = client.get(path, query_string={"cursor": forged}, headers=ada.auth)
        assert response.status_code in (200, 422), (path, response.status_code)
        assert response.mimetype in ("application/json", "application/problem+json")
