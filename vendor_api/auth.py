"""Protection of the vendor API: a bearer access token, and the scope each resource declares.

Errors are problem+json like every API error, with the RFC 6750 ``WWW-Authenticate``
challenge and the OAuth error code as the problem's ``error`` member."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import g

from vrm.errors import DomainError
from vrm.runtime import db_session
from vrm.vendors.grants import GrantStore
from vrm.vendors.models import OAuthToken

REALM = "vrm-vendor"


class OAuthProblem(DomainError):
    code = "oauth"

    def __init__(self, status: int, error: str | None, description: str, headers: dict[str, str]):
        super().__init__(description, headers=headers, extra={"error": error} if error else {})
        self.status = status
        self.code = {401: "unauthenticated", 403: "insufficient-scope"}.get(status, "oauth")
        self.title = {
            401: "Authentication required",
            403: "The token lacks the scope this needs",
        }.get(status, "OAuth error")


class _Validator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> OAuthToken | None:
        return GrantStore(db_session()).by_access_token(token_string)


# Authlib's names for "no bearer token was sent at all".
NO_CREDENTIALS = {"missing_authorization", "unsupported_token_type"}


class _Protector(ResourceProtector):
    def acquire_token(self, scopes: Any = None, **kwargs: Any) -> Any:
        g.vrm_required_scopes = [scopes] if isinstance(scopes, str) else list(scopes or [])
        return super().acquire_token(scopes, **kwargs)

    def raise_error_response(self, error: Any) -> None:
        challenge = f'Bearer realm="{REALM}"'
        if error.error in NO_CREDENTIALS:
            # RFC 6750 section 3.1: no error information when no credentials were sent.
            raise OAuthProblem(
                401,
                None,
                "Send a vendor access token as a Bearer token",
                {"WWW-Authenticate": challenge},
            )
        challenge += f', error="{error.error}"'
        if error.error == "insufficient_scope" and g.get("vrm_required_scopes"):
            challenge += f', scope="{" ".join(g.vrm_required_scopes)}"'
        raise OAuthProblem(
            error.status_code,
            error.error,
            error.description or error.error.replace("_", " "),
            {"WWW-Authenticate": challenge},
        )


require_oauth = _Protector()
require_oauth.register_token_validator(_Validator(realm=REALM))


def token() -> OAuthToken:
    return current_token._get_current_object()  # type: ignore[no-any-return]


def idempotency_caller() -> str:
    """Whose Idempotency-Key space a request uses: the client, and the person when the
    token is one a person issued (a replay must not cross the token's reach)."""
    current = token()
    if current.person_id is None:
        return f"client:{current.client_pk}"
    # Short enough for the caller column (80) with both ids.
    return f"client:{current.client_pk}:p:{current.person_id.hex}"


def scope_doc(scope: str | None) -> list[dict[str, list[str]]]:
    return [{"vendorOAuth": [scope] if scope else []}]
