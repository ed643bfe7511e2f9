"""Error messages speak the page's language: a service raises with gettext, so the same
refusal is French on a page a French browser asked for, and English on the API."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import Account
from tests.web.test_intention_pages import publish, published
from tests.web.test_pages import csrf_from, web_login

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def test_signup_errors_are_french_on_the_page_and_english_on_the_api(
    client: FlaskClient,
) -> None:
    token = csrf_from(client, "/signup")
    page = client.post(
        "/signup",
        data={"email": "nobody", "password": "short", "csrf_token": token},
        headers=FRENCH,
    )
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    # The address is checked first: email_validator's English, translated for the page.
    assert "Une adresse e-mail doit contenir un @." in text
    assert "An email address must have an @-sign." not in text

    weak = client.post(
        "/signup",
        data={"email": "weak-fr@example.org", "password": "short", "csrf_token": token},
        headers=FRENCH,
    )
    assert weak.status_code == 422
    text = weak.get_data(as_text=True)
    assert "Utilisez au moins 10 caractères" in text
    assert "Use at least 10 characters" not in text

    api = client.post(
        "/personal/v1/accounts",
        json={"email": "weak-fr@example.org", "password": "short"},
        headers=FRENCH,
    )
    assert api.status_code == 422
    problem = api.get_json()
    assert problem["title"] == "The request has invalid fields"
    assert problem["errors"] == [{"field": "password", "message": "Use at least 10 characters"}]


def test_error_page_title_is_french(client: FlaskClient) -> None:
    page = client.get("/no-such-page", headers=FRENCH)
    assert page.status_code == 404
    assert "Page introuvable" in page.get_data(as_text=True)
    api = client.get("/personal/v1/no-such-thing", headers=FRENCH)
    assert api.get_json()["title"] == "Not Found"


def test_a_french_page_takes_a_decimal_comma_and_an_english_one_does_not(
    client: FlaskClient, ada: Account
) -> None:
    web_login(client, ada.email)
    api = {"Authorization": ada.auth["Authorization"]}

    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR"
    intention_id = published(publish(client, **{"price.min": "1 299,5", "price.max": "2000"}))
    saved = client.get(f"/personal/v1/intentions/{intention_id}", headers=api).get_json()
    assert saved["price"]["min"] == "1299.50"

    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    refused = publish(client, **{"price.min": "1,299"})
    assert refused.status_code == 422
