"""The third way a consent starts: the OAuth authorization code flow, whose consent screen
(RFC 9396 ``authorization_details`` of type ``vrm_consent``) records the consent. Driven like
a browser with Flask's test client: log in through /login, open /oauth/authorize, press Allow."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account
from tests.consents.conftest import (
    REDIRECT_URI,
    VendorApi,
    csrf_of,
    fill_profile,
    person_receipts,
    pkce_pair,
    query_of,
    verify,
    web_login,
)

CONSENTS = "/personal/v1/consents"
DETAILS = [
    {
        "type": "vrm_consent",
        "fields": ["given_name", "phone"],
        "purposes": ["ServiceProvision"],
        "duration_days": 30,
    }
]


def authorize_url(vendor: VendorApi, challenge: str, **overrides: Any) -> str:
    params = {
        "response_type": "code",
        "client_id": vendor.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "profile:read",
        "state": "xyz-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "authorization_details": json.dumps(DETAILS),
        **overrides,
    }
    return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


@pytest.fixture
def browser(app: Flask, ada: Account) -> FlaskClient:
    """Ada's browser, logged in through the log-in form."""
    person_browser = app.test_client()
    web_login(person_browser, ada.email)
    return person_browser


def open_and_decide(browser: FlaskClient, url: str, **form: Any) -> tuple[TestResponse, str]:
    page = browser.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    response = browser.post(url, data={"csrf_token": csrf_of(page), **form})
    return response, page.get_data(as_text=True)


