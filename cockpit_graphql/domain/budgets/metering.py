"""The runtime's calls: authorize (reserve), record usage (single and batch), settle, release, expire.

Every check-and-write runs under the account's budget mutex and the cycle row's lock (FOR NO KEY
UPDATE). So N concurrent authorizations can never together pass a cap that each alone would pass, and
the included/overflow split of concurrent usage is exact: usage written ahead of the mutex is checked
under it and redone there when its predicted split does not hold (`_record_ahead`). These calls are
their own record (ledger, usage events, reservations) and write no audit event.

A usage event carries its cost in USD, or leaves it out and names a catalog model: the cost is then
priced from the model's token prices (`usd_for_tokens`; its credits come from the unrounded cost, and the
event stores the cost rounded half-up to the 10 decimals a cost has), with every model of a batch loaded in
one statement.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BudgetCycle, BudgetPlan, Reservation, UsageEvent
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.allocation import Allocation, allocate
from cockpit_graphql.domain.budgets.cycles import cycle_bounds
from cockpit_graphql.domain.budgets.factors import factor_history
from cockpit_graphql.domain.budgets.money import ZERO, credits_of
from cockpit_graphql.domain.budgets.notices import detect_notices, insert_notices, notice_caps
from cockpit_graphql.domain.budgets.repository import CounterDelta
from cockpit_graphql.domain.budgets.scopes import Placement, PlacementTimeline, Scope, ScopeLevel, UserChains
from cockpit_graphql.domain.budgets.usage_write import RecordedEvent, add_rollups, new_event_ids, write_events
from cockpit_graphql.domain.budgets.validation import clean_amount
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.models.catalog import models_by_ids
from cockpit_graphql.domain.models.prices import usd_for_tokens

MAX_BATCH = 1000
MAX_KEY = 200
FUTURE_SKEW = timedelta(minutes=5)
EARLIEST_OCCURRED_AT = datetime(1970, 1, 1, tzinfo=UTC)  # an earlier instant is a client's bug, not a late event
MAX_COST_USD = Decimal(100_000)  # per event; with creditsPerUsd ≤ 1e6 credits stay inside NUMERIC(20, 6)
DEFAULT_GRACE = timedelta(hours=1)
USD_QUANTUM = Decimal("1E-10")  # a cost has at most 10 decimals (NUMERIC(20, 10))


class DenialReason(StrEnum):
    NO_PLAN = "NO_PLAN"
    CAP_EXCEEDED = "CAP_EXCEEDED"
    POOL_EXHAUSTED = "POOL_EXHAUSTED"
    OVERFLOW_CAP_REACHED = "OVERFLOW_CAP_REACHED"


@dataclass(frozen=True)
class AuthorizationRequest:
    user_id: uuid.UUID
    estimated_credits: Decimal
    ttl_seconds: int
    agent_id: str | None = None
    model_id: str | None = None


@dataclass(frozen=True)
class AuthorizationResult:
    allowed: bool
    reservation: Reservation | None
    reason: DenialReason | None
    binding: Scope | None
    allocation: Allocation | None


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__, 1.2 ms a batch
class UsageInput:
    idempotency_key: str
    user_id: uuid.UUID
    cost_usd: Decimal | None  # None: priced from the catalog model's token prices
    occurred_at: datetime
    agent_id: str | None = None
    model_id: str | None = None  # free text as reported (a catalog Model id when pricing by tokens)
    connection_ids: tuple[str, ...] = ()
    guardrails: tuple[str, ...] = ()
    tokens_in: int = 0
    tokens_out: int = 0
    reservation_id: uuid.UUID | None = None
    catalog_model_id: uuid.UUID | None = None  # the catalog model `model_id` names, when it names one


class UsageOutcome(NamedTuple):
    """What a call answers for one input event: the event recorded under its key, and whether it was
    recorded before (a replay). A named tuple: a batch makes 1,000 of them."""

    event: UsageEvent | RecordedEvent
    replayed: bool


@dataclass
class _CycleState:
    cycle: BudgetCycle
    plan: BudgetPlan
    pool: Decimal
    included: Decimal
    deltas: dict[Scope, CounterDelta] = field(default_factory=dict)
    spent_by_place: dict[Placement, Decimal] = field(default_factory=dict)  # this call's credits per placement
    overflow: Decimal = ZERO  # this call's overflow credits
    included_before: Decimal = field(init=False)  # the pool's included credits before this call

    def __post_init__(self) -> None:
        self.included_before = self.included

    def spend(self, place: Placement, credits: Decimal) -> None:
        """Count an event's credits where it is placed (its snapshot: `_placement_of`)."""
        self.spent_by_place[place] = self.spent_by_place.get(place, ZERO) + credits

    def add_spending(self) -> None:
        """Turn this call's credits per placement into counter deltas along each placement's chain: summed
        per user, team, organization and account first, so one delta is built per scope touched (not one
        per event and level: that was ~19 ms of a 1,000-event batch)."""
        if not self.spent_by_place:
            return
        by_user: dict[uuid.UUID, Decimal] = {}
        by_team: dict[uuid.UUID, Decimal] = {}
        by_org: dict[uuid.UUID, Decimal] = {}
        total = ZERO
        for place, credits in self.spent_by_place.items():
            by_user[place.user_id] = by_user.get(place.user_id, ZERO) + credits
            by_team[place.team_id] = by_team.get(place.team_id, ZERO) + credits
            by_org[place.organization_id] = by_org.get(place.organization_id, ZERO) + credits
            total += credits
        for user_id, credits in by_user.items():
            add_delta(self.deltas, Scope(ScopeLevel.USER, user_id), CounterDelta(spent=credits))
        for team_id, credits in by_team.items():
            add_delta(self.deltas, Scope(ScopeLevel.TEAM, team_id), CounterDelta(spent=credits))
        for org_id, credits in by_org.items():
            add_delta(self.deltas, Scope(ScopeLevel.ORGANIZATION, org_id), CounterDelta(spent=credits))
        account = CounterDelta(spent=total, included=self.included - self.included_before, overflow=self.overflow)
        add_delta(self.deltas, Scope(ScopeLevel.ACCOUNT, self.cycle.account_id), account)


