"""The outbox, webhook endpoints and their deliveries.

An event row commits in the same transaction as the change it reports. Each vendor's
events carry a sequence number allocated under a lock on that vendor's counter row, held
until commit, so numbers become visible in order and the feed never skips one."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk, encrypted_column

DELIVERY_STATES = ("pending", "succeeded", "dead")


class EventSequence(Base):
    """The last sequence number given to one vendor's events."""

    __tablename__ = "event_sequences"

    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger)


class OutboxEvent(Base):
    """One event for one vendor. The body (what is signed and sent, and what the feed
    shows) is encrypted: it may hold personal values such as an updated profile field."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_vendor_id_seq", "vendor_id", "seq", unique=True),
        Index("ix_outbox_events_vendor_id_created_at", "vendor_id", "created_at"),
    )

    id: Mapped[UUIDPk]
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    # None for a test event, which is never in the feed.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    # Whose event it is, so erasure can remove what was about them; not a foreign key,
    # because ``customer.erased`` outlives the person.
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    body: Mapped[str] = encrypted_column()
    created_at: Mapped[datetime]


class WebhookEndpoint(Base):
    """Where a vendor wants events sent. The signing secret must be usable to sign, so it
    is encrypted rather than digested; during rotation the previous one signs too."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[UUIDPk]
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = encrypted_column()
    previous_secret: Mapped[str | None] = encrypted_column(nullable=True)
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    # The first failure since the last success; the endpoint is disabled when this is old.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """One event on its way to one endpoint. A claimed delivery has a ``claim_token`` and
    ``next_attempt_at`` in the future (its lease): if the worker dies, the lease runs out
    and another worker sends it again, with the same ``webhook-id``."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index("ix_deliveries_endpoint_id_created_at_id", "endpoint_id", "created_at", "id"),
    )

    id: Mapped[UUIDPk]
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    claim_token: Mapped[uuid.UUID | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    replay_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery: when, how long, and what came back."""

    __tablename__ = "delivery_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
