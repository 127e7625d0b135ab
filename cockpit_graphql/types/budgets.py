"""Budget types: plans, cycles, effective allocations with their trace, the ledger, settlements."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import BillingNotice as NoticeRow
from cockpit_graphql.db.tables import BudgetCycle as CycleRow
from cockpit_graphql.db.tables import BudgetPlan as PlanRow
from cockpit_graphql.db.tables import LedgerEntry as LedgerRow
from cockpit_graphql.db.tables import Reservation as ReservationRow
from cockpit_graphql.db.tables import Settlement as SettlementRow
from cockpit_graphql.db.tables import UsageEvent as UsageRow
from cockpit_graphql.domain.budgets.allocation import Allocation, CapSource, Level
from cockpit_graphql.domain.budgets.metering import DenialReason
from cockpit_graphql.domain.budgets.notices import NoticeKind
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.scopes import CycleStatus, LedgerKind, ReservationStatus, Scope, ScopeLevel
from cockpit_graphql.domain.budgets.settlements import SettlementStatus
from cockpit_graphql.domain.pagination import Ordering, PageRequest, SortDirection
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import encode_id
from cockpit_graphql.types.node import Node
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, list_page

ScopeLevelEnum = described_enum(
    ScopeLevel,
    name="ScopeLevel",
    description="A level of the directory tree.",
    values={
        "ACCOUNT": "The account (tenant): the top of every chain.",
        "ORGANIZATION": 'An organization of the account (the "group" level of the legacy REST scopes).',
        "TEAM": "A team of an organization.",
        "USER": "A user, placed in one home team: the bottom of a chain.",
    },
)
CapSourceEnum = described_enum(
    CapSource,
    name="CapSource",
    description="Where a cap comes from: OVERRIDE at this node, DEFAULT from an ancestor, PLAN (account), NONE.",
    values={
        "OVERRIDE": "An explicit cap set on this node itself.",
        "DEFAULT": "A user's cap inherited from the nearest ancestor's defaultUserCap (the user has none of its own).",
        "PLAN": "The account's cap from its budget plan: the cycle's pool (plus the overflow cap under ALLOW).",
        "NONE": "No cap at this level: it limits nothing.",
    },
)
OverflowPolicyEnum = described_enum(
    OverflowPolicy,
    name="OverflowPolicy",
    description="BLOCK: nothing is authorized beyond the pool. ALLOW: up to the overflow cap (or without limit).",
    values={
        "BLOCK": "No authorization beyond the account pool (overflow only arises from calls that ran past their "
        "reservation).",
        "ALLOW": "Authorizations may go past the pool up to overflowCapCredits, or without limit when it is empty; "
        "the overflow is billed at overflowUsdPerCredit.",
    },
)
DenialReasonEnum = described_enum(
    DenialReason,
    name="DenialReason",
    description="Why an authorization was denied.",
    values={
        "NO_PLAN": "The account has no budget plan: nothing is authorized.",
        "CAP_EXCEEDED": "An organization, team or user cap of the chain has too little headroom (see the binding "
        "scope).",
        "POOL_EXHAUSTED": "The account pool has too little headroom and the plan's overflow policy is BLOCK.",
        "OVERFLOW_CAP_REACHED": "The plan allows overflow, but the overflow cap has too little headroom left.",
    },
)
CycleStatusEnum = described_enum(
    CycleStatus,
    name="BudgetCycleStatus",
    description="OPEN until renewal closes it.",
    values={
        "OPEN": "Not closed by renewal yet: the current cycle (or one that ended and awaits its renewal).",
        "CLOSED": "Renewal closed the cycle (expiry and rollover booked); late usage goes to the open cycle.",
    },
)
ReservationStatusEnum = described_enum(
    ReservationStatus,
    name="ReservationStatus",
    description="HELD until settled, released or expired.",
    values={
        "HELD": "The authorized credits are held and count as reserved for every later authorization.",
        "SETTLED": "The actual usage was recorded against the reservation and the hold released.",
        "EXPIRED": "The TTL passed before settlement: the hold was released (settling it still records the usage).",
        "RELEASED": "The runtime released the hold without recording usage.",
    },
)
SettlementStatusEnum = described_enum(
    SettlementStatus,
    name="SettlementStatus",
    description="PENDING → INVOICED → SETTLED, or WRITTEN_OFF.",
    values={
        "PENDING": "Created when a cycle with overflow closed; not yet invoiced or paid.",
        "INVOICED": "The overflow was invoiced (optional reference); no credits move.",
        "SETTLED": "Paid (payment reference recorded): books SETTLEMENT +overflow in the cycle's ledger.",
        "WRITTEN_OFF": "Written off by a super admin with a reason: books WRITE_OFF +overflow in the cycle's ledger.",
    },
)
LedgerKindEnum = described_enum(
    LedgerKind,
    name="LedgerEntryKind",
    description="What a ledger entry books.",
    values={
        "GRANT": "+creditsPerCycle, booked when the cycle opens.",
        "ROLLOVER": "Carried credits at renewal: minus in the closing cycle, plus the same in the opening one.",
        "ADJUSTMENT": "± credits an admin added or removed (adjustCredits), with a reason.",
        "USAGE": "− the included (within the pool) credits of a recorded usage event.",
        "OVERFLOW_USAGE": "− the overflow (beyond the pool) credits of a recorded usage event.",
        "EXPIRY": "− the unused pool minus the rollover, booked when the cycle closes.",
        "SETTLEMENT": "+ the cycle's overflow credits, when its settlement is SETTLED.",
        "WRITE_OFF": "+ the cycle's overflow credits, when its settlement is WRITTEN_OFF.",
    },
)
NoticeKindEnum = described_enum(
    NoticeKind,
    name="BillingNoticeKind",
    description="What a billing notice reports.",
    values={
        "CAP_80_PERCENT": "Spending crossed 80 % of a cap (an organization, team or user cap, or the account pool).",
        "CAP_100_PERCENT": "Spending reached 100 % of a cap (an organization, team or user cap, or the account pool).",
        "OVERFLOW_ENTERED": "The account's usage went past its pool into overflow this cycle.",
        "OVERFLOW_CAP_REACHED": "The account's overflow reached the plan's overflow cap (overflow policy ALLOW).",
    },
)

LEVEL_TYPE = {
    ScopeLevel.ACCOUNT: "Account",
    ScopeLevel.ORGANIZATION: "Organization",
    ScopeLevel.TEAM: "Team",
    ScopeLevel.USER: "User",
}


def scope_gid(account_id: uuid.UUID, scope: Scope) -> strawberry.ID:
    return strawberry.ID(encode_id(LEVEL_TYPE[scope.level], account_id, scope.id))


@strawberry.type(name="ScopeRef", description="A scope of the directory: a level and the node at that level.")
class BudgetScope:
    level: ScopeLevelEnum = strawberry.field(description="The level.")  # type: ignore[valid-type]
    id: strawberry.ID = strawberry.field(description="The global id of the account, organization, team or user.")

    @classmethod
    def of(cls, account_id: uuid.UUID, scope: Scope) -> BudgetScope:
        return cls(level=scope.level, id=scope_gid(account_id, scope))


@strawberry.type(description="One level of an allocation's chain: its cap, where the cap came from, its use.")
class AllocationLevel:
    scope: BudgetScope = strawberry.field(description="The scope of this level.")
    cap: Decimal | None = strawberry.field(description="The cap in credits per cycle; null when uncapped.")
    cap_source: CapSourceEnum = strawberry.field(description="Where the cap comes from.")  # type: ignore[valid-type]
    cap_source_scope: BudgetScope | None = strawberry.field(
        description="The scope that set the cap (itself for OVERRIDE, the ancestor for DEFAULT)."
    )
    spent: Decimal = strawberry.field(description="Credits used this cycle at or below this scope.")
    reserved: Decimal = strawberry.field(description="Credits held by open reservations at or below this scope.")
    headroom: Decimal | None = strawberry.field(
        description="cap − spent − reserved (may be negative); null if uncapped."
    )

    @classmethod
    def of(cls, account_id: uuid.UUID, level: Level) -> AllocationLevel:
        return cls(
            scope=BudgetScope.of(account_id, level.scope),
            cap=level.cap,
            cap_source=level.source,
            cap_source_scope=BudgetScope.of(account_id, level.source_scope) if level.source_scope else None,
            spent=level.spent,
            reserved=level.reserved,
            headroom=level.headroom,
        )


@strawberry.type(description="What a node may still spend this cycle, and why: the effective allocation.")
class EffectiveAllocation:
    scope: BudgetScope = strawberry.field(description="The node this allocation is for.")
    has_plan: bool = strawberry.field(description="False when the account has no plan: nothing is authorized.")
    cap: Decimal | None = strawberry.field(description="This node's own cap (explicit, default or plan).")
    cap_source: CapSourceEnum = strawberry.field(description="Where this node's cap comes from.")  # type: ignore[valid-type]
    spent: Decimal = strawberry.field(description="Credits this node used this cycle.")
    reserved: Decimal = strawberry.field(description="Credits held for this node by open reservations.")
    remaining: Decimal | None = strawberry.field(
        description="The smallest headroom of the chain, zero when negative; null when nothing caps it."
    )
    binding_scope: BudgetScope | None = strawberry.field(
        description="The scope with the smallest headroom (the most specific on a tie)."
    )
    allocated_to_children: Decimal = strawberry.field(
        description="Sum of the explicit caps of the direct children (may exceed this node's cap)."
    )
    pool_headroom: Decimal | None = strawberry.field(description="Account pool − spent − reserved, account-wide.")
    overflow_headroom: Decimal | None = strawberry.field(
        description="Overflow credits still allowed under ALLOW with an overflow cap; null otherwise."
    )
    trace: list[AllocationLevel] = strawberry.field(description="Every level of the chain, account first.")

    @classmethod
    def of(cls, account_id: uuid.UUID, a: Allocation) -> EffectiveAllocation:
        own = a.levels[-1]
        return cls(
            scope=BudgetScope.of(account_id, a.scope),
            has_plan=a.has_plan,
            cap=own.cap,
            cap_source=own.source,
            spent=own.spent,
            reserved=own.reserved,
            remaining=a.remaining,
            binding_scope=BudgetScope.of(account_id, a.binding) if a.binding else None,
            allocated_to_children=a.allocated_to_children,
            pool_headroom=a.pool_headroom,
            overflow_headroom=a.overflow_headroom,
            trace=[AllocationLevel.of(account_id, lvl) for lvl in a.levels],
        )


@strawberry.type(description="The explicit budget settings stored on a node.")
class BudgetSettings:
    cap: Decimal | None = strawberry.field(description="Explicit cap (organizations, teams, users).")
    default_user_cap: Decimal | None = strawberry.field(
        description="Cap every user below gets unless nearer settings apply (accounts, organizations, teams)."
    )


@strawberry.type(description="A version of the account's budget plan. Edits create a version for the next cycle.")
class BudgetPlan:
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    version: int = strawberry.field(description="1 for the first plan, then one more per edit.")
    credits_per_cycle: Decimal = strawberry.field(description="Credits granted when a cycle opens.")
    renewal_day: int = strawberry.field(description="Day of month (1–28, UTC midnight) cycles start on.")
    rollover_percent: Decimal = strawberry.field(description="Share of the unused pool carried into the next cycle.")
    rollover_cap: Decimal | None = strawberry.field(description="Most credits carried over; null for no limit.")
    overflow_policy: OverflowPolicyEnum = strawberry.field(description="What happens past the pool.")  # type: ignore[valid-type]
    overflow_cap_credits: Decimal | None = strawberry.field(description="Overflow limit under ALLOW; null for none.")
    overflow_usd_per_credit: Decimal = strawberry.field(description="Price of one overflow credit in USD.")
    effective_from: datetime = strawberry.field(description="Start of the first cycle this version governs.")

    @classmethod
    def from_row(cls, row: PlanRow) -> BudgetPlan:
        return cls(
            id=strawberry.ID(encode_id("BudgetPlan", row.account_id, row.id)),
            version=row.version,
            credits_per_cycle=row.credits_per_cycle,
            renewal_day=row.renewal_day,
            rollover_percent=row.rollover_percent,
            rollover_cap=row.rollover_cap,
            overflow_policy=OverflowPolicy(row.overflow_policy),
            overflow_cap_credits=row.overflow_cap_credits,
            overflow_usd_per_credit=row.overflow_usd_per_credit,
            effective_from=row.effective_from,
        )


@strawberry.type(description="A budget cycle: [renewal day of month m, renewal day of month m+1).")
class BudgetCycle(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    starts_at: datetime = strawberry.field(description="Start (inclusive).")
    ends_at: datetime = strawberry.field(description="End (exclusive).")
    status: CycleStatusEnum = strawberry.field(description="OPEN or CLOSED.")  # type: ignore[valid-type]
    closed_at: datetime | None = strawberry.field(description="When the renewal closed it.")
    row: strawberry.Private[CycleRow]

    @strawberry.field(description="The cycle's ledger entries, oldest first (admins).")
    async def ledger_entries(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[LedgerEntry]:
        info.context.require(Permission.READ_BUDGETS)
        request = PageRequest.build(
            first=first,
            after=after,
            last=last,
            before=before,
            default_size=info.context.settings.default_page_size,
            max_size=info.context.settings.max_page_size,
        )
        return await list_page(
            info,
            self.row.account_id,
            "ledger_entries",
            "cycle_id",
            self.row.id,
            request,
            Ordering("created_at", SortDirection.ASC),
            None,
            LedgerEntry.from_row,
        )

    @classmethod
    def from_row(cls, row: CycleRow) -> BudgetCycle:
        return cls(
            id=strawberry.ID(encode_id("BudgetCycle", row.account_id, row.id)),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=CycleStatus(row.status),
            closed_at=row.closed_at,
            row=row,
        )


@strawberry.type(description="An append-only ledger entry, in credits, of one cycle.")
class LedgerEntry:
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    kind: LedgerKindEnum = strawberry.field(  # type: ignore[valid-type]
        description="GRANT, ROLLOVER, ADJUSTMENT, USAGE, OVERFLOW_USAGE, EXPIRY, SETTLEMENT or WRITE_OFF."
    )
    amount: Decimal = strawberry.field(description="Signed credits.")
    reason: str | None = strawberry.field(description="Why (adjustments, grants).")
    created_at: datetime = strawberry.field(description="When it was written.")
    usage_event_id: strawberry.ID | None = strawberry.field(description="The usage event it books, if any.")
    settlement_id: strawberry.ID | None = strawberry.field(description="The settlement it books, if any.")

    @classmethod
    def from_row(cls, row: LedgerRow) -> LedgerEntry:
        def gid(type_name: str, ident: uuid.UUID | None) -> strawberry.ID | None:
            return strawberry.ID(encode_id(type_name, row.account_id, ident)) if ident else None

        return cls(
            id=strawberry.ID(encode_id("LedgerEntry", row.account_id, row.id)),
            kind=LedgerKind(row.kind),
            amount=row.amount,
            reason=row.reason,
            created_at=row.created_at,
            usage_event_id=gid("UsageEvent", row.usage_event_id),
            settlement_id=gid("Settlement", row.settlement_id),
        )


@strawberry.type(description="Credits held for a call until it is settled, released or expires.")
class Reservation(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    credits: Decimal = strawberry.field(description="Credits held.")
    status: ReservationStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="HELD, SETTLED, EXPIRED or RELEASED."
    )
    expires_at: datetime = strawberry.field(description="When an unsettled hold is released.")
    created_at: datetime = strawberry.field(description="When it was authorized.")

    @classmethod
    def from_row(cls, row: ReservationRow) -> Reservation:
        return cls(
            id=strawberry.ID(encode_id("Reservation", row.account_id, row.id)),
            credits=row.credits,
            status=ReservationStatus(row.status),
            expires_at=row.expires_at,
            created_at=row.created_at,
        )


@strawberry.type(description="What a call actually consumed, with its attribution as it stood then.")
class UsageEvent(Node):
    # The four ids are resolvers, encoded only when selected: a usage batch answers 1,000 events, and
    # encoding 4,000 global ids (~4 µs each) was ~16 ms of a batch's response that the runtime rarely reads.
    idempotency_key: str = strawberry.field(description="Unique per account; a replay returns this event.")
    occurred_at: datetime = strawberry.field(description="When the call happened.")
    recorded_at: datetime = strawberry.field(description="When it was recorded.")
    late: bool = strawberry.field(description="Arrived after its cycle closed; booked in the open cycle.")
    cost_usd: Decimal = strawberry.field(description="Cost in USD, as reported.")
    credits_per_usd: Decimal = strawberry.field(
        description="The account's creditsPerUsd in force when the event happened (its occurredAt)."
    )
    credits: Decimal = strawberry.field(description="costUsd × creditsPerUsd, rounded half-up to 6 decimals.")
    included_credits: Decimal = strawberry.field(description="The part inside the account pool.")
    overflow_credits: Decimal = strawberry.field(description="The part beyond the pool (frozen at recording).")
    model_id: str | None = strawberry.field(description="The model used.")
    agent_id: str | None = strawberry.field(description="The agent used.")
    tokens_in: int = strawberry.field(description="Input tokens.")
    tokens_out: int = strawberry.field(description="Output tokens.")
    row: strawberry.Private[UsageRow]

    @strawberry.field(description="The opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("UsageEvent", self.row.account_id, self.row.id))

    @strawberry.field(description="The user (global id).")
    def user_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("User", self.row.account_id, self.row.user_id))

    @strawberry.field(description="The user's team when it happened.")
    def team_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Team", self.row.account_id, self.row.team_id))

    @strawberry.field(description="The user's organization when it happened.")
    def organization_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Organization", self.row.account_id, self.row.organization_id))

    @classmethod
    def from_row(cls, row: UsageRow) -> UsageEvent:
        return cls(
            idempotency_key=row.idempotency_key,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            late=row.late,
            cost_usd=row.cost_usd,
            credits_per_usd=row.credits_per_usd,
            credits=row.credits,
            included_credits=row.included_credits,
            overflow_credits=row.overflow_credits,
            model_id=row.model_id,
            agent_id=row.agent_id,
            tokens_in=row.tokens_in,
            tokens_out=row.tokens_out,
            row=row,
        )


@strawberry.type(description="The bill for one cycle's overflow.")
class Settlement(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    overflow_credits: Decimal = strawberry.field(description="Overflow credits of the cycle.")
    amount_usd: Decimal = strawberry.field(description="overflowCredits × overflowUsdPerCredit, half-up to cents.")
    status: SettlementStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="PENDING, INVOICED, SETTLED or WRITTEN_OFF."
    )
    external_reference: str | None = strawberry.field(description="The invoice or payment reference.")
    write_off_reason: str | None = strawberry.field(description="Why it was written off.")
    created_at: datetime = strawberry.field(description="When the cycle closed with overflow.")
    updated_at: datetime = strawberry.field(description="Last transition.")
    cycle_id: strawberry.ID = strawberry.field(description="The cycle it bills.")

    @classmethod
    def from_row(cls, row: SettlementRow) -> Settlement:
        return cls(
            id=strawberry.ID(encode_id("Settlement", row.account_id, row.id)),
            overflow_credits=row.overflow_credits,
            amount_usd=row.amount_usd,
            status=SettlementStatus(row.status),
            external_reference=row.external_reference,
            write_off_reason=row.write_off_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
            cycle_id=strawberry.ID(encode_id("BudgetCycle", row.account_id, row.cycle_id)),
        )


@strawberry.type(description="A billing notice for the account's admins (once per scope, kind and cycle).")
class BillingNotice:
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    kind: NoticeKindEnum = strawberry.field(description="What happened.")  # type: ignore[valid-type]
    scope: BudgetScope = strawberry.field(description="The scope it concerns.")
    details: JSON = strawberry.field(description="Cap and spend at the crossing.")
    created_at: datetime = strawberry.field(description="When it was raised.")

    @classmethod
    def from_row(cls, row: NoticeRow) -> BillingNotice:
        scope = Scope(ScopeLevel(row.scope_level), row.scope_id)
        return cls(
            id=strawberry.ID(encode_id("BillingNotice", row.account_id, row.id)),
            kind=NoticeKind(row.kind),
            scope=BudgetScope.of(row.account_id, scope),
            details=row.details,
            created_at=row.created_at,
        )


async def allocation_of(info: Info, account_id: uuid.UUID, chain: list[Scope]) -> EffectiveAllocation | None:
    from cockpit_graphql.dataloaders.budgets import ChainKey

    found = await info.context.budgets.allocation.load(ChainKey(account_id, tuple(chain)))
    return EffectiveAllocation.of(account_id, found) if found else None


async def settings_of(info: Info, account_id: uuid.UUID, scope: Scope) -> BudgetSettings:
    found = await info.context.budgets.settings.load((account_id, scope))
    return BudgetSettings(cap=found.cap, default_user_cap=found.default_user_cap)


async def load_budget_entity(info: Info, gid: str) -> Node | None:
    """`node(id:)` for budget entities (cycles, reservations, settlements, usage events): admins only."""
    from cockpit_graphql.dataloaders.budgets import ENTITY_TABLES, EntityKey
    from cockpit_graphql.types.ids import decode_id

    ref = decode_id(gid)
    if ref is None or ref.type_name not in ENTITY_TABLES:
        return None
    info.context.require(Permission.READ_BUDGETS)
    row = await info.context.budgets.entity.load(EntityKey(ref.account_id, ref.type_name, ref.id))
    if row is None:
        return None
    shape = {"BudgetCycle": BudgetCycle, "Reservation": Reservation, "Settlement": Settlement, "UsageEvent": UsageEvent}
    return shape[ref.type_name].from_row(row)  # type: ignore[no-any-return, attr-defined]
