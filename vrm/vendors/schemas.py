from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class AuthorizedAppSchema(ma.Schema):
    client_id = fields.String()
    name = fields.String()
    scope = fields.String()
    authorized_at = fields.DateTime()


class PersonVendorSchema(ma.Schema):
    """A vendor the person has a relationship with."""

    id = fields.UUID()
    name = fields.String()
    website = fields.String(allow_none=True)
    privacy_policy_url = fields.String(allow_none=True)
    since = fields.DateTime()
    apps = fields.List(fields.Nested(AuthorizedAppSchema))
