from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from vrm.accounts.service import TOKEN_LIFETIME_MAX_DAYS, TOKEN_NAME_MAX


class SignUpSchema(ma.Schema):
    email = fields.String(
        required=True, validate=validate.Length(max=254), metadata={"example": "ada@example.org"}
    )
    password = fields.String(
        required=True,
        load_only=True,
        metadata={
            "description": "At least 10 characters, not a common one",
            "example": "correct horse battery staple",
        },
    )


class PersonSchema(ma.Schema):
    id = fields.UUID()
    email = fields.String()
    created_at = fields.DateTime()


class TokenCreateSchema(ma.Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=TOKEN_NAME_MAX),
        metadata={"example": "my budgeting app"},
    )
    expires_in_days = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=TOKEN_LIFETIME_MAX_DAYS),
        metadata={"description": "Omit for a token that lives until revoked"},
    )


class PersonalTokenSchema(ma.Schema):
    id = fields.UUID()
    name = fields.String()
    hint = fields.String(metadata={"description": "The token's first characters"})
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenCreatedSchema(PersonalTokenSchema):
    token = fields.String(metadata={"description": "The secret; shown this once only"})


class ConfirmPasswordSchema(ma.Schema):
    password = fields.String(required=True, load_only=True)
