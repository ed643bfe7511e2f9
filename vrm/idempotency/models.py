from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk, encrypted_column


class IdempotencyRecord(Base):
    """The first response to a request sent with an Idempotency-Key, kept for a day.

    The key and the request are kept as keyed digests; the response (which may hold
    personal data) is encrypted like any personal value."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("caller", "key_digest"),)

    id: Mapped[UUIDPk]
    caller: Mapped[str] = mapped_column(String(80))
    # The person the response is about: erasing them erases this record too.
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    key_digest: Mapped[str] = mapped_column(String(64))
    request_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    response: Mapped[str | None] = encrypted_column(nullable=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
