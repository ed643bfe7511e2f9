"""The vendor API as a resource server (RFC 6750 bearer tokens, problem+json errors), the
person's pairwise pseudonyms, and the person's side: listing and revoking vendors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

from tests.conftest import Account
from tests.vendor_api.conftest import (
    PROBLEM_JSON,
    SCOPE,
    Browser,
    VendorCreds,
    authorize,
    csrf_of,
    exchange,
    introspect,
    me,
    oauth_client,
    token_request,
)
from vendor_api.auth import require_oauth
from vrm.app import create_app
from vrm.vendors.service import VendorService

CHALLENGE = 'Bearer realm="vrm-vendor"'


def refresh(api: httpx.Client, creds: VendorCreds, refresh_token: str) -> httpx.Response:
    return token_request(api, creds, grant_type="refresh_token", refresh_token=refresh_token)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:vrm:problem:")
    return body


# GET /vendor/v1/me and the bearer challenge


@pytest.mark.parametrize("scope", ["events:read", "profile:read offers:write", None])
def test_me_answers_any_valid_token(
    api: httpx.Client, vendor: VendorCreds, scope: str | None
) -> None:
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    token = token_request(api, vendor, **form).json()
    response = me(api, token["access_token"])
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["vendor"]["id"] == str(vendor.vendor_id)
    assert body["token"]["scope"] == token["scope"]
    assert body["token"]["expires_at"]
    assert "secret" not in str(body).lower()


def test_me_without_a_token_is_a_bare_challenge(api: httpx.Client) -> None:
    response = api.get("/vendor/v1/me")
    assert_problem(response, 401)
    # RFC 6750 3.1: no credentials at all, so no error code in the challenge.
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_a_token_in_the_query_string_is_not_accepted(
    api: httpx.Client, vendor: VendorCreds
) -> None:
    token = token_request(api, vendor, grant_type="client_credentials").json()["access_token"]
    response = api.get("/vendor/v1/me", params={"access_token": token})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "token",
    ["vrm_at_" + "A" * 43, "garbage", "vrm_rt_" + "A" * 43],
    ids=["unknown", "garbage", "refresh-shaped"],
)
def test_me_with_an_invalid_token_says_invalid_token(api: httpx.Client, token: str) -> None:
    response = me(api, token)
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == f'{CHALLENGE}, error="invalid_token"'
    assert body["error"] == "invalid_token"


def test_a_refresh_token_is_not_an_access_token(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    response = me(api, tokens["refresh_token"])
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_tokens_do_not_cross_between_the_personal_and_vendor_apis(
    api: httpx.Client, vendor: VendorCreds, ada: Account
) -> None:
    response = api.get("/vendor/v1/me", headers=ada.auth)
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]

    vendor_token = token_request(api, vendor, grant_type="client_credentials").json()
    personal = api.get(
        "/personal/v1/vendors",
        headers={"Authorization": f"Bearer {vendor_token['access_token']}"},
    )
    assert personal.status_code == 401


def test_a_missing_token_gets_no_error_code_in_the_body_either(api: httpx.Client) -> None:
    body = api.get("/vendor/v1/me").json()
    assert "error" not in body


@pytest.mark.parametrize("header", ["Basic YWxpY2U6c2VjcmV0", "Bearer"], ids=["basic", "empty"])
def test_another_scheme_gets_an_rfc6750_answer(api: httpx.Client, header: str) -> None:
    response = api.get("/vendor/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    # Either no credentials (a bare challenge) or a malformed request; never another code.
    assert challenge in {CHALLENGE, f'{CHALLENGE}, error="invalid_request"'}, challenge


@pytest.fixture
def scoped_app(app: Flask, app_settings: dict[str, Any]) -> Iterator[Flask]:
    """No vendor resource declares a scope yet (only /vendor/v1/me, open to any token), so
    the 403 challenge of ``require_oauth`` is shown on a route of this test's own app."""
    application = create_app(app_settings)

    @require_oauth("offers:write")
    def scoped() -> dict[str, str]:
        return {"ok": "yes"}

    application.add_url_rule("/vendor/v1/_test_scoped", "test_scoped", scoped)
    yield application
    application.extensions["vrm"].engine.dispose()


