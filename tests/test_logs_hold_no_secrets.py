"""No secret and no personal value in any log line: a whole flow runs over real HTTP (the
development server's access log included) with every logger at DEBUG (the app's, Werkzeug's,
SQLAlchemy's, Authlib's, Flask-Limiter's, httpx's, and gunicorn's names), then every record
is searched (its message, its arguments and its formatted text, traceback included) for
every password, token, client secret, webhook secret, email, profile value and message."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask

from tests.webhooks.conftest import Receiver, receiver  # noqa: F401 - the fixture
from vrm.events.delivery import Dispatcher
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.service import VendorService

LOGGERS = [
    "",  # the root: everything that propagates
    "vrm",
    "vendor_api",
    "werkzeug",
    "gunicorn.error",
    "gunicorn.access",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "authlib",
    "flask_limiter",
    "httpx",
    "httpcore",
    "apscheduler",
]

EMAIL = "zebulonia.quixotella@example.org"
PASSWORD = "umbrella-xylophone-quasar-8812"
WRONG_PASSWORD = "wrong-guess-periwinkle-5531"
PROFILE = {
    "given_name": "Zebulonia",
    "family_name": "Quixotella",
    "display_name": "Zeb Q. Wanderlight",
    "contact_email": "zq.contact.mailbox@example.net",
    "phone": "+447911734862",
    "birth_date": "1987-03-29",
    "postal_address": {
        "street_lines": ["17 Marrowbone Crescent"],
        "locality": "Little Snoring",
        "postal_code": "NR21 0AX",
        "country": "GB",
    },
    "preferences": {"sizes": {"shoe_eu": "43½"}, "interests": ["bog snorkelling"]},
    "custom": {"loyalty_number": "LYL-99120-XQ"},
}
PERSON_MESSAGE = "Could you ring the bell twice, the dog is called Marmaduke"
VENDOR_MESSAGE = "Marmaduke noted; delivery on Thursday"


def profile_values(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in profile_values(item)]
    if isinstance(value, list):
        return [v for item in value for v in profile_values(item)]
    return [str(value)]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def run_flow(app: Flask, http: httpx.Client, receiver_url: str) -> list[str]:
    """Everything a person and a vendor do; the secrets and personal values it used."""
    # The person: sign-up, a refused log-in, a token, the profile, a web log-in.
    person = ok(
        http.post("/personal/v1/accounts", json={"email": EMAIL, "password": PASSWORD}), 201
    )
    assert (
        http.post(
            "/personal/v1/tokens", json={"name": "x"}, headers=basic(EMAIL, WRONG_PASSWORD)
        ).status_code
        == 401
    )
    pat = ok(
        http.post("/personal/v1/tokens", json={"name": "script"}, headers=basic(EMAIL, PASSWORD)),
        201,
    )["token"]
    ok(http.patch("/personal/v1/profile", json=PROFILE, headers=bearer(pat)))
    page = http.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    logged_in = http.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf})
    assert logged_in.status_code == 302, logged_in.text

    # The vendor: registered by the operator's initial access token (RFC 7591), then a
    # client-credentials token.
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        service = VendorService(session, rt.keyring)
        vendor, _client, _secret = service.create_vendor("Acme Shop", redirect_uris=())
        registration = service.issue_registration_token(vendor.id)
    client = ok(
        http.post(
            "/oauth/register",
            json={"client_name": "Acme CRM", "grant_types": ["client_credentials"]},
            headers=bearer(registration),
        ),
        201,
    )
    client_id, client_secret = client["client_id"], client["client_secret"]
    grant = ok(
        http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers=basic(client_id, client_secret),
        )
    )
    access = grant["access_token"]
    vendor_auth = bearer(access)
    ok(http.put("/vendor/v1/terms", json={"accepted": list(DEFAULT_TERMS)}, headers=vendor_auth))
    hook = ok(
        http.post("/vendor/v1/webhooks", json={"url": receiver_url}, headers=vendor_auth), 201
    )
    webhook_secret = hook["secret"]

    # Consent, and the vendor reading what it covers.
    with rt.sessions() as session:
        customer_ref = (
            VendorService(session, rt.keyring)
            .relate(vendor.id, uuid.UUID(person["id"]))
            .customer_ref
        )
    fields = ["given_name", "family_name", "phone", "contact_email", "postal_address"]
    consent = ok(
        http.post(
            "/personal/v1/consents",
            json={"vendor_id": str(vendor.id), "fields": fields, "purposes": ["ServiceProvision"]},
            headers=bearer(pat),
        ),
        201,
    )
    read = ok(
        http.get(
            f"/vendor/v1/customers/{customer_ref}/profile",
            params={"purpose": "ServiceProvision"},
            headers=vendor_auth,
        )
    )
    assert read["profile"]["given_name"] == PROFILE["given_name"]

    # An intention, an offer, and a conversation.
    ok(
        http.post("/vendor/v1/subscriptions", json={"categories": ["sports"]}, headers=vendor_auth),
        201,
    )
    intention = ok(
        http.post(
            "/personal/v1/intentions",
            json={"title": "A gravel bike", "category": "sports/cycling/bicycles"},
            headers=bearer(pat),
        ),
        201,
    )
    offer = ok(
        http.post(
            f"/vendor/v1/intentions/{intention['id']}/offers",
            json={
                "price": "650.00",
                "currency": "EUR",
                "description": "Steel gravel bike",
                "accepted_terms": list(DEFAULT_TERMS),
            },
            headers=vendor_auth,
        ),
        201,
    )
    accepted = ok(
        http.post(f"/personal/v1/offers/{offer['id']}/accept", json={}, headers=bearer(pat))
    )
    conversation = accepted["conversation_id"]
    ok(
        http.post(
            f"/personal/v1/conversations/{conversation}/messages",
            json={"text": PERSON_MESSAGE},
            headers=bearer(pat),
        ),
        201,
    )
    ok(
        http.post(
            f"/vendor/v1/conversations/{conversation}/messages",
            json={"text": VENDOR_MESSAGE},
            headers=vendor_auth,
        ),
        201,
    )

    # Withdrawal, an export, and an introspection and revocation of the vendor's token.
    ok(http.post(f"/personal/v1/consents/{consent['id']}/withdraw", headers=bearer(pat)))
    ok(http.get("/personal/v1/export", headers=bearer(pat)))
    ok(
        http.post(
            "/oauth/introspect", data={"token": access}, headers=basic(client_id, client_secret)
        )
    )
    ok(http.post("/oauth/revoke", data={"token": access}, headers=basic(client_id, client_secret)))
    return [
        EMAIL,
        PASSWORD,
        WRONG_PASSWORD,
        pat,
        registration,
        client_secret,
        access,
        webhook_secret,
        webhook_secret.removeprefix("whsec_"),
        PERSON_MESSAGE,
        VENDOR_MESSAGE,
        *profile_values(PROFILE),
    ]


def deliver_webhooks(app: Flask, received: Callable[[int], Any]) -> None:
    rt = app.extensions["vrm"]
    dispatcher = Dispatcher(rt.sessions, rt.keyring, {**rt.settings, "WEBHOOK_TIMEOUT_S": 2})
    try:
        assert dispatcher.deliver_due() > 0
        received(1)
    finally:
        dispatcher.close()


def authlib_issuing(record: logging.LogRecord) -> bool:
    """Authlib's DEBUG line on every token it issues, whose argument is the whole token
    response, access and refresh tokens included, which VRM redacts."""
    return record.name.startswith("authlib.oauth2.rfc6749.grants.") and str(record.msg).startswith(
        "Issue token"
    )


def leaks_in(records: list[logging.LogRecord], secrets: list[str]) -> list[tuple[str, str, str]]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    leaks = []
    for record in records:
        texts = [str(record.msg), repr(record.args), formatter.format(record)]
        for secret in secrets:
            if any(secret in text for text in texts):
                leaks.append((record.name, secret, formatter.format(record)[:300]))
    return leaks


@pytest.fixture
def flow_logs(
    app: Flask,
    live_server: str,
    receiver: Receiver,  # noqa: F811 - the fixture imported above
    caplog: pytest.LogCaptureFixture,
) -> tuple[list[logging.LogRecord], list[str]]:
    """The records of a whole flow at DEBUG, and the secrets and personal values it used."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as http:
        secrets = run_flow(app, http, receiver.url())
    deliver_webhooks(app, receiver.wait_for)
    # A two-letter country code would be found in any hex digest; the rest are distinctive.
    secrets = [s for s in secrets if s != PROFILE["postal_address"]["country"]]
    assert len(secrets) > 20 and all(len(s) >= 3 for s in secrets)

    return list(caplog.records), secrets


def test_a_whole_flow_logs_no_secret_and_no_personal_value(
    flow_logs: tuple[list[logging.LogRecord], list[str]],
) -> None:
    records, secrets = flow_logs
    loggers = {r.name.split(".")[0] for r in records}
    # The capture saw the app at work: requests served, SQL run, the OAuth server.
    assert {"werkzeug", "sqlalchemy", "authlib", "httpx"} <= loggers, loggers
    assert leaks_in([r for r in records if not authlib_issuing(r)], secrets) == []


def test_authlibs_line_on_each_issued_token_is_kept_without_the_tokens(
    flow_logs: tuple[list[logging.LogRecord], list[str]],
) -> None:
    """Authlib logs every token response it issues at DEBUG ('Issue token %r to %r');
    VRM redacts the response and keeps the line."""
    records, secrets = flow_logs
    issuing = [r for r in records if authlib_issuing(r)]
    assert issuing, "the flow issued tokens, so Authlib logged it"
    assert all("<redacted>" in r.getMessage() for r in issuing)
    assert leaks_in(issuing, secrets) == []
