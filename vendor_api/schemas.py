"""Schemas documenting the OAuth endpoints and the vendor API in openapi.yaml."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

FORM = "application/x-www-form-urlencoded"


def form_body(schema: type[ma.Schema]) -> dict[str, Any]:
    return {"required": True, "content": {FORM: {"schema": schema}}}


def json_body(schema: type[ma.Schema]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


class TokenRequestSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # RFC 6749 section 3.2: unrecognized parameters are ignored

    grant_type = fields.String(
        required=True,
        metadata={"enum": ["client_credentials", "authorization_code", "refresh_token"]},
    )
    scope = fields.String(metadata={"example": "intentions:read offers:write"})
    code = fields.String()
    redirect_uri = fields.String()
    code_verifier = fields.String(metadata={"description": "PKCE verifier (S256)"})
    refresh_token = fields.String()
    client_id = fields.String(metadata={"description": "With client_secret_post"})
    client_secret = fields.String(metadata={"description": "With client_secret_post"})


class TokenResponseSchema(ma.Schema):
    access_token = fields.String(metadata={"example": "vrm_at_..."})
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"example": 3600})
    refresh_token = fields.String(metadata={"example": "vrm_rt_..."})
    scope = fields.String()


class OAuthErrorSchema(ma.Schema):
    error = fields.String(metadata={"example": "invalid_grant"})
    error_description = fields.String()


class TokenHintSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # RFC 7009 and 7662 read their parameters as RFC 6749 does

    token = fields.String(required=True)
    # A hint, not a choice (RFC 7009 section 2.1): one the server does not know is ignored.
    token_type_hint = fields.String(
        metadata={"description": "`access_token` or `refresh_token`", "example": "access_token"}
    )


class EmptySchema(ma.Schema):
    pass


class IntrospectionSchema(ma.Schema):
    active = fields.Boolean(required=True)
    client_id = fields.String()
    scope = fields.String()
    token_type = fields.String()
    exp = fields.Integer()
    iat = fields.Integer()
    iss = fields.String()
    sub = fields.String(metadata={"description": "The person's customer_ref at this vendor"})


class ClientMetadataSchema(ma.Schema):
    client_name = fields.String(metadata={"example": "Velo Shop"})
    redirect_uris = fields.List(fields.String(), metadata={"example": ["https://velo.example/cb"]})
    grant_types = fields.List(fields.String())
    token_endpoint_auth_method = fields.String(
        metadata={"enum": ["client_secret_basic", "client_secret_post"]}
    )
    scope = fields.String()
    client_uri = fields.String()
    policy_uri = fields.String()
    contacts = fields.List(fields.String())


class RegistrationRequestSchema(ma.Schema):
    """Types and sizes of the metadata a registration may carry; other members are ignored
    (RFC 7591 section 2)."""

    class Meta:
        unknown = ma.EXCLUDE

    client_name = fields.String(validate=validate.Length(min=1, max=200))
    redirect_uris = fields.List(
        fields.String(validate=validate.Length(max=500)), validate=validate.Length(max=10)
    )
    grant_types = fields.List(
        fields.String(validate=validate.Length(max=40)), validate=validate.Length(max=3)
    )
    response_types = fields.List(fields.String(validate=validate.Length(max=20)))
    token_endpoint_auth_method = fields.String(validate=validate.Length(max=40))
    scope = fields.String(validate=validate.Length(max=1000))
    client_uri = fields.String(validate=validate.Length(max=500))
    policy_uri = fields.String(validate=validate.Length(max=500))
    contacts = fields.List(
        fields.String(validate=validate.Length(max=254)), validate=validate.Length(max=5)
    )


class ClientRegistrationSchema(ClientMetadataSchema):
    client_id = fields.String()
    client_secret = fields.String(metadata={"description": "Shown once"})
    client_id_issued_at = fields.Integer()
    client_secret_expires_at = fields.Integer()
    response_types = fields.List(fields.String())


class ServerMetadataSchema(ma.Schema):
    issuer = fields.String()
    authorization_endpoint = fields.String()
    token_endpoint = fields.String()
    revocation_endpoint = fields.String()
    introspection_endpoint = fields.String()
    registration_endpoint = fields.String()
    jwks_uri = fields.String()
    scopes_supported = fields.List(fields.String())
    response_types_supported = fields.List(fields.String())
    response_modes_supported = fields.List(fields.String())
    grant_types_supported = fields.List(fields.String())
    token_endpoint_auth_methods_supported = fields.List(fields.String())
    revocation_endpoint_auth_methods_supported = fields.List(fields.String())
    introspection_endpoint_auth_methods_supported = fields.List(fields.String())
    code_challenge_methods_supported = fields.List(fields.String())
    authorization_response_iss_parameter_supported = fields.Boolean()
    authorization_details_types_supported = fields.List(fields.String())


class JWKSchema(ma.Schema):
    kty = fields.String(metadata={"example": "OKP"})
    crv = fields.String(metadata={"example": "Ed25519"})
    x = fields.String()
    kid = fields.String()
    use = fields.String()
    alg = fields.String(metadata={"example": "Ed25519"})


class JWKSSchema(ma.Schema):
    keys = fields.List(fields.Nested(JWKSchema))


class VendorSchema(ma.Schema):
    id = fields.UUID()
    name = fields.String()
    website = fields.String(allow_none=True)
    privacy_policy_url = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)


class ClientSchema(ma.Schema):
    client_id = fields.String()
    name = fields.String()
    redirect_uris = fields.List(fields.String())
    grant_types = fields.List(fields.String())
    scope = fields.String(metadata={"description": "The scopes this client may ask for"})


class TokenInfoSchema(ma.Schema):
    scope = fields.String()
    expires_at = fields.DateTime()
    customer_ref = fields.String(
        allow_none=True, metadata={"description": "The person who authorised it, if any"}
    )


class MeSchema(ma.Schema):
    vendor = fields.Nested(VendorSchema)
    client = fields.Nested(ClientSchema)
    token = fields.Nested(TokenInfoSchema)
