from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk

STATES = ("requested", "given", "refused", "withdrawn", "expired", "revoked")


class Consent(Base):
    """Consent of a person to one vendor: these profile fields, for these purposes, under
    these terms, until ``expires_at``. A vendor's request is a consent in state requested."""

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_vendor_id_person_id_state", "vendor_id", "person_id", "state"),
        Index("ix_consents_person_id_state", "person_id", "state"),
        Index("ix_consents_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agreements.id", ondelete="SET NULL")
    )
    fields: Mapped[list[str]] = mapped_column(JSON)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12))
    # Who started it: person, vendor (a request) or oauth (the consent screen).
    origin: Mapped[str] = mapped_column(String(12))
    # A vendor's request: the duration it asks for, and its message to the person.
    requested_days: Mapped[int | None]
    message: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConsentEvent(Base):
    """Every change of a consent, with its signed receipt (compact JWS, Ed25519)."""

    __tablename__ = "consent_events"
    __table_args__ = (UniqueConstraint("consent_id", "seq"),)

    id: Mapped[UUIDPk]
    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consents.id", ondelete="CASCADE"))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime]
    receipt: Mapped[str] = mapped_column(Text)