def test_the_insufficient_scope_challenge_names_the_scope_needed(
    scoped_app: Flask, vendor: VendorCreds
) -> None:
    client = scoped_app.test_client()
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "profile:read"},
        auth=(vendor.client_id, vendor.client_secret),
    ).get_json()["access_token"]
    response = client.get("/vendor/v1/_test_scoped", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.get_json()["error"] == "insufficient_scope"
    # RFC 6750 3: the challenge MAY name the scope; auth.py means to.
    assert response.headers["WWW-Authenticate"] == (
        f'{CHALLENGE}, error="insufficient_scope", scope="offers:write"'
    )


# Pairwise pseudonyms


def test_each_vendor_knows_the_person_by_a_different_customer_ref(
    app: Flask,
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
    bob: Account,
) -> None:
    at_acme = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    at_globex = exchange(
        live_server,
        other_vendor,
        authorize(live_server, browser, other_vendor, ada, logged_in=True),
    )
    ref_acme = me(api, at_acme["access_token"]).json()["token"]["customer_ref"]
    ref_globex = me(api, at_globex["access_token"]).json()["token"]["customer_ref"]
    assert ref_acme and ref_globex
    assert ref_acme != ref_globex
    for ref in (ref_acme, ref_globex):
        assert ada.id not in ref and ada.id.replace("-", "") not in ref
        assert "ada" not in ref

    # Introspection gives each vendor the same pseudonym as sub.
    assert introspect(api, vendor, at_acme["access_token"]).json()["sub"] == ref_acme
    assert introspect(api, other_vendor, at_globex["access_token"]).json()["sub"] == ref_globex

    # Stable: a second authorization of the same vendor, the same ref.
    again = exchange(
        live_server, vendor, authorize(live_server, browser, vendor, ada, logged_in=True)
    )
    assert me(api, again["access_token"]).json()["token"]["customer_ref"] == ref_acme

    # Another person at the same vendor: another ref.
    bob_browser = Browser(live_server)
    try:
        bobs = exchange(live_server, vendor, authorize(live_server, bob_browser, vendor, bob))
    finally:
        bob_browser.close()
    assert me(api, bobs["access_token"]).json()["token"]["customer_ref"] not in {
        ref_acme,
        ref_globex,
    }

    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        service = VendorService(session, rt.keyring)
        assert service.person_for_ref(vendor.vendor_id, ref_acme) == uuid.UUID(ada.id)
        assert service.person_for_ref(other_vendor.vendor_id, ref_globex) == uuid.UUID(ada.id)
        # A ref means nothing at another vendor.
        assert service.person_for_ref(other_vendor.vendor_id, ref_acme) is None
        assert service.person_for_ref(vendor.vendor_id, ref_globex) is None


# The person's side: /personal/v1/vendors and the /vendors page


def test_the_person_lists_the_vendors_and_apps_they_authorised(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
    bob: Account,
) -> None:
    assert api.get("/personal/v1/vendors", headers=ada.auth).json()["data"] == []
    exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))

    response = api.get("/personal/v1/vendors", headers=ada.auth)
    assert response.status_code == 200, response.text
    (listed,) = response.json()["data"]
    assert listed["id"] == str(vendor.vendor_id)
    assert listed["name"] == "Acme Shop"
    (app_,) = listed["apps"]
    assert app_["client_id"] == vendor.client_id
    assert app_["name"] == "Acme Shop"
    assert set(app_["scope"].split()) == set(SCOPE.split())
    # Bob authorised nothing; Globex is nobody's vendor yet.
    assert api.get("/personal/v1/vendors", headers=bob.auth).json()["data"] == []
    assert api.get("/personal/v1/vendors").status_code == 401


