"""Keyset pagination: ``?limit=&cursor=`` -> ``{"data": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from vrm.errors import ValidationFailed
from vrm.i18n import gettext

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    data: list[T]
    next_cursor: str | None


def _encode(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time is always in UTC")
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, TypeError, OverflowError):
        raise ValidationFailed(
            gettext("The cursor is not one this API returned"), field="cursor"
        ) from None


def newest_first(
    session: Session,
    stmt: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int,
    cursor: str | None,
    plain: bool = False,
) -> Page[Any]:
    """Page through ``stmt`` newest first, on an index over (created_at, id): ORM objects,
    or with ``plain`` the selected columns as rows (cheaper, for read-only pages)."""
    if cursor:
        at, last_id = _decode(cursor)
        stmt = stmt.where(or_(created_at < at, and_(created_at == at, row_id < last_id)))
    stmt = stmt.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)
    rows = list(session.execute(stmt) if plain else session.scalars(stmt))
    return page_of_rows(rows, created_at, row_id, limit=limit)


def page_of_rows(
    rows: list[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int,
) -> Page[Any]:
    """The page of up to ``limit + 1`` rows read newest first (the extra one only says
    that there is more)."""
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows and more else None
    next_cursor = (
        _encode(getattr(last, created_at.key), getattr(last, row_id.key)) if last else None
    )
    return Page(rows, next_cursor)
