"""Conversations between a person and a vendor, and their messages (encrypted)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk, encrypted_column

CONVERSATION_STATES = ("open", "closed")
OPENED_BY = ("person", "offer", "request")
SENDERS = ("person", "vendor")


class Conversation(Base):
    """A conversation, tied to the consent that allows the vendor to write in it: opened
    by the person, by accepting an offer, or by approving a contact request.

    ``vendor_streak`` counts the vendor's messages since the person last wrote (the
    person's limit on messages in a row). ``person_read_at`` is the person's read marker:
    a message counts as read once it was visible to them by then, so a message held in
    their quiet hours is never read before they could see it. ``active_at`` orders the
    person's inbox: when its latest message shows to them (or when it opened)."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_person_id_active_at_id", "person_id", "active_at", "id"),
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
    last_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    vendor_streak: Mapped[int] = mapped_column(default=0, server_default="0")
    person_read_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    active_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Message(Base):
    """One message. The text is encrypted; a vendor message sent in the person's quiet
    hours is held: the person sees it from ``visible_at``."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_seq", "conversation_id", "seq", unique=True),
    )

    id: Mapped[UUIDPk]
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    sender: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = encrypted_column()
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    intention_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("intentions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    visible_at: Mapped[datetime]
