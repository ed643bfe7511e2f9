from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk


class PersonTerms(Base):
    """The terms a person proffers by default, their consent durations, and their rules
    for conversations: how many vendor messages in a row without a reply, and quiet hours
    (local times in ``time_zone``) during which vendor messages are held."""

    __tablename__ = "person_terms"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    consent_default_days: Mapped[int]
    consent_max_days: Mapped[int]
    max_unanswered: Mapped[int] = mapped_column(default=3, server_default="3")
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    updated_at: Mapped[datetime]


class VendorTerms(Base):
    """The roster terms a vendor accepts in advance."""

    __tablename__ = "vendor_terms"

    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True
    )
    accepted: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class Agreement(Base):
    """An IEEE 7012 style record: the person's terms proffered to a vendor, and the answer.
    ``record`` is the signed JWS both sides can fetch and verify."""

    __tablename__ = "agreements"
    __table_args__ = (Index("ix_agreements_person_id_vendor_id", "person_id", "vendor_id"),)

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    missing: Mapped[list[str]] = mapped_column(JSON)
    record: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
