from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from vrm.events.models import DELIVERY_STATES
from vrm.events.types import EVENT_TYPES

_EVENT_TYPE = fields.String(metadata={"enum": list(EVENT_TYPES), "example": "consent.given"})
_TYPES_DOC = "Event types to send; empty or absent sends every type"


class WebhookInSchema(ma.Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "https; http only to a loopback host in development. Outside "
            "development the host must resolve to public addresses only.",
            "example": "https://hooks.example.com/vrm",
        },
    )
    event_types = fields.List(
        _EVENT_TYPE,
        validate=validate.Length(max=len(EVENT_TYPES)),
        metadata={"description": _TYPES_DOC, "example": ["offer.accepted", "consent.withdrawn"]},
    )
    description = fields.String(
        allow_none=True, validate=validate.Length(max=500), metadata={"example": "Production"}
    )


class WebhookPatchSchema(ma.Schema):
    url = fields.String(validate=validate.Length(min=1, max=2000))
    event_types = fields.List(
        _EVENT_TYPE,
        validate=validate.Length(max=len(EVENT_TYPES)),
        metadata={"description": _TYPES_DOC},
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    enabled = fields.Boolean(
        metadata={
            "description": "true enables a disabled endpoint again; its paused deliveries resume"
        }
    )


class WebhookSchema(ma.Schema):
    id = fields.UUID()
    url = fields.String()
    description = fields.String(allow_none=True)
    event_types = fields.List(_EVENT_TYPE, metadata={"description": _TYPES_DOC})
    enabled = fields.Boolean()
    disabled_reason = fields.String(
        allow_none=True, metadata={"description": "Why the endpoint was disabled"}
    )
    disabled_at = fields.DateTime(allow_none=True)
    failing_since = fields.DateTime(
        allow_none=True,
        metadata={"description": "The first failed attempt since the last success"},
    )
    previous_secret_expires_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "Until then the previous secret also signs each delivery"},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookWithSecretSchema(WebhookSchema):
    secret = fields.String(
        metadata={
            "description": "The Standard Webhooks signing secret; shown only in this response",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        }
    )


class AttemptSchema(ma.Schema):
    number = fields.Integer()
    started_at = fields.DateTime()
    duration_ms = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "e.g. timeout"})


class DeliverySchema(ma.Schema):
    id = fields.UUID()
    event_id = fields.UUID(metadata={"description": "Sent as the webhook-id header"})
    event_type = fields.String()
    state = fields.String(metadata={"enum": list(DELIVERY_STATES)})
    attempt_count = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    replay_of = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    attempts = fields.List(fields.Nested(AttemptSchema))


class DeliveryQuerySchema(ma.Schema):
    state = fields.String(validate=validate.OneOf(DELIVERY_STATES))


class ReplaySinceSchema(ma.Schema):
    since = fields.AwareDateTime(
        required=True,
        metadata={"description": "Send again every event from this time on (RFC 3339)"},
    )


class ReplayedSchema(ma.Schema):
    replayed = fields.Integer(metadata={"description": "How many deliveries were queued"})


class EventQuerySchema(ma.Schema):
    cursor = fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "next_cursor of the previous page; absent starts at the "
            "oldest event kept"
        },
    )
    limit = fields.Integer(
        validate=validate.Range(min=1, max=500),
        metadata={"description": "Events per page (default 100, at most 500)"},
    )
    types = fields.List(_EVENT_TYPE, metadata={"description": "Only these event types"})


class EventSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "The same as the webhook-id of its deliveries"})
    type = _EVENT_TYPE
    timestamp = fields.String(metadata={"format": "date-time"})
    data = fields.Dict(metadata={"description": "What happened; its shape depends on type"})


class EventPageSchema(ma.Schema):
    data = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(
        metadata={"description": "Always set: poll again with it to get what follows"}
    )
    has_more = fields.Boolean(metadata={"description": "More events are waiting already"})
