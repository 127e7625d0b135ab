"""The strawberry federation v2 subgraph schema, assembled from per-domain mixins."""

from __future__ import annotations

import functools
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection
from strawberry.federation import Schema as FederationSchema

from cockpit_graphql.execution import CockpitExecutionContext
from cockpit_graphql.limits.extension import (
    CachedParsing,
    CachedValidation,
    ErrorShaping,
    QueryLimits,
    RateLimiting,
    shaped_execute,
)
from cockpit_graphql.limits.text import NulFreeText
from cockpit_graphql.ops.metrics_graphql import RequestOutcome
from cockpit_graphql.resolvers.accounts import AccountMutations, AccountQueries
from cockpit_graphql.resolvers.agents import AgentMutations, AgentQueries
from cockpit_graphql.resolvers.anomalies import AnomalyMutations, AnomalyQueries
from cockpit_graphql.resolvers.audit import AuditQueries
from cockpit_graphql.resolvers.budgets import BudgetMutations, BudgetQueries
from cockpit_graphql.resolvers.connections import ConnectionMutations, ConnectionQueries
from cockpit_graphql.resolvers.costs import CostQueries
from cockpit_graphql.resolvers.directory import DirectoryMutations
from cockpit_graphql.resolvers.identity import IdentityMutations
from cockpit_graphql.resolvers.models import ModelMutations, ModelQueries
from cockpit_graphql.resolvers.node import NodeQueries
from cockpit_graphql.resolvers.policies import PolicyMutations, PolicyQueries
from cockpit_graphql.resolvers.rate_limits import RateLimitMutations
from cockpit_graphql.resolvers.scim import ScimMutations, ScimQueries
from cockpit_graphql.types.account import Account
from cockpit_graphql.types.agents import Agent
from cockpit_graphql.types.connections import ConnectionNode
from cockpit_graphql.types.directory import Organization, Team, User
from cockpit_graphql.types.policies import Guardrail

FEDERATION_VERSION = "2.7"


@strawberry.type(description="Read the directory and everything it governs.")
class Query(
    NodeQueries,
    AccountQueries,
    BudgetQueries,
    ModelQueries,
    PolicyQueries,
    ConnectionQueries,
    AgentQueries,
    AuditQueries,
    CostQueries,
    AnomalyQueries,
    ScimQueries,
):
    pass


@strawberry.type(description="Change the directory and its settings; every mutation is audited.")
class Mutation(
    AccountMutations,
    DirectoryMutations,
    BudgetMutations,
    ModelMutations,
    PolicyMutations,
    ConnectionMutations,
    AgentMutations,
    IdentityMutations,
    AnomalyMutations,
    ScimMutations,
    RateLimitMutations,
):
    pass


class CockpitSchema(FederationSchema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Errors are logged (with request ids) by ErrorShaping; expected ones are not noise."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Errors that escaped ErrorShaping (an exception in another extension's hook) are shaped too."""
        context = kwargs.get("context_value", args[2] if len(args) > 2 else None)
        return await shaped_execute(lambda: super(CockpitSchema, self).execute(*args, **kwargs), context)


def build_schema(*, introspection: bool = True, rate_limiter: Any = None, tracing: Any = None) -> CockpitSchema:
    """Extensions, outermost first: tracing (when on), request outcome (metrics), limits, parsing and
    validation (each distinct document text once per process), the rate limit (after validation: only
    valid documents are charged), error shaping."""
    extensions: list[Any] = [RequestOutcome, QueryLimits, CachedParsing, CachedValidation, NulFreeText]
    if rate_limiter is not None:
        extensions.append(functools.partial(RateLimiting, limiter=rate_limiter))
    extensions.append(ErrorShaping)
    if tracing is not None:
        extensions.insert(0, tracing)
    if not introspection:
        extensions.append(DisableIntrospection)
    return CockpitSchema(
        query=Query,
        mutation=Mutation,
        types=[Account, Organization, Team, User, Guardrail, ConnectionNode, Agent],
        extensions=extensions,
        execution_context_class=CockpitExecutionContext,
        federation_version=FEDERATION_VERSION,  # type: ignore[arg-type]
    )


schema = build_schema()
