"""Appending to and verifying the hash-chained access log.

Appends happen inside the caller's write transaction (the log entry commits with the act
it records) and take the person row's lock first, so two appends never race for a seq.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from vrm import clock
from vrm.accounts.models import Person
from vrm.audit.models import AuditEvent, AuditHead
from vrm.pagination import Page
from vrm.parsing import whole_number

GENESIS = "0" * 64


def entry_hash(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 over the previous hash and a canonical form of every recorded column."""
    body = {
        "id": str(event.id),
        "person_id": str(event.person_id),
        "seq": event.seq,
        "at": event.at.isoformat(),
        "action": event.action,
        "vendor_id": str(event.vendor_id) if event.vendor_id else None,
        "vendor_name": event.vendor_name,
        "fields": list(event.fields),
        "purpose": event.purpose,
        "detail": event.detail,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


@dataclass
class ChainReport:
    valid: bool
    entries: int
    first_broken_seq: int | None = None
    first_broken_id: uuid.UUID | None = None
    reason: str | None = None


# Built once: every disclosure appends an entry.
_LOCK_PERSON = (
    select(Person.id).where(Person.id == bindparam("person_id")).with_for_update(key_share=True)
)
_HEAD_OF = (
    select(AuditHead.seq, AuditHead.hash)
    .where(AuditHead.person_id == bindparam("person_id"))
    .with_for_update()
)
_INSERT_EVENT = insert(AuditEvent.__table__)
_INSERT_HEAD = insert(AuditHead.__table__)
_MOVE_HEAD = (
    update(AuditHead.__table__)
    .where(AuditHead.person_id == bindparam("of_person"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


class AuditLog:
    def __init__(self, session: Session):
        self.session = session

    def append(
        self,
        person_id: uuid.UUID,
        action: str,
        *,
        vendor: Any = None,
        fields: list[str] | None = None,
        purpose: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Add an entry; call inside a write transaction."""
        # Lock the person row first (the head may not exist yet): appends never race.
        # NO KEY UPDATE (PostgreSQL) does not wait for the key-share locks that rows
        # referencing the person hold, so two of their writes queue instead of deadlocking.
        self.session.execute(_LOCK_PERSON, {"person_id": person_id})
        head = self.session.execute(_HEAD_OF, {"person_id": person_id}).first()
        seq, prev = (head.seq + 1, head.hash) if head is not None else (1, GENESIS)
        at: datetime = clock.now()
        event = AuditEvent(
            id=uuid.uuid4(),
            person_id=person_id,
            seq=seq,
            at=at,
            action=action,
            vendor_id=vendor.id if vendor is not None else None,
            vendor_name=vendor.name if vendor is not None else None,
            fields=sorted(fields or []),
            purpose=purpose,
            detail=detail or {},
            prev_hash=prev,
            hash="",
        )
        event.hash = entry_hash(prev, event)
        # Written as plain statements: every disclosure appends, and the ORM's unit of
        # work was most of the cost of a vendor's profile read. The event is returned
        # for its values, not attached to the session.
        self.session.execute(
            _INSERT_EVENT, {c.key: getattr(event, c.key) for c in AuditEvent.__table__.columns}
        )
        if head is None:
            self.session.execute(
                _INSERT_HEAD, {"person_id": person_id, "seq": seq, "hash": event.hash}
            )
        else:
            moved = {"of_person": person_id, "new_seq": seq, "new_hash": event.hash}
            self.session.execute(_MOVE_HEAD, moved)
        return event

    def page(self, person_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        """Newest first; the cursor is the seq of the last entry seen."""
        stmt = select(AuditEvent).where(AuditEvent.person_id == person_id)
        before = whole_number(cursor, "cursor")
        if before is not None:
            stmt = stmt.where(AuditEvent.seq < before)
        rows = list(self.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, str(rows[-1].seq) if more else None)

    def all(self, person_id: uuid.UUID) -> list[AuditEvent]:
        return list(
            self.session.scalars(
                select(AuditEvent).where(AuditEvent.person_id == person_id).order_by(AuditEvent.seq)
            )
        )

    def verify(self, person_id: uuid.UUID) -> ChainReport:
        """Recompute the chain and report the first entry that does not hold."""
        prev = GENESIS
        entries = self.all(person_id)
        for expected_seq, event in enumerate(entries, start=1):
            reason = None
            if event.seq != expected_seq:
                reason = f"expected entry {expected_seq}, found {event.seq}: an entry is missing"
            elif event.prev_hash != prev:
                reason = "it does not link to the entry before it"
            elif entry_hash(prev, event) != event.hash:
                reason = "its content does not match its hash: it was changed"
            if reason:
                return ChainReport(False, len(entries), event.seq, event.id, reason)
            prev = event.hash
        head = self.session.get(AuditHead, person_id)
        head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        if head_seq != len(entries) or head_hash != prev:
            missing = len(entries) + 1
            return ChainReport(
                False,
                len(entries),
                missing,
                None,
                f"the log ends before entry {head_seq}: the newest entries are missing",
            )
        return ChainReport(True, len(entries))
