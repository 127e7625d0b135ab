"""Inputs and payloads of budget mutations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from cockpit_graphql.types.budgets import (
    BudgetPlan,
    BudgetScope,
    BudgetSettings,
    DenialReasonEnum,
    EffectiveAllocation,
    LedgerEntry,
    OverflowPolicyEnum,
    Reservation,
    Settlement,
    UsageEvent,
)
from cockpit_graphql.types.directory_mutations import Payload
from cockpit_graphql.types.leaf_input import leaf_input


@strawberry.input(description="Create the account's plan, or a new version of it that applies from the next cycle.")
class SetBudgetPlanInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description="The account (super admins).")
    credits_per_cycle: Decimal = strawberry.field(description="Credits granted when a cycle opens.")
    renewal_day: int = strawberry.field(description="1–28; fixed by the first plan.")
    rollover_percent: Decimal = strawberry.field(default=Decimal(0), description="0–100 % of the unused pool.")
    rollover_cap: Decimal | None = strawberry.field(default=None, description="Most credits carried over.")
    overflow_policy: OverflowPolicyEnum = strawberry.field(  # type: ignore[valid-type]
        default="BLOCK", description="BLOCK or ALLOW."
    )
    overflow_cap_credits: Decimal | None = strawberry.field(default=None, description="Overflow limit under ALLOW.")
    overflow_usd_per_credit: Decimal = strawberry.field(default=Decimal(0), description="USD per overflow credit.")


@strawberry.type(description="Result of setBudgetPlan.")
class BudgetPlanPayload(Payload):
    plan: BudgetPlan | None = strawberry.field(default=None, description="The version created.")


@strawberry.input(description="Set or clear a cap (organizations, teams, users) or a default user cap.")
class SetBudgetCapInput:
    scope_id: strawberry.ID = strawberry.field(description="The account, organization, team or user.")
    credits: Decimal = strawberry.field(description="Credits per cycle (≥ 0, at most 6 decimals).")


@strawberry.input(description="Remove a cap or default user cap.")
class ClearBudgetCapInput:
    scope_id: strawberry.ID = strawberry.field(description="The scope whose setting is removed.")


@strawberry.type(description="Result of a cap mutation.")
class BudgetCapPayload(Payload):
    scope: BudgetScope | None = strawberry.field(default=None, description="The scope changed.")
    settings: BudgetSettings | None = strawberry.field(default=None, description="Its settings now.")


@strawberry.input(description="Top up (positive) or correct (negative) the current cycle's pool, with a reason.")
class AdjustCreditsInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description="The account (super admins).")
    credits: Decimal = strawberry.field(description="Signed credits, not zero.")
    reason: str = strawberry.field(description="Why (required; kept in the ledger and audit trail).")


@strawberry.type(description="Result of adjustCredits.")
class LedgerEntryPayload(Payload):
    entry: LedgerEntry | None = strawberry.field(default=None, description="The ADJUSTMENT entry written.")


@strawberry.input(description="Run now, for one account, exactly what the renewal sweep would run.")
class RenewBudgetCycleInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description="The account (super admins).")


@strawberry.type(description="One cycle closed and the next opened.")
class CycleRenewal:
    closed_cycle_id: strawberry.ID = strawberry.field(description="The cycle closed.")
    opened_cycle_id: strawberry.ID = strawberry.field(description="The cycle opened.")
    expired: Decimal = strawberry.field(description="Unused pool that expired.")
    carried: Decimal = strawberry.field(description="Credits rolled over.")
    overflow: Decimal = strawberry.field(description="Overflow of the closed cycle.")
    settlement_id: strawberry.ID | None = strawberry.field(description="The settlement created for the overflow.")


@strawberry.type(description="Result of renewBudgetCycle: the renewals that were due (possibly none).")
class RenewBudgetCyclePayload(Payload):
    renewals: list[CycleRenewal] = strawberry.field(default_factory=list, description="What was renewed, in order.")


@strawberry.input(description="Ask for budget before a model call.")
class AuthorizeUsageInput:
    user_id: strawberry.ID = strawberry.field(description="Who runs the call.")
    estimated_credits: Decimal = strawberry.field(description="Credits to hold (> 0).")
    agent_id: str | None = strawberry.field(default=None, description="The agent, if any.")
    model_id: str | None = strawberry.field(default=None, description="The model, if known.")
    ttl_seconds: int | None = strawberry.field(default=None, description="Hold lifetime (1–3600; default 300).")


@strawberry.type(description="The answer to an authorization.")
class Authorization:
    allowed: bool = strawberry.field(description="True when the credits are held.")
    reason: DenialReasonEnum | None = strawberry.field(description="Why it was denied.")  # type: ignore[valid-type]
    binding_scope: BudgetScope | None = strawberry.field(description="The scope that limits (or denied) it.")
    reservation: Reservation | None = strawberry.field(description="The hold, when allowed.")
    allocation: EffectiveAllocation | None = strawberry.field(description="The user's allocation before the hold.")


@strawberry.type(description="Result of authorizeUsage.")
class AuthorizeUsagePayload(Payload):
    authorization: Authorization | None = strawberry.field(default=None, description="The decision.")


@leaf_input  # up to 1,000 per recordUsageBatch: built in one pass (types/leaf_input.py)
@strawberry.input(description="One usage event: what a call actually consumed.")
class UsageEventInput:
    idempotency_key: str = strawberry.field(description="Unique per account; a replay returns the first result.")
    user_id: strawberry.ID = strawberry.field(description="Who ran the call.")
    cost_usd: Decimal | None = strawberry.field(
        default=None,
        description="Cost in USD (≥ 0, up to 10 decimals). Omit it to price the call from `modelId` (a catalog "
        "Model id) and the token counts at the model's prices.",
    )
    occurred_at: datetime | None = strawberry.field(default=None, description="When it happened (default: now).")
    agent_id: str | None = strawberry.field(default=None, description="The agent.")
    model_id: str | None = strawberry.field(
        default=None, description="The model: free text with `costUsd`; a catalog Model id without it."
    )
    connection_ids: list[str] = strawberry.field(default_factory=list, description="Connections used.")
    guardrails: list[str] = strawberry.field(default_factory=list, description="Guardrails applied.")
    tokens_in: int = strawberry.field(default=0, description="Input tokens.")
    tokens_out: int = strawberry.field(default=0, description="Output tokens.")
    reservation_id: strawberry.ID | None = strawberry.field(default=None, description="The hold this settles.")


@leaf_input  # its events are built with UsageEventInput's plan (types/leaf_input.py)
@strawberry.input(description="Record a batch of up to 1,000 usage events in one transaction.")
class RecordUsageBatchInput:
    events: list[UsageEventInput] = strawberry.field(description="The events (1 to 1,000).")


@strawberry.input(description="Settle a reservation with the usage it turned into.")
class SettleReservationInput:
    reservation_id: strawberry.ID = strawberry.field(description="The hold.")
    usage: UsageEventInput = strawberry.field(description="What the call consumed (its reservationId is ignored).")


@strawberry.input(description="Give a hold back without usage.")
class ReleaseReservationInput:
    reservation_id: strawberry.ID = strawberry.field(description="The hold.")


@strawberry.type(description="A recorded (or replayed) usage event.")
class UsageResult:
    event: UsageEvent = strawberry.field(description="The stored event.")
    replayed: bool = strawberry.field(description="True when the idempotency key had been recorded before.")


@strawberry.type(description="Result of recordUsage / settleReservation.")
class RecordUsagePayload(Payload):
    result: UsageResult | None = strawberry.field(default=None, description="The event.")


@strawberry.type(description="Result of recordUsageBatch, in input order.")
class RecordUsageBatchPayload(Payload):
    results: list[UsageResult] = strawberry.field(default_factory=list, description="One per input event.")


@strawberry.type(description="Result of releaseReservation.")
class ReservationPayload(Payload):
    reservation: Reservation | None = strawberry.field(default=None, description="The reservation now.")


@strawberry.input(description="Mark a settlement invoiced.")
class InvoiceSettlementInput:
    id: strawberry.ID = strawberry.field(description="The settlement.")
    external_reference: str | None = strawberry.field(default=None, description="The invoice number.")


@strawberry.input(description="Mark a settlement paid.")
class SettleSettlementInput:
    id: strawberry.ID = strawberry.field(description="The settlement.")
    external_reference: str = strawberry.field(description="The payment reference.")


@strawberry.input(description="Write a settlement off (super admins).")
class WriteOffSettlementInput:
    id: strawberry.ID = strawberry.field(description="The settlement.")
    reason: str = strawberry.field(description="Why.")


@strawberry.type(description="Result of a settlement transition.")
class SettlementPayload(Payload):
    settlement: Settlement | None = strawberry.field(default=None, description="The settlement now.")
