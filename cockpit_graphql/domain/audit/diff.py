"""Before/after diffs for audit events, with secrets redacted."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset({"secret", "password", "token", "client_secret", "api_key"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def redact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if k in SECRET_KEYS else _jsonable(v)) for k, v in values.items()}


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Only the keys that changed: {"before": {...}, "after": {...}}. A secret shows only that it changed."""
    before_r = redact(before or {})
    after_r = redact(after or {})
    keys = sorted(set(before_r) | set(after_r))
    changed = [k for k in keys if before_r.get(k) != after_r.get(k) or (before is None) or (after is None)]
    return {
        "before": {k: before_r[k] for k in changed if k in before_r} if before is not None else None,
        "after": {k: after_r[k] for k in changed if k in after_r} if after is not None else None,
    }
