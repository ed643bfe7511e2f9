"""The OAuth 2 authorization server (Authlib), tightened to RFC 9700:

- PKCE with S256 only, mandatory for every client;
- redirect URIs matched exactly; codes single-use, 10 minutes, a replay revokes their tokens;
- refresh tokens rotate, and reuse of a rotated one revokes the whole family;
- no implicit or password grant; secrets, codes and tokens stored as SHA-256 digests only;
- the authorization response carries ``iss`` (RFC 9207) against mix-up attacks.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import marshmallow as ma
from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import (
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, jsonify, request
from flask_smorest import Blueprint

from vendor_api import schemas
from vrm.consents.service import check_fields, check_purposes
from vrm.crypto import new_token
from vrm.errors import NotFound, ValidationFailed, flatten_messages
from vrm.limits import limit_oauth_tokens
from vrm.runtime import accounts, db_session, runtime, vendor_service
from vrm.vendors import scopes
from vrm.vendors.grants import (
    ACCESS_TOKEN_LIFETIME,
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    GrantStore,
)
from vrm.vendors.service import AUTH_METHODS, GRANT_TYPES, VendorService, check_redirect_uri

CLIENT_AUTH_METHODS = list(AUTH_METHODS)
CONSENT_DETAILS_TYPE = "vrm_consent"


def store() -> GrantStore:
    return GrantStore(db_session())


def vendors() -> VendorService:
    return vendor_service()


def issuer() -> str:
    return runtime().settings["ISSUER"] or request.host_url.rstrip("/")


def s256_matches(verifier: str, challenge: str) -> bool:
    """Whether BASE64URL(SHA256(verifier)) is the challenge, compared in constant time."""
    computed = create_s256_code_challenge(verifier).encode()
    return hmac.compare_digest(computed, challenge.encode())


class S256Challenge(CodeChallenge):
    """PKCE, S256 only, for every client (Authlib would allow plain and skip it for
    confidential clients)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    # Authlib compares with ==; compare in constant time.
    CODE_CHALLENGE_METHODS = {"S256": s256_matches}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted")
        super().validate_code_challenge(grant, redirect_uri)


class InvalidAuthorizationDetails(OAuth2Error):
    error = "invalid_authorization_details"  # RFC 9396 section 5


