from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from vrm.consents.models import STATES
from vrm.consents.purposes import PURPOSES
from vrm.profile.schemas import PROFILE_FIELDS

_DAYS = fields.Integer(validate=validate.Range(1, 3650), metadata={"example": 90})


class ConsentGrantSchema(ma.Schema):
    vendor_id = fields.UUID(required=True)
    fields_ = fields.List(
        fields.String(validate=validate.OneOf(PROFILE_FIELDS)),
        required=True,
        validate=validate.Length(min=1),
        data_key="fields",
        attribute="fields",
        metadata={"example": ["given_name", "postal_address"]},
    )
    purposes = fields.List(
        fields.String(validate=validate.OneOf(sorted(PURPOSES))),
        required=True,
        validate=validate.Length(min=1),
        metadata={"example": ["ServiceProvision"]},
    )
    duration_days = _DAYS


class ConsentSchema(ma.Schema):
    id = fields.UUID()
    vendor_id = fields.UUID()
    vendor_name = fields.String()
    customer_ref = fields.String()
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    purposes = fields.List(fields.String())
    terms = fields.List(fields.Dict())
    state = fields.String(metadata={"enum": list(STATES)})
    origin = fields.String(
        metadata={
            "enum": ["person", "vendor", "oauth", "intention", "offer", "conversation"],
            "description": "person: granted directly; vendor: a request; oauth: the consent "
            "screen; intention: fields an intention discloses; offer: an accepted offer; "
            "conversation: the person wrote first to the vendor",
        }
    )
    message = fields.String(allow_none=True)
    requested_days = fields.Integer(allow_none=True)
    given_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ApproveSchema(ma.Schema):
    """Approve as asked, or narrowed: fewer fields, fewer purposes, a shorter time."""

    fields_ = fields.List(
        fields.String(validate=validate.OneOf(PROFILE_FIELDS)),
        validate=validate.Length(min=1),
        data_key="fields",
        attribute="fields",
    )
    purposes = fields.List(
        fields.String(validate=validate.OneOf(sorted(PURPOSES))), validate=validate.Length(min=1)
    )
    duration_days = _DAYS


class ConsentRequestSchema(ma.Schema):
    customer_ref = fields.String(required=True, validate=validate.Length(max=40))
    fields_ = fields.List(
        fields.String(validate=validate.OneOf(PROFILE_FIELDS)),
        required=True,
        validate=validate.Length(min=1),
        data_key="fields",
        attribute="fields",
    )
    purposes = fields.List(
        fields.String(validate=validate.OneOf(sorted(PURPOSES))),
        required=True,
        validate=validate.Length(min=1),
    )
    duration_days = _DAYS
    message = fields.String(validate=validate.Length(max=1000))


class ReceiptSchema(ma.Schema):
    """A consent event with its receipt, dumped straight from the ConsentEvent row."""

    event_id = fields.UUID(attribute="id")
    seq = fields.Integer()
    type = fields.String()
    at = fields.DateTime()
    receipt = fields.String(
        metadata={"description": "Compact JWS (Ed25519); verify with /.well-known/jwks.json"}
    )


class PurposeQuerySchema(ma.Schema):
    purpose = fields.String(
        required=True,
        validate=validate.OneOf(sorted(PURPOSES)),
        metadata={"example": "ServiceProvision"},
    )


class SharedProfileSchema(ma.Schema):
    customer_ref = fields.String()
    purpose = fields.String()
    profile = fields.Dict(metadata={"description": "Only the fields under a live consent"})
