"""Budget queries and mutations: parse input -> budget service in one tenant transaction -> payload."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import BudgetCap
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.budgets import adjustments, caps, metering, on_demand, plans, settlements
from cockpit_graphql.domain.budgets.metering import AuthorizationRequest, AuthorizationResult, UsageInput, UsageOutcome
from cockpit_graphql.domain.budgets.plans import OverflowPolicy, PlanTerms
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import (
    Plan,
    R,
    Work,
    default_account,
    mutate,
    parse_optional_ref,
    parse_ref,
)
from cockpit_graphql.types.budget_mutations import (
    AdjustCreditsInput,
    Authorization,
    AuthorizeUsageInput,
    AuthorizeUsagePayload,
    BudgetCapPayload,
    BudgetPlanPayload,
    ClearBudgetCapInput,
    CycleRenewal,
    InvoiceSettlementInput,
    LedgerEntryPayload,
    RecordUsageBatchInput,
    RecordUsageBatchPayload,
    RecordUsagePayload,
    ReleaseReservationInput,
    RenewBudgetCycleInput,
    RenewBudgetCyclePayload,
    ReservationPayload,
    SetBudgetCapInput,
    SetBudgetPlanInput,
    SettlementPayload,
    SettleReservationInput,
    SettleSettlementInput,
    UsageEventInput,
    UsageResult,
    WriteOffSettlementInput,
)
from cockpit_graphql.types.budgets import (
    BudgetPlan,
    BudgetScope,
    BudgetSettings,
    EffectiveAllocation,
    LedgerEntry,
    Reservation,
    Settlement,
    UsageEvent,
)
from cockpit_graphql.types.ids import GlobalId, decode_id, encode_id

WHAT = "What to change."
MANAGE = Permission.MANAGE_BUDGETS
METER = Permission.RUNTIME_METERING
LEVELS = {
    "Account": ScopeLevel.ACCOUNT,
    "Organization": ScopeLevel.ORGANIZATION,
    "Team": ScopeLevel.TEAM,
    "User": ScopeLevel.USER,
}


def now() -> datetime:
    return datetime.now(UTC)


def _grace(info: Info) -> timedelta:
    return timedelta(seconds=info.context.settings.usage_grace_seconds)


def parse_scope(value: str, field: str) -> tuple[GlobalId, Scope]:
    ref = decode_id(value)
    if ref is None or ref.type_name not in LEVELS:
        raise UserInputError.single(
            field, UserErrorCode.NOT_FOUND, f"`{field}` is not an account, organization, team or user id."
        )
    return ref, Scope(LEVELS[ref.type_name], ref.id)


def _one_event(work: Work[R], usage: tuple[str, ...] = ()) -> Work[R]:
    """`work` records ONE event through the batch metering, whose userErrors name `events.0.<field>`:
    report them where this mutation's input has the field (`usage` is the path of the event's fields;
    a reservation is named at the top: settleReservation's `reservationId`)."""

    def relocate(item: UserErrorItem) -> UserErrorItem:
        if item.field[:2] != ("events", "0"):
            return item
        rest = item.field[2:]
        return UserErrorItem(rest if rest == ("reservationId",) else (*usage, *rest), item.code, item.message)

    async def run(session: AsyncSession, tenant: TenantId, op: Operation) -> R:
        try:
            return await work(session, tenant, op)
        except UserInputError as exc:
            raise UserInputError(*(relocate(e) for e in exc.errors)) from exc

    return run


def _usage_input(event: UsageEventInput, at: datetime, path: tuple[str, ...] = ()) -> UsageInput:
    """The metering's input for one event; `path` is where the event's fields are in this mutation's input."""
    user = parse_ref(event.user_id, "User", (*path, "userId"))
    reservation = None
    if event.reservation_id is not None:
        reservation = parse_ref(event.reservation_id, "Reservation", (*path, "reservationId")).id
    catalog_model = None
    if event.cost_usd is None and event.model_id is not None:  # priced by tokens: the metering checks it
        ref = decode_id(event.model_id)
        catalog_model = ref.id if ref is not None and ref.type_name == "Model" else None
    return UsageInput(
        idempotency_key=event.idempotency_key,
        user_id=user.id,
        cost_usd=event.cost_usd,
        occurred_at=_utc(event.occurred_at) if event.occurred_at else at,
        agent_id=event.agent_id,
        model_id=event.model_id,
        connection_ids=tuple(event.connection_ids),
        guardrails=tuple(event.guardrails),
        tokens_in=event.tokens_in,
        tokens_out=event.tokens_out,
        reservation_id=reservation,
        catalog_model_id=catalog_model,
    )


