"""The events feed: a vendor's events in the order they happened, for vendors that poll."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vrm.crypto import Keyring, aad_for
from vrm.errors import ValidationFailed
from vrm.events.models import OutboxEvent
from vrm.events.types import EVENT_TYPES


def encode_position(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": seq}).encode()).decode().rstrip("=")


def decode_position(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
            raise ValueError("a position is a whole number")
        return after
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ValidationFailed("The cursor is not one this API returned", field="cursor") from None


def check_types(types: list[str], field: str = "types") -> list[str]:
    for name in types:
        if name not in EVENT_TYPES:
            raise ValidationFailed(f"{name!r} is not an event type", field=field)
    return sorted(set(types))


class EventFeed:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def body(self, event: OutboxEvent) -> dict[str, Any]:
        return json.loads(
            self.keyring.decrypt(event.body, aad_for("outbox_events", "body", event.id))
        )

    def page(
        self,
        vendor_id: uuid.UUID,
        *,
        cursor: str | None,
        limit: int,
        types: list[str] | None = None,
        person_id: uuid.UUID | None = None,
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """Events after ``cursor``, oldest first: (events, the cursor to poll next, whether
        more are waiting). Without a cursor the feed starts at the oldest event kept.
        ``person_id`` limits a token one person issued to that person's events."""
        after = decode_position(cursor) if cursor else 0
        stmt = select(OutboxEvent).where(
            OutboxEvent.vendor_id == vendor_id,
            OutboxEvent.seq.is_not(None),
            OutboxEvent.seq > after,
        )
        if types:
            stmt = stmt.where(OutboxEvent.type.in_(check_types(types)))
        if person_id is not None:
            stmt = stmt.where(OutboxEvent.person_id == person_id)
        rows = list(self.session.scalars(stmt.order_by(OutboxEvent.seq).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        position = rows[-1].seq if rows else after
        assert position is not None
        return [self.body(row) for row in rows], encode_position(position), more
