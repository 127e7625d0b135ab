"""Column helpers shared by the tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field


class TenantScoped:
    """Mixin of every tenant table model (each has `account_id`; db/tables/__init__.py TENANT_MODELS
    lists the same). The tenant session's account filter names this one base instead of each model:
    one `with_loader_criteria` option per statement, not 33 (their coercion and cache keys cost
    ~0.3 ms of every ORM statement's preparation)."""

    __slots__ = ()


def utcnow() -> datetime:
    return datetime.now(UTC)


def uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def timestamptz(nullable: bool = False, default_now: bool = True) -> Any:
    return Field(
        default_factory=utcnow if default_now else None,
        sa_column_kwargs={"nullable": nullable},
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )
