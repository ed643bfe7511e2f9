"""The vendor's webhooks and events feed."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vendor_api.auth import idempotency_caller, require_oauth, scope_doc, token
from vendor_api.consents import caller
from vrm.errors import Forbidden
from vrm.events.schemas import (
    DeliveryQuerySchema,
    DeliverySchema,
    EventPageSchema,
    EventQuerySchema,
    ReplayedSchema,
    ReplaySinceSchema,
    WebhookInSchema,
    WebhookPatchSchema,
    WebhookSchema,
    WebhookWithSecretSchema,
)
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import idempotent
from vrm.pagination import Page
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import event_feed, webhook_service

blp = Blueprint("vendor_events", __name__, description="Webhooks and the events feed")

MANAGE = "webhooks:manage"


def _vendor_id() -> uuid.UUID:
    """The caller's vendor; endpoints receive every customer's events, so a token one
    person issued (authorization code) cannot manage them."""
    if token().person_id is not None:
        raise Forbidden(
            "Webhooks are managed with a client_credentials token, not one a person issued"
        )
    return caller().id


def _with_secret(endpoint: Any, secret: str) -> dict[str, Any]:
    return {**webhook_service().describe(endpoint), "secret": secret}


@blp.route("/webhooks", methods=["GET"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(WebhookSchema))
def list_webhooks(args: dict[str, Any]) -> Page[Any]:
    """Your webhook endpoints, newest first."""
    service = webhook_service()
    page = service.page(_vendor_id(), **page_args(args))
    return Page([service.describe(e) for e in page.data], page.next_cursor)


@blp.route("/webhooks", methods=["POST"])
@blp.doc(security=scope_doc(MANAGE), parameters=[IDEMPOTENCY_HEADER])
@require_oauth(MANAGE)
@idempotent(idempotency_caller)
@blp.arguments(WebhookInSchema)
@blp.response(201, WebhookWithSecretSchema)
def create_webhook(body: dict[str, Any]) -> dict[str, Any]:
    """Add an endpoint; the response holds its signing secret, shown only this once.

    Deliveries follow the Standard Webhooks specification: `webhook-id` (the event id,
    the same on every retry), `webhook-timestamp` and `webhook-signature` (HMAC-SHA256 of
    `id.timestamp.body` under the secret)."""
    endpoint, secret = webhook_service().create(
        _vendor_id(), body["url"], body.get("event_types"), body.get("description")
    )
    return _with_secret(endpoint, secret)


@blp.route("/webhooks/<uuid:endpoint_id>", methods=["GET"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.response(200, WebhookSchema)
def get_webhook(endpoint_id: uuid.UUID) -> dict[str, Any]:
    """One endpoint; a disabled one says why."""
    service = webhook_service()
    return service.describe(service.get(_vendor_id(), endpoint_id))


@blp.route("/webhooks/<uuid:endpoint_id>", methods=["PATCH"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.arguments(WebhookPatchSchema)
@blp.response(200, WebhookSchema)
def update_webhook(body: dict[str, Any], endpoint_id: uuid.UUID) -> dict[str, Any]:
    """Change the URL, event types or description, or enable the endpoint again."""
    service = webhook_service()
    return service.describe(service.update(_vendor_id(), endpoint_id, body))


@blp.route("/webhooks/<uuid:endpoint_id>", methods=["DELETE"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.response(204)
def delete_webhook(endpoint_id: uuid.UUID) -> None:
    """Delete the endpoint and its delivery history."""
    webhook_service().delete(_vendor_id(), endpoint_id)


@blp.route("/webhooks/<uuid:endpoint_id>/rotate-secret", methods=["POST"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.response(200, WebhookWithSecretSchema)
def rotate_secret(endpoint_id: uuid.UUID) -> dict[str, Any]:
    """A new signing secret, shown once. Until `previous_secret_expires_at` every
    delivery carries two signatures, one per secret, so receivers switch at leisure."""
    endpoint, secret = webhook_service().rotate_secret(_vendor_id(), endpoint_id)
    return _with_secret(endpoint, secret)


@blp.route("/webhooks/<uuid:endpoint_id>/test", methods=["POST"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.response(202, DeliverySchema)
@blp.alt_response(409, description="The endpoint is disabled")
def test_webhook(endpoint_id: uuid.UUID) -> dict[str, Any]:
    """Queue a `webhook.test` event for this endpoint alone; follow it in its deliveries."""
    service = webhook_service()
    vendor_id = _vendor_id()
    delivery = service.send_test(vendor_id, endpoint_id)
    return service.delivery(vendor_id, endpoint_id, delivery.id)


@blp.route("/webhooks/<uuid:endpoint_id>/deliveries", methods=["GET"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.arguments(PageQuerySchema, location="query")
@blp.arguments(DeliveryQuerySchema, location="query", as_kwargs=True)
@blp.response(200, page_of(DeliverySchema))
def list_deliveries(
    args: dict[str, Any], endpoint_id: uuid.UUID, state: str | None = None
) -> Page[Any]:
    """Deliveries to this endpoint, newest first, with every attempt's status and timing."""
    return webhook_service().deliveries(_vendor_id(), endpoint_id, state=state, **page_args(args))


@blp.route("/webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>", methods=["GET"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.response(200, DeliverySchema)
def get_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> dict[str, Any]:
    """One delivery with its attempts."""
    return webhook_service().delivery(_vendor_id(), endpoint_id, delivery_id)


@blp.route("/webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/replay", methods=["POST"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.response(202, DeliverySchema)
@blp.alt_response(409, description="The delivery is still being attempted")
def replay_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> dict[str, Any]:
    """Send this delivery's event again, with the same `webhook-id`."""
    return webhook_service().replay(_vendor_id(), endpoint_id, delivery_id)


@blp.route("/webhooks/<uuid:endpoint_id>/replay", methods=["POST"])
@blp.doc(security=scope_doc(MANAGE))
@require_oauth(MANAGE)
@blp.arguments(ReplaySinceSchema)
@blp.response(202, ReplayedSchema)
def replay_since(body: dict[str, Any], endpoint_id: uuid.UUID) -> dict[str, int]:
    """Send again every event since a time that this endpoint takes (for example after
    it was down or disabled)."""
    return {"replayed": webhook_service().replay_since(_vendor_id(), endpoint_id, body["since"])}


@blp.route("/events", methods=["GET"])
@blp.doc(security=scope_doc("events:read"))
@require_oauth("events:read")
@blp.arguments(EventQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def list_events(args: dict[str, Any]) -> dict[str, Any]:
    """The same events webhooks send, oldest first, in the order they happened. Keep
    `next_cursor` and poll with it; it is set even when nothing new has happened."""
    events, next_cursor, more = event_feed().page(
        caller().id,
        cursor=args.get("cursor"),
        limit=args.get("limit") or 100,
        types=args.get("types"),
        person_id=token().person_id,
    )
    return {"data": events, "next_cursor": next_cursor, "has_more": more}
