from __future__ import annotations

from sqlalchemy import func, select

from tests.conftest import PASSWORD, basic
from vrm.accounts.models import Person


def count_people(app) -> int:
    with app.extensions["vrm"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Person))


def test_sign_up_returns_the_account_without_the_password(client):
    response = client.post(
        "/personal/v1/accounts", json={"email": "Ada@Example.org", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.json["email"] == "Ada@example.org"
    assert "password" not in response.json


def test_the_same_email_in_another_case_cannot_sign_up_twice(client, ada):
    response = client.post(
        "/personal/v1/accounts", json={"email": "ADA@example.org", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == [
        {"field": "email", "message": "An account with this email already exists"}
    ]


def test_weak_passwords_are_refused_with_the_reason(client, app):
    cases = {
        "short1!": "at least 10",
        "password123": "common passwords",
        "qwertyuiop": "common passwords",
        "aaaaaaaaaaaa": "easy to guess",
        "ada@example.org": "easy to guess",
    }
    for password, reason in cases.items():
        response = client.post(
            "/personal/v1/accounts", json={"email": "ada@example.org", "password": password}
        )
        assert response.status_code == 422, password
        assert response.json["errors"][0]["field"] == "password"
        assert reason in response.json["errors"][0]["message"], (password, response.json)
    assert count_people(app) == 0


def test_a_token_needs_the_right_password(client, ada):
    wrong = client.post(
        "/personal/v1/tokens",
        json={"name": "x"},
        headers=basic(ada.email, "not the password at all"),
    )
    assert wrong.status_code == 401
    assert wrong.json["type"] == "urn:vrm:problem:invalid-credentials"
    unknown = client.post(
        "/personal/v1/tokens", json={"name": "x"}, headers=basic("nobody@example.org")
    )
    assert unknown.status_code == 401
    # The same answer whether or not the account exists.
    assert unknown.json == wrong.json


def test_token_creation_without_basic_auth_is_challenged(client):
    response = client.post("/personal/v1/tokens", json={"name": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_repeated_failed_logins_are_rate_limited(app, client, ada):
    app.extensions["vrm"].settings["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [
            client.post(
                "/personal/v1/tokens",
                json={"name": "x"},
                headers=basic(ada.email, "wrong password, surely"),
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        limited = client.post("/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email))
        assert limited.status_code == 429
        assert limited.mimetype == "application/problem+json"
        assert int(limited.headers["Retry-After"]) > 0
    finally:
        app.extensions["vrm"].settings["LOGIN_RATE_LIMIT"] = "1000 per minute"


def test_erasure_needs_the_password_and_then_removes_everything(client, app, ada):
    client.patch("/personal/v1/profile", json={"given_name": "Ada"}, headers=ada.auth)
    wrong = client.delete(
        "/personal/v1/account", json={"password": "not it at all"}, headers=ada.auth
    )
    assert wrong.status_code == 422
    assert wrong.json["errors"][0]["field"] == "password"
    assert client.get("/personal/v1/profile", headers=ada.auth).json["given_name"] == "Ada"

    assert (
        client.delete(
            "/personal/v1/account", json={"password": PASSWORD}, headers=ada.auth
        ).status_code
        == 204
    )
    assert client.get("/personal/v1/profile", headers=ada.auth).status_code == 401
    with app.extensions["vrm"].engine.connect() as connection:
        from vrm.models import Base

        for table in Base.metadata.sorted_tables:
            assert connection.execute(select(func.count()).select_from(table)).scalar() == 0, table
    # The email is free again.
    again = client.post("/personal/v1/accounts", json={"email": ada.email, "password": PASSWORD})
    assert again.status_code == 201


def test_export_holds_account_profile_history_and_tokens(client, ada):
    client.patch("/personal/v1/profile", json={"given_name": "Ada"}, headers=ada.auth)
    client.patch("/personal/v1/profile", json={"given_name": "Augusta"}, headers=ada.auth)
    document = client.get("/personal/v1/export", headers=ada.auth).json
    assert document["format"] == "vrm-export/1"
    assert document["account"]["email"] == ada.email
    assert document["profile"]["current"]["given_name"] == "Augusta"
    assert [r["changes"] for r in document["profile"]["history"]] == [
        {"given_name": "Ada"},
        {"given_name": "Augusta"},
    ]
    assert [t["name"] for t in document["personal_tokens"]] == ["tests"]
    assert "token" not in document["personal_tokens"][0]
