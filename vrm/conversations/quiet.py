"""Quiet hours: local times, in the person's time zone, during which vendor messages wait."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def held_until(
    now: datetime, start: str | None, end: str | None, time_zone: str
) -> datetime | None:
    """When a vendor message sent at ``now`` may be shown, if ``now`` falls in the quiet
    hours [start, end) (which may span midnight); None when it may be shown at once."""
    if not start or not end:
        return None
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    begins, ends = time.fromisoformat(start), time.fromisoformat(end)
    at = local.time().replace(tzinfo=None)
    quiet = begins <= at < ends if begins < ends else at >= begins or at < ends
    if not quiet:
        return None
    release_day = local.date() if at < ends else local.date() + timedelta(days=1)
    release = datetime.combine(release_day, ends, tzinfo=zone)
    return release.astimezone(UTC)
