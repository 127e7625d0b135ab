"""The one rule for a value that changes over time and is kept as its value now plus the values it had
before (each with the instant it ended): which value was in force at an instant. Used for an account's
`creditsPerUsd` (budgets/factors.py) and a user's placement (budgets/scopes.py: PlacementTimeline)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")


def in_force_at(current: T, ended: Sequence[tuple[datetime, T]], when: datetime) -> T:
    """The value in force at `when`: the earliest ended value whose end is after `when`, else `current`.
    `ended` holds (the instant the value ended, the value), oldest first. A change applies from its
    instant on: at the very instant of a change, the new value is in force."""
    index = bisect.bisect_right(ended, when, key=lambda item: item[0])
    return ended[index][1] if index < len(ended) else current
