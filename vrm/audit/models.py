from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk


class AuditEvent(Base):
    """One entry of a person's access log. ``hash`` commits to the entry and to the
    previous entry's hash, so editing or removing any row breaks the chain from there."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("person_id", "seq"),)

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    seq: Mapped[int]
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(40))
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vendors.id", ondelete="SET NULL")
    )
    vendor_name: Mapped[str | None] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
