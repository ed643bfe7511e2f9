from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk


class Conversation(Base):
    """A conversation between a person and a vendor, tied to the consent that allows it.
    Opened by accepting an offer (``opened_by="offer"``) and, later, by the person or an
    approved contact request."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_person_id_created_at_id", "person_id", "created_at", "id"),
        Index("ix_conversations_vendor_id_created_at_id", "vendor_id", "created_at", "id"),
    )

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    consent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL")
    )
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(12))
    opened_by: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
