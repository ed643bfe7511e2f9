"""Authentication of personal API callers by personal access token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, request

from vrm.accounts.models import Person
from vrm.errors import Unauthenticated
from vrm.runtime import accounts

SECURITY = [{"personalToken": []}]


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="vrm-personal"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def require_person(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the view run only for a caller with a live personal access token."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated(
                "Send a personal access token as a Bearer token", headers=_challenge()
            )
        person = accounts().person_for_token(secret.strip())
        if person is None:
            raise Unauthenticated(
                "The token is unknown, revoked or expired", headers=_challenge("invalid_token")
            )
        g.person = person
        return view(*args, **kwargs)

    return wrapper


def current_person() -> Person:
    return g.person
