from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class AuditEventSchema(ma.Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    action = fields.String(metadata={"example": "profile.read"})
    vendor_id = fields.UUID(allow_none=True)
    vendor_name = fields.String(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    purpose = fields.String(allow_none=True)
    detail = fields.Dict()
    hash = fields.String()


class ChainReportSchema(ma.Schema):
    valid = fields.Boolean()
    entries = fields.Integer()
    first_broken_seq = fields.Integer(allow_none=True)
    first_broken_id = fields.UUID(allow_none=True)
    reason = fields.String(allow_none=True)