def add_delta(deltas: dict[Scope, CounterDelta], scope: Scope, delta: CounterDelta) -> None:
    """Add `delta` to the scope's entry of `deltas` (a plain dict: a defaultdict built and added a zero
    delta first for every scope, ~1,200 of them a batch)."""
    deltas[scope] = deltas[scope] + delta if scope in deltas else delta


# --- authorization ----------------------------------------------------------------------------


async def authorize(
    session: AsyncSession, tenant: TenantId, request: AuthorizationRequest, now: datetime
) -> AuthorizationResult:
    clean_amount(request.estimated_credits, "estimatedCredits", allow_zero=False)
    if not 1 <= request.ttl_seconds <= 3600:
        raise UserInputError.single("ttlSeconds", UserErrorCode.INVALID, "`ttlSeconds` must be 1 to 3600.")
    placement = (await repo.placements(session, tenant, [request.user_id])).get(request.user_id)
    if placement is None:
        raise UserInputError.single("userId", UserErrorCode.NOT_FOUND, "No such user in this account.")
    await repo.lock_account_budget(session, tenant)
    opened = await repo.ensure_cycle(session, tenant, now)
    if opened is None:
        return AuthorizationResult(False, None, DenialReason.NO_PLAN, Scope(ScopeLevel.ACCOUNT, tenant.value), None)
    cycle = await repo.lock_cycle(session, opened.id)
    await expire_due(session, tenant, cycle.id, now)
    allocation = await allocation_for(session, cycle, placement.chain())
    needed = request.estimated_credits
    short = [lvl for lvl in allocation.levels if lvl.headroom is not None and lvl.headroom < needed]
    if short:
        binding = min(reversed(short), key=lambda lvl: lvl.headroom)  # type: ignore[arg-type,return-value]
        return AuthorizationResult(False, None, _reason(binding.scope, allocation), binding.scope, allocation)
    reservation = Reservation(
        account_id=tenant.value,
        id=uuid.uuid4(),
        cycle_id=cycle.id,
        user_id=placement.user_id,
        organization_id=placement.organization_id,
        team_id=placement.team_id,
        credits=needed,
        agent_id=request.agent_id,
        model_id=request.model_id,
        expires_at=now + timedelta(seconds=request.ttl_seconds),
        created_at=now,
    )
    session.add(reservation)
    await session.flush()
    await repo.bump_counters(session, tenant, cycle.id, {s: CounterDelta(reserved=needed) for s in placement.chain()})
    return AuthorizationResult(True, reservation, None, allocation.binding, allocation)


