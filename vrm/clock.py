"""The one source of the current time, so tests can move it (the edge of the world)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Return the current UTC time."""
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the time source (tests only); ``None`` restores the system clock."""
    global _source
    _source = source or (lambda: datetime.now(UTC))
