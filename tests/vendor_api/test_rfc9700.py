"""Each rule of RFC 9700 (OAuth 2.0 Security Best Current Practice) the server claims,
with its failure paths, over real HTTP against the live server."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Account
from tests.vendor_api.conftest import (
    REDIRECT_URI,
    SCOPE,
    Authorization,
    Browser,
    VendorCreds,
    authorize,
    create_vendor,
    csrf_of,
    exchange,
    introspect,
    me,
    path_of,
    query_of,
    token_request,
    without_query,
)
from vrm.vendors.models import AuthorizationCode, OAuthToken

VERIFIER = "a-perfectly-good-code-verifier-of-forty-three-chars"


def authorize_url(live_server: str, **params: str | None) -> str:
    return f"{live_server}/oauth/authorize?" + urlencode(
        {k: v for k, v in params.items() if v is not None}
    )


def pkce_params(creds: VendorCreds, **overrides: str | None) -> dict[str, str | None]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": creds.client_id,
        "redirect_uri": creds.redirect_uri,
        "scope": SCOPE,
        "state": "xyz-state",
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


def count(app: Flask, model: type) -> int:
    with app.extensions["vrm"].engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model))


def code_grant(
    api: httpx.Client, creds: VendorCreds, auth: Authorization, **overrides: str | None
) -> httpx.Response:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": auth.code,
        "redirect_uri": creds.redirect_uri,
        "code_verifier": auth.code_verifier,
    }
    form.update(overrides)
    return token_request(api, creds, **{k: v for k, v in form.items() if v is not None})


def refresh(api: httpx.Client, creds: VendorCreds, refresh_token: str) -> httpx.Response:
    return token_request(api, creds, grant_type="refresh_token", refresh_token=refresh_token)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.json()
    assert "access_token" not in response.json()


def assert_dead(api: httpx.Client, creds: VendorCreds, access_token: str) -> None:
    response = me(api, access_token)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert introspect(api, creds, access_token).json() == {"active": False}


# Redirect URIs: exact match only, and an invalid one is never redirected to (4.1.3)

BAD_REDIRECTS = {
    "unregistered": "https://evil.example/oauth/callback",
    "path-suffix": REDIRECT_URI + "/evil",
    "string-suffix": REDIRECT_URI + "x",
    "trailing-slash": REDIRECT_URI + "/",
    "prefix": REDIRECT_URI[: -len("/callback")],
    "added-query": REDIRECT_URI + "?next=https://evil.example",
    "fragment": REDIRECT_URI + "#evil",
    "http-downgrade": REDIRECT_URI.replace("https://", "http://"),
    "other-port": REDIRECT_URI.replace("shop.example", "shop.example:8443"),
    "subdomain": REDIRECT_URI.replace("shop.example", "evil.shop.example"),
    "host-suffix": REDIRECT_URI.replace("shop.example", "shop.example.evil.example"),
    "userinfo": REDIRECT_URI.replace("shop.example", "shop.example@evil.example"),
    "dot-segment": REDIRECT_URI.replace("/callback", "/../callback"),
}


@pytest.mark.parametrize("redirect_uri", BAD_REDIRECTS.values(), ids=BAD_REDIRECTS.keys())
def test_a_redirect_uri_not_registered_exactly_gets_an_error_page_never_a_redirect(
    app: Flask,
    live_server: str,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
    redirect_uri: str,
) -> None:
    url = authorize_url(live_server, **pkce_params(vendor, redirect_uri=redirect_uri))
    browser.login(ada.email)

    page = browser.http.get(url)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert page.headers["Content-Type"].startswith("text/html")
    assert "This authorization request is not valid" in page.text

    # Approving anyway (a forged form post) changes nothing.
    approved = browser.http.post(url, data={"decision": "approve", "csrf_token": csrf_of(page)})
    assert approved.status_code == 400
    assert "Location" not in approved.headers
    assert count(app, AuthorizationCode) == 0


def test_an_unknown_client_gets_an_error_page(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    browser.login(ada.email)
    page = browser.http.get(
        authorize_url(live_server, **pkce_params(vendor, client_id="vrm_ci_nobody"))
    )
    assert page.status_code == 400
    assert "Location" not in page.headers


def test_with_several_registered_uris_the_client_must_name_one(
    app: Flask, live_server: str, browser: Browser, ada: Account
) -> None:
    creds = create_vendor(
        app, "Two Doors", redirect_uris=("https://a.example/cb", "https://b.example/cb")
    )
    browser.login(ada.email)
    page = browser.http.get(authorize_url(live_server, **pkce_params(creds, redirect_uri=None)))
    assert page.status_code == 400
    assert "Location" not in page.headers

    # Naming the second one exactly works.
    creds.redirect_uri = "https://b.example/cb"
    auth = authorize(live_server, browser, creds, ada, logged_in=True)
    assert auth.location.startswith("https://b.example/cb?")


def test_the_token_request_must_repeat_the_redirect_uri_of_the_authorization(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    response = code_grant(api, vendor, auth, redirect_uri="https://evil.example/oauth/callback")
    assert_oauth_error(response, 400, "invalid_grant")


def test_a_registered_redirect_uri_keeps_its_own_query(
    app: Flask, live_server: str, browser: Browser, ada: Account
) -> None:
    creds = create_vendor(app, "Query Shop", redirect_uris=("https://q.example/cb?shop=7",))
    auth = authorize(live_server, browser, creds, ada)
    assert auth.location.startswith("https://q.example/cb?shop=7&")
    assert query_of(auth.location)["shop"] == "7"


def test_an_approval_without_the_csrf_token_issues_no_code(
    app: Flask, live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    """A page elsewhere cannot approve on the person's behalf (RFC 9700 4.7)."""
    browser.login(ada.email)
    url = authorize_url(live_server, **pkce_params(vendor))
    assert browser.http.get(url).status_code == 200
    for data in ({"decision": "approve"}, {"decision": "approve", "csrf_token": "forged"}):
        response = browser.http.post(url, data=data)
        assert response.status_code == 400
        assert "Location" not in response.headers
    assert count(app, AuthorizationCode) == 0


