"""Intentions, subscriptions, the match index and offers.

Matching is an inverted index: each subscription is written as the (category, place) keys
it accepts, and an intention looks up only the few keys it falls under, so its cost follows
the subscriptions that match, not how many exist. Matches are written once (fan-out on
write); a vendor's feed is then one indexed range read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from vrm.db import Base, UUIDPk, encrypted_column

INTENTION_STATES = ("open", "withdrawn", "fulfilled", "expired")
OFFER_STATES = ("open", "accepted", "declined", "withdrawn", "expired", "closed")


class Intention(Base):
    """A person's request for proposals. What could identify the person (title,
    description, keywords, city, postal code, point) is one encrypted JSON value; what
    matching needs (category, country, region, currency, prices) is plain."""

    __tablename__ = "intentions"
    __table_args__ = (
        Index("ix_intentions_person_id_published_at_id", "person_id", "published_at", "id"),
        Index("ix_intentions_state_expires_at", "state", "expires_at"),
        Index("ix_intentions_state_category", "state", "category"),
    )

    id: Mapped[UUIDPk]
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(120))
    content: Mapped[str] = encrypted_column()
    quantity: Mapped[int]
    currency: Mapped[str | None] = mapped_column(String(3))
    price_min: Mapped[int | None] = mapped_column(BigInteger)
    price_max: Mapped[int | None] = mapped_column(BigInteger)
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(12))
    wanted_by: Mapped[date | None]
    terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    disclose: Mapped[list[str]] = mapped_column(JSON)
    published_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class IntentionKeyword(Base):
    """A keyed digest of one of the intention's words, for matching without plaintext."""

    __tablename__ = "intention_keywords"

    intention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intentions.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class IntentionReach(Base):
    """Each vendor an intention ever reached (feed rows go when it closes; these stay),
    so the person knows how far it went."""

    __tablename__ = "intention_reach"

    intention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intentions.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Subscription(Base):
    """A vendor's standing interest: category prefixes, places, keywords, a price band.
    An empty list means any."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_vendor_id_created_at_id", "vendor_id", "created_at", "id"),
    )

    id: Mapped[UUIDPk]
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    categories: Mapped[list[str]] = mapped_column(JSON)
    regions: Mapped[list[str]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    has_keywords: Mapped[bool]
    currency: Mapped[str | None] = mapped_column(String(3))
    price_min: Mapped[int | None] = mapped_column(BigInteger)
    price_max: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class SubscriptionKey(Base):
    """One key a subscription is filed under (see ``matching``)."""

    __tablename__ = "subscription_keys"

    key: Mapped[str] = mapped_column(String(140), primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IntentionMatch(Base):
    """An open intention as one vendor's feed holds it, in the order it was matched.
    Deleted when the intention closes or the person blocks the vendor; ``expires_at`` is
    checked at read time too."""

    __tablename__ = "intention_matches"
    __table_args__ = (
        Index(
            "ix_intention_matches_vendor_id_created_at_intention_id",
            "vendor_id",
            "created_at",
            "intention_id",
        ),
        Index("ix_intention_matches_person_id_vendor_id", "person_id", "vendor_id"),
    )

    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True
    )
    intention_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("intentions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    # The consent the intention's disclosed fields count as, for this vendor.
    consent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


class Offer(Base):
    """A vendor's answer to an intention. At most one open offer per vendor and intention."""

    __tablename__ = "offers"
    __table_args__ = (
        Index(
            "uq_offers_open_intention_id_vendor_id",
            "intention_id",
            "vendor_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_offers_intention_id_created_at_id", "intention_id", "created_at", "id"),
        Index("ix_offers_vendor_id_created_at_id", "vendor_id", "created_at", "id"),
        Index("ix_offers_person_id_state", "person_id", "state"),
    )

    id: Mapped[UUIDPk]
    intention_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("intentions.id", ondelete="CASCADE"))
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    agreement_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agreements.id", ondelete="SET NULL")
    )
    consent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consents.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(12))
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    valid_until: Mapped[datetime]
    accepted_terms: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