def consent_details(raw: str | None, redirect_uri: str) -> dict[str, Any] | None:
    """The ``vrm_consent`` entry of RFC 9396 ``authorization_details``, checked."""
    if not raw:
        return None
    try:
        details = json.loads(raw)
    except ValueError:
        raise InvalidAuthorizationDetails(
            "authorization_details is not JSON", redirect_uri=redirect_uri
        ) from None
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        raise InvalidAuthorizationDetails(
            "authorization_details must be a list of objects", redirect_uri=redirect_uri
        )
    unknown = [d.get("type") for d in details if d.get("type") != CONSENT_DETAILS_TYPE]
    if unknown or len(details) != 1:
        raise InvalidAuthorizationDetails(
            f"Only one entry of type {CONSENT_DETAILS_TYPE}", redirect_uri=redirect_uri
        )
    entry = details[0]
    for name in ("fields", "purposes"):
        value = entry.get(name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise InvalidAuthorizationDetails(
                f"{name} must be a list of strings", redirect_uri=redirect_uri
            )
    try:
        fields = check_fields(list(entry.get("fields") or []))
        purposes = check_purposes(list(entry.get("purposes") or ["ServiceProvision"]))
    except ValidationFailed as error:
        raise InvalidAuthorizationDetails(error.detail, redirect_uri=redirect_uri) from None
    days = entry.get("duration_days")
    if days is not None and (type(days) is not int or not 1 <= days <= 3650):
        raise InvalidAuthorizationDetails(
            "duration_days must be 1 to 3650", redirect_uri=redirect_uri
        )
    return {"fields": fields, "purposes": purposes, "duration_days": days}


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        if not self.request.payload.scope:
            raise InvalidScopeError("Name the scopes you ask for", redirect_uri=redirect_uri)
        details = consent_details(
            self.request.payload.data.get("authorization_details"), redirect_uri
        )
        if details and "profile:read" not in scopes.parse(self.request.scope):
            raise InvalidAuthorizationDetails(
                "A vrm_consent entry needs the profile:read scope", redirect_uri=redirect_uri
            )
        self.request.vrm_consent = details
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user: Any) -> Any:
        status, body, headers = super().create_authorization_response(redirect_uri, grant_user)
        location = add_params_to_uri(dict(headers)["Location"], [("iss", issuer())])
        return status, body, [("Location", location)]

    def save_authorization_code(self, code: str, req: Any) -> None:
        data = req.payload.data
        store().save_code(
            code,
            req.client,
            req.user.id,
            req.payload.redirect_uri or "",
            req.scope,
            data["code_challenge"],
            data["code_challenge_method"],
        )

    def query_authorization_code(self, code: str, client: Any) -> Any:
        return store().claim_code(code, client)

    def delete_authorization_code(self, authorization_code: Any) -> None:
        """Nothing to do: the code was spent when it was claimed."""

    def authenticate_user(self, authorization_code: Any) -> Any:
        return accounts().get(authorization_code.person_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def _validate_request_token(self, client: Any) -> Any:
        refresh_token = self.request.form.get("refresh_token")
        if refresh_token is None:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        invalid = InvalidGrantError("The refresh token is invalid, expired or already used")
        # Check the client and the scope before spending the token: a refused request
        # must not count as use, or the owner's next refresh would look like reuse.
        found = store().by_any_token(refresh_token)
        if found is None or not found.presented_refresh or not found.check_client(client):
            raise invalid
        wanted = scopes.parse(self.request.payload.scope)
        if wanted and not set(wanted) <= set(scopes.parse(found.whole_scope)):
            raise InvalidScopeError("A refresh cannot widen the scope granted")
        token = store().claim_refresh_token(refresh_token)
        if token is None:
            raise invalid
        return token

    def _validate_token_scope(self, token: Any) -> None:
        """Checked against the whole grant's scope in _validate_request_token."""

    def issue_token(self, user: Any, refresh_token: Any) -> Any:
        # Without a scope, the new access token gets the whole grant, not a narrowed one.
        return self.generate_token(
            user=user,
            scope=self.request.payload.scope or refresh_token.whole_scope,
            include_refresh_token=True,
        )

    def authenticate_refresh_token(self, refresh_token: str) -> Any:
        raise NotImplementedError("claimed in _validate_request_token")

    def authenticate_user(self, refresh_token: Any) -> Any:
        return accounts().get(refresh_token.person_id) if refresh_token.person_id else None

    def revoke_old_credential(self, refresh_token: Any) -> None:
        """Nothing to do: the old refresh token was spent when it was claimed."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        if self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError("The client was not registered for every scope it asks for")


def _token_param_only(req: Any) -> None:
    """RFC 7009 2.1 / RFC 7662 2.1: a hint is only a hint; an unknown one is ignored and
    every kind of token is searched."""
    if "token" not in req.form:
        raise InvalidRequestError("Missing 'token' in request.")


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def check_params(self, req: Any, client: Any) -> None:
        _token_param_only(req)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return store().by_any_token(token_string)

    def revoke_token(self, token: Any, req: Any) -> None:
        # Revoking a refresh token ends every token of that grant (RFC 7009 section 2.1).
        store().revoke(token, family=token.presented_refresh)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def check_params(self, req: Any, client: Any) -> None:
        _token_param_only(req)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return store().by_any_token(token_string)

    def check_permission(self, token: Any, client: Any, req: Any) -> bool:
        # A client learns about its own tokens only; any other is simply inactive.
        return token.check_client(client)

    def introspect_token(self, token: Any) -> dict[str, Any]:
        client = token.client
        body: dict[str, Any] = {
            "active": True,
            "client_id": client.client_id,
            "scope": token.whole_scope if token.presented_refresh else token.scope,
            "token_type": "refresh_token" if token.presented_refresh else "Bearer",
            "exp": int(
                (
                    token.refresh_expires_at if token.presented_refresh else token.access_expires_at
                ).timestamp()
            ),
            "iat": int(token.issued_at.timestamp()),
            "iss": issuer(),
        }
        if token.person_id:
            body["sub"] = vendors().customer_ref(client.vendor_id, token.person_id)
        return body

    def create_introspection_payload(self, token: Any) -> dict[str, Any]:
        if token is None or not store().is_active(token):
            return {"active": False}
        return self.introspect_token(token)


class Registration(ClientRegistrationEndpoint):
    """Dynamic client registration (RFC 7591), open only to an operator-issued initial
    access token, spent by the registration."""

    def authenticate_token(self, req: Any) -> Any:
        scheme, _, secret = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and vendors().registration_token_valid(secret.strip()):
            return secret.strip()
        return None

    def get_server_metadata(self) -> dict[str, Any]:
        return metadata()

    def create_registration_response(self, req: Any) -> Any:
        token = self.authenticate_token(req)
        if not token:
            raise InvalidTokenError("An initial access token from the operator is required")
        req.credential = token
        data = req.payload.data
        if not isinstance(data, dict):
            raise InvalidClientMetadataError("Send the client metadata as a JSON object")
        try:
            schemas.RegistrationRequestSchema().load(data)
        except ma.ValidationError as error:
            first = next(flatten_messages(error.messages))
            raise InvalidClientMetadataError(f"{first['field']}: {first['message']}") from None
        for uri in data.get("redirect_uris") or []:
            try:
                check_redirect_uri(str(uri))
            except ValidationFailed as error:
                raise InvalidRedirectURIError(error.detail) from None
        client_metadata = self.extract_client_metadata(req)
        try:
            client, secret = vendors().register_client(token, client_metadata)
        except ValidationFailed as error:
            field = error.errors[0]["field"] if error.errors else ""
            if field == "redirect_uris":
                raise InvalidRedirectURIError(error.detail) from None
            raise InvalidClientMetadataError(error.detail) from None
        except NotFound as error:
            raise InvalidTokenError(error.detail) from None
        body = {
            **client_metadata,
            "client_id": client.client_id,
            "client_secret": secret,
            "client_id_issued_at": int(client.created_at.timestamp()),
            "client_secret_expires_at": 0,
            "client_name": client.name,
            "redirect_uris": client.redirect_uris,
            "grant_types": client.grant_types,
            "scope": client.scope,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "response_types": ["code"] if "authorization_code" in client.grant_types else [],
        }
        return 201, body, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


def _query_client(client_id: str) -> Any:
    return store().client(client_id)


def _save_token(token: dict[str, Any], req: Any) -> None:
    person = req.user
    code = getattr(req, "authorization_code", None)
    parent = getattr(req, "refresh_token", None)
    store().save_token(
        token,
        req.client,
        person.id if person else None,
        family_id=parent.family_id if parent is not None else None,
        code_id=code.id if code is not None else None,
        grant_scope=parent.whole_scope if parent is not None else None,
    )


class _Server(AuthorizationServer):
    def handle_error_response(self, req: Any, error: Any) -> Any:
        status, body, headers = error(self.get_error_uri(req, error))
        # RFC 9207: error redirects carry the issuer too, against mix-up attacks.
        headers = [
            (name, add_params_to_uri(value, [("iss", issuer())]) if name == "Location" else value)
            for name, value in headers
        ]
        return self.handle_response(status, body, headers)


server = _Server(query_client=_query_client, save_token=_save_token)


# Authlib's grants log each token response they issue, tokens included, at DEBUG.
ISSUING_LOGGERS = [
    f"authlib.oauth2.rfc6749.grants.{grant}"
    for grant in (
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "resource_owner_password_credentials",
        "implicit",
    )
]


class RedactIssuedTokens(logging.Filter):
    """Keep Authlib's "Issue token %r to %r" line, without the token response."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Issue token") and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = ("<redacted>", *args[1:])
        return True


def redact_issued_tokens() -> None:
    for name in ISSUING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactIssuedTokens) for f in logger.filters):
            logger.addFilter(RedactIssuedTokens())


