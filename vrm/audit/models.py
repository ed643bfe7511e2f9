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
    # Not a foreign key: the log outlives the vendor, and the id is part of the hash.
    vendor_id: Mapped[uuid.UUID | None]
    vendor_name: Mapped[str | None] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest entry of a person's log, so that removing the newest entries shows too."""

    __tablename__ = "audit_heads"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
