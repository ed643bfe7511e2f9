"""Your intentions, the offers they receive, and the vendors you block."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.intentions.schemas import (
    AcceptSchema,
    BlockInSchema,
    BlockSchema,
    CategorySchema,
    IntentionEditSchema,
    IntentionInSchema,
    IntentionQuerySchema,
    IntentionSchema,
    OfferSchema,
)
from vrm.intentions.taxonomy import LISTING
from vrm.pagination import Page
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import block_service, intention_service, offer_service

blp = Blueprint("personal_intentions", __name__, description="Your intentions and their offers")


def _caller() -> str:
    return f"person:{current_person().id}"


def _one(intention: Any) -> dict[str, Any]:
    return intention_service().describe([intention])[0]


@blp.route("/categories", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, page_of(CategorySchema))
def categories() -> Page[dict[str, str]]:
    """The category taxonomy an intention is filed under (every node can be chosen)."""
    return Page(LISTING, None)


@blp.route("/intentions", methods=["POST"])
@blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
@require_person
@idempotent(_caller)
@blp.arguments(IntentionInSchema)
@blp.response(201, IntentionSchema)
def publish(body: dict[str, Any]) -> dict[str, Any]:
    """Publish an intention: every vendor whose subscription matches sees it, without
    anything about you unless you disclose fields."""
    person = current_person()
    about(person.id)
    return _one(intention_service().publish(person.id, body))


@blp.route("/intentions", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(IntentionQuerySchema, location="query")
@blp.response(200, page_of(IntentionSchema))
def list_intentions(args: dict[str, Any]) -> Page[Any]:
    """Your intentions, newest first; ``state`` filters."""
    service = intention_service()
    state = args.get("state")
    page = service.page(current_person().id, states=(state,) if state else None, **page_args(args))
    return Page(service.describe(page.data), page.next_cursor)


@blp.route("/intentions/<uuid:intention_id>", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, IntentionSchema)
def get_intention(intention_id: uuid.UUID) -> dict[str, Any]:
    """One of your intentions."""
    return _one(intention_service().get(current_person().id, intention_id))


@blp.route("/intentions/<uuid:intention_id>", methods=["PATCH"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(IntentionEditSchema)
@blp.response(200, IntentionSchema)
@blp.alt_response(409, description="The intention is no longer open")
def edit_intention(body: dict[str, Any], intention_id: uuid.UUID) -> dict[str, Any]:
    """Change an open intention; the vendors it reaches follow the change."""
    return _one(intention_service().edit(current_person().id, intention_id, body))


@blp.route("/intentions/<uuid:intention_id>", methods=["DELETE"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, IntentionSchema)
@blp.alt_response(409, description="The intention is no longer open")
def withdraw_intention(intention_id: uuid.UUID) -> dict[str, Any]:
    """Withdraw an open intention: it leaves every vendor's feed at once."""
    return _one(intention_service().withdraw(current_person().id, intention_id))


@blp.route("/intentions/<uuid:intention_id>/offers", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(OfferSchema))
def list_offers(args: dict[str, Any], intention_id: uuid.UUID) -> Page[Any]:
    """The offers your intention received, newest first."""
    service = offer_service()
    page = service.person_page(current_person().id, intention_id, **page_args(args))
    return Page(service.describe(page.data), page.next_cursor)


@blp.route("/offers/<uuid:offer_id>", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, OfferSchema)
def get_offer(offer_id: uuid.UUID) -> dict[str, Any]:
    """One offer made to you."""
    service = offer_service()
    return service.describe([service.person_get(current_person().id, offer_id)])[0]


@blp.route("/offers/<uuid:offer_id>/accept", methods=["POST"])
@blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
@require_person
@idempotent(_caller)
@blp.arguments(AcceptSchema)
@blp.response(200, OfferSchema)
@blp.alt_response(409, description="The offer or its intention is no longer open")
def accept_offer(body: dict[str, Any], offer_id: uuid.UUID) -> dict[str, Any]:
    """Accept an offer: the vendor gets a consent for ServiceProvision with the fields you
    choose, a conversation opens, and the intention is fulfilled unless ``keep_open``."""
    person = current_person()
    about(person.id)
    service = offer_service()
    offer = service.accept(
        person.id,
        offer_id,
        fields=body["fields"],
        days=body.get("duration_days"),
        keep_open=body["keep_open"],
    )
    return service.describe([offer])[0]


@blp.route("/offers/<uuid:offer_id>/decline", methods=["POST"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, OfferSchema)
@blp.alt_response(409, description="The offer is no longer open")
def decline_offer(offer_id: uuid.UUID) -> dict[str, Any]:
    """Decline an offer."""
    service = offer_service()
    return service.describe([service.decline(current_person().id, offer_id)])[0]


@blp.route("/blocks", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(BlockSchema))
def list_blocks(args: dict[str, Any]) -> Page[Any]:
    """The vendors you block, newest first."""
    return block_service().page(current_person().id, **page_args(args))


@blp.route("/blocks", methods=["POST"])
@blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
@require_person
@idempotent(_caller)
@blp.arguments(BlockInSchema)
@blp.response(201, BlockSchema)
def block_vendor(body: dict[str, Any]) -> dict[str, Any]:
    """Block a vendor: it leaves your intentions' feeds, its open offers close, and it
    matches none of your intentions. Blocking twice is harmless."""
    person = current_person()
    about(person.id)
    service = block_service()
    return service.describe([service.block(person.id, body["vendor_id"])])[0]


@blp.route("/blocks/<uuid:vendor_id>", methods=["DELETE"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(204)
def unblock_vendor(vendor_id: uuid.UUID) -> None:
    """Unblock a vendor: your later intentions can match it again."""
    block_service().unblock(current_person().id, vendor_id)