def callback(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    return query_of(location)


def consents(client: FlaskClient, person: Account) -> list[dict[str, Any]]:
    return client.get(CONSENTS, headers=person.auth).json["data"]


def test_the_consent_screen_records_the_consent_the_person_narrowed(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    fill_profile(client, ada)
    verifier, challenge = pkce_pair()
    url = authorize_url(acme, challenge)

    response, page = open_and_decide(browser, url, decision="approve", fields=["given_name"])
    # The screen offered exactly the fields asked for, ticked, for 30 days.
    assert 'value="given_name" checked' in page and 'value="phone" checked' in page
    assert 'value="family_name"' not in page
    assert 'name="duration_days"' in page and 'value="30"' in page
    assert "ServiceProvision" in page and "Acme Shop" in page

    params = callback(response)
    assert params["state"] == "xyz-state"
    assert params["code"] and params["iss"]

    [consent] = consents(client, ada)
    assert consent["origin"] == "oauth"
    assert consent["state"] == "given"
    assert consent["fields"] == ["given_name"]
    assert consent["purposes"] == ["ServiceProvision"]
    assert consent["vendor_id"] == str(acme.id)
    given_at = datetime.fromisoformat(consent["given_at"])
    assert datetime.fromisoformat(consent["expires_at"]) - given_at == timedelta(days=30)
    [receipt] = person_receipts(client, ada, consent["id"])
    payload = verify(receipt["receipt"], client)
    assert payload["origin"] == "oauth" and payload["data_categories"] == ["given_name"]

    # The vendor swaps the code for a token bound to Ada, and reads only given_name.
    raw = base64.b64encode(f"{acme.client_id}:{acme.client_secret}".encode()).decode()
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {raw}"},
    )
    assert token.status_code == 200, token.json
    assert token.json["scope"] == "profile:read"
    read = client.get(
        f"/vendor/v1/customers/{consent['customer_ref']}/profile",
        query_string={"purpose": "ServiceProvision"},
        headers={"Authorization": f"Bearer {token.json['access_token']}"},
    )
    assert read.status_code == 200, read.json
    assert read.json["profile"] == {"given_name": "Ada"}


def test_a_token_bound_to_one_person_reads_no_other(
    app: Flask,
    client: FlaskClient,
    browser: FlaskClient,
    ada: Account,
    bob: Account,
    acme: VendorApi,
) -> None:
    acme.accept()
    fill_profile(client, bob, given_name="Bob")
    bobs = client.post(
        CONSENTS,
        json={
            "vendor_id": str(acme.id),
            "fields": ["given_name"],
            "purposes": ["ServiceProvision"],
        },
        headers=bob.auth,
    ).json
    verifier, challenge = pkce_pair()
    response, _ = open_and_decide(
        browser, authorize_url(acme, challenge), decision="approve", fields=["given_name"]
    )
    code = callback(response)["code"]
    raw = base64.b64encode(f"{acme.client_id}:{acme.client_secret}".encode()).decode()
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {raw}"},
    ).json["access_token"]
    read = client.get(
        f"/vendor/v1/customers/{bobs['customer_ref']}/profile",
        query_string={"purpose": "ServiceProvision"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert read.status_code == 404
    # Bob's consent still serves the vendor's own client-credentials token.
    assert acme.read(bobs["customer_ref"]).json["profile"] == {"given_name": "Bob"}


def test_the_duration_the_person_picks_is_used_within_their_maximum(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    url = authorize_url(acme, challenge)
    page = browser.get(url)
    too_long = browser.post(
        url,
        data={
            "csrf_token": csrf_of(page),
            "decision": "approve",
            "fields": ["phone"],
            "duration_days": "366",
        },
    )
    assert too_long.status_code == 422
    assert "365" in too_long.get_data(as_text=True)
    assert consents(client, ada) == []

    response, _ = open_and_decide(
        browser, url, decision="approve", fields=["phone"], duration_days="5"
    )
    callback(response)
    [consent] = consents(client, ada)
    assert consent["fields"] == ["phone"]
    span = datetime.fromisoformat(consent["expires_at"]) - datetime.fromisoformat(
        consent["given_at"]
    )
    assert span == timedelta(days=5)


def test_fields_not_offered_cannot_be_slipped_in(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    response, _ = open_and_decide(
        browser,
        authorize_url(acme, challenge),
        decision="approve",
        fields=["given_name", "postal_address", "birth_date"],
    )
    callback(response)
    [consent] = consents(client, ada)
    assert consent["fields"] == ["given_name"]


def test_without_details_the_default_duration_applies(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    url = authorize_url(acme, challenge, authorization_details=None)
    page = browser.get(url)
    assert page.status_code == 200
    # Nothing asked for in detail: every field offered, none ticked.
    text = page.get_data(as_text=True)
    assert 'value="given_name">' in text and "checked" not in text.split("Profile fields")[1][:200]
    response = browser.post(
        url, data={"csrf_token": csrf_of(page), "decision": "approve", "fields": ["locale"]}
    )
    callback(response)
    [consent] = consents(client, ada)
    assert consent["fields"] == ["locale"] and consent["purposes"] == ["ServiceProvision"]
    span = datetime.fromisoformat(consent["expires_at"]) - datetime.fromisoformat(
        consent["given_at"]
    )
    assert span == timedelta(days=90)


def test_denying_on_the_screen_records_nothing(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    response, _ = open_and_decide(
        browser, authorize_url(acme, challenge), decision="deny", fields=["given_name"]
    )
    params = callback(response)
    assert params["error"] == "access_denied"
    assert params["state"] == "xyz-state"
    assert "code" not in params
    assert consents(client, ada) == []


def test_a_vendor_lacking_the_persons_terms_is_refused_on_the_screen(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept(["service-delivery-only"])
    _, challenge = pkce_pair()
    url = authorize_url(acme, challenge)
    page = browser.get(url)
    assert "has not accepted this term" in page.get_data(as_text=True)
    response = browser.post(
        url, data={"csrf_token": csrf_of(page), "decision": "approve", "fields": ["given_name"]}
    )
    params = callback(response)
    assert params["error"] == "access_denied"
    assert "deletion-and-portability" in params["error_description"]
    assert params["state"] == "xyz-state" and params["iss"]
    assert "code" not in params
    assert consents(client, ada) == []
    [agreement] = client.get("/personal/v1/agreements", headers=ada.auth).json["data"]
    assert agreement["status"] == "refused"
    assert agreement["missing"] == ["deletion-and-portability"]


def test_the_screen_needs_a_logged_in_person(app: Flask, acme: VendorApi) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(acme, challenge)
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_the_decision_needs_the_csrf_token(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    url = authorize_url(acme, challenge)
    browser.get(url)
    response = browser.post(url, data={"decision": "approve", "fields": ["given_name"]})
    assert response.status_code == 400
    assert consents(client, ada) == []


MALFORMED = [
    pytest.param("not json", id="not-json"),
    pytest.param(json.dumps({"type": "vrm_consent", "fields": ["given_name"]}), id="not-a-list"),
    pytest.param(json.dumps(["vrm_consent"]), id="not-objects"),
    pytest.param(json.dumps([{"type": "payment_initiation"}]), id="unknown-type"),
    pytest.param(json.dumps(DETAILS + DETAILS), id="two-entries"),
    pytest.param(json.dumps([{"type": "vrm_consent", "fields": []}]), id="no-fields"),
    pytest.param(json.dumps([{"type": "vrm_consent", "fields": ["shoe_size"]}]), id="bad-field"),
    pytest.param(
        json.dumps([{"type": "vrm_consent", "fields": ["phone"], "purposes": ["Spying"]}]),
        id="bad-purpose",
    ),
    pytest.param(
        json.dumps([{"type": "vrm_consent", "fields": ["phone"], "duration_days": 0}]),
        id="zero-days",
    ),
    pytest.param(
        json.dumps([{"type": "vrm_consent", "fields": ["phone"], "duration_days": "30"}]),
        id="days-as-text",
    ),
    pytest.param(
        json.dumps([{"type": "vrm_consent", "fields": ["phone"], "duration_days": 3651}]),
        id="too-many-days",
    ),
]


@pytest.mark.parametrize("details", MALFORMED)
def test_malformed_authorization_details_go_back_to_the_client(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi, details: str
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    response = browser.get(authorize_url(acme, challenge, authorization_details=details))
    params = callback(response)
    assert params["error"] == "invalid_authorization_details"
    assert params["state"] == "xyz-state"
    assert "code" not in params
    assert consents(client, ada) == []


def test_details_need_the_profile_read_scope(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    _, challenge = pkce_pair()
    response = browser.get(authorize_url(acme, challenge, scope="offers:write"))
    params = callback(response)
    assert params["error"] == "invalid_authorization_details"
    assert "profile:read" in params["error_description"]


def test_a_boolean_duration_is_malformed(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    details = json.dumps([{"type": "vrm_consent", "fields": ["phone"], "duration_days": True}])
    response = browser.get(authorize_url(acme, challenge, authorization_details=details))
    assert response.status_code == 302, "the consent screen was shown"
    assert callback(response)["error"] == "invalid_authorization_details"


def test_the_invalid_details_redirect_names_the_issuer(
    browser: FlaskClient, acme: VendorApi
) -> None:
    """RFC 9207 section 2: error responses carry iss too, against mix-up attacks."""
    _, challenge = pkce_pair()
    params = callback(browser.get(authorize_url(acme, challenge, authorization_details="[]x")))
    assert params["error"] == "invalid_authorization_details"
    assert params["iss"] == "http://localhost"


def test_the_denial_redirect_names_the_issuer(browser: FlaskClient, acme: VendorApi) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    denied, _ = open_and_decide(browser, authorize_url(acme, challenge), decision="deny")
    params = callback(denied)
    assert params["error"] == "access_denied"
    assert params["iss"] == "http://localhost"


def test_zero_days_is_refused_on_the_screen_as_everywhere(
    client: FlaskClient, browser: FlaskClient, ada: Account, acme: VendorApi
) -> None:
    acme.accept()
    _, challenge = pkce_pair()
    url = authorize_url(acme, challenge)
    page = browser.get(url)
    zero = browser.post(
        url,
        data={
            "csrf_token": csrf_of(page),
            "decision": "approve",
            "fields": ["phone"],
            "duration_days": "0",
        },
    )
    assert zero.status_code == 422
    assert consents(client, ada) == []