def _reason(scope: Scope, allocation: Allocation) -> DenialReason:
    if scope.level is not ScopeLevel.ACCOUNT:
        return DenialReason.CAP_EXCEEDED
    if allocation.overflow_headroom is not None:
        return DenialReason.OVERFLOW_CAP_REACHED
    return DenialReason.POOL_EXHAUSTED


async def allocation_for(session: AsyncSession, cycle: BudgetCycle, chain: list[Scope]) -> Allocation:
    """Effective allocation of the last scope of `chain` in `cycle` (the one rule, via allocate())."""
    plan = await session.get(BudgetPlan, (cycle.account_id, cycle.plan_id))
    assert plan is not None
    ceiling = await repo.ceiling_of(session, cycle, plan)
    settings = await repo.scope_settings(session, chain)
    ctr = await repo.counters(session, cycle.id, chain)
    return allocate(
        chain,
        settings,
        ceiling,
        {s: c.spent for s, c in ctr.items()},
        {s: c.reserved for s, c in ctr.items()},
    )


# --- reservations -----------------------------------------------------------------------------


def _release_deltas(reservations: list[Reservation]) -> dict[uuid.UUID, dict[Scope, CounterDelta]]:
    out: dict[uuid.UUID, dict[Scope, CounterDelta]] = defaultdict(lambda: defaultdict(CounterDelta))
    for r in reservations:
        placement = Placement(r.account_id, r.organization_id, r.team_id, r.user_id)
        for scope in placement.chain():
            out[r.cycle_id][scope] = out[r.cycle_id][scope] + CounterDelta(reserved=-r.credits)
    return out


# 'HELD' as a constant, never a bind parameter: the holds due are read through the partial index
# `ix_budget_reservations_held` (WHERE status = 'HELD'), which a plan may use only when it can see the
# value. asyncpg prepares every statement, and PostgreSQL's generic plan of `status = $1` scanned every
# reservation the account ever made (tests/budgets/test_generic_plans.py).
HELD = sa.literal_column("'HELD'")


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return Reservation.status == HELD, Reservation.expires_at <= now


def expiry(cycle_id: uuid.UUID, now: datetime) -> sa.Update:
    """Mark the cycle's holds due at `now` EXPIRED, answering them (the caller holds the cycle lock)."""
    return (
        sa.update(Reservation)
        .where(*_due(now), Reservation.cycle_id == cycle_id)
        .values(status="EXPIRED", resolved_at=now)
        .returning(Reservation)
    )


async def expire_due(session: AsyncSession, tenant: TenantId, cycle_id: uuid.UUID | None, now: datetime) -> int:
    """Release holds whose TTL passed (the worker runs this; authorization runs it too, so a late
    worker never blocks budget). The caller holds the cycle lock when `cycle_id` is given; without
    one, each cycle with due holds is locked first, in id order, like every other metering write
    (so the sweep never deadlocks with a settle that locks the same reservations)."""
    if cycle_id is None:
        await repo.lock_account_budget(session, tenant)
        due = await session.scalars(sa.select(Reservation.cycle_id).where(*_due(now)).distinct())
        total = 0
        for cid in sorted(due.all()):
            await repo.lock_cycle(session, cid)
            total += await expire_due(session, tenant, cid, now)
        return total
    stmt = expiry(cycle_id, now)
    expired = list((await session.scalars(stmt, execution_options={"synchronize_session": False})).all())
    for cid, deltas in _release_deltas(expired).items():
        await repo.bump_counters(session, tenant, cid, deltas)
    return len(expired)


async def release(session: AsyncSession, tenant: TenantId, reservation_id: uuid.UUID, now: datetime) -> Reservation:
    """Give a hold back without usage (the call was not made)."""
    found = await session.get(Reservation, (tenant.value, reservation_id))
    if found is None:
        raise UserInputError.single("reservationId", UserErrorCode.NOT_FOUND, "No such reservation.")
    await repo.lock_account_budget(session, tenant)
    await repo.lock_cycle(session, found.cycle_id)
    await session.refresh(found, with_for_update=True)
    if found.status != "HELD":
        raise UserInputError.single(
            "reservationId", UserErrorCode.ILLEGAL_TRANSITION, f"The reservation is already {found.status}."
        )
    found.status, found.resolved_at = "RELEASED", now
    await session.flush()
    for cid, deltas in _release_deltas([found]).items():
        await repo.bump_counters(session, tenant, cid, deltas)
    return found


# --- usage ------------------------------------------------------------------------------------