def _utc(value: datetime) -> datetime:
    """DateTime inputs are UTC; one without an offset is read as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _result(outcome: UsageOutcome) -> UsageResult:
    return UsageResult(event=UsageEvent.from_row(outcome.event), replayed=outcome.replayed)


def _authorization(account_id: uuid.UUID, r: AuthorizationResult) -> AuthorizeUsagePayload:
    return AuthorizeUsagePayload(
        authorization=Authorization(
            allowed=r.allowed,
            reason=r.reason,
            binding_scope=BudgetScope.of(account_id, r.binding) if r.binding else None,
            reservation=Reservation.from_row(r.reservation) if r.reservation else None,
            allocation=EffectiveAllocation.of(account_id, r.allocation) if r.allocation else None,
        )
    )


@strawberry.type
class BudgetQueries:
    @strawberry.field(description="The effective allocation of any account, organization, team or user by id.")
    async def effective_allocation(
        self,
        info: Info,
        scope_id: Annotated[strawberry.ID, strawberry.argument(description="An account, organization, team or user.")],
    ) -> EffectiveAllocation | None:
        from cockpit_graphql.resolvers.node import resolve_node

        node = await resolve_node(info, scope_id)
        if node is None or not hasattr(node, "effective_allocation"):
            return None
        return await node.effective_allocation(info)  # type: ignore[no-any-return]


@strawberry.type
class BudgetMutations:
    @strawberry.mutation(description="Create the budget plan or a new version (from the next cycle). Audited.")
    async def set_budget_plan(
        self, info: Info, input: Annotated[SetBudgetPlanInput, strawberry.argument(description=WHAT)]
    ) -> BudgetPlanPayload:
        def plan() -> Plan:
            account = parse_optional_ref(input.account_id, "Account", "accountId")
            terms = PlanTerms(
                credits_per_cycle=input.credits_per_cycle,
                renewal_day=input.renewal_day,
                rollover_percent=input.rollover_percent,
                rollover_cap=input.rollover_cap,
                overflow_policy=OverflowPolicy(input.overflow_policy),
                overflow_cap_credits=input.overflow_cap_credits,
                overflow_usd_per_credit=input.overflow_usd_per_credit,
            )
            return Plan(
                default_account(info, account), "accountId", lambda s, t, op: plans.set_plan(s, t, op, terms, now())
            )

        return await mutate(
            info,
            BudgetPlanPayload,
            permission=MANAGE,
            plan=plan,
            shape=lambda row: BudgetPlanPayload(plan=BudgetPlan.from_row(row)),
        )

    @strawberry.mutation(description="Set the cap of an organization, team or user. Audited.")
    async def set_budget_cap(
        self, info: Info, input: Annotated[SetBudgetCapInput, strawberry.argument(description=WHAT)]
    ) -> BudgetCapPayload:
        return await _cap(info, input.scope_id, lambda s, t, op, scope: caps.set_cap(s, t, op, scope, input.credits))

    @strawberry.mutation(description="Remove the cap of an organization, team or user. Audited.")
    async def clear_budget_cap(
        self, info: Info, input: Annotated[ClearBudgetCapInput, strawberry.argument(description=WHAT)]
    ) -> BudgetCapPayload:
        return await _cap(info, input.scope_id, lambda s, t, op, scope: caps.set_cap(s, t, op, scope, None))

    @strawberry.mutation(description="Set the default user cap of an account, organization or team. Audited.")
    async def set_default_user_cap(
        self, info: Info, input: Annotated[SetBudgetCapInput, strawberry.argument(description=WHAT)]
    ) -> BudgetCapPayload:
        return await _cap(
            info, input.scope_id, lambda s, t, op, scope: caps.set_default_user_cap(s, t, op, scope, input.credits)
        )

    @strawberry.mutation(description="Remove the default user cap of an account, organization or team. Audited.")
    async def clear_default_user_cap(
        self, info: Info, input: Annotated[ClearBudgetCapInput, strawberry.argument(description=WHAT)]
    ) -> BudgetCapPayload:
        return await _cap(
            info, input.scope_id, lambda s, t, op, scope: caps.set_default_user_cap(s, t, op, scope, None)
        )

    @strawberry.mutation(description="Add or remove credits in the current cycle's pool, with a reason. Audited.")
    async def adjust_credits(
        self, info: Info, input: Annotated[AdjustCreditsInput, strawberry.argument(description=WHAT)]
    ) -> LedgerEntryPayload:
        def plan() -> Plan:
            account = parse_optional_ref(input.account_id, "Account", "accountId")
            return Plan(
                default_account(info, account),
                "accountId",
                lambda s, t, op: adjustments.adjust_credits(s, t, op, input.credits, input.reason, now()),
            )

        return await mutate(
            info,
            LedgerEntryPayload,
            permission=MANAGE,
            plan=plan,
            shape=lambda row: LedgerEntryPayload(entry=LedgerEntry.from_row(row)),
        )

    @strawberry.mutation(description="Run now what the renewal sweep would run for this account. Audited.")
    async def renew_budget_cycle(
        self, info: Info, input: Annotated[RenewBudgetCycleInput, strawberry.argument(description=WHAT)]
    ) -> RenewBudgetCyclePayload:
        grace = timedelta(seconds=info.context.settings.usage_grace_seconds)
        account_id: list[uuid.UUID] = []

        def plan() -> Plan:
            account = default_account(info, parse_optional_ref(input.account_id, "Account", "accountId"))
            if account is not None:
                account_id.append(account)
            return Plan(account, "accountId", lambda s, t, op: on_demand.renew_now(s, t, op, now(), grace))

        def shape(renewals: list) -> RenewBudgetCyclePayload:  # type: ignore[type-arg]
            a = account_id[0]
            return RenewBudgetCyclePayload(
                renewals=[
                    CycleRenewal(
                        closed_cycle_id=strawberry.ID(encode_id("BudgetCycle", a, r.closed_cycle_id)),
                        opened_cycle_id=strawberry.ID(encode_id("BudgetCycle", a, r.opened_cycle_id)),
                        expired=r.expired,
                        carried=r.carried,
                        overflow=r.overflow,
                        settlement_id=strawberry.ID(encode_id("Settlement", a, r.settlement_id))
                        if r.settlement_id
                        else None,
                    )
                    for r in renewals
                ]
            )

        return await mutate(info, RenewBudgetCyclePayload, permission=MANAGE, plan=plan, shape=shape)

    @strawberry.mutation(description="Hold credits before a model call, or be told why not (the runtime's call).")
    async def authorize_usage(
        self, info: Info, input: Annotated[AuthorizeUsageInput, strawberry.argument(description=WHAT)]
    ) -> AuthorizeUsagePayload:
        ttl = (
            input.ttl_seconds
            if input.ttl_seconds is not None
            else info.context.settings.reservation_default_ttl_seconds
        )
        user: list[GlobalId] = []

        def plan() -> Plan:
            ref = parse_ref(input.user_id, "User", "userId")
            user.append(ref)
            request = AuthorizationRequest(ref.id, input.estimated_credits, ttl, input.agent_id, input.model_id)
            return Plan(
                ref.account_id, "userId", lambda s, t, op: metering.authorize(s, t, request, now()), metered=True
            )

        return await mutate(
            info,
            AuthorizeUsagePayload,
            permission=METER,
            plan=plan,
            shape=lambda r: _authorization(user[0].account_id, r),
        )

    @strawberry.mutation(description="Record what a call consumed (idempotent per idempotencyKey).")
    async def record_usage(
        self, info: Info, input: Annotated[UsageEventInput, strawberry.argument(description=WHAT)]
    ) -> RecordUsagePayload:
        def plan() -> Plan:
            at = now()
            event = _usage_input(input, at)
            account = parse_ref(input.user_id, "User", "userId").account_id
            work = _one_event(lambda s, t, op: metering.record_usage(s, t, [event], at, _grace(info)))
            return Plan(account, "userId", work, metered=True)

        return await mutate(
            info,
            RecordUsagePayload,
            permission=METER,
            plan=plan,
            shape=lambda outcomes: RecordUsagePayload(result=_result(outcomes[0])),
        )

    @strawberry.mutation(description="Record up to 1,000 usage events in one transaction (idempotent per key).")
    async def record_usage_batch(
        self, info: Info, input: Annotated[RecordUsageBatchInput, strawberry.argument(description=WHAT)]
    ) -> RecordUsageBatchPayload:
        def plan() -> Plan:
            if not input.events:
                raise UserInputError.single("events", UserErrorCode.REQUIRED, "Send at least one usage event.")
            at = now()
            events = [_usage_input(e, at, ("events", str(i))) for i, e in enumerate(input.events)]
            # the batch runs in the first event's account; users of another account are not found there
            account = parse_ref(input.events[0].user_id, "User", ("events", "0", "userId")).account_id
            return Plan(
                account, "events", lambda s, t, op: metering.record_usage(s, t, events, at, _grace(info)), metered=True
            )

        return await mutate(
            info,
            RecordUsageBatchPayload,
            permission=METER,
            plan=plan,
            shape=lambda outcomes: RecordUsageBatchPayload(results=[_result(o) for o in outcomes]),
        )

    @strawberry.mutation(description="Settle a reservation with its actual usage (an expired one is still recorded).")
    async def settle_reservation(
        self, info: Info, input: Annotated[SettleReservationInput, strawberry.argument(description=WHAT)]
    ) -> RecordUsagePayload:
        def plan() -> Plan:
            at = now()
            ref = parse_ref(input.reservation_id, "Reservation", "reservationId")
            base = _usage_input(input.usage, at, ("usage",))
            event = dataclasses.replace(base, reservation_id=ref.id)
            work = _one_event(lambda s, t, op: metering.record_usage(s, t, [event], at, _grace(info)), ("usage",))
            return Plan(ref.account_id, "reservationId", work, metered=True)

        return await mutate(
            info,
            RecordUsagePayload,
            permission=METER,
            plan=plan,
            shape=lambda outcomes: RecordUsagePayload(result=_result(outcomes[0])),
        )

    @strawberry.mutation(description="Give a hold back without usage (the call was not made).")
    async def release_reservation(
        self, info: Info, input: Annotated[ReleaseReservationInput, strawberry.argument(description=WHAT)]
    ) -> ReservationPayload:
        def plan() -> Plan:
            ref = parse_ref(input.reservation_id, "Reservation", "reservationId")
            return Plan(
                ref.account_id, "reservationId", lambda s, t, op: metering.release(s, t, ref.id, now()), metered=True
            )

        return await mutate(
            info,
            ReservationPayload,
            permission=METER,
            plan=plan,
            shape=lambda row: ReservationPayload(reservation=Reservation.from_row(row)),
        )

    @strawberry.mutation(description="PENDING → INVOICED. Audited.")
    async def invoice_settlement(
        self, info: Info, input: Annotated[InvoiceSettlementInput, strawberry.argument(description=WHAT)]
    ) -> SettlementPayload:
        return await _settlement(
            info, input.id, MANAGE, lambda s, t, op, sid: settlements.invoice(s, t, op, sid, input.external_reference)
        )

    @strawberry.mutation(description="PENDING or INVOICED → SETTLED; books SETTLEMENT in the ledger. Audited.")
    async def settle_settlement(
        self, info: Info, input: Annotated[SettleSettlementInput, strawberry.argument(description=WHAT)]
    ) -> SettlementPayload:
        return await _settlement(
            info, input.id, MANAGE, lambda s, t, op, sid: settlements.settle(s, t, op, sid, input.external_reference)
        )

    @strawberry.mutation(description="Write a settlement off (super admins); books WRITE_OFF. Audited.")
    async def write_off_settlement(
        self, info: Info, input: Annotated[WriteOffSettlementInput, strawberry.argument(description=WHAT)]
    ) -> SettlementPayload:
        return await _settlement(
            info,
            input.id,
            Permission.WRITE_OFF_SETTLEMENTS,
            lambda s, t, op, sid: settlements.write_off(s, t, op, sid, input.reason),
        )


async def _cap(info: Info, scope_id: str, work) -> BudgetCapPayload:  # type: ignore[no-untyped-def]
    found: list[tuple[GlobalId, Scope]] = []

    def plan() -> Plan:
        ref, scope = parse_scope(scope_id, "scopeId")
        found.append((ref, scope))
        return Plan(ref.account_id, "scopeId", lambda s, t, op: work(s, t, op, scope))

    def shape(row: BudgetCap) -> BudgetCapPayload:
        ref, scope = found[0]
        return BudgetCapPayload(
            scope=BudgetScope.of(ref.account_id, scope),
            settings=BudgetSettings(cap=row.cap, default_user_cap=row.default_user_cap),
        )

    return await mutate(info, BudgetCapPayload, permission=MANAGE, plan=plan, shape=shape)


async def _settlement(info: Info, gid: str, permission: Permission, work) -> SettlementPayload:  # type: ignore[no-untyped-def]
    def plan() -> Plan:
        ref = parse_ref(gid, "Settlement", "id")
        return Plan(ref.account_id, "id", lambda s, t, op: work(s, t, op, ref.id))

    return await mutate(
        info,
        SettlementPayload,
        permission=permission,
        plan=plan,
        shape=lambda row: SettlementPayload(settlement=Settlement.from_row(row)),
    )