def init_app(app: Flask) -> None:
    redact_issued_tokens()
    server.init_app(app)
    server.scopes_supported = list(scopes.SCOPES)
    generator = BearerTokenGenerator(
        access_token_generator=lambda **_: new_token(ACCESS_TOKEN_PREFIX),
        refresh_token_generator=lambda **_: new_token(REFRESH_TOKEN_PREFIX),
        expires_generator=lambda client, grant_type: int(ACCESS_TOKEN_LIFETIME.total_seconds()),
    )
    server.register_token_generator("default", generator)
    server.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_endpoint(Registration)


def metadata() -> dict[str, Any]:
    """Authorization server metadata (RFC 8414)."""
    base = issuer()
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "registration_endpoint": f"{base}/oauth/register",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "scopes_supported": list(scopes.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "authorization_details_types_supported": [CONSENT_DETAILS_TYPE],
    }


blp = Blueprint(
    "oauth", __name__, description="OAuth 2 authorization server (RFC 6749 and friends)"
)

FORM = "application/x-www-form-urlencoded"


@blp.route("/oauth/token", methods=["POST"])
@blp.doc(
    requestBody=schemas.form_body(schemas.TokenRequestSchema), security=[{"clientBasic": []}, {}]
)
@blp.response(200, schemas.TokenResponseSchema)
@blp.alt_response(400, schema=schemas.OAuthErrorSchema, description="RFC 6749 error")
@blp.alt_response(401, schema=schemas.OAuthErrorSchema, description="Client authentication failed")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@limit_oauth_tokens
def token() -> Any:
    """Issue tokens: client_credentials, authorization_code (PKCE S256), refresh_token."""
    return server.create_token_response()


