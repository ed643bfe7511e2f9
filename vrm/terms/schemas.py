from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from vrm.terms.roster import BY_CODE


class TermRefSchema(ma.Schema):
    code = fields.String()
    version = fields.Integer()


class RosterTermSchema(ma.Schema):
    code = fields.String()
    version = fields.Integer()
    title = fields.String()
    text = fields.String(metadata={"description": "The term in plain language"})
    flags = fields.Dict(metadata={"description": "Machine-readable meaning of the term"})


# Codes are checked by the service, which names the unknown one.
_CODES = fields.List(
    fields.String(validate=validate.Length(min=1, max=60), metadata={"enum": sorted(BY_CODE)}),
    required=True,
    validate=validate.Length(min=1, max=len(BY_CODE)),
    metadata={"example": ["service-delivery-only", "deletion-and-portability"]},
)


class QuietHoursSchema(ma.Schema):
    start = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{2}:\d{2}$"),
        metadata={"description": "Local time HH:MM", "example": "21:00"},
    )
    end = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{2}:\d{2}$"),
        metadata={
            "description": "Local time HH:MM; before start spans midnight",
            "example": "08:00",
        },
    )


_RULES_DOC = {
    "max_unanswered_messages": "Vendor messages allowed in a row before you reply (default 3)",
    "quiet_hours": "Vendor messages sent in these hours are held until they end; null: none",
    "time_zone": "IANA time zone your quiet hours are in (default UTC)",
}


class PersonTermsInSchema(ma.Schema):
    terms = _CODES
    consent_default_days = fields.Integer(required=True, validate=validate.Range(1, 3650))
    consent_max_days = fields.Integer(required=True, validate=validate.Range(1, 3650))
    max_unanswered_messages = fields.Integer(
        validate=validate.Range(1, 20),
        metadata={"description": _RULES_DOC["max_unanswered_messages"]},
    )
    quiet_hours = fields.Nested(
        QuietHoursSchema, allow_none=True, metadata={"description": _RULES_DOC["quiet_hours"]}
    )
    time_zone = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": _RULES_DOC["time_zone"], "example": "Europe/Paris"},
    )


class PersonTermsSchema(ma.Schema):
    terms = fields.List(fields.Nested(TermRefSchema))
    consent_default_days = fields.Integer()
    consent_max_days = fields.Integer()
    max_unanswered_messages = fields.Integer(
        metadata={"description": _RULES_DOC["max_unanswered_messages"]}
    )
    quiet_hours = fields.Nested(
        QuietHoursSchema, allow_none=True, metadata={"description": _RULES_DOC["quiet_hours"]}
    )
    time_zone = fields.String(metadata={"description": _RULES_DOC["time_zone"]})
    roster = fields.List(
        fields.Nested(RosterTermSchema), metadata={"description": "Every term you can proffer"}
    )


class VendorTermsInSchema(ma.Schema):
    accepted = fields.List(
        fields.String(validate=validate.Length(min=1, max=60), metadata={"enum": sorted(BY_CODE)}),
        required=True,
        validate=validate.Length(max=len(BY_CODE)),
        metadata={"example": ["service-delivery-only", "deletion-and-portability"]},
    )


class VendorTermsSchema(ma.Schema):
    accepted = fields.List(fields.Nested(TermRefSchema))
    roster = fields.List(fields.Nested(RosterTermSchema))


class AgreementSchema(ma.Schema):
    id = fields.UUID()
    vendor_id = fields.UUID()
    terms = fields.List(fields.Nested(TermRefSchema))
    status = fields.String(metadata={"enum": ["requested", "accepted", "refused", "terminated"]})
    missing = fields.List(fields.String(), metadata={"description": "Terms the vendor lacked"})
    record = fields.String(metadata={"description": "The signed record (compact JWS, Ed25519)"})
    created_at = fields.DateTime()