def _validate_batch(inputs: list[UsageInput]) -> None:
    if not inputs:
        raise UserInputError.single("events", UserErrorCode.REQUIRED, "Send at least one usage event.")
    if len(inputs) > MAX_BATCH:
        raise UserInputError.single("events", UserErrorCode.INVALID, f"At most {MAX_BATCH} events per call.")


def _validate(inputs: list[UsageInput], now: datetime, only: set[int]) -> None:
    """Validate the events that will be written (replays are answered as they were, unchecked)."""
    problems: list[UserErrorItem] = []
    for i, event in enumerate(inputs):
        if i not in only:
            continue
        path = ("events", str(i))
        key = event.idempotency_key.strip()
        if not key or len(key) > MAX_KEY:
            problems.append(
                UserErrorItem(
                    (*path, "idempotencyKey"),
                    UserErrorCode.INVALID,
                    f"`idempotencyKey` must be 1 to {MAX_KEY} characters.",
                )
            )
        cost = event.cost_usd
        if cost is None:
            if event.catalog_model_id is None and event.model_id:
                problems.append(
                    UserErrorItem(
                        (*path, "modelId"),
                        UserErrorCode.NOT_FOUND,
                        "Without `costUsd`, `modelId` must be a catalog Model id (its token prices give the cost).",
                    )
                )
            elif event.catalog_model_id is None:
                problems.append(
                    UserErrorItem(
                        (*path, "costUsd"),
                        UserErrorCode.REQUIRED,
                        "Send `costUsd`, or a catalog Model id as `modelId` with the token counts.",
                    )
                )
        elif not cost.is_finite() or cost < 0 or cost.as_tuple().exponent < -10 or cost > MAX_COST_USD:  # type: ignore[operator]
            problems.append(
                UserErrorItem(
                    (*path, "costUsd"), UserErrorCode.INVALID, "`costUsd` must be 0 to 100000 with at most 10 decimals."
                )
            )
        if event.occurred_at.tzinfo is None:
            problems.append(
                UserErrorItem((*path, "occurredAt"), UserErrorCode.INVALID, "`occurredAt` needs a time zone.")
            )
        elif not _in_utc_range(event.occurred_at) or event.occurred_at < EARLIEST_OCCURRED_AT:
            problems.append(
                UserErrorItem(
                    (*path, "occurredAt"), UserErrorCode.INVALID, "`occurredAt` must be 1970-01-01T00:00:00Z or later."
                )
            )
        elif event.occurred_at > now + FUTURE_SKEW:
            problems.append(
                UserErrorItem((*path, "occurredAt"), UserErrorCode.INVALID, "`occurredAt` is in the future.")
            )
        if event.tokens_in < 0 or event.tokens_out < 0:
            problems.append(UserErrorItem((*path, "tokensIn"), UserErrorCode.INVALID, "Token counts must be ≥ 0."))
    if problems:
        raise UserInputError(*problems)


def _in_utc_range(instant: datetime) -> bool:
    """0001-01-01T00:00+14:00 is a valid datetime but no UTC one (fuzzing found it as INTERNAL)."""
    try:
        instant.astimezone(UTC)
    except OverflowError:
        return False
    return True


async def _costs(session: AsyncSession, inputs: list[UsageInput], only: set[int]) -> dict[int, Decimal]:
    """The cost of each event to write: as reported, or priced from its catalog model's token prices
    (every model of the batch loaded in one statement), unrounded: domain.md §2 computes credits from the
    unrounded cost; the event stores it rounded to a cost's 10 decimals (`_recorded`). Unknown models are
    NOT_FOUND on `modelId`."""
    priced = sorted(i for i in only if inputs[i].cost_usd is None)
    models = await models_by_ids(session, {inputs[i].catalog_model_id for i in priced})  # type: ignore[misc]
    costs: dict[int, Decimal] = {i: inputs[i].cost_usd for i in only if inputs[i].cost_usd is not None}  # type: ignore[misc]
    problems: list[UserErrorItem] = []
    for i in priced:
        event = inputs[i]
        model = models.get(event.catalog_model_id)  # type: ignore[arg-type]
        if model is None:
            problems.append(
                UserErrorItem(("events", str(i), "modelId"), UserErrorCode.NOT_FOUND, "No such model in the catalog.")
            )
            continue
        cost = usd_for_tokens(model, event.tokens_in, event.tokens_out)  # unrounded: credits are computed from it
        if cost > MAX_COST_USD:
            problems.append(
                UserErrorItem(
                    ("events", str(i), "tokensIn"),
                    UserErrorCode.INVALID,
                    f"The tokens cost {cost} USD at the model's prices: more than {MAX_COST_USD} per event.",
                )
            )
        costs[i] = cost
    if problems:
        raise UserInputError(*problems)
    return costs


