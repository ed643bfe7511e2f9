"""Rate limits (Flask-Limiter): in memory by default, shared in Redis when
``VRM_RATELIMIT_STORAGE_URL`` points at one, so every process counts together."""

from __future__ import annotations

import hashlib

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from vrm.runtime import runtime

limiter = Limiter(key_func=get_remote_address)


def login_identity() -> str:
    """Key attempts by the account they target, hashed so no email sits in the limiter store."""
    email = ""
    if request.authorization and request.authorization.username:
        email = request.authorization.username
    elif request.form.get("email"):
        email = request.form["email"]
    return "login:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def login_limit() -> str:
    return runtime().settings["LOGIN_RATE_LIMIT"]


def signup_limit() -> str:
    return runtime().settings["SIGNUP_RATE_LIMIT"]


def failed(response: object) -> bool:
    """Only refused attempts count against a login limit."""
    return getattr(response, "status_code", 200) >= 400


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