# PKCE: required, S256 only (2.1.1)


def _refused_before_consent(
    app: Flask, browser: Browser, url: str, creds: VendorCreds, error: str
) -> None:
    """The client and redirect URI are good, so the error goes back to the client, with
    no consent screen and no code; a forged approval gets no code either."""
    response = browser.http.get(url)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert without_query(location) == creds.redirect_uri
    params = query_of(location)
    assert params["error"] == error
    assert params["state"] == "xyz-state"
    assert "code" not in params

    csrf = csrf_of(browser.http.get("/profile"))
    forged = browser.http.post(url, data={"decision": "approve", "csrf_token": csrf})
    assert forged.status_code == 302
    assert "code" not in query_of(forged.headers["Location"])
    assert query_of(forged.headers["Location"])["error"] == error
    assert count(app, AuthorizationCode) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge": None},
        {"code_challenge_method": None},  # RFC 7636 would read this as plain
        {"code_challenge_method": "plain", "code_challenge": VERIFIER},
        {"code_challenge_method": "S512"},
        {"code_challenge": "short"},
    ],
    ids=["no-pkce", "no-challenge", "no-method", "plain", "unknown-method", "bad-challenge"],
)
def test_authorization_without_s256_pkce_is_refused(
    app: Flask,
    live_server: str,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
    overrides: dict[str, str | None],
) -> None:
    browser.login(ada.email)
    url = authorize_url(live_server, **pkce_params(vendor, **overrides))
    _refused_before_consent(app, browser, url, vendor, "invalid_request")


@pytest.mark.parametrize(
    "scope",
    ["events:read", "profile:read nonsense:scope", "", None],
    ids=["not-registered", "unknown", "empty", "missing"],
)
def test_authorization_for_a_scope_the_client_may_not_have_is_refused(
    app: Flask,
    live_server: str,
    browser: Browser,
    ada: Account,
    scope: str | None,
) -> None:
    creds = create_vendor(app, "Narrow Shop", scope="profile:read offers:write")
    browser.login(ada.email)
    url = authorize_url(live_server, **pkce_params(creds, scope=scope))
    _refused_before_consent(app, browser, url, creds, "invalid_scope")


@pytest.mark.parametrize("case", ["access_denied", "invalid_request"])
def test_error_responses_to_the_client_carry_iss_too(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account, case: str
) -> None:
    browser.login(ada.email)
    if case == "access_denied":
        location = browser.decide(
            authorize_url(live_server, **pkce_params(vendor)), decision="deny"
        ).headers["Location"]
    else:
        response = browser.http.get(
            authorize_url(live_server, **pkce_params(vendor, code_challenge=None))
        )
        assert response.status_code == 302
        location = response.headers["Location"]
    params = query_of(location)
    assert params["error"] == case
    assert params.get("iss") == live_server


