from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk, encrypted_column


class Person(Base):
    """A person's account. The email is encrypted; ``email_index`` finds it at login."""

    __tablename__ = "persons"

    id: Mapped[UUIDPk]
    email: Mapped[str] = encrypted_column()
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PersonalToken(Base):
    """A personal access token for the personal API; only its SHA-256 digest is kept."""

    __tablename__ = "personal_tokens"

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    # The label is the person's own words, so it is encrypted like any personal value.
    name: Mapped[str] = encrypted_column()
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so a person can tell their tokens apart.
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A logged-in browser. The cookie carries a random secret; only its digest is kept,
    so logging out (or erasing the account) ends the session on the server too."""

    __tablename__ = "web_sessions"

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