async def record_usage(
    session: AsyncSession,
    tenant: TenantId,
    inputs: list[UsageInput],
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> list[UsageOutcome]:
    """Store what was consumed, idempotently per `idempotencyKey`; a replay returns the first result
    and changes nothing (it is not re-validated: the user may have left, the cycle may have closed).

    Most calls take the write-ahead path (`_record_ahead`); what it cannot decide without the account's
    budget mutex takes the locked path, which holds the mutex from the start."""
    _validate_batch(inputs)
    if not any(e.reservation_id for e in inputs):
        ahead = await _record_ahead(session, tenant, inputs, now)
        if ahead is not None:
            return ahead
    return await _record_locked(session, tenant, inputs, now, grace)


class _Split(StrEnum):
    INCLUDED = "INCLUDED"  # every new event wholly inside the pool
    OVERFLOW = "OVERFLOW"  # the pool already used up: every new event wholly overflow


async def _record_ahead(
    session: AsyncSession, tenant: TenantId, inputs: list[UsageInput], now: datetime
) -> list[UsageOutcome] | None:
    """The write-ahead path: the events and their ledger entries are written BEFORE the account's budget
    mutex, so one account's calls overlap instead of queueing for their whole length; under the mutex
    only the rollups, the running totals and the notices remain. None: take the locked path instead
    (anything written here is rolled back to the savepoint first).

    It applies when every new event falls in the open cycle (which must exist) and the batch is
    wholly included or wholly overflow as the pool stood at an unlocked read: both splits are
    independent of the order of concurrent calls, so they are checked once under the mutex against the
    totals as they are then (the account's included credits, the pool) and the cycle's status; a
    prediction proved wrong, a closed cycle or a concurrent call that wrote the same idempotency key
    rolls back to the savepoint and goes the locked way. Calls settling reservations go the locked way.
    A cycle row is locked FOR NO KEY UPDATE by every mutex holder (`repo.lock_cycle`), which does not
    wait for the KEY SHARE of the foreign keys that still point at it (reservations, notices)."""
    keys, existing, fresh = await _sort_out_replays(session, inputs)
    if not fresh:
        return [UsageOutcome(existing[key], replayed=True) for key in keys]
    _validate(inputs, now, fresh)
    costs = await _costs(session, inputs, fresh)
    cycle, _ = await repo.current_cycle(session, now)
    if cycle is None or cycle.status == "CLOSED":
        return None
    if any(not (cycle.starts_at <= inputs[i].occurred_at < cycle.ends_at) for i in fresh):
        return None  # an event of another cycle, or late: the locked path decides where it goes
    timeline = await _timeline_of(session, tenant, inputs, fresh)
    places = timeline.current
    if any(inputs[i].user_id not in places for i in fresh):
        return None  # the locked path reports them
    factor = await _factors_of(session, tenant, inputs, fresh)
    account_scope = Scope(ScopeLevel.ACCOUNT, tenant.value)
    pool = await repo.pool_of(session, cycle.id)
    seen_included = (await repo.counters(session, cycle.id, [account_scope])).get(account_scope)
    included_before = seen_included.included if seen_included is not None else ZERO
    credits = {i: credits_of(costs[i], factor[i]) for i in fresh}
    total = sum(credits.values(), ZERO)
    if included_before + total <= pool:
        split = _Split.INCLUDED
    elif included_before >= pool:
        split = _Split.OVERFLOW
    else:
        return None  # the batch would cross the pool: the locked path splits it exactly

    plan = await session.get(BudgetPlan, (tenant.value, cycle.plan_id))  # plan versions never change
    assert plan is not None
    state = _CycleState(cycle, plan, pool, included_before)
    outcomes: list[UsageOutcome] = []
    new_events: list[RecordedEvent] = []
    ids = iter(new_event_ids(len(fresh)))
    cycle_id = cycle.id
    all_included = split is _Split.INCLUDED
    for i, (event, key) in enumerate(zip(inputs, keys, strict=True)):
        if key in existing:
            outcomes.append(UsageOutcome(existing[key], replayed=True))
            continue
        place = timeline.at(event.user_id, event.occurred_at)
        assert place is not None  # every user is placed (checked above)
        amount = credits[i]
        included = amount if all_included else ZERO
        cost = costs[i]
        row = _recorded(tenant, next(ids), key, cycle_id, False, now, event, place, cost, factor[i], amount, included)
        new_events.append(row)
        existing[key] = row
        outcomes.append(UsageOutcome(row, replayed=False))
        state.spend(place, amount)
    if all_included:
        state.included += total
    else:
        state.overflow += total
    state.add_spending()
    chains = UserChains.of(places.values())  # before the mutex: it needs only the placements

    savepoint = await session.begin_nested()
    try:
        await write_events(session, new_events, with_rollups=False)
    except IntegrityError:  # a concurrent call wrote one of these keys first: replay it, locked
        await savepoint.rollback()
        return None
    await repo.lock_account_budget(session, tenant)
    locked = await repo.lock_cycle(session, cycle.id)
    pool_now = await repo.pool_of(session, cycle.id)
    if locked.status == "CLOSED" or pool_now != pool:
        await savepoint.rollback()
        return None
    caps = await notice_caps(session, pool, state.deltas, chains)
    after = await repo.bump_counters_watching(session, tenant, cycle.id, state.deltas, caps, account_scope)
    included_now = after[account_scope].included  # with this call's included credits
    holds = included_now <= pool if split is _Split.INCLUDED else included_now >= pool
    if not holds:
        await savepoint.rollback()
        return None
    await add_rollups(session, tenant.value, [e.id for e in new_events])
    await insert_notices(session, tenant, detect_notices(locked, plan, state.deltas, caps, after))
    await savepoint.commit()
    return outcomes


async def _record_locked(
    session: AsyncSession,
    tenant: TenantId,
    inputs: list[UsageInput],
    now: datetime,
    grace: timedelta,
) -> list[UsageOutcome]:
    """The locked path: the account's budget mutex from the start (reservations, late events, events of
    another cycle, a batch crossing the pool, the cycle still to open)."""
    await repo.lock_account_budget(session, tenant)
    keys, existing, fresh = await _sort_out_replays(session, inputs)
    if not fresh:
        return [UsageOutcome(existing[key], replayed=True) for key in keys]
    _validate(inputs, now, fresh)
    costs = await _costs(session, inputs, fresh)
    open_cycle = await repo.ensure_cycle(session, tenant, now)
    if open_cycle is None:
        raise UserInputError.single("events", UserErrorCode.INVALID, "The account has no budget plan (NO_PLAN).")
    timeline = await _timeline_of(session, tenant, inputs, fresh)
    places = timeline.current
    missing = sorted(i for i in fresh if inputs[i].user_id not in places)
    if missing:
        raise UserInputError(
            *(
                UserErrorItem(("events", str(i), "userId"), UserErrorCode.NOT_FOUND, "No such user in this account.")
                for i in missing
            )
        )
    targets: dict[int, tuple[uuid.UUID, bool]] = {}
    day = await repo.renewal_day(session)
    assert day is not None  # a plan exists: open_cycle was found
    cycles_by_start: dict[datetime, BudgetCycle | None] = {open_cycle.starts_at: open_cycle}
    for i in sorted(fresh):
        at = inputs[i].occurred_at
        if open_cycle.starts_at <= at < open_cycle.ends_at:  # most events: no bounds to compute
            targets[i] = (open_cycle.id, False)
            continue
        cycle = await _cycle_of(session, day, at, cycles_by_start)
        if cycle is not None and cycle.id == open_cycle.id:
            targets[i] = (open_cycle.id, False)
        elif cycle is None or cycle.status == "CLOSED" or cycle.ends_at + grace <= now:
            targets[i] = (open_cycle.id, True)  # its cycle is closed (or due to close): late, in the open one
        else:
            targets[i] = (cycle.id, False)
    states: dict[uuid.UUID, _CycleState] = {}
    closed: set[uuid.UUID] = set()
    # Lock every target cycle and the open one, in a fixed order (no deadlocks with renewal).
    for cycle_id in sorted({t[0] for t in targets.values()} | {open_cycle.id}):
        locked = await repo.lock_cycle(session, cycle_id)
        if locked.status == "CLOSED":  # a renewal closed it while we waited
            closed.add(cycle_id)
            continue
        plan = await session.get(BudgetPlan, (tenant.value, locked.plan_id))
        assert plan is not None
        account_scope = Scope(ScopeLevel.ACCOUNT, tenant.value)
        ctr = await repo.counters(session, cycle_id, [account_scope])
        included = ctr[account_scope].included if account_scope in ctr else ZERO
        states[cycle_id] = _CycleState(locked, plan, await repo.pool_of(session, cycle_id), included)
    for i, (cycle_id, _late) in list(targets.items()):
        if cycle_id in closed:  # never write into a closed cycle: the open one takes it, flagged late
            targets[i] = (open_cycle.id, True)

    factor = await _factors_of(session, tenant, inputs, fresh)
    reservations = await _reservations_to_settle(session, inputs)

    outcomes: list[UsageOutcome] = []
    settled: set[uuid.UUID] = set()
    new_events: list[RecordedEvent] = []
    release: list[Reservation] = []
    ids = iter(new_event_ids(len(fresh)))
    for i, (event, key) in enumerate(zip(inputs, keys, strict=True)):
        if key in existing:
            outcomes.append(UsageOutcome(existing[key], replayed=True))
            continue
        held = reservations.get(event.reservation_id) if event.reservation_id else None
        if event.reservation_id and held is None:
            raise UserInputError.single(
                ("events", str(i), "reservationId"), UserErrorCode.NOT_FOUND, "No such reservation."
            )
        cycle_id, late = targets[i]
        state = states[cycle_id]
        cost = costs[i]
        credits = credits_of(cost, factor[i])
        included = min(credits, max(state.pool - state.included, ZERO))
        overflow = credits - included
        state.included += included
        happened_in = timeline.at(event.user_id, event.occurred_at)
        assert happened_in is not None  # every user is placed (checked above)
        place = _placement_of(happened_in, held)
        row = _recorded(tenant, next(ids), key, cycle_id, late, now, event, place, cost, factor[i], credits, included)
        new_events.append(row)
        existing[key] = row
        outcomes.append(UsageOutcome(row, replayed=False))
        state.spend(place, credits)
        state.overflow += overflow
        if held is not None:
            if held.status in ("SETTLED", "RELEASED") or held.id in settled:
                raise UserInputError.single(
                    ("events", str(i), "reservationId"),
                    UserErrorCode.ILLEGAL_TRANSITION,
                    f"The reservation is already {'SETTLED' if held.id in settled else held.status}.",
                )
            settled.add(held.id)
            if held.status == "HELD":
                release.append(held)

    for state in states.values():
        state.add_spending()
    # One statement for the whole batch: the events (plain rows: ORM instances cost ~0.2 ms each), their
    # USAGE / OVERFLOW_USAGE ledger entries and the daily rollups, derived in SQL (usage_write.py).
    await write_events(session, new_events)
    for r in release:
        r.status, r.resolved_at = "SETTLED", now
    for r in reservations.values():  # an expired hold that a late settle names is marked settled too
        if r.status == "EXPIRED" and r.id in settled:
            r.status = "SETTLED"
    await session.flush()
    release_deltas = _release_deltas(release)
    chains = UserChains.of(places.values())
    for cycle_id in sorted(set(states) | set(release_deltas)):
        spending = states[cycle_id].deltas if cycle_id in states else {}
        deltas = dict(spending)
        for scope, d in release_deltas.get(cycle_id, {}).items():
            add_delta(deltas, scope, d)
        if not spending:
            await repo.bump_counters(session, tenant, cycle_id, deltas)
            continue
        state = states[cycle_id]
        caps = await notice_caps(session, state.pool, spending, chains)
        account = Scope(ScopeLevel.ACCOUNT, tenant.value)
        after = await repo.bump_counters_watching(session, tenant, cycle_id, deltas, caps, account)
        await insert_notices(session, tenant, detect_notices(state.cycle, state.plan, spending, caps, after))
    return outcomes


async def _sort_out_replays(
    session: AsyncSession, inputs: list[UsageInput]
) -> tuple[list[str], dict[str, UsageEvent | RecordedEvent], set[int]]:
    """The calls' keys, the events already recorded under them, and the indexes of the inputs to write:
    the first occurrence of a new key is written; later ones, and keys recorded before, replay."""
    keys = [e.idempotency_key.strip() for e in inputs]
    existing: dict[str, UsageEvent | RecordedEvent] = {
        ev.idempotency_key: ev for ev in (await session.scalars(_replays(keys))).all()
    }
    fresh: set[int] = set()
    seen: set[str] = set(existing)
    for i, key in enumerate(keys):
        if key not in seen:
            fresh.add(i)
            seen.add(key)
    return keys, existing, fresh


def _recorded(
    tenant: TenantId,
    event_id: uuid.UUID,
    key: str,
    cycle_id: uuid.UUID,
    late: bool,
    now: datetime,
    event: UsageInput,
    place: Placement,
    cost: Decimal,
    factor: Decimal,
    credits: Decimal,
    included: Decimal,
) -> RecordedEvent:
    """The usage event to write: the input as reported, where it is counted (`_placement_of`), its price and split."""
    return RecordedEvent(
        account_id=tenant.value,
        id=event_id,
        idempotency_key=key,
        cycle_id=cycle_id,
        occurred_at=event.occurred_at,
        recorded_at=now,
        late=late,
        user_id=place.user_id,
        organization_id=place.organization_id,
        team_id=place.team_id,
        agent_id=event.agent_id,
        model_id=event.model_id,
        connection_ids=list(event.connection_ids),
        guardrails=list(event.guardrails),
        tokens_in=event.tokens_in,
        tokens_out=event.tokens_out,
        cost_usd=cost.quantize(USD_QUANTUM, rounding=ROUND_HALF_UP),  # a priced cost may have more decimals
        credits_per_usd=factor,
        credits=credits,
        included_credits=included,
        overflow_credits=credits - included,
        reservation_id=event.reservation_id,
    )


def _replays(keys: list[str]) -> sa.Select[tuple[UsageEvent]]:
    """The events already recorded under `keys`, through the (account, key) unique index. A batch
    sends one array parameter: an IN list of 1,000 bind parameters was planned as a filter over
    every event of the account once the plan went generic (218 ms a batch at 30,000 events). A
    single event has a statement text of its own: sharing the batch's text, PostgreSQL's generic plan
    learned from hundreds of one-key lookups later ran the 1,000-key lookups at ~360 ms each
    (the bench's slow-statement log, recordUsageBatch after the recordUsage cases)."""
    if len(keys) == 1:
        return sa.select(UsageEvent).where(UsageEvent.idempotency_key == keys[0])
    return sa.select(UsageEvent).where(
        UsageEvent.idempotency_key == sa.any_(sa.bindparam("keys", keys, type_=ARRAY(sa.Text)))
    )


async def _cycle_of(
    session: AsyncSession, day: int, at: datetime, cache: dict[datetime, BudgetCycle | None]
) -> BudgetCycle | None:
    """The existing cycle an event's `occurredAt` falls in. A past cycle that no write ever opened is
    not opened now (it would grant a month nobody used): its events go to the open cycle, late."""
    start, _ = cycle_bounds(day, at)
    if start not in cache:
        cache[start] = await repo.cycle_at(session, start)
    return cache[start]


async def _factors_of(
    session: AsyncSession, tenant: TenantId, inputs: list[UsageInput], fresh: set[int]
) -> dict[int, Decimal]:
    """The factor in force when each new event happened (domain.md §2; `factors.FactorHistory`): one
    statement, the account's factor and its changes since the earliest of them."""
    history = await factor_history(session, tenant, min(inputs[i].occurred_at for i in fresh))
    return {i: history.at(inputs[i].occurred_at) for i in fresh}


async def _timeline_of(
    session: AsyncSession, tenant: TenantId, inputs: list[UsageInput], fresh: set[int]
) -> PlacementTimeline:
    """Where the new events' users are now and were since the earliest of them happened: one statement."""
    since = min(inputs[i].occurred_at for i in fresh)
    return await repo.placement_timeline(session, tenant, [inputs[i].user_id for i in fresh], since)


def _placement_of(happened_in: Placement, held: Reservation | None) -> Placement:
    """Where an event is counted: the user's placement when it happened (`PlacementTimeline.at`), or,
    when it settles the user's own reservation, the placement the reservation snapshotted when the call
    was authorized (domain.md §1: past usage keeps the placement it had when it happened; the hold it
    releases was counted there)."""
    if held is None or held.user_id != happened_in.user_id:
        return happened_in
    return Placement(happened_in.account_id, held.organization_id, held.team_id, happened_in.user_id)


async def _reservations_to_settle(session: AsyncSession, inputs: list[UsageInput]) -> dict[uuid.UUID, Reservation]:
    ids = {e.reservation_id for e in inputs if e.reservation_id}
    if not ids:
        return {}
    stmt = sa.select(Reservation).where(Reservation.id.in_(ids)).with_for_update()
    return {r.id: r for r in (await session.scalars(stmt)).all()}
