"""The web pages' security, through Flask's test client: CSRF on every form, the session
cookie's attributes, security headers, log-in gates, token ownership and erasure."""

from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, Account, basic, make_account
from vrm.accounts.models import Person, PersonalToken, WebSession

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
PROFILE = "/personal/v1/profile"


def csrf_from(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``, as a browser would read it."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    match = CSRF_INPUT.search(page.get_data(as_text=True))
    assert match, f"no csrf_token input on {path}"
    return match.group(1)


def web_login(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    token = csrf_from(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/profile")
    return response


def logged_in(client: FlaskClient) -> bool:
    """Whether the client's session opens /profile (not a redirect to /login)."""
    response = client.get("/profile")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    return False


def count(app: Flask, model: type) -> int:
    with app.extensions["vrm"].engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model))


def session_cookie_header(response: TestResponse) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("vrm_session=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


# CSRF


@pytest.mark.parametrize("csrf_token", [None, "forged-token"], ids=["missing", "forged"])
def test_login_without_csrf_is_refused(
    client: FlaskClient, ada: Account, csrf_token: str | None
) -> None:
    data = {"email": ada.email, "password": PASSWORD}
    if csrf_token:
        data["csrf_token"] = csrf_token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert count(client.application, WebSession) == 0
    assert not logged_in(client)


def test_csrf_token_of_another_session_is_refused(app: Flask, ada: Account) -> None:
    attacker = app.test_client()
    token = csrf_from(attacker, "/login")
    victim = app.test_client()
    victim.get("/login")  # the victim has a session of their own
    response = victim.post(
        "/login", data={"email": ada.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert not logged_in(victim)


def test_signup_without_csrf_is_refused(app: Flask, client: FlaskClient) -> None:
    email = "csrf-signup@example.org"
    client.get("/signup")
    response = client.post("/signup", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert count(app, Person) == 0
    assert not logged_in(client)
    # The same sign-up with the token goes through, so the refusal is the token's doing.
    token = csrf_from(client, "/signup")
    response = client.post(
        "/signup", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert count(app, Person) == 1


def test_profile_edit_without_csrf_is_refused(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    client.get("/profile/edit")
    response = client.post("/profile/edit", data={"given_name": "Mallory", "phone": "+33612345678"})
    assert response.status_code == 400
    profile = client.get(PROFILE, headers=ada.auth).json
    assert "given_name" not in profile
    assert "phone" not in profile
    assert profile["version"] == 0
    assert "Mallory" not in client.get("/profile").get_data(as_text=True)


def test_token_creation_without_csrf_is_refused(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    web_login(client, ada.email)
    client.get("/tokens")
    response = client.post("/tokens", data={"name": "sneaky"})
    assert response.status_code == 400
    assert 'id="new-token"' not in response.get_data(as_text=True)
    assert count(app, PersonalToken) == 1  # only the one make_account created
    listed = client.get("/personal/v1/tokens", headers=ada.auth).json["data"]
    assert [token["name"] for token in listed] == ["tests"]


def test_revoke_without_csrf_is_refused(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    token_id = client.get("/personal/v1/tokens", headers=ada.auth).json["data"][0]["id"]
    response = client.post(f"/tokens/{token_id}/revoke")
    assert response.status_code == 400
    assert client.get(PROFILE, headers=ada.auth).status_code == 200


def test_logout_without_csrf_is_refused(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    response = client.post("/logout")
    assert response.status_code == 400
    assert count(client.application, WebSession) == 1
    assert logged_in(client)
    # With the token the log-out works.
    page = client.get("/profile").get_data(as_text=True)
    token = CSRF_INPUT.search(page).group(1)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert not logged_in(client)


def test_erase_without_csrf_is_refused(app: Flask, client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    response = client.post("/account", data={"password": PASSWORD})
    assert response.status_code == 400
    assert count(app, Person) == 1
    assert logged_in(client)
    assert client.get(PROFILE, headers=ada.auth).status_code == 200


# Session cookie


def test_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient, ada: Account) -> None:
    response = web_login(client, ada.email)
    header = session_cookie_header(response)
    attributes = [part.strip().lower() for part in header.split(";")[1:]]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert client.get_cookie("vrm_session") is not None
    assert client.get_cookie("session") is None


def test_login_starts_a_fresh_session(client: FlaskClient, ada: Account) -> None:
    """Whatever the session held before log-in is dropped, the CSRF token included."""
    before = csrf_from(client, "/login")
    web_login(client, ada.email)
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400
    assert logged_in(client)
    after = CSRF_INPUT.search(client.get("/profile").get_data(as_text=True)).group(1)
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302
    assert not logged_in(client)


# Security headers


ANONYMOUS_PAGES = ["/", "/login", "/signup", "/profile", "/no-such-page", "/static/style.css"]
PERSONAL_PAGES = ["/profile", "/profile/edit", "/tokens", "/account", "/account/export.json"]


def assert_security_headers(response: TestResponse) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = [d.strip() for d in policy.split(";")]
    assert "frame-ancestors 'none'" in directives, policy
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_pages_carry_security_headers(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:  # closed: a static file response holds a file open
        assert_security_headers(response)


def test_personal_pages_carry_security_headers(client: FlaskClient, ada: Account) -> None:
    assert_security_headers(web_login(client, ada.email))
    for path in PERSONAL_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response)


def test_error_pages_carry_security_headers(client: FlaskClient, ada: Account) -> None:
    refused = client.post("/login", data={"email": ada.email, "password": PASSWORD})
    assert refused.status_code == 400
    assert_security_headers(refused)
    token = csrf_from(client, "/login")
    wrong = client.post(
        "/login", data={"email": ada.email, "password": "not the password", "csrf_token": token}
    )
    assert wrong.status_code == 401
    assert_security_headers(wrong)


def test_the_stylesheet_every_page_links_is_served(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    with client.get(href) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        assert ".skip" in response.get_data(as_text=True)


def test_personal_pages_are_not_cached(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    for path in ["/profile", "/profile/edit", "/tokens", "/account"]:
        assert client.get(path).headers.get("Cache-Control") == "no-store", path


def test_the_data_export_is_not_cached(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    response = client.get("/account/export.json")
    assert response.status_code == 200
    assert response.json["account"]["email"] == ada.email
    assert response.headers.get("Cache-Control") == "no-store"


# Log-in gates


@pytest.mark.parametrize("path", PERSONAL_PAGES)
def test_personal_pages_redirect_to_login_without_a_session(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


# Token ownership


def test_cannot_revoke_another_persons_token(
    client: FlaskClient, ada: Account, bob: Account
) -> None:
    ada_token = client.get("/personal/v1/tokens", headers=ada.auth).json["data"][0]["id"]
    web_login(client, bob.email)
    token = csrf_from(client, "/tokens")
    response = client.post(f"/tokens/{ada_token}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    confirm = client.get(f"/tokens/{ada_token}/revoke")
    assert confirm.status_code == 404 and "tests" not in confirm.get_data(as_text=True)
    assert client.get(PROFILE, headers=ada.auth).status_code == 200
    listed = client.get("/personal/v1/tokens", headers=ada.auth).json["data"]
    assert listed[0]["revoked_at"] is None
    # A made-up id is just as unknown.
    response = client.post(f"/tokens/{uuid.uuid4()}/revoke", data={"csrf_token": token})
    assert response.status_code == 404
    # Bob's own token, through the same route, is revoked: the 404 above is about ownership.
    bob_token = client.get("/personal/v1/tokens", headers=bob.auth).json["data"][0]["id"]
    response = client.post(f"/tokens/{bob_token}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get(PROFILE, headers=bob.auth).status_code == 401
    assert client.get(PROFILE, headers=ada.auth).status_code == 200


# Erasure


def test_erase_with_the_right_password(app: Flask, client: FlaskClient, ada: Account) -> None:
    bob = make_account(client, "bob@example.org")
    web_login(client, ada.email)
    stolen_cookie = client.get_cookie("vrm_session").value
    token = csrf_from(client, "/account")
    response = client.post("/account", data={"password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/?erased=1")
    # The session is gone: the cookie is cleared, and even a copy of it opens nothing.
    assert client.get_cookie("vrm_session") is None
    assert not logged_in(client)
    replay = app.test_client()
    replay.set_cookie("vrm_session", stolen_cookie)
    assert not logged_in(replay)
    # The account and its token are gone; someone else's are not.
    assert client.get(PROFILE, headers=ada.auth).status_code == 401
    assert (
        client.post("/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email)).status_code
        == 401
    )
    assert count(app, Person) == 1
    assert count(app, WebSession) == 0
    assert client.get(PROFILE, headers=bob.auth).status_code == 200
    assert "have been erased" in client.get("/?erased=1").get_data(as_text=True)


def test_erase_with_a_wrong_password_erases_nothing(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    web_login(client, ada.email)
    token = csrf_from(client, "/account")
    response = client.post("/account", data={"password": "not my password", "csrf_token": token})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="f-password-error"' in page
    assert "The password is not right" in page
    assert 'aria-invalid="true"' in page
    assert count(app, Person) == 1
    assert count(app, PersonalToken) == 1
    assert count(app, WebSession) == 1
    assert logged_in(client)
    assert client.get(PROFILE, headers=ada.auth).status_code == 200


def test_a_web_session_alone_cannot_mint_a_token(app, ada):
    """As on the API, creating a token needs the password, not just a (maybe stolen) session."""
    browser = app.test_client()
    token = csrf_from(browser, "/login")
    browser.post("/login", data={"email": ada.email, "password": PASSWORD, "csrf_token": token})
    token = csrf_from(browser, "/tokens")
    refused = browser.post("/tokens", data={"name": "thief", "csrf_token": token})
    assert refused.status_code == 422
    assert "new-token" not in refused.get_data(as_text=True)
    created = browser.post(
        "/tokens", data={"name": "mine", "password": PASSWORD, "csrf_token": token}
    )
    assert created.status_code == 200
    assert 'id="new-token"' in created.get_data(as_text=True)


def test_log_in_never_sends_the_person_to_another_site(app, ada):
    browser = app.test_client()
    for target in [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "https://evil.example/",
    ]:
        token = csrf_from(browser, "/login")
        response = browser.post(
            "/login",
            query_string={"next": target},
            data={"email": ada.email, "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/profile", target
    token = csrf_from(browser, "/login")
    kept = browser.post(
        "/login",
        query_string={"next": "/vendors?x=1"},
        data={"email": ada.email, "password": PASSWORD, "csrf_token": token},
    )
    assert kept.headers["Location"] == "/vendors?x=1"


def test_revoking_asks_first_and_names_what_stops(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    token_id = client.get("/personal/v1/tokens", headers=ada.auth).json["data"][0]["id"]
    page = client.get("/tokens").get_data(as_text=True)
    assert f'href="/tokens/{token_id}/revoke"' in page

    confirm = client.get(f"/tokens/{token_id}/revoke")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Revoke the token “tests”?" in text and "cannot be undone" in text
    assert client.get(PROFILE, headers=ada.auth).status_code == 200  # asking changed nothing

    token = CSRF_INPUT.search(text).group(1)
    assert client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get(PROFILE, headers=ada.auth).status_code == 401
