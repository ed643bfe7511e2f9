"""The vendor's side of conversations: read them, and write where the person allows."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vendor_api.auth import idempotency_caller, require_oauth, scope_doc, token
from vendor_api.consents import caller
from vrm.conversations.schemas import MessageInSchema, MessageSchema, VendorConversationSchema
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.limits import limit_vendor_messages
from vrm.pagination import Page
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import conversation_service

blp = Blueprint("vendor_conversations", __name__, description="Conversations with customers")


@blp.route("/conversations", methods=["GET"])
@blp.doc(security=scope_doc("conversations:read"))
@require_oauth("conversations:read")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(VendorConversationSchema))
def list_conversations(args: dict[str, Any]) -> Page[Any]:
    """Conversations customers opened with you or accepted, newest first."""
    return conversation_service().vendor_page(
        caller().id, person_id=token().person_id, **page_args(args)
    )


@blp.route("/conversations/<uuid:conversation_id>", methods=["GET"])
@blp.doc(security=scope_doc("conversations:read"))
@require_oauth("conversations:read")
@blp.response(200, VendorConversationSchema)
def get_conversation(conversation_id: uuid.UUID) -> dict[str, Any]:
    return conversation_service().get_for_vendor(caller().id, conversation_id, token().person_id)


@blp.route("/conversations/<uuid:conversation_id>/messages", methods=["GET"])
@blp.doc(security=scope_doc("conversations:read"))
@require_oauth("conversations:read")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(MessageSchema))
def list_messages(args: dict[str, Any], conversation_id: uuid.UUID) -> Page[Any]:
    """Messages newest first, yours held in the person's quiet hours included."""
    return conversation_service().vendor_messages(
        caller().id, conversation_id, person_id=token().person_id, **page_args(args)
    )


@blp.route("/conversations/<uuid:conversation_id>/messages", methods=["POST"])
@blp.doc(security=scope_doc("conversations:write"), parameters=[IDEMPOTENCY_HEADER])
@require_oauth("conversations:write")
@limit_vendor_messages
@idempotent(idempotency_caller)
@blp.arguments(MessageInSchema)
@blp.response(201, MessageSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@blp.alt_response(
    403, description="The consent behind the conversation ended, or the person blocked you"
)
@blp.alt_response(
    409,
    description="The conversation is closed, or you reached the person's limit of messages "
    "in a row without a reply (`awaiting-reply`)",
)
def post_message(body: dict[str, Any], conversation_id: uuid.UUID) -> dict[str, Any]:
    """Write to the customer. The person's rules apply: an open conversation, a live
    consent, not blocked, at most their number of messages in a row without a reply; in
    their quiet hours the message is held (`held_until`) and shown when they end."""
    service = conversation_service()
    message = service.post_by_vendor(
        caller(),
        conversation_id,
        body["text"],
        body.get("offer_id"),
        body.get("intention_id"),
        token_person_id=token().person_id,
    )
    about(service.person_of(message))
    return service.message_view(message)