@pytest.mark.parametrize("response_type", ["token", "code token", "id_token token"])
def test_implicit_grant_is_refused(
    app: Flask,
    live_server: str,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
    response_type: str,
) -> None:
    browser.login(ada.email)
    # A good client and redirect URI: the error goes back to the client, with no token.
    url = authorize_url(live_server, **pkce_params(vendor, response_type=response_type))
    _refused_before_consent(app, browser, url, vendor, "unsupported_response_type")
    assert "#" not in browser.http.get(url).headers["Location"]

    # An unregistered redirect URI: an error page, as ever.
    evil = authorize_url(
        live_server,
        **pkce_params(vendor, response_type=response_type, redirect_uri="https://evil.example/cb"),
    )
    page = browser.http.get(evil)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert count(app, OAuthToken) == 0


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (None, "invalid_request"),
        ("", "invalid_request"),
        ("another-perfectly-good-verifier-of-forty-three-chars", "invalid_grant"),
        ("tooshort", "invalid_request"),
    ],
    ids=["missing", "empty", "wrong", "malformed"],
)
def test_token_request_without_the_right_code_verifier_is_refused(
    app: Flask,
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
    verifier: str | None,
    error: str,
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    assert_oauth_error(code_grant(api, vendor, auth, code_verifier=verifier), 400, error)
    assert count(app, OAuthToken) == 0
    # The failed attempt spent the code: even the right verifier is now too late.
    assert_oauth_error(code_grant(api, vendor, auth), 400, "invalid_grant")
    assert count(app, OAuthToken) == 0


def test_the_verifier_of_another_authorization_does_not_fit(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    first = authorize(live_server, browser, vendor, ada)
    second = authorize(live_server, browser, vendor, ada, logged_in=True)
    response = code_grant(api, vendor, second, code_verifier=first.code_verifier)
    assert_oauth_error(response, 400, "invalid_grant")


# Authorization codes: single use, a replay revokes their tokens, 10 minutes (4.5)


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    first = code_grant(api, vendor, auth)
    assert first.status_code == 200, first.text
    tokens = first.json()
    refreshed = refresh(api, vendor, tokens["refresh_token"]).json()
    assert me(api, tokens["access_token"]).status_code == 200
    assert me(api, refreshed["access_token"]).status_code == 200

    replay = code_grant(api, vendor, auth)
    assert_oauth_error(replay, 400, "invalid_grant")

    assert_dead(api, vendor, tokens["access_token"])
    assert_dead(api, vendor, refreshed["access_token"])
    assert_oauth_error(refresh(api, vendor, refreshed["refresh_token"]), 400, "invalid_grant")
    assert introspect(api, vendor, refreshed["refresh_token"]).json() == {"active": False}


def test_a_replay_revokes_only_the_tokens_of_that_code(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    replayed = authorize(live_server, browser, vendor, ada)
    other = authorize(live_server, browser, vendor, ada, logged_in=True)
    assert code_grant(api, vendor, replayed).status_code == 200
    kept = code_grant(api, vendor, other).json()
    assert code_grant(api, vendor, replayed).status_code == 400
    assert me(api, kept["access_token"]).status_code == 200


def test_a_code_is_bound_to_its_client(
    app: Flask,
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    stolen = code_grant(api, other_vendor, auth, redirect_uri=vendor.redirect_uri)
    assert_oauth_error(stolen, 400, "invalid_grant")
    # The thief's attempt neither spent the code nor counts as a replay.
    assert code_grant(api, vendor, auth).status_code == 200


def test_a_code_older_than_ten_minutes_is_refused(
    frozen_clock: list[datetime],
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
) -> None:
    start = frozen_clock[0]
    fresh = authorize(live_server, browser, vendor, ada)
    stale = authorize(live_server, browser, vendor, ada, logged_in=True)

    frozen_clock[0] = start + timedelta(minutes=9, seconds=59)
    assert code_grant(api, vendor, fresh).status_code == 200

    frozen_clock[0] = start + timedelta(minutes=10, seconds=1)
    assert_oauth_error(code_grant(api, vendor, stale), 400, "invalid_grant")


def test_an_access_token_expires_after_an_hour(
    frozen_clock: list[datetime],
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
) -> None:
    start = frozen_clock[0]
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    frozen_clock[0] = start + timedelta(minutes=59)
    assert me(api, tokens["access_token"]).status_code == 200
    frozen_clock[0] = start + timedelta(hours=1, seconds=1)
    assert_dead(api, vendor, tokens["access_token"])
    # The refresh token outlives it and brings a new one.
    renewed = refresh(api, vendor, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert me(api, renewed.json()["access_token"]).status_code == 200


# Refresh tokens: rotation, and reuse of a rotated one revokes the family (4.14.2)


def test_each_refresh_rotates_the_refresh_token_and_the_old_one_is_refused(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    seen_refresh = {tokens["refresh_token"]}
    seen_access = {tokens["access_token"]}
    current = tokens
    for _ in range(3):
        response = refresh(api, vendor, current["refresh_token"])
        assert response.status_code == 200, response.text
        new = response.json()
        assert new["refresh_token"] not in seen_refresh
        assert new["access_token"] not in seen_access
        # The old refresh token is spent: introspection says so without spending anything.
        assert introspect(api, vendor, current["refresh_token"]).json() == {"active": False}
        assert introspect(api, vendor, new["refresh_token"]).json()["active"] is True
        seen_refresh.add(new["refresh_token"])
        seen_access.add(new["access_token"])
        current = new

    assert_oauth_error(refresh(api, vendor, tokens["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("reused", ["first", "previous"])
def test_reuse_of_a_rotated_refresh_token_revokes_the_whole_family(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    ada: Account,
    reused: str,
) -> None:
    first = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    second = refresh(api, vendor, first["refresh_token"]).json()
    newest = refresh(api, vendor, second["refresh_token"]).json()
    # Another authorization of the same person and vendor: another family.
    bystander = exchange(
        live_server, vendor, authorize(live_server, browser, vendor, ada, logged_in=True)
    )
    assert me(api, newest["access_token"]).status_code == 200

    stolen = first if reused == "first" else second
    assert_oauth_error(refresh(api, vendor, stolen["refresh_token"]), 400, "invalid_grant")

    assert_dead(api, vendor, newest["access_token"])
    assert_dead(api, vendor, first["access_token"])
    assert_oauth_error(refresh(api, vendor, newest["refresh_token"]), 400, "invalid_grant")
    assert introspect(api, vendor, newest["refresh_token"]).json() == {"active": False}
    assert me(api, bystander["access_token"]).status_code == 200


def test_a_refresh_token_is_bound_to_its_client(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    assert_oauth_error(refresh(api, other_vendor, tokens["refresh_token"]), 400, "invalid_grant")
    assert me(api, tokens["access_token"]).status_code == 200


def test_another_clients_attempt_does_not_spend_the_refresh_token(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    assert refresh(api, other_vendor, tokens["refresh_token"]).status_code == 400
    owner = refresh(api, vendor, tokens["refresh_token"])
    assert owner.status_code == 200, owner.text


def test_a_refused_refresh_request_does_not_spend_the_refresh_token(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(
        live_server,
        vendor,
        authorize(live_server, browser, vendor, ada, scope="profile:read"),
    )
    wider = token_request(
        api,
        vendor,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="profile:read offers:write",
    )
    assert_oauth_error(wider, 400, "invalid_scope")
    retry = refresh(api, vendor, tokens["refresh_token"])
    assert retry.status_code == 200, retry.text


def test_a_refresh_may_narrow_the_scope_but_never_widen_it(
    live_server: str, api: httpx.Client, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    narrower = token_request(
        api,
        vendor,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        scope="profile:read",
    )
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "profile:read"
    assert me(api, narrower.json()["access_token"]).json()["token"]["scope"] == "profile:read"

    wider = token_request(
        api,
        vendor,
        grant_type="refresh_token",
        refresh_token=narrower.json()["refresh_token"],
        scope="profile:read events:read",
    )
    assert_oauth_error(wider, 400, "invalid_scope")


# Client authentication, and the grants RFC 9700 forbids (2.4, 2.1.2)


@pytest.mark.parametrize(
    "auth",
    [
        ("right-id", "wrong-secret"),
        ("vrm_ci_nobody", "whatever"),
        ("right-id", ""),
        None,
    ],
    ids=["wrong-secret", "unknown-client", "empty-secret", "no-auth"],
)
def test_token_request_without_valid_client_authentication_is_401(
    api: httpx.Client, vendor: VendorCreds, auth: tuple[str, str] | None
) -> None:
    form = {"grant_type": "client_credentials"}
    if auth is None:
        response = api.post("/oauth/token", data={**form, "client_id": vendor.client_id})
    else:
        client_id = vendor.client_id if auth[0] == "right-id" else auth[0]
        response = api.post("/oauth/token", data=form, auth=(client_id, auth[1]))
    assert_oauth_error(response, 401, "invalid_client")
    if auth is not None:
        # RFC 6749 5.2: the client tried the Authorization header, so a challenge comes back.
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_secret_of_another_client_does_not_authenticate(
    api: httpx.Client, vendor: VendorCreds, other_vendor: VendorCreds
) -> None:
    response = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(vendor.client_id, other_vendor.client_secret),
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_password_grant_is_refused(api: httpx.Client, vendor: VendorCreds, ada: Account) -> None:
    response = token_request(
        api, vendor, grant_type="password", username=ada.email, password="whatever"
    )
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_implicit_as_a_grant_type_is_refused(api: httpx.Client, vendor: VendorCreds) -> None:
    assert_oauth_error(
        token_request(api, vendor, grant_type="implicit"), 400, "unsupported_grant_type"
    )


def test_a_client_without_a_redirect_uri_cannot_use_the_code_flow(
    app: Flask, live_server: str, browser: Browser, ada: Account
) -> None:
    machine = create_vendor(app, "Machine Only", redirect_uris=())
    browser.login(ada.email)
    page = browser.http.get(authorize_url(live_server, **pkce_params(machine)))
    assert page.status_code == 400
    assert "Location" not in page.headers


# Revocation (RFC 7009) and introspection (RFC 7662)


def test_a_client_cannot_revoke_another_clients_token(
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = api.post(
            "/oauth/revoke",
            data={"token": token},
            auth=(other_vendor.client_id, other_vendor.client_secret),
        )
        assert_oauth_error(response, 400, "invalid_grant")
    assert me(api, tokens["access_token"]).status_code == 200
    assert refresh(api, vendor, tokens["refresh_token"]).status_code == 200


def test_a_revoked_access_token_is_refused_on_the_very_next_request(
    api: httpx.Client, vendor: VendorCreds
) -> None:
    token = token_request(api, vendor, grant_type="client_credentials").json()["access_token"]
    assert me(api, token).status_code == 200
    revoked = api.post(
        "/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(vendor.client_id, vendor.client_secret),
    )
    assert revoked.status_code == 200
    assert_dead(api, vendor, token)


def test_introspection_says_only_active_false_for_what_the_client_may_not_see(
    frozen_clock: list[datetime],
    live_server: str,
    api: httpx.Client,
    browser: Browser,
    vendor: VendorCreds,
    other_vendor: VendorCreds,
    ada: Account,
) -> None:
    start = frozen_clock[0]
    theirs = token_request(api, other_vendor, grant_type="client_credentials").json()
    revoked = token_request(api, vendor, grant_type="client_credentials").json()
    api.post(
        "/oauth/revoke",
        data={"token": revoked["access_token"]},
        auth=(vendor.client_id, vendor.client_secret),
    )
    person = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))

    cases = {
        "another client's token": theirs["access_token"],
        "revoked": revoked["access_token"],
        "garbage": "not-a-token",
        "prefixed garbage": "vrm_at_" + "A" * 43,
        "empty": "",
    }
    for label, token in cases.items():
        response = introspect(api, vendor, token)
        assert response.status_code == 200, label
        assert response.json() == {"active": False}, label

    # Expired: the access token an hour on; its refresh token still lives.
    assert introspect(api, vendor, person["access_token"]).json()["active"] is True
    frozen_clock[0] = start + timedelta(hours=1)
    assert introspect(api, vendor, person["access_token"]).json() == {"active": False}
    assert introspect(api, vendor, person["refresh_token"]).json()["active"] is True
    frozen_clock[0] = start + timedelta(days=30, seconds=1)
    assert introspect(api, vendor, person["refresh_token"]).json() == {"active": False}
    assert_oauth_error(refresh(api, vendor, person["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize(
    "auth", [None, ("right-id", "wrong-secret")], ids=["no-auth", "wrong-secret"]
)
def test_introspection_without_client_authentication_is_401(
    api: httpx.Client, vendor: VendorCreds, auth: tuple[str, str] | None
) -> None:
    token = token_request(api, vendor, grant_type="client_credentials").json()["access_token"]
    credentials = None if auth is None else (vendor.client_id, auth[1])
    response = api.post("/oauth/introspect", data={"token": token}, auth=credentials)
    assert_oauth_error(response, 401, "invalid_client")
    assert "active" not in response.json()


def test_the_authorization_response_carries_iss_and_state(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    params = query_of(auth.location)
    assert set(params) == {"code", "state", "iss"}
    assert params["iss"] == live_server


def test_login_round_trip_lands_back_on_the_authorization_request(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    url = authorize_url(live_server, **pkce_params(vendor))
    first = browser.http.get(url)
    assert first.status_code == 302
    browser.login(ada.email, next_path=path_of(url))
    assert browser.http.get(url).status_code == 200
