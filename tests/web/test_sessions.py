"""Web sessions live on the server: logging out ends them even for a copied cookie."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.conftest import PASSWORD
from vrm.accounts.models import WebSession
from vrm.crypto import token_digest


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_a_copied_cookie_stops_working_after_log_out(app, ada):
    browser = app.test_client()
    log_in(browser, ada.email)
    cookie = browser.get_cookie("vrm_session").value
    thief = app.test_client()
    thief.set_cookie("vrm_session", cookie)
    assert thief.get("/profile").status_code == 200

    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/profile")})
    assert browser.get("/profile").status_code == 302
    assert thief.get("/profile").status_code == 302


def test_only_a_digest_of_the_session_secret_is_stored(app, ada):
    browser = app.test_client()
    log_in(browser, ada.email)
    with browser.session_transaction() as flask_session:
        secret = flask_session["sid"]
    with app.extensions["vrm"].sessions() as db:
        stored = db.scalars(select(WebSession)).one()
    assert stored.digest == token_digest(secret)
    assert secret.startswith("vrm_ws_")


def test_sessions_expire(app, ada, frozen_clock):
    browser = app.test_client()
    log_in(browser, ada.email)
    assert browser.get("/profile").status_code == 200
    frozen_clock[0] += timedelta(hours=12, seconds=1)
    assert browser.get("/profile").status_code == 302
