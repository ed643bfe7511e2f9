"""Hostile and clumsy input on every personal API endpoint: always a 4xx problem+json,
never a 500, and nothing stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, basic
from vrm.models import Base

ENDPOINTS = [
    ("POST", "/personal/v1/accounts", "none"),
    ("POST", "/personal/v1/tokens", "basic"),
    ("PATCH", "/personal/v1/profile", "bearer"),
    ("DELETE", "/personal/v1/account", "bearer"),
]


def snapshot(app) -> dict[str, int]:
    with app.extensions["vrm"].engine.connect() as connection:
        return {
            t.name: connection.execute(select(func.count()).select_from(t)).scalar()
            for t in Base.metadata.sorted_tables
        }


def auth_for(kind, ada):
    return {"none": {}, "basic": basic(ada.email), "bearer": ada.auth}[kind]


@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS)
@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('{"email": ', "application/json", 400),
        ("[]", "application/json", 422),
        ("null", "application/json", 422),
        ('"text"', "application/json", 422),
        ('{"unknown_field": 1}', "application/json", 422),
        ('{"email": 1, "password": [], "name": {}, "given_name": 3}', "application/json", 422),
        ("email=a@b.c", "application/x-www-form-urlencoded", 415),
        ("\xff\xfe", "application/json", 400),
    ],
)
def test_malformed_bodies_get_a_problem_naming_what_is_wrong(
    client, app, ada, method, path, kind, data, content_type, status
):
    before = snapshot(app)
    response = client.open(
        path, method=method, data=data, content_type=content_type, headers=auth_for(kind, ada)
    )
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == status and problem["type"].startswith("urn:vrm:problem:")
    assert "Traceback" not in response.get_data(as_text=True)
    if status == 422:
        assert problem["errors"] and all(e["field"] for e in problem["errors"])
    assert snapshot(app) == before


@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS)
def test_oversize_bodies_are_refused_before_parsing(client, app, ada, method, path, kind):
    before = snapshot(app)
    body = '{"given_name": "' + "x" * 70_000 + '"}'
    response = client.open(
        path, method=method, data=body, content_type="application/json", headers=auth_for(kind, ada)
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert snapshot(app) == before


def test_wrong_types_in_sign_up_name_each_field(client, app):
    response = client.post("/personal/v1/accounts", json={"email": 5, "password": None})
    assert response.status_code == 422
    assert {e["field"] for e in response.json["errors"]} == {"email", "password"}
    assert snapshot(app)["persons"] == 0


def test_missing_fields_are_named(client):
    response = client.post("/personal/v1/accounts", json={"email": "ada@example.org"})
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"field": "password", "message": "Missing data for required field."}
    ]


def test_an_invalid_email_is_named(client):
    response = client.post(
        "/personal/v1/accounts", json={"email": "ada@@example", "password": PASSWORD}
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "email"


def test_unknown_routes_and_methods_are_problems_too(client, ada):
    assert client.get("/personal/v1/nothing-here").mimetype == "application/problem+json"
    wrong_method = client.put("/personal/v1/profile", json={}, headers=ada.auth)
    assert wrong_method.status_code == 405
    assert wrong_method.mimetype == "application/problem+json"
    bad_id = client.delete("/personal/v1/tokens/not-a-uuid", headers=ada.auth)
    assert bad_id.status_code == 404
    assert bad_id.mimetype == "application/problem+json"
