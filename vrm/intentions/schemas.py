from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from vrm.intentions.models import INTENTION_STATES, OFFER_STATES
from vrm.intentions.taxonomy import CATEGORIES
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.terms.roster import BY_CODE
from vrm.terms.schemas import TermRefSchema

# Categories, regions, currencies and term codes are checked by the services, which name
# the value they refuse; the schemas document what is accepted.
_CATEGORY = fields.String(
    validate=validate.Length(min=1, max=120),
    metadata={"enum": list(CATEGORIES), "example": "sports/cycling/bicycles"},
)
_CURRENCY = fields.String(
    validate=validate.Length(equal=3), metadata={"description": "ISO 4217 code", "example": "EUR"}
)
_AMOUNT = {"as_string": True, "allow_nan": False, "allow_none": True}


def _text(max_length: int, **kwargs: object) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)  # type: ignore[arg-type]


class PriceRangeSchema(ma.Schema):
    """A budget or a price band: amounts as decimal strings in ``currency``."""

    min = fields.Decimal(**_AMOUNT, metadata={"example": "300.00"})  # type: ignore[arg-type]
    max = fields.Decimal(**_AMOUNT, metadata={"example": "800.00"})  # type: ignore[arg-type]
    currency = fields.String(
        required=True,
        validate=validate.Length(equal=3),
        metadata={"description": "ISO 4217 code", "example": "EUR"},
    )


class PointSchema(ma.Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90), metadata={"example": 48.85})
    lon = fields.Float(
        required=True, validate=validate.Range(-180, 180), metadata={"example": 2.35}
    )


class LocationSchema(ma.Schema):
    country = fields.String(
        allow_none=True,
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166-1 alpha-2", "example": "FR"},
    )
    region = fields.String(
        allow_none=True,
        validate=validate.Length(min=4, max=12),
        metadata={"description": "ISO 3166-2 subdivision", "example": "FR-IDF"},
    )
    city = _text(100, allow_none=True, metadata={"example": "Paris"})
    postal_code = _text(20, allow_none=True, metadata={"example": "75011"})
    point = fields.Nested(PointSchema, allow_none=True)
    radius_km = fields.Float(
        allow_none=True, validate=validate.Range(min=0, max=20000, min_inclusive=False)
    )


class IntentionEditSchema(ma.Schema):
    """What an edit may change (terms and disclosure stay as published)."""

    title = fields.String(validate=validate.Length(min=1, max=200))
    description = _text(5000, allow_none=True)
    category = _CATEGORY
    keywords = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        validate=validate.Length(max=20),
        metadata={"example": ["gravel", "carbon"]},
    )
    quantity = fields.Integer(strict=True, validate=validate.Range(1, 1_000_000))
    price = fields.Nested(PriceRangeSchema, allow_none=True)
    location = fields.Nested(LocationSchema, allow_none=True)
    wanted_by = fields.Date(allow_none=True, metadata={"example": "2026-12-20"})
    expires_at = fields.AwareDateTime(
        metadata={"description": "Default 30 days after publication, at most one year"}
    )


class IntentionInSchema(IntentionEditSchema):
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"example": "A gravel bike for commuting"},
    )
    category = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"enum": list(CATEGORIES), "example": "sports/cycling/bicycles"},
    )
    terms = fields.List(
        fields.String(validate=validate.Length(min=1, max=60), metadata={"enum": sorted(BY_CODE)}),
        validate=validate.Length(min=1, max=len(BY_CODE)),
        metadata={"description": "Roster codes it is published under (default: your terms)"},
    )
    disclose = fields.List(
        fields.String(validate=validate.Length(min=1, max=64), metadata={"enum": PROFILE_FIELDS}),
        validate=validate.Length(max=len(PROFILE_FIELDS)),
        metadata={
            "description": "Profile fields every vendor it reaches may see (default none); "
            "a consent for ServiceProvision to each, with a receipt"
        },
    )


class _IntentionBase(ma.Schema):
    id = fields.UUID()
    title = fields.String()
    description = fields.String()
    category = fields.String()
    keywords = fields.List(fields.String())
    quantity = fields.Integer()
    price = fields.Nested(PriceRangeSchema, allow_none=True)
    location = fields.Nested(LocationSchema, allow_none=True)
    wanted_by = fields.Date(allow_none=True)
    expires_at = fields.DateTime()
    published_at = fields.DateTime()
    terms = fields.List(fields.Nested(TermRefSchema))


class PublicIntentionSchema(_IntentionBase):
    """What every vendor an intention reached may see of it (the feed adds the rest)."""


class OfferCountSchema(ma.Schema):
    open = fields.Integer()
    total = fields.Integer()


