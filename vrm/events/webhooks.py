"""A vendor's webhook endpoints: create, change, rotate the secret, test, list deliveries,
replay. Every lookup is by (vendor, id): a vendor never reaches another vendor's endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.crypto import Keyring, aad_for
from vrm.db import write_transaction
from vrm.errors import Conflict, NotFound, ValidationFailed
from vrm.events.feed import check_types
from vrm.events.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from vrm.events.outbox import Outbox, new_delivery
from vrm.events.signing import new_secret
from vrm.events.types import TEST_EVENT
from vrm.events.urls import check_url
from vrm.pagination import Page, newest_first

MAX_ENDPOINTS = 20
DESCRIPTION_MAX = 500


class WebhookService:
    def __init__(self, session: Session, keyring: Keyring, settings: dict[str, Any]):
        self.session = session
        self.keyring = keyring
        self.production = settings["ENV"] == "production"
        self.grace = timedelta(hours=settings["WEBHOOK_SECRET_GRACE_HOURS"])
        self.retention = timedelta(days=settings["EVENT_RETENTION_DAYS"])

    # Endpoints

    def create(
        self,
        vendor_id: uuid.UUID,
        url: str,
        event_types: list[str] | None = None,
        description: str | None = None,
    ) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its signing secret, which is shown only this once."""
        url = check_url(url, production=self.production)
        types = check_types(event_types or [], field="event_types")
        self._check_description(description)
        secret = new_secret()
        with write_transaction(self.session):
            count = self.session.scalar(
                select(func.count())
                .select_from(WebhookEndpoint)
                .where(WebhookEndpoint.vendor_id == vendor_id)
            )
            if count and count >= MAX_ENDPOINTS:
                raise ValidationFailed(
                    f"At most {MAX_ENDPOINTS} endpoints; delete one first", field="url"
                )
            now = clock.now()
            endpoint = WebhookEndpoint(
                id=uuid.uuid4(),
                vendor_id=vendor_id,
                url=url,
                description=description,
                event_types=types,
                enabled=True,
                created_at=now,
                updated_at=now,
            )
            endpoint.secret = self._seal(endpoint, "secret", secret)
            self.session.add(endpoint)
        return endpoint, secret

    def page(self, vendor_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[Any]:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.vendor_id == vendor_id)
        return newest_first(
            self.session,
            stmt,
            WebhookEndpoint.created_at,
            WebhookEndpoint.id,
            limit=limit,
            cursor=cursor,
        )

    def get(self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        return self._own(vendor_id, endpoint_id)

    def update(
        self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID, changes: dict[str, Any]
    ) -> WebhookEndpoint:
        """Change the URL, event types or description, or enable it again after it was
        disabled (its paused deliveries then resume)."""
        if "url" in changes:
            changes["url"] = check_url(changes["url"], production=self.production)
        if "event_types" in changes:
            changes["event_types"] = check_types(changes["event_types"], field="event_types")
        if "description" in changes:
            self._check_description(changes["description"])
        with write_transaction(self.session):
            endpoint = self._own(vendor_id, endpoint_id, lock=True)
            now = clock.now()
            for name in ("url", "event_types", "description"):
                if name in changes:
                    setattr(endpoint, name, changes[name])
            if "enabled" in changes and changes["enabled"] != endpoint.enabled:
                endpoint.enabled = changes["enabled"]
                if endpoint.enabled:
                    endpoint.disabled_at = endpoint.disabled_reason = None
                    endpoint.failing_since = None
                else:
                    endpoint.disabled_at, endpoint.disabled_reason = now, "Disabled by you"
            endpoint.updated_at = now
        return endpoint

    def delete(self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
        """Delete the endpoint and its delivery history; nothing more is sent to it."""
        with write_transaction(self.session):
            self.session.delete(self._own(vendor_id, endpoint_id, lock=True))

    def rotate_secret(
        self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> tuple[WebhookEndpoint, str]:
        """A new secret, shown once; the old one keeps signing beside it for the grace
        period, so receivers can switch without missing a delivery."""
        secret = new_secret()
        with write_transaction(self.session):
            endpoint = self._own(vendor_id, endpoint_id, lock=True)
            now = clock.now()
            current = self.keyring.decrypt(endpoint.secret, self._aad(endpoint, "secret"))
            endpoint.previous_secret = self._seal(endpoint, "previous_secret", current)
            endpoint.previous_secret_expires_at = now + self.grace
            endpoint.secret = self._seal(endpoint, "secret", secret)
            endpoint.updated_at = now
        return endpoint, secret

    # Deliveries

    def send_test(self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID) -> Delivery:
        """Send a ``webhook.test`` event to this endpoint alone (never to the feed)."""
        with write_transaction(self.session):
            endpoint = self._own(vendor_id, endpoint_id)
            if not endpoint.enabled:
                raise Conflict("The endpoint is disabled; enable it first", field="enabled")
            event_id = Outbox(self.session, self.keyring).emit(
                vendor_id,
                TEST_EVENT,
                {"endpoint_id": endpoint.id, "message": "A test event from VRM"},
                endpoint_id=endpoint.id,
            )
        delivery = self.session.scalar(select(Delivery).where(Delivery.event_id == event_id))
        assert delivery is not None
        return delivery

    def deliveries(
        self,
        vendor_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        *,
        state: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        """The endpoint's deliveries, newest first, each with its attempts."""
        self._own(vendor_id, endpoint_id)
        stmt = select(Delivery).where(Delivery.endpoint_id == endpoint_id)
        if state:
            stmt = stmt.where(Delivery.state == state)
        page = newest_first(
            self.session, stmt, Delivery.created_at, Delivery.id, limit=limit, cursor=cursor
        )
        return Page(self.describe_deliveries(page.data), page.next_cursor)

    def delivery(
        self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> dict[str, Any]:
        return self.describe_deliveries([self._own_delivery(vendor_id, endpoint_id, delivery_id)])[
            0
        ]

    def replay(
        self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> dict[str, Any]:
        """Send a delivered or dead-lettered event again, as a new delivery with the same
        ``webhook-id`` (receivers that already have it can tell)."""
        with write_transaction(self.session):
            original = self._own_delivery(vendor_id, endpoint_id, delivery_id)
            if original.state == "pending":
                raise Conflict("This delivery is still being attempted", field="delivery_id")
            row = new_delivery(
                original.event_id, endpoint_id, vendor_id, clock.now(), replay_of=original.id
            )
            self.session.execute(insert(Delivery), [row])
        return self.delivery(vendor_id, endpoint_id, row["id"])

    def replay_since(self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID, since: datetime) -> int:
        """Send again every event since ``since`` that this endpoint takes, whatever
        happened to it before (disabled, failing, or the receiver lost it)."""
        now = clock.now()
        if since > now:
            raise ValidationFailed("Choose a time in the past", field="since")
        if since < now - self.retention:
            raise ValidationFailed(
                f"Events are kept {self.retention.days} days; choose a later time",
                field="since",
            )
        with write_transaction(self.session):
            endpoint = self._own(vendor_id, endpoint_id)
            stmt = select(OutboxEvent.id).where(
                OutboxEvent.vendor_id == vendor_id,
                OutboxEvent.seq.is_not(None),
                OutboxEvent.created_at >= since,
            )
            if endpoint.event_types:
                stmt = stmt.where(OutboxEvent.type.in_(endpoint.event_types))
            rows = [
                new_delivery(event_id, endpoint_id, vendor_id, now)
                for event_id in self.session.scalars(stmt.order_by(OutboxEvent.seq))
            ]
            if rows:
                self.session.execute(insert(Delivery), rows)
        return len(rows)

    # Views

    def describe(self, endpoint: WebhookEndpoint) -> dict[str, Any]:
        view = {
            name: getattr(endpoint, name)
            for name in (
                "id",
                "url",
                "description",
                "event_types",
                "enabled",
                "disabled_reason",
                "disabled_at",
                "failing_since",
                "created_at",
                "updated_at",
            )
        }
        expires = endpoint.previous_secret_expires_at
        view["previous_secret_expires_at"] = (
            expires if endpoint.previous_secret and expires and expires > clock.now() else None
        )
        return view

    def describe_deliveries(self, deliveries: list[Delivery]) -> list[dict[str, Any]]:
        if not deliveries:
            return []
        ids = [d.id for d in deliveries]
        attempts: dict[uuid.UUID, list[DeliveryAttempt]] = {i: [] for i in ids}
        for attempt in self.session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(ids))
            .order_by(DeliveryAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
        types = dict(
            self.session.execute(
                select(OutboxEvent.id, OutboxEvent.type).where(
                    OutboxEvent.id.in_({d.event_id for d in deliveries})
                )
            ).all()
        )
        return [
            {
                "id": d.id,
                "event_id": d.event_id,
                "event_type": types.get(d.event_id),
                "state": d.state,
                "attempt_count": len(attempts[d.id]),
                "next_attempt_at": d.next_attempt_at if d.state == "pending" else None,
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "replay_of": d.replay_of,
                "created_at": d.created_at,
                "delivered_at": d.delivered_at,
                "attempts": attempts[d.id],
            }
            for d in deliveries
        ]

    # Internals

    def _own(
        self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID, lock: bool = False
    ) -> WebhookEndpoint:
        stmt = select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.vendor_id == vendor_id
        )
        endpoint = self.session.scalar(stmt.with_for_update() if lock else stmt)
        if endpoint is None:
            raise NotFound("No such webhook endpoint")
        return endpoint

    def _own_delivery(
        self, vendor_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> Delivery:
        delivery = self.session.scalar(
            select(Delivery).where(
                Delivery.id == delivery_id,
                Delivery.endpoint_id == endpoint_id,
                Delivery.vendor_id == vendor_id,
            )
        )
        if delivery is None:
            raise NotFound("No such delivery")
        return delivery

    @staticmethod
    def _check_description(description: str | None) -> None:
        if description is not None and len(description) > DESCRIPTION_MAX:
            raise ValidationFailed(f"At most {DESCRIPTION_MAX} characters", field="description")

    @staticmethod
    def _aad(endpoint: WebhookEndpoint, column: str) -> bytes:
        return aad_for("webhook_endpoints", column, endpoint.id)

    def _seal(self, endpoint: WebhookEndpoint, column: str, secret: str) -> str:
        return self.keyring.encrypt(secret, self._aad(endpoint, column))
