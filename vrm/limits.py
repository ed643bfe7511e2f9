"""Rate limits (Flask-Limiter): in memory by default, shared in Redis when
``VRM_RATELIMIT_STORAGE_URL`` points at one, so every process counts together.

Each limit reads its rate from the settings (``VRM_*_RATE_LIMIT``) on every request. A
limited response carries Flask-Limiter's ``X-RateLimit-*`` and ``Retry-After`` headers and
the IETF draft's ``RateLimit-Policy`` and ``RateLimit`` fields
(draft-ietf-httpapi-ratelimit-headers); a refusal is a 429 problem.

When the shared store goes away, each process counts in its own memory until the store
answers again (Flask-Limiter checks it at growing intervals, up to about half a minute):
the limits keep holding, per process, and the service keeps answering.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from vrm.runtime import accounts, runtime

REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
# Seconds; Redis answers a counter update in well under a millisecond.
REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}


class _Limiter(Limiter):
    """Flask-Limiter, also writing the IETF draft's ``RateLimit`` fields."""

    def init_app(self, app: Flask) -> None:  # type: ignore[override]
        # Registered first, so it runs after Flask-Limiter's own hook (which deducts the
        # conditional hits): the fields then count this request.
        if self not in app.extensions.get("limiter", ()):
            app.after_request(_rate_limit_fields)
        if app.config.get("RATELIMIT_STORAGE_URI", "").startswith(REDIS_SCHEMES):
            # A Redis that hangs must not hang every limited request with it.
            app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", REDIS_OPTIONS)
        super().init_app(app)


# If the store fails, count in memory (in_memory_fallback_enabled) rather than answer 500;
# and if it fails in the middle of a request, after the check passed (swallow_errors), log
# it and answer rather than lose the response.
limiter = _Limiter(
    key_func=get_remote_address, in_memory_fallback_enabled=True, swallow_errors=True
)
log = logging.getLogger(__name__)


def _rate_limit_fields(response: Response) -> Response:
    """``RateLimit-Policy: "scope";q=N;w=S`` and ``RateLimit: "scope";r=N;t=S`` for every
    limit this request was counted against (none on routes without a limit)."""
    if not limiter.enabled:
        return response
    policies, states = [], []
    now = time.time()
    try:
        for current in limiter.current_limits:
            name = str(current.request_args[-1]).replace("\\", "").replace('"', "")
            policies.append(f'"{name}";q={current.limit.amount};w={current.limit.get_expiry()}')
            reset = max(0, int(current.reset_at - now))
            states.append(f'"{name}";r={current.remaining};t={reset}')
    except Exception:  # the store went away: the answer matters more than its fields
        log.warning("rate limit store unreachable; RateLimit fields left out", exc_info=True)
        return response
    if policies:
        response.headers["RateLimit-Policy"] = ", ".join(policies)
        response.headers["RateLimit"] = ", ".join(states)
    return response


def _account_key(email: str) -> str:
    """An account's limiter key: a keyed digest, so no email (nor a guessable hash of one)
    sits in the limiter store or its log lines."""
    return "account:" + runtime().keyring.blind_index("ratelimit", email.strip().lower())


def login_identity() -> str:
    """Key attempts by the account they target."""
    email = ""
    if request.authorization and request.authorization.username:
        email = request.authorization.username
    elif request.form.get("email"):
        email = request.form["email"]
    return _account_key(email)


def login_limit() -> str:
    return runtime().settings["LOGIN_RATE_LIMIT"]


def signup_limit() -> str:
    return runtime().settings["SIGNUP_RATE_LIMIT"]


def failed(response: object) -> bool:
    """Only refused attempts count against a login limit."""
    return getattr(response, "status_code", 200) >= 400


def succeeded(response: object) -> bool:
    return getattr(response, "status_code", 200) < 400


def limit_logins(view):  # type: ignore[no-untyped-def]
    """Limit failed logins per client address and per targeted account."""
    view = limiter.limit(login_limit, deduct_when=failed, methods=["POST"])(view)
    return limiter.limit(
        login_limit,
        key_func=login_identity,
        deduct_when=failed,
        methods=["POST"],
        scope="login-account",
    )(view)


def setting(name: str) -> Callable[[], str]:
    """The rate named ``name`` in the settings, read when the request is checked."""
    return lambda: runtime().settings[name]


def token_owner() -> str:
    """The account a personal token is created for: the logged-in person on the web page,
    the HTTP Basic user on the API (the same key, so both count together)."""
    person = g.get("person")
    if person is not None:
        return _account_key(accounts().email_of(person))
    return login_identity()


def oauth_client() -> str:
    """The client a token request names (HTTP Basic user or ``client_id`` form field)."""
    client_id = ""
    if request.authorization and request.authorization.username:
        client_id = request.authorization.username
    elif request.form.get("client_id"):
        client_id = request.form["client_id"]
    return "client:" + runtime().keyring.blind_index("ratelimit", client_id)


def per_person() -> str:
    """The person authenticated by the view's guard (token or web session)."""
    return f"person:{g.person.id}"


def per_vendor() -> str:
    """The vendor of the OAuth access token the view's guard accepted."""
    from authlib.integrations.flask_oauth2 import current_token

    return f"vendor:{current_token.client.vendor_id}"


def limit_oauth_tokens(view: Callable[..., Any]) -> Callable[..., Any]:
    """Limit tokens issued per client, and refused token requests per address. Only the
    client's own successes count against it, so nobody can use up another client's share."""
    rate = setting("OAUTH_TOKEN_RATE_LIMIT")
    view = limiter.shared_limit(rate, deduct_when=failed, scope="oauth-token-refused")(view)
    return limiter.shared_limit(
        rate, key_func=oauth_client, deduct_when=succeeded, scope="oauth-token"
    )(view)


# Personal access tokens created per account, across the API and the web page.
limit_personal_tokens = limiter.shared_limit(
    setting("PERSONAL_TOKEN_RATE_LIMIT"),
    scope="personal-token",
    key_func=token_owner,
    methods=["POST"],
    deduct_when=succeeded,
)

# Offers made per vendor.
limit_offers = limiter.shared_limit(
    setting("OFFER_RATE_LIMIT"), scope="offer", key_func=per_vendor, methods=["POST"]
)

# Messages written per person (every channel together), and per vendor.
limit_person_messages = limiter.shared_limit(
    setting("MESSAGE_RATE_LIMIT"), scope="message", key_func=per_person, methods=["POST"]
)
limit_vendor_messages = limiter.shared_limit(
    setting("MESSAGE_RATE_LIMIT"), scope="message", key_func=per_vendor, methods=["POST"]
)
