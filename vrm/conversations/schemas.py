from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from vrm.conversations.models import CONVERSATION_STATES, OPENED_BY, SENDERS
from vrm.conversations.service import TEXT_MAX

_TEXT = fields.String(
    required=True,
    validate=validate.Length(min=1, max=TEXT_MAX),
    metadata={"example": "Is the blue one still available in size M?"},
)


class MessageInSchema(ma.Schema):
    text = _TEXT
    offer_id = fields.UUID(
        allow_none=True, metadata={"description": "An offer between you this message is about"}
    )
    intention_id = fields.UUID(
        allow_none=True,
        metadata={"description": "An intention (that reached the vendor) this is about"},
    )


class ConversationInSchema(ma.Schema):
    vendor_id = fields.UUID(
        required=True, metadata={"description": "A vendor you have a relationship with"}
    )
    text = _TEXT


class ConversationQuerySchema(ma.Schema):
    state = fields.String(validate=validate.OneOf(CONVERSATION_STATES))


class ConversationSchema(ma.Schema):
    id = fields.UUID()
    vendor_id = fields.UUID()
    vendor_name = fields.String()
    consent_id = fields.UUID(
        allow_none=True, metadata={"description": "The consent that lets the vendor write"}
    )
    offer_id = fields.UUID(allow_none=True)
    state = fields.String(metadata={"enum": list(CONVERSATION_STATES)})
    opened_by = fields.String(metadata={"enum": list(OPENED_BY)})
    message_count = fields.Integer()
    last_message_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class PersonConversationSchema(ConversationSchema):
    unread = fields.Integer(metadata={"description": "Vendor messages you have not read"})


class VendorConversationSchema(ConversationSchema):
    customer_ref = fields.String()
    unanswered = fields.Integer(
        metadata={"description": "Your messages in a row since the person last wrote"}
    )
    can_write = fields.Boolean(
        metadata={"description": "Open, and its consent is live (other rules may still refuse)"}
    )


class MessageSchema(ma.Schema):
    id = fields.UUID()
    conversation_id = fields.UUID()
    seq = fields.Integer()
    sender = fields.String(metadata={"enum": list(SENDERS)})
    text = fields.String()
    offer_id = fields.UUID(allow_none=True)
    intention_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    held_until = fields.DateTime(
        allow_none=True,
        metadata={"description": "Sent in the person's quiet hours: shown to them from then"},
    )
    read = fields.Boolean(metadata={"description": "The person has read it"})