def test_the_person_revokes_a_vendor_and_its_next_request_is_refused(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
    bob: Account,
) -> None:
    first = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    second = exchange(
        live_server, vendor, authorize(live_server, browser, vendor, ada, logged_in=True)
    )
    globex = exchange(
        live_server,
        other_vendor,
        authorize(live_server, browser, other_vendor, ada, logged_in=True),
    )
    machine = token_request(api, vendor, grant_type="client_credentials").json()
    path = f"/personal/v1/vendors/{vendor.vendor_id}/authorizations"

    # Bob has no relationship with this vendor: 404, and nothing of Ada's is touched.
    by_bob = api.delete(path, headers=bob.auth)
    assert_problem(by_bob, 404)
    assert me(api, first["access_token"]).status_code == 200

    # An unknown vendor: 404 too.
    assert (
        api.delete(
            f"/personal/v1/vendors/{uuid.uuid4()}/authorizations", headers=ada.auth
        ).status_code
        == 404
    )
    assert api.delete(path).status_code == 401

    response = api.delete(path, headers=ada.auth)
    assert response.status_code == 204, response.text

    for tokens in (first, second):
        refused = me(api, tokens["access_token"])
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert refresh(api, vendor, tokens["refresh_token"]).status_code == 400
        assert introspect(api, vendor, tokens["access_token"]).json() == {"active": False}
    # Other vendors, and the vendor's own machine token (no person behind it), live on.
    assert me(api, globex["access_token"]).status_code == 200
    assert me(api, machine["access_token"]).status_code == 200

    listed = {
        v["name"]: v for v in api.get("/personal/v1/vendors", headers=ada.auth).json()["data"]
    }
    assert listed["Acme Shop"]["apps"] == []
    assert len(listed["Globex Market"]["apps"]) == 1


def test_a_code_issued_before_the_person_revoked_buys_nothing(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    response = api.delete(
        f"/personal/v1/vendors/{vendor.vendor_id}/authorizations", headers=ada.auth
    )
    assert response.status_code == 204
    exchanged = token_request(
        api,
        vendor,
        grant_type="authorization_code",
        code=auth.code,
        redirect_uri=vendor.redirect_uri,
        code_verifier=auth.code_verifier,
    )
    if exchanged.status_code == 200:
        assert me(api, exchanged.json()["access_token"]).status_code == 401
    assert exchanged.status_code == 400
    assert exchanged.json()["error"] == "invalid_grant"


def test_denying_consent_starts_no_relationship(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    with oauth_client(live_server, vendor) as client:
        url, _ = client.create_authorization_url(
            f"{live_server}/oauth/authorize", code_verifier="v" * 48
        )
    browser.login(ada.email)
    assert "error=access_denied" in browser.decide(url, "deny").headers["Location"]
    assert api.get("/personal/v1/vendors", headers=ada.auth).json()["data"] == []
    assert (
        api.delete(
            f"/personal/v1/vendors/{vendor.vendor_id}/authorizations", headers=ada.auth
        ).status_code
        == 404
    )


def test_the_vendors_page_shows_the_vendor_and_revoke_access_works(
    app: Flask,
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    page = browser.http.get("/vendors")
    assert page.status_code == 200
    assert "Acme Shop" in page.text
    assert "profile:read" in page.text and "offers:write" in page.text
    assert "Revoke access" in page.text
    action = f"/vendors/{vendor.vendor_id}/revoke"
    assert f'href="{action}"' in page.text
    confirm = browser.http.get(action)
    assert confirm.status_code == 200
    assert "Revoke the access of Acme Shop’s apps?" in confirm.text
    assert me(api, tokens["access_token"]).status_code == 200  # asking changed nothing

    # Without the CSRF token, nothing happens.
    forged = browser.http.post(action, data={})
    assert forged.status_code == 400
    assert me(api, tokens["access_token"]).status_code == 200

    response = browser.http.post(action, data={"csrf_token": csrf_of(confirm)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/vendors?revoked=1"
    assert me(api, tokens["access_token"]).status_code == 401
    assert refresh(api, vendor, tokens["refresh_token"]).status_code == 400

    after = browser.http.get("/vendors?revoked=1")
    assert "Access revoked" in after.text
    assert "No app of Acme Shop can act for you now." in after.text
    assert "Revoke access" not in after.text


def test_the_vendors_page_will_not_revoke_for_another_person(
    app: Flask,
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
    bob: Account,
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    bob_browser = Browser(live_server)
    try:
        bob_browser.login(bob.email)
        csrf = csrf_of(bob_browser.http.get("/vendors"))
        response = bob_browser.http.post(
            f"/vendors/{vendor.vendor_id}/revoke", data={"csrf_token": csrf}
        )
    finally:
        bob_browser.close()
    assert response.status_code == 404
    assert me(api, tokens["access_token"]).status_code == 200
