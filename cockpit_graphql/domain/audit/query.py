"""Reads the audit trails: an account's (audit_events) and the platform's (platform_audit_events).

Newest first, keyset-paginated on (occurred_at DESC, id DESC): the index
`audit_events(account_id, occurred_at, id)` serves the order and the cursor, so a page reads its
n+1 rows however long the trail is (filters narrow what the index scan keeps). One statement per
page, one more for `totalCount` when a client asks for it.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import AuditEvent, PlatformAuditEvent
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.pagination import (
    ROOT,
    Ordering,
    Page,
    PageRequest,
    SortDirection,
    count_children,
    page_children,
)

NEWEST_FIRST = Ordering("occurred_at", SortDirection.DESC)
"""The one order of both trails: occurred_at DESC, id DESC (the cursor carries both)."""

MAX_FILTER_VALUES = 100
"""At most this many values in one list filter (modules, entities, verbs, actions)."""


@dataclass(frozen=True)
class AuditFilter:
    """What to keep. Lists match any of their values; every given criterion must hold."""

    modules: tuple[str, ...] | None = None
    entities: tuple[str, ...] | None = None
    verbs: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    actor_id: str | None = None
    actor_type: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None

    def validate(self) -> AuditFilter:
        """The filter with its instants in UTC (one without a zone is read as UTC), or BadUserInput.
        Found by fuzzing: a naive `from` with an aware `to` failed to compare, and an instant outside
        years 1-9999 in UTC (0001-01-01T00:00+14:00) failed to convert; both were INTERNAL."""
        instants = {}
        for name, label in (("occurred_from", "from"), ("occurred_to", "to")):
            value = getattr(self, name)
            if value is not None:
                try:
                    instants[name] = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
                except OverflowError:
                    raise BadUserInput(f"`filter.{label}` is out of range.") from None
        flt = dataclasses.replace(self, **instants)
        if flt.occurred_from is not None and flt.occurred_to is not None and flt.occurred_from > flt.occurred_to:
            raise BadUserInput("`filter.from` must not be after `filter.to`.")
        for name in ("modules", "entities", "verbs", "actions"):
            values = getattr(flt, name)
            if values is not None and len(values) > MAX_FILTER_VALUES:
                raise BadUserInput(f"`filter.{name}` takes at most {MAX_FILTER_VALUES} values.")
        return flt

    def conditions(self, table: type[Any]) -> list[sa.ColumnElement[bool]]:
        action = table.action
        found: list[sa.ColumnElement[bool]] = []
        for part, values in ((1, self.modules), (2, self.entities), (3, self.verbs)):
            if values is not None:
                found.append(sa.func.split_part(action, ".", part).in_(list(values)))
        if self.actions is not None:
            found.append(action.in_(list(self.actions)))
        if self.actor_id is not None:
            found.append(table.actor_id == self.actor_id)
        if self.actor_type is not None:
            found.append(table.actor_type == self.actor_type)
        if self.target_type is not None:
            found.append(table.target_type == self.target_type)
        if self.target_id is not None:
            found.append(table.target_id == self.target_id)
        if self.occurred_from is not None:
            found.append(table.occurred_at >= self.occurred_from)
        if self.occurred_to is not None:
            found.append(table.occurred_at <= self.occurred_to)
        return found


def _account_where(tenant: TenantId, flt: AuditFilter | None) -> list[sa.ColumnElement[bool]]:
    # the tenant session adds the same filter and RLS enforces it; it is explicit here as everywhere
    return [AuditEvent.account_id == tenant.value, *(flt.conditions(AuditEvent) if flt else [])]


async def account_events_page(
    session: AsyncSession, tenant: TenantId, request: PageRequest, flt: AuditFilter | None
) -> Page:
    """One page of an account's trail, newest first, in the caller's tenant transaction."""
    pages = await page_children(session, AuditEvent, None, [], request, NEWEST_FIRST, _account_where(tenant, flt))
    return pages[ROOT]


async def account_events_count(session: AsyncSession, tenant: TenantId, flt: AuditFilter | None) -> int:
    return (await count_children(session, AuditEvent, None, [], _account_where(tenant, flt)))[ROOT]


async def platform_events_page(session: AsyncSession, request: PageRequest, flt: AuditFilter | None) -> Page:
    """One page of the platform trail (catalog changes), newest first, in a platform transaction."""
    where = flt.conditions(PlatformAuditEvent) if flt else []
    return (await page_children(session, PlatformAuditEvent, None, [], request, NEWEST_FIRST, where))[ROOT]


async def platform_events_count(session: AsyncSession, flt: AuditFilter | None) -> int:
    where = flt.conditions(PlatformAuditEvent) if flt else []
    return (await count_children(session, PlatformAuditEvent, None, [], where))[ROOT]


def parse_recorded_id(value: str) -> str:
    """Recorded ids are stored as text; a uuid is normalised to its canonical form."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value
