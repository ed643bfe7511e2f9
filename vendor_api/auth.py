"""Protection of the vendor API: a bearer access token, and the scope each resource declares.

Errors are problem+json like every API error, with the RFC 6750 ``WWW-Authenticate``
challenge and the OAuth error code as the problem's ``error`` member."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator

from vrm.errors import DomainError
from vrm.runtime import db_session
from vrm.vendors.grants import GrantStore
from vrm.vendors.models import OAuthToken

REALM = "vrm-vendor"


class OAuthProblem(DomainError):
    code = "oauth"

    def __init__(self, status: int, error: str, description: str, headers: dict[str, str]):
        super().__init__(description, headers=headers, extra={"error": error})
        self.status = status
        self.code = {401: "unauthenticated", 403: "insufficient-scope"}.get(status, "oauth")
        self.title = {
            401: "Authentication required",
            403: "The token lacks the scope this needs",
        }.get(status, "OAuth error")


class _Validator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> OAuthToken | None:
        return GrantStore(db_session()).by_access_token(token_string)


class _Protector(ResourceProtector):
    def raise_error_response(self, error: Any) -> None:
        # RFC 6750 section 3: no error code when the request had no credentials at all.
        challenge = f'Bearer realm="{REALM}"'
        if error.error != "missing_authorization":
            challenge += f', error="{error.error}"'
            if getattr(error, "scope", None):
                challenge += f', scope="{error.scope}"'
        headers = {"WWW-Authenticate": challenge}
        raise OAuthProblem(
            error.status_code,
            error.error,
            error.description or error.error.replace("_", " "),
            headers,
        )


require_oauth = _Protector()
require_oauth.register_token_validator(_Validator(realm=REALM))


def token() -> OAuthToken:
    return current_token._get_current_object()  # type: ignore[no-any-return]


def scope_doc(scope: str | None) -> list[dict[str, list[str]]]:
    return [{"vendorOAuth": [scope] if scope else []}]
