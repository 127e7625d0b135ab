"""Recorded cost anomalies: the daily job writes what `anomalies.anomalies` finds, admins list and
acknowledge them.

Recording is idempotent: each anomaly has a natural key (kind, day, dimension, dimension_key) under a
UNIQUE constraint and is inserted with ON CONFLICT DO NOTHING, so running a day twice, or two workers
racing on it, records it once (and never touches an acknowledgement). Spikes are judged for the given
UTC day from the rollups, so a catch-up over past days is exact. Pace alerts describe the cycle *now*
(the budget counters are current, not historical), so they are recorded only for the day that just
ended (`day` = yesterday of `now`), with dimension = the scope level and dimension_key = the scope id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import CostAnomaly
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit import repository as audit
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.errors import BadUserInput, UserErrorCode, UserInputError
from cockpit_graphql.domain.observability.anomalies import Anomalies, PaceAlert, Spike, anomalies
from cockpit_graphql.domain.pagination import (
    ROOT,
    Ordering,
    Page,
    PageRequest,
    SortDirection,
    count_children,
    page_children,
)

SPIKE = "SPIKE"
PACE = "PACE"
KINDS = (SPIKE, PACE)
NEWEST_FIRST = Ordering("detected_at", SortDirection.DESC)
"""The listing's order: detected_at DESC, id DESC (index ix_cost_anomalies_time)."""
MAX_NOTE = 1000
MAX_CATCH_UP_DAYS = 31


def _spike_row(tenant: TenantId, day: date, s: Spike, now: datetime) -> dict[str, Any]:
    return {
        "account_id": tenant.value,
        "id": uuid.uuid4(),
        "kind": SPIKE,
        "day": day,
        "dimension": s.dimension.value,
        "dimension_key": "" if s.key is None else str(s.key),
        "scope_level": None,
        "scope_id": None,
        "observed": s.credits,
        "baseline": s.mean,
        "deviation": (s.excess / s.std_dev) if s.std_dev > 0 else None,
        "details": {"mean": str(s.mean), "stdDev": str(s.std_dev), "excess": str(s.excess)},
        "detected_at": now,
    }


def _pace_row(tenant: TenantId, day: date, a: PaceAlert, now: datetime) -> dict[str, Any]:
    return {
        "account_id": tenant.value,
        "id": uuid.uuid4(),
        "kind": PACE,
        "day": day,
        "dimension": a.scope.level.value,
        "dimension_key": str(a.scope.id),
        "scope_level": a.scope.level.value,
        "scope_id": a.scope.id,
        "observed": a.spent,
        "baseline": a.cap,
        "deviation": a.projected - a.cap,
        "details": {
            "cap": str(a.cap),
            "projected": str(a.projected),
            "exceedsAt": a.exceeds_at.isoformat(),
            "cycleEndsAt": a.cycle_ends_at.isoformat(),
        },
        "detected_at": now,
    }


def rows_of(tenant: TenantId, found: Anomalies, now: datetime, *, with_pace: bool) -> list[dict[str, Any]]:
    rows = [_spike_row(tenant, found.day, s, now) for s in found.spikes]
    if with_pace:
        rows += [_pace_row(tenant, found.day, a, now) for a in found.pace]
    return rows


async def record_anomalies(session: AsyncSession, tenant: TenantId, day: date, now: datetime) -> int:
    """Judge `day` and record what is new (0 when nothing is, or it was recorded already). Pace alerts
    only when `day` is the day before `now` (UTC). Returns how many rows were inserted."""
    with_pace = day == now.astimezone(UTC).date() - timedelta(days=1)
    found = await anomalies(session, tenant, now, day)
    rows = rows_of(tenant, found, now, with_pace=with_pace)
    if not rows:
        return 0
    stmt = (
        insert(CostAnomaly)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_cost_anomalies_natural")
        .returning(CostAnomaly.__table__.c.id)  # type: ignore[attr-defined]
    )
    return len((await session.execute(stmt)).all())


async def record_range(session: AsyncSession, tenant: TenantId, from_day: date, to_day: date, now: datetime) -> int:
    """Catch-up: record every day of `from_day`..`to_day` (inclusive, at most 31 days)."""
    if from_day > to_day or (to_day - from_day).days >= MAX_CATCH_UP_DAYS:
        raise BadUserInput(f"A catch-up covers 1 to {MAX_CATCH_UP_DAYS} days.")
    total = 0
    day = from_day
    while day <= to_day:
        total += await record_anomalies(session, tenant, day, now)
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class AnomalyFilter:
    kind: str | None = None
    acknowledged: bool | None = None
    from_day: date | None = None
    to_day: date | None = None

    def validate(self) -> AnomalyFilter:
        if self.kind is not None and self.kind not in KINDS:
            raise BadUserInput("`filter.kind` must be SPIKE or PACE.")
        if self.from_day is not None and self.to_day is not None and self.from_day > self.to_day:
            raise BadUserInput("`filter.from` must not be after `filter.to`.")
        return self

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        t: Any = CostAnomaly
        found: list[sa.ColumnElement[bool]] = []
        if self.kind is not None:
            found.append(t.kind == self.kind)
        if self.acknowledged is not None:
            found.append(t.acknowledged_at.is_not(None) if self.acknowledged else t.acknowledged_at.is_(None))
        if self.from_day is not None:
            found.append(t.day >= self.from_day)
        if self.to_day is not None:
            found.append(t.day <= self.to_day)
        return found


def _where(tenant: TenantId, flt: AnomalyFilter | None) -> list[sa.ColumnElement[bool]]:
    return [CostAnomaly.account_id == tenant.value, *(flt.conditions() if flt else [])]  # type: ignore[arg-type]


async def anomalies_page(
    session: AsyncSession, tenant: TenantId, request: PageRequest, flt: AnomalyFilter | None
) -> Page:
    """One page of the account's recorded anomalies, newest first."""
    return (await page_children(session, CostAnomaly, None, [], request, NEWEST_FIRST, _where(tenant, flt)))[ROOT]


async def anomalies_count(session: AsyncSession, tenant: TenantId, flt: AnomalyFilter | None) -> int:
    return (await count_children(session, CostAnomaly, None, [], _where(tenant, flt)))[ROOT]


async def acknowledge(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    anomaly_id: uuid.UUID,
    note: str | None,
    now: datetime | None = None,
) -> CostAnomaly:
    """Mark one recorded anomaly acknowledged (with an optional note), audited in the same transaction.
    userErrors: NOT_FOUND (not in this account), NOTHING_TO_CHANGE (acknowledged already), TOO_LONG."""
    if note is not None and len(note) > MAX_NOTE:
        raise UserInputError.single("note", UserErrorCode.TOO_LONG, f"`note` has at most {MAX_NOTE} characters.")
    row = await session.scalar(
        sa.select(CostAnomaly)
        .where(CostAnomaly.account_id == tenant.value, CostAnomaly.id == anomaly_id)  # type: ignore[arg-type]
        .with_for_update()
    )
    if row is None:
        raise UserInputError.single("id", UserErrorCode.NOT_FOUND, "No such anomaly in this account.")
    if row.acknowledged_at is not None:
        raise UserInputError.single("id", UserErrorCode.NOTHING_TO_CHANGE, "The anomaly is acknowledged already.")
    row.acknowledged_at = now or datetime.now(UTC)
    row.acknowledged_by = op.actor.label
    row.note = note
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        tenant,
        op,
        AuditAction.ANOMALY_ACKNOWLEDGED,
        target_type="CostAnomaly",
        target_id=row.id,
        before={"acknowledged": False, "note": None},
        after={"acknowledged": True, "note": note},
    )
    return row
