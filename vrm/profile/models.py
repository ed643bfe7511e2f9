from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk, encrypted_column


class ProfileAttribute(Base):
    """The current value of one profile field, as encrypted JSON.

    One row per field (not one blob per person) so that later consents can be enforced,
    logged and expired field by field.
    """

    __tablename__ = "profile_attributes"
    __table_args__ = (UniqueConstraint("person_id", "field"),)

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = encrypted_column()
    updated_at: Mapped[datetime]


class ProfileRevision(Base):
    """One change to the profile: its number, its time and the new values (encrypted)."""

    __tablename__ = "profile_revisions"
    __table_args__ = (UniqueConstraint("person_id", "number"),)

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    number: Mapped[int]
    changes: Mapped[str] = encrypted_column()
    created_at: Mapped[datetime]
