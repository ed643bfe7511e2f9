"""Your conversations with vendors."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vrm.conversations.schemas import (
    ConversationInSchema,
    ConversationQuerySchema,
    MessageInSchema,
    MessageSchema,
    PersonConversationSchema,
)
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.limits import limit_person_messages
from vrm.pagination import Page
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import conversation_service

blp = Blueprint("personal_conversations", __name__, description="Your conversations")


def _caller() -> str:
    return f"person:{current_person().id}"


@blp.route("/conversations", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.arguments(ConversationQuerySchema, location="query", as_kwargs=True)
@blp.response(200, page_of(PersonConversationSchema))
def list_conversations(args: dict[str, Any], state: str | None = None) -> Page[Any]:
    """Your conversations, the one with the latest message first, each with its unread count."""
    return conversation_service().person_page(current_person().id, state=state, **page_args(args))


@blp.route("/conversations", methods=["POST"])
@blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
@require_person
@limit_person_messages
@idempotent(_caller)
@blp.arguments(ConversationInSchema)
@blp.response(201, PersonConversationSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def open_conversation(body: dict[str, Any]) -> dict[str, Any]:
    """Write first to a vendor you have a relationship with. This gives it a
    `CustomerCare` consent (no profile fields) to answer, which you can withdraw."""
    person = current_person()
    about(person.id)
    service = conversation_service()
    conversation = service.open_by_person(person.id, body["vendor_id"], body["text"])
    return service.get_for_person(person.id, conversation.id)


@blp.route("/conversations/<uuid:conversation_id>", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, PersonConversationSchema)
def get_conversation(conversation_id: uuid.UUID) -> dict[str, Any]:
    return conversation_service().get_for_person(current_person().id, conversation_id)


@blp.route("/conversations/<uuid:conversation_id>/messages", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(MessageSchema))
def list_messages(args: dict[str, Any], conversation_id: uuid.UUID) -> Page[Any]:
    """Messages newest first; a vendor message sent in your quiet hours shows after them."""
    return conversation_service().person_messages(
        current_person().id, conversation_id, **page_args(args)
    )


@blp.route("/conversations/<uuid:conversation_id>/messages", methods=["POST"])
@blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
@require_person
@limit_person_messages
@idempotent(_caller)
@blp.arguments(MessageInSchema)
@blp.response(201, MessageSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
@blp.alt_response(409, description="The conversation is closed")
def post_message(body: dict[str, Any], conversation_id: uuid.UUID) -> dict[str, Any]:
    """Write in the conversation; it lets the vendor write again (its count restarts)."""
    person = current_person()
    about(person.id)
    service = conversation_service()
    message = service.post_by_person(
        person.id, conversation_id, body["text"], body.get("offer_id"), body.get("intention_id")
    )
    return service.message_view(message)


@blp.route("/conversations/<uuid:conversation_id>/read", methods=["POST"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, PersonConversationSchema)
def mark_read(conversation_id: uuid.UUID) -> dict[str, Any]:
    """Mark every message you can see in the conversation as read."""
    service = conversation_service()
    service.mark_read(current_person().id, conversation_id)
    return service.get_for_person(current_person().id, conversation_id)


@blp.route("/conversations/<uuid:conversation_id>/close", methods=["POST"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, PersonConversationSchema)
@blp.alt_response(409, description="Already closed")
def close_conversation(conversation_id: uuid.UUID) -> dict[str, Any]:
    """Close the conversation: the vendor can no longer write in it."""
    service = conversation_service()
    service.close(current_person().id, conversation_id)
    return service.get_for_person(current_person().id, conversation_id)
