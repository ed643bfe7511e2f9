"""The vendor's side of intentcasting: subscriptions, the matched feed, offers."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint

from vendor_api.auth import idempotency_caller, require_oauth, scope_doc, token
from vendor_api.consents import caller
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.intentions.schemas import (
    CategorySchema,
    MatchedIntentionSchema,
    OfferInSchema,
    OfferSchema,
    SubscriptionInSchema,
    SubscriptionSchema,
)
from vrm.intentions.taxonomy import LISTING
from vrm.limits import limit_offers
from vrm.pagination import Page
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import offer_service, subscription_service

blp = Blueprint("vendor_intentions", __name__, description="Subscriptions, intentions, offers")


@blp.route("/categories", methods=["GET"])
@blp.doc(security=scope_doc("intentions:read"))
@require_oauth("intentions:read")
@blp.response(200, page_of(CategorySchema))
def categories() -> Page[dict[str, str]]:
    """The category taxonomy; a subscription names category prefixes from it."""
    return Page(LISTING, None)


@blp.route("/subscriptions", methods=["GET"])
@blp.doc(security=scope_doc("intentions:read"))
@require_oauth("intentions:read")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(SubscriptionSchema))
def list_subscriptions(args: dict[str, Any]) -> Page[Any]:
    """Your subscriptions, newest first."""
    service = subscription_service()
    page = service.page(caller().id, **page_args(args))
    return Page([service.describe(s) for s in page.data], page.next_cursor)


@blp.route("/subscriptions", methods=["POST"])
@blp.doc(security=scope_doc("intentions:read"), parameters=[IDEMPOTENCY_HEADER])
@require_oauth("intentions:read")
@idempotent(idempotency_caller)
@blp.arguments(SubscriptionInSchema)
@blp.response(201, SubscriptionSchema)
def subscribe(body: dict[str, Any]) -> dict[str, Any]:
    """Subscribe to intentions by category prefixes, regions, keywords and price; the
    intentions already open that match join your feed at once."""
    service = subscription_service()
    return service.describe(service.subscribe(caller(), body))


@blp.route("/subscriptions/<uuid:subscription_id>", methods=["GET"])
@blp.doc(security=scope_doc("intentions:read"))
@require_oauth("intentions:read")
@blp.response(200, SubscriptionSchema)
def get_subscription(subscription_id: uuid.UUID) -> dict[str, Any]:
    """One of your subscriptions."""
    service = subscription_service()
    return service.describe(service.get(caller().id, subscription_id))


@blp.route("/subscriptions/<uuid:subscription_id>", methods=["DELETE"])
@blp.doc(security=scope_doc("intentions:read"))
@require_oauth("intentions:read")
@blp.response(204)
def unsubscribe(subscription_id: uuid.UUID) -> None:
    """Stop matching new intentions with this subscription."""
    subscription_service().unsubscribe(caller().id, subscription_id)


@blp.route("/intentions", methods=["GET"])
@blp.doc(security=scope_doc("intentions:read"))
@require_oauth("intentions:read")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(MatchedIntentionSchema))
def feed(args: dict[str, Any]) -> Response:
    """Open intentions matched to you, newest first; each person only as your
    customer_ref, and only what they chose to disclose."""
    page = subscription_service().feed(caller(), person_id=token().person_id, **page_args(args))
    # Items come JSON-ready (their public part dumped once per intention version), so
    # the page is not dumped through the schema again (the schema documents it), nor are
    # its keys sorted as jsonify would.
    body = json.dumps({"data": page.data, "next_cursor": page.next_cursor}, separators=(",", ":"))
    return Response(body, mimetype="application/json")


@blp.route("/intentions/<uuid:intention_id>", methods=["GET"])
@blp.doc(security=scope_doc("intentions:read"))
@require_oauth("intentions:read")
@blp.response(200, MatchedIntentionSchema)
def get_intention(intention_id: uuid.UUID) -> Response:
    """One open intention from your feed."""
    return jsonify(subscription_service().matched(caller(), intention_id, token().person_id))


@blp.route("/intentions/<uuid:intention_id>/offers", methods=["POST"])
@blp.doc(security=scope_doc("offers:write"), parameters=[IDEMPOTENCY_HEADER])
@require_oauth("offers:write")
@limit_offers
@idempotent(idempotency_caller)
@blp.arguments(OfferInSchema)
@blp.response(201, OfferSchema)
@blp.alt_response(409, description="You already have an open offer on this intention")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def make_offer(body: dict[str, Any], intention_id: uuid.UUID) -> dict[str, Any]:
    """Offer on an intention in your feed. Every term the intention is published under
    must be accepted, here or in advance (PUT /vendor/v1/terms)."""
    service = offer_service()
    offer = service.make(caller(), intention_id, body, token().person_id)
    about(offer.person_id)
    return service.describe([offer])[0]


@blp.route("/offers", methods=["GET"])
@blp.doc(security=scope_doc("offers:write"))
@require_oauth("offers:write")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(OfferSchema))
def list_offers(args: dict[str, Any]) -> Page[Any]:
    """Your offers and their states, newest first."""
    service = offer_service()
    page = service.vendor_page(caller().id, person_id=token().person_id, **page_args(args))
    return Page(service.describe(page.data), page.next_cursor)


@blp.route("/offers/<uuid:offer_id>", methods=["GET"])
@blp.doc(security=scope_doc("offers:write"))
@require_oauth("offers:write")
@blp.response(200, OfferSchema)
def get_offer(offer_id: uuid.UUID) -> dict[str, Any]:
    """One of your offers."""
    service = offer_service()
    return service.describe([service.vendor_get(caller().id, offer_id, token().person_id)])[0]


@blp.route("/offers/<uuid:offer_id>/withdraw", methods=["POST"])
@blp.doc(security=scope_doc("offers:write"))
@require_oauth("offers:write")
@blp.response(200, OfferSchema)
@blp.alt_response(409, description="The offer is no longer open")
def withdraw_offer(offer_id: uuid.UUID) -> dict[str, Any]:
    """Withdraw an open offer (then you may offer again)."""
    service = offer_service()
    return service.describe([service.withdraw(caller().id, offer_id, token().person_id)])[0]
