"""Which language the pages speak: the switcher's choice, else the profile's locale, else the
browser's; the APIs always answer in English."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import Account
from tests.web.test_pages import csrf_from, web_login

FRENCH = {"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}


def test_browser_language_picks_french(client: FlaskClient) -> None:
    page = client.get("/login", headers=FRENCH).get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "Se connecter" in page and "Log in" not in page


def test_unsupported_browser_language_falls_back_to_english(client: FlaskClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Log in" in page


def test_switcher_choice_beats_browser_and_survives_login_and_logout(
    client: FlaskClient, ada: Account
) -> None:
    token = csrf_from(client, "/login")
    chosen = client.post("/language", data={"lang": "fr", "next": "/login", "csrf_token": token})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/login"
    assert '<html lang="fr">' in client.get("/login").get_data(as_text=True)

    web_login(client, ada.email)
    assert '<html lang="fr">' in client.get("/profile").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(client, "/profile")})
    english_browser = {"Accept-Language": "en"}
    page = client.get("/login", headers=english_browser).get_data(as_text=True)
    assert '<html lang="fr">' in page


def test_switcher_refuses_other_languages_and_offsite_returns(client: FlaskClient) -> None:
    token = csrf_from(client, "/login")
    response = client.post(
        "/language", data={"lang": "xx", "next": "https://evil.example/", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_profile_locale_picks_the_language(client: FlaskClient, ada: Account) -> None:
    saved = client.patch("/personal/v1/profile", json={"locale": "fr-BE"}, headers=ada.auth)
    assert saved.status_code == 200, saved.get_json()
    web_login(client, ada.email)
    assert '<html lang="fr">' in client.get("/profile").get_data(as_text=True)


def test_apis_answer_in_english_whatever_the_browser(client: FlaskClient, ada: Account) -> None:
    response = client.patch(
        "/personal/v1/profile", json={"email": "nope"}, headers={**ada.auth, **FRENCH}
    )
    assert response.status_code == 422
    assert response.headers.get("Content-Language") in (None, "en")
    assert "valid" in response.get_data(as_text=True).lower()