class IntentionSchema(_IntentionBase):
    """Your intention, as you see it."""

    state = fields.String(metadata={"enum": list(INTENTION_STATES)})
    disclose = fields.List(fields.String())
    matched_vendors = fields.Integer(metadata={"description": "Vendors it reached"})
    offers = fields.Nested(OfferCountSchema)
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class MatchedIntentionSchema(_IntentionBase):
    """An intention in your feed: the person only as your customer_ref."""

    customer_ref = fields.String()
    matched_at = fields.DateTime(metadata={"description": "When it joined your feed"})
    disclosed = fields.Dict(
        allow_none=True,
        metadata={"description": "Profile fields the person chose to disclose, if any"},
    )


class IntentionQuerySchema(ma.Schema):
    limit = fields.Integer(validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(max=200))
    state = fields.String(validate=validate.OneOf(INTENTION_STATES))


class SubscriptionInSchema(ma.Schema):
    """Filters; an absent or empty one accepts anything."""

    categories = fields.List(
        _CATEGORY, validate=validate.Length(max=10), metadata={"example": ["sports/cycling"]}
    )
    regions = fields.List(
        fields.String(validate=validate.Length(min=2, max=12)),
        validate=validate.Length(max=20),
        metadata={
            "description": "ISO 3166-1 countries or ISO 3166-2 regions (with what is inside)",
            "example": ["FR", "BE"],
        },
    )
    keywords = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        validate=validate.Length(max=20),
        metadata={"description": "Any one, in the intention's keywords or title"},
    )
    price = fields.Nested(
        PriceRangeSchema,
        allow_none=True,
        metadata={
            "description": "Only intentions priced in this currency whose budget overlaps "
            "the band (an open end overlaps)"
        },
    )


class SubscriptionSchema(SubscriptionInSchema):
    id = fields.UUID()
    created_at = fields.DateTime()


class OfferInSchema(ma.Schema):
    price = fields.Decimal(
        required=True, as_string=True, allow_nan=False, metadata={"example": "649.00"}
    )
    currency = fields.String(
        required=True, validate=validate.Length(equal=3), metadata={"example": "EUR"}
    )
    description = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4000),
        metadata={"example": "Gravel bike, 105 groupset, delivered in a week"},
    )
    url = fields.Url(
        allow_none=True,
        schemes={"https", "http"},
        validate=validate.Length(max=2000),
        metadata={"example": "https://shop.example/offers/42"},
    )
    valid_until = fields.AwareDateTime(
        metadata={"description": "Default: until the intention expires"}
    )
    accepted_terms = fields.List(
        fields.String(validate=validate.Length(min=1, max=60), metadata={"enum": sorted(BY_CODE)}),
        validate=validate.Length(max=len(BY_CODE)),
        metadata={
            "description": "Roster codes you accept for this offer, besides those you accept "
            "in advance; every term of the intention must be accepted",
            "example": ["service-delivery-only", "deletion-and-portability"],
        },
    )


class OfferSchema(ma.Schema):
    id = fields.UUID()
    intention_id = fields.UUID()
    vendor_id = fields.UUID()
    vendor_name = fields.String()
    customer_ref = fields.String()
    state = fields.String(metadata={"enum": list(OFFER_STATES)})
    price = fields.String()
    currency = fields.String()
    description = fields.String()
    url = fields.String(allow_none=True)
    valid_until = fields.DateTime()
    accepted_terms = fields.List(fields.Nested(TermRefSchema))
    agreement_id = fields.UUID(allow_none=True)
    consent_id = fields.UUID(allow_none=True)
    conversation_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)


class AcceptSchema(ma.Schema):
    fields_ = fields.List(
        fields.String(validate=validate.Length(min=1, max=64), metadata={"enum": PROFILE_FIELDS}),
        data_key="fields",
        attribute="fields",
        load_default=list,
        validate=validate.Length(max=len(PROFILE_FIELDS)),
        metadata={
            "description": "Profile fields the vendor may read to serve you (default none)",
            "example": ["given_name", "postal_address"],
        },
    )
    duration_days = fields.Integer(
        validate=validate.Range(1, 3650), metadata={"description": "Default: your terms' default"}
    )
    keep_open = fields.Boolean(
        load_default=False, metadata={"description": "Keep the intention open for more offers"}
    )


class BlockInSchema(ma.Schema):
    vendor_id = fields.UUID(required=True)


class BlockSchema(ma.Schema):
    vendor_id = fields.UUID()
    vendor_name = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CategorySchema(ma.Schema):
    path = fields.String(metadata={"example": "sports/cycling/bicycles"})
    label = fields.String(metadata={"example": "Bicycles"})
