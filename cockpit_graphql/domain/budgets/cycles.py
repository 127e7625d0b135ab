"""Cycle bounds: a pure function of the renewal day and a time."""

from __future__ import annotations

from datetime import UTC, datetime


def _renewal(year: int, month: int, day: int) -> datetime:
    while month > 12:
        year, month = year + 1, month - 12
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, day, tzinfo=UTC)


def cycle_bounds(renewal_day: int, at: datetime) -> tuple[datetime, datetime]:
    """`[renewal day of month m, renewal day of month m+1)` containing `at` (UTC midnight)."""
    if not 1 <= renewal_day <= 28:
        raise ValueError("renewal_day must be 1..28")
    at = at.astimezone(UTC)
    start = _renewal(at.year, at.month, renewal_day)
    if at < start:
        start = _renewal(at.year, at.month - 1, renewal_day)
    end = _renewal(start.year, start.month + 1, renewal_day)
    return start, end
