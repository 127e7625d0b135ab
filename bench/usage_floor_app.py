"""The real server with recordUsageBatch's domain call replaced by one that does no database work: the
GraphQL/transport floor of a usage batch (bench.usage_floor starts it and measures it).

    python -m bench.usage_floor_app --port 8123 [--workers 2]

Everything is the product's (`cockpit_graphql.app:create_app`, served by uvicorn exactly as `cockpit
serve` serves it: the same TCP_NODELAY fix, metrics directory, logging and options) except ONE function,
patched in every worker process before the app is built: `cockpit_graphql.domain.budgets.metering.
record_usage`, which the recordUsage/recordUsageBatch resolvers call through the module at call time.
The replacement answers, for each input event, a `RecordedEvent` built in pure Python: credits =
costUsd × FLOOR_CREDITS_PER_USD, exact and rounded half-up to 6 decimals (the product's `credits_of`),
all of it included, nothing overflow, never a replay. It reads nothing and writes nothing: no budget
mutex, no replay lookup, no factor, placement, cycle or pool read, no validation beyond what the
GraphQL input types and the resolver's own parsing do, no event, ledger, counter, rollup or notice
write. What stays is everything around it: HTTP parsing, authentication (the JWT and the identity
statement), the rate limiter (one EVALSHA to Redis), the query cost limits, GraphQL parsing, validation
and execution of the 1,000-event input and the 1,000 results, the resolver's per-event input parsing
(`_usage_input`: global ids decoded) and the mutation wrapper's tenant transaction (a pooled connection,
BEGIN, `set_config` of the tenant, COMMIT).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets import metering
from cockpit_graphql.domain.budgets.metering import RecordedEvent, UsageInput, UsageOutcome
from cockpit_graphql.domain.budgets.money import credits_of

FLOOR_CREDITS_PER_USD = Decimal(1000)  # the seeded account's factor (bench/seed.py), a constant here: no read
NO_ID = uuid.UUID(int=0)  # cycle, organization and team: not looked up (the bench's query selects none of them)
ZERO = Decimal(0)


async def record_usage_floor(
    session: Any, tenant: TenantId, inputs: list[UsageInput], now: datetime, grace: timedelta | None = None
) -> list[UsageOutcome]:
    """The result per event the product would answer for an all-included batch, without the database."""
    outcomes = []
    for event in inputs:
        assert event.cost_usd is not None, "the floor prices costUsd only (the bench sends it)"
        credits = credits_of(event.cost_usd, FLOOR_CREDITS_PER_USD)
        row = RecordedEvent(
            account_id=tenant.value,
            id=uuid.uuid4(),
            idempotency_key=event.idempotency_key,
            cycle_id=NO_ID,
            occurred_at=event.occurred_at,
            recorded_at=now,
            late=False,
            user_id=event.user_id,
            organization_id=NO_ID,
            team_id=NO_ID,
            agent_id=event.agent_id,
            model_id=event.model_id,
            connection_ids=list(event.connection_ids),
            guardrails=list(event.guardrails),
            tokens_in=event.tokens_in,
            tokens_out=event.tokens_out,
            cost_usd=event.cost_usd,
            credits_per_usd=FLOOR_CREDITS_PER_USD,
            credits=credits,
            included_credits=credits,
            overflow_credits=ZERO,
            reservation_id=None,
        )
        outcomes.append(UsageOutcome(row, replayed=False))
    return outcomes


def create_floor_app() -> Any:
    """uvicorn's factory in every worker: patch the metering, then the product's app."""
    from cockpit_graphql.app import create_app

    metering.record_usage = record_usage_floor  # type: ignore[assignment]
    return create_app()


def main(argv: list[str] | None = None) -> int:
    """`cockpit serve` (cli.serve) with the floor's app factory instead of the product's."""
    from cockpit_graphql import cli

    parser = argparse.ArgumentParser(prog="python -m bench.usage_floor_app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep-alive", type=int, default=cli.DEFAULT_KEEP_ALIVE_S)
    args = parser.parse_args(argv)
    factory = "bench.usage_floor_app:create_floor_app"
    return cli.serve(args.host, args.port, args.workers, app_factory=factory, keep_alive=args.keep_alive)


if __name__ == "__main__":
    sys.exit(main())
