"""The strawberry federation v2 subgraph schema, assembled from per-domain mixins."""

from __future__ import annotations

import functools
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection
from strawberry.federation import Schema as FederationSchema
from strawberry.federation.schema import FederationAny
from strawberry.types import Info

from cockpit_graphql.domain.errors import BadUserInput
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
from cockpit_graphql.types.scalars import SCALAR_OVERRIDES

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


ENTITY_KEYS = frozenset({"__typename", "id"})


def representation_problem(representation: object, entity_types: frozenset[str]) -> str | None:
    """Why an `_entities` representation is not one we can resolve, or None. Every entity type here
    has the key `id` (a string: its global id) and nothing else: a gateway sends `{__typename, id}`."""
    if not isinstance(representation, dict):
        return "Not an object `{__typename, id}`."
    type_name = representation.get("__typename")
    if not isinstance(type_name, str) or type_name not in entity_types:
        return f"`__typename` must name an entity type of this subgraph ({', '.join(sorted(entity_types))})."
    if not isinstance(representation.get("id"), str):
        return "`id` must be a string (the entity's global id)."
    if representation.keys() != ENTITY_KEYS:
        return "Only `__typename` and `id` are allowed (the key of every entity type here)."
    return None


class CockpitSchema(FederationSchema):
    _entity_types: frozenset[str] | None = None

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        """Strawberry's `_entities` resolver, after each representation is checked: one that is no
        object, names no entity type (an unknown name, none, or Query, Node, Viewer), has no string
        `id`, or has other fields is a BAD_USER_INPUT error at its own index (strawberry read it
        blindly: AttributeError, KeyError, or an id of the wrong type deep in a loader, all INTERNAL);
        the others resolve as before (another account's id: null, like `node`). At most `max_nodes_ids`
        representations, like `nodes(ids:)`: each is a lookup, and the cost multiplies what they select by
        their number (limits/cost.py)."""
        limit = info.context.settings.max_nodes_ids
        if len(representations) > limit:
            raise BadUserInput(f"`representations` takes at most {limit} representations.")
        entity_types = self._entity_types
        if entity_types is None:
            union = self._schema.get_type("_Entity")
            entity_types = self._entity_types = frozenset(t.name for t in getattr(union, "types", ()))
        results: list[object] = []
        valid: list[tuple[int, dict[str, object]]] = []
        for index, representation in enumerate(representations):
            problem = representation_problem(representation, entity_types)
            if problem is None:
                valid.append((index, dict(representation)))  # type: ignore[call-overload]  # strawberry pops __typename
                results.append(None)
            else:
                results.append(BadUserInput(f"Representation {index}: {problem}"))
        resolved = super().entities_resolver(info, [rep for _, rep in valid])  # type: ignore[misc]
        for (index, _), result in zip(valid, resolved, strict=True):
            results[index] = result
        return results  # type: ignore[return-value]

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
    built = CockpitSchema(
        query=Query,
        mutation=Mutation,
        types=[Account, Organization, Team, User, Guardrail, ConnectionNode, Agent],
        extensions=extensions,
        execution_context_class=CockpitExecutionContext,
        federation_version=FEDERATION_VERSION,  # type: ignore[arg-type]
        scalar_overrides=SCALAR_OVERRIDES,
    )
    describe_federation(built._schema)
    return built


FEDERATION_DESCRIPTIONS = {
    "_Any": "A representation of an entity, as a gateway sends it: `{__typename, id}` (every entity's key is `id`).",
    "_Entity": 'Every type of this subgraph a gateway may fetch by its key (`@key(fields: "id")`).',
    "_Service": "This subgraph's own description, for a gateway or router composing the supergraph.",
    "_Service.sdl": "This subgraph's schema in SDL, with its federation directives (what `rover` and routers compose).",
    "Query._service": "This subgraph's SDL (Apollo Federation: read by gateways and routers when composing).",
    "Query._entities": "The entities of these representations, in their order (Apollo Federation: a gateway resolves "
    "references through it). At most 100; a malformed representation is BAD_USER_INPUT at its index, another "
    "account's id or an unknown one is null.",
    "Query._entities(representations)": "`{__typename, id}` of each entity to fetch (id: its global id).",
}
"""Strawberry generates the federation fields and types without descriptions; every element of the schema
carries one (introspection and schema.graphql alike)."""


def describe_federation(graphql_schema: Any) -> None:
    for path, text in FEDERATION_DESCRIPTIONS.items():
        type_name, _, rest = path.partition(".")
        element = graphql_schema.get_type(type_name)
        if rest:
            field_name, _, arg = rest.partition("(")
            element = element.fields[field_name]
            if arg:
                element = element.args[arg.rstrip(")")]
        element.description = text


schema = build_schema()