@blp.route("/oauth/revoke", methods=["POST"])
@blp.doc(requestBody=schemas.form_body(schemas.TokenHintSchema), security=[{"clientBasic": []}, {}])
@blp.response(200, schemas.EmptySchema)
@blp.alt_response(400, schema=schemas.OAuthErrorSchema, description="RFC 7009 error")
def revoke() -> Any:
    """Revoke an access or refresh token of the calling client (RFC 7009)."""
    return server.create_endpoint_response("revocation")


@blp.route("/oauth/introspect", methods=["POST"])
@blp.doc(requestBody=schemas.form_body(schemas.TokenHintSchema), security=[{"clientBasic": []}, {}])
@blp.response(200, schemas.IntrospectionSchema)
@blp.alt_response(400, schema=schemas.OAuthErrorSchema, description="RFC 6749 error")
@blp.alt_response(401, schema=schemas.OAuthErrorSchema, description="Client authentication failed")
def introspect() -> Any:
    """Describe a token of the calling client (RFC 7662); anything else is inactive."""
    return server.create_endpoint_response("introspection")


@blp.route("/oauth/register", methods=["POST"])
@blp.doc(
    requestBody=schemas.json_body(schemas.ClientMetadataSchema),
    security=[{"registrationToken": []}],
)
@blp.response(201, schemas.ClientRegistrationSchema)
@blp.alt_response(400, schema=schemas.OAuthErrorSchema, description="RFC 7591 error")
@blp.alt_response(401, schema=schemas.OAuthErrorSchema, description="No valid initial access token")
def register() -> Any:
    """Register a client with an initial access token issued by the operator (RFC 7591)."""
    return server.create_endpoint_response("client_registration")


@blp.route("/.well-known/oauth-authorization-server", methods=["GET"])
@blp.doc(security=[])  # public discovery (RFC 8414)
@blp.response(200, schemas.ServerMetadataSchema)
def server_metadata() -> Any:
    """Authorization server metadata (RFC 8414)."""
    return jsonify(metadata())


@blp.route("/.well-known/jwks.json", methods=["GET"])
@blp.doc(security=[])  # public keys, for anyone to verify signed records
@blp.response(200, schemas.JWKSSchema)
def jwks() -> Any:
    """The platform's Ed25519 public keys, with which signed records verify."""
    response = jsonify(runtime().keyring.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _query(name: str, description: str, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


_AUTHORIZE_PARAMETERS = [
    _query("response_type", "Always `code`"),
    _query("client_id", "Your client_id"),
    _query("redirect_uri", "One of your registered redirect URIs, exactly", required=False),
    _query("scope", "Space-separated scopes"),
    _query("state", "Opaque value returned to you", required=False),
    _query("code_challenge", "PKCE challenge: BASE64URL(SHA256(code_verifier))"),
    _query("code_challenge_method", "Always `S256`"),
]

AUTHORIZE_DOC: dict[str, Any] = {
    method: {
        "tags": ["oauth"],
        "summary": summary,
        "description": (
            "The person's consent screen (an HTML page). On approval the browser is sent to "
            "`redirect_uri` with `code`, `state` and `iss`; on denial with "
            "`error=access_denied`."
        ),
        "parameters": _AUTHORIZE_PARAMETERS,
        "responses": {
            "200": {"description": "The consent screen", "content": {"text/html": {}}},
            "302": {"description": "Back to the client, or to log-in first"},
            "400": {"description": "Unknown client or redirect URI", "content": {"text/html": {}}},
        },
    }
    for method, summary in (
        ("get", "Show the consent screen"),
        ("post", "Approve or deny (form field decision)"),
    )
}
