"""Inputs and payloads of the agent and marketplace mutations."""

from __future__ import annotations

import strawberry

from cockpit_graphql.domain.marketplace.audience import AssignmentMode
from cockpit_graphql.types.agents import Agent, AssignmentModeEnum
from cockpit_graphql.types.errors import Payload
from cockpit_graphql.types.marketplace import MarketplaceItem
from cockpit_graphql.types.policies import GuardrailStateEnum

AGENT = "The agent."


@strawberry.input(description="One guardrail override of an agent.")
class AgentGuardrailOverrideInput:
    guardrail_id: strawberry.ID = strawberry.field(description="A guardrail of the agent's account.")
    state: GuardrailStateEnum = strawberry.field(  # type: ignore[valid-type]
        description="ENABLED, or DISABLED (admin-owned agents only, and never an enforced guardrail at run time)."
    )


@strawberry.input(description="Create a DRAFT agent (version 1).")
class CreateAgentInput:
    name: str = strawberry.field(description="1–200 characters.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The owning account, organization or team (admins); omitted or your own user id: a personal "
        "agent of yours (when CREATE_AGENTS resolves true for you).",
    )
    description: str = strawberry.field(default="", description="At most 2,000 characters.")
    category: str | None = strawberry.field(default=None, description="At most 100 characters.")
    tags: list[str] = strawberry.field(
        default_factory=list, description="At most 20 tags of 50 characters (stored lower-case)."
    )
    instructions: str = strawberry.field(default="", description="At most 20,000 characters.")
    model_id: strawberry.ID | None = strawberry.field(
        default=None, description="A catalog model (whether it is allowed is decided when the agent runs)."
    )
    connection_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Connections of the same account it may call (at most 50)."
    )
    guardrail_overrides: list[AgentGuardrailOverrideInput] = strawberry.field(
        default_factory=list, description="Guardrail overrides (a personal agent may only ENABLE)."
    )


@strawberry.input(description="Edit an agent's definition: a new version. Omitted fields keep their value.")
class UpdateAgentInput:
    id: strawberry.ID = strawberry.field(description=AGENT)
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1–200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 2,000 characters.")
    category: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 100 characters; null clears."
    )
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Replaces the tags.")
    instructions: str | None = strawberry.field(default=strawberry.UNSET, description="At most 20,000 characters.")
    model_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A catalog model; null removes it (the default model is used)."
    )
    connection_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the connections."
    )
    guardrail_overrides: list[AgentGuardrailOverrideInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the guardrail overrides."
    )


@strawberry.input(description="Publish a DRAFT agent: it can then be assigned.")
class PublishAgentInput:
    id: strawberry.ID = strawberry.field(description=AGENT)


@strawberry.input(description="Archive an agent (final): it leaves every marketplace and workspace.")
class ArchiveAgentInput:
    id: strawberry.ID = strawberry.field(description=AGENT)


@strawberry.input(description="Delete a DRAFT agent (archive anything that was published).")
class DeleteAgentInput:
    id: strawberry.ID = strawberry.field(description=AGENT)


@strawberry.input(description="Assign a PUBLISHED agent to a scope; assigning again changes the mode.")
class AssignAgentInput:
    agent_id: strawberry.ID = strawberry.field(description=AGENT)
    scope_id: strawberry.ID = strawberry.field(description="An account, organization, team or user of its account.")
    mode: AssignmentModeEnum = strawberry.field(  # type: ignore[valid-type]
        default=AssignmentMode.AVAILABLE,
        description="AVAILABLE (marketplace) or INSTALLED (workspace).",
    )


@strawberry.input(description="Withdraw an agent from a scope (members' installs stay recorded, inactive).")
class UnassignAgentInput:
    agent_id: strawberry.ID = strawberry.field(description=AGENT)
    scope_id: strawberry.ID = strawberry.field(description="The scope it is assigned to.")


@strawberry.input(description="Add an AVAILABLE agent of your audience to your workspace.")
class InstallAgentInput:
    agent_id: strawberry.ID = strawberry.field(description=AGENT)


@strawberry.input(description="Remove an agent you installed from your workspace.")
class UninstallAgentInput:
    agent_id: strawberry.ID = strawberry.field(description=AGENT)


@strawberry.type(description="The agent after the change.")
class AgentPayload(Payload):
    agent: Agent | None = strawberry.field(default=None, description="The agent.")


@strawberry.type(description="The id of the deleted agent.")
class DeleteAgentPayload(Payload):
    deleted_agent_id: strawberry.ID | None = strawberry.field(default=None, description="The deleted agent.")


@strawberry.type(description="The agent after the (un)install, as your marketplace shows it.")
class MarketplaceItemPayload(Payload):
    agent: Agent | None = strawberry.field(default=None, description="The agent.")
    item: MarketplaceItem | None = strawberry.field(
        default=None, description="How it reaches you now; null when it is outside your audience."
    )
