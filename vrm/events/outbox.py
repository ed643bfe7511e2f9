"""Emitting events: each is queued on the session and written by the commit that carries
the change it reports, so an event exists exactly when its change does.

Rows are written in ``before_commit``, after the services are done: each vendor's counter
is locked in vendor order (no deadlock between two writers), for the shortest time."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.orm import Session

from vrm import clock
from vrm.crypto import Keyring, aad_for
from vrm.db import insert_missing, write_transaction
from vrm.events.models import Delivery, EventSequence, OutboxEvent, WebhookEndpoint
from vrm.events.types import EVENT_TYPES, TEST_EVENT

PENDING = "vrm.outbox.pending"


@dataclass
class Pending:
    id: uuid.UUID
    vendor_id: uuid.UUID
    type: str
    person_id: uuid.UUID | None
    body: str
    created_at: datetime
    # Set only for a test event: the one endpoint it goes to, and no place in the feed.
    endpoint_id: uuid.UUID | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(event_id: uuid.UUID, event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The event as sent and as the feed shows it (the Standard Webhooks payload shape)."""
    return json.dumps(
        {"id": str(event_id), "type": event_type, "timestamp": at.isoformat(), "data": data},
        separators=(",", ":"),
        default=_plain,
    )


class Outbox:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def emit(
        self,
        vendor_id: uuid.UUID,
        event_type: str,
        data: dict[str, Any],
        *,
        person_id: uuid.UUID | None = None,
        endpoint_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Queue an event for ``vendor_id``; it is written when the session commits and
        dropped if it rolls back. ``person_id`` is whom it is about (erasure removes it)."""
        if event_type not in EVENT_TYPES and event_type != TEST_EVENT:
            raise ValueError(f"unknown event type {event_type!r}")
        event_id, now = uuid.uuid4(), clock.now()
        body = encode_body(event_id, event_type, now, data)
        sealed = self.keyring.encrypt(body, aad_for("outbox_events", "body", event_id))
        self.session.info.setdefault(PENDING, []).append(
            Pending(event_id, vendor_id, event_type, person_id, sealed, now, endpoint_id)
        )
        return event_id


def _write(session: Session, pending: list[Pending]) -> None:
    vendors = sorted({p.vendor_id for p in pending})
    seqs = _allocate(session, [p for p in pending if p.endpoint_id is None])
    session.execute(
        insert(OutboxEvent),
        [
            {
                "id": p.id,
                "vendor_id": p.vendor_id,
                "seq": seqs.get(p.id),
                "type": p.type,
                "person_id": p.person_id,
                "body": p.body,
                "created_at": p.created_at,
            }
            for p in pending
        ],
    )
    endpoints = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.vendor_id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.vendor_id.in_(vendors), WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    deliveries = []
    for p in pending:
        for endpoint_id, vendor_id, types in endpoints:
            wanted = (
                endpoint_id == p.endpoint_id
                if p.endpoint_id is not None
                else vendor_id == p.vendor_id and (not types or p.type in types)
            )
            if wanted:
                deliveries.append(new_delivery(p.id, endpoint_id, vendor_id, p.created_at))
    if deliveries:
        session.execute(insert(Delivery), deliveries)


def new_delivery(
    event_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    vendor_id: uuid.UUID,
    now: datetime,
    replay_of: uuid.UUID | None = None,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "vendor_id": vendor_id,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "claim_token": None,
        "replay_of": replay_of,
        "created_at": now,
    }


def _allocate(session: Session, pending: list[Pending]) -> dict[uuid.UUID, int]:
    """Give each event the next number of its vendor's sequence. The counter rows stay
    locked until commit, so a reader never sees number n+1 before n."""
    if not pending:
        return {}
    vendors = sorted({p.vendor_id for p in pending})
    insert_missing(session, EventSequence, [{"vendor_id": v, "last_seq": 0} for v in vendors])
    last = dict(
        session.execute(
            select(EventSequence.vendor_id, EventSequence.last_seq)
            .where(EventSequence.vendor_id.in_(vendors))
            .order_by(EventSequence.vendor_id)
            .with_for_update()
        ).all()
    )
    seqs = {}
    for p in pending:
        last[p.vendor_id] += 1
        seqs[p.id] = last[p.vendor_id]
    session.execute(update(EventSequence), [{"vendor_id": v, "last_seq": last[v]} for v in vendors])
    return seqs


def redact_profile_values(
    session: Session,
    keyring: Keyring,
    vendor_id: uuid.UUID,
    person_id: uuid.UUID,
    still_covered: set[str],
) -> None:
    """Take out of the vendor's stored ``profile.updated`` events about the person every
    value no live consent covers any more: the feed, retries and replays then carry only
    the names, under ``withdrawn_fields``. Call when a consent ends, in its transaction."""
    for row in session.scalars(
        select(OutboxEvent).where(
            OutboxEvent.vendor_id == vendor_id,
            OutboxEvent.person_id == person_id,
            OutboxEvent.type == "profile.updated",
        )
    ):
        aad = aad_for("outbox_events", "body", row.id)
        body = json.loads(keyring.decrypt(row.body, aad))
        changed = body["data"]["changed"]
        gone = sorted(set(changed) - still_covered)
        if not gone:
            continue
        body["data"]["changed"] = {k: v for k, v in changed.items() if k in still_covered}
        body["data"]["withdrawn_fields"] = sorted(
            {*body["data"].get("withdrawn_fields", []), *gone}
        )
        row.body = keyring.encrypt(json.dumps(body, separators=(",", ":")), aad)


def purge_events_before(session: Session, before: datetime) -> int:
    """Delete events older than ``before``, with their deliveries, in modest batches."""
    purged = 0
    while True:
        with write_transaction(session):
            ids = list(
                session.scalars(
                    select(OutboxEvent.id).where(OutboxEvent.created_at < before).limit(1000)
                )
            )
            if ids:
                session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        purged += len(ids)
        if len(ids) < 1000:
            return purged


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        _write(session, pending)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)
