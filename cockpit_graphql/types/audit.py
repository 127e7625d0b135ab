"""The audit trail as GraphQL: events, their actor and target, and the typed filter."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.domain.actor import ActorType
from cockpit_graphql.domain.audit.query import AuditFilter, parse_recorded_id
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import ACCOUNT_SCOPED, decode_id, encode_id

AuditActionEnum = described_enum(
    AuditAction,
    name="AuditAction",
    description="The closed audit taxonomy: every action an audit event can record (`<module>.<entity>.<verb>`; "
    "docs/observability.md lists them all).",
    values={
        "ACCOUNT_CREATED": "`directory.account.created`: a super admin created the account.",
        "ACCOUNT_UPDATED": "`directory.account.updated`: a super admin changed the account's settings (name, external "
        "org id, SSO settings, creditsPerUsd, …).",
        "ACCOUNT_SUSPENDED": "`directory.account.suspended`: a super admin suspended the account; every request of "
        "its members is refused with ACCOUNT_SUSPENDED.",
        "ACCOUNT_REACTIVATED": "`directory.account.reactivated`: a super admin reactivated the suspended account; its "
        "members are served again.",
        "ENTITLEMENTS_UPDATED": "`policies.entitlements.updated`: a super admin changed the account's entitlements "
        "(the allowed catalog models and disabled features nothing below can widen).",
        "RATE_LIMIT_UPDATED": "`policies.rate_limit.updated`: a super admin set the account's rate-limit override "
        "(capacity, refill per second).",
        "RATE_LIMIT_CLEARED": "`policies.rate_limit.cleared`: a super admin removed the account's rate-limit "
        "override; the deployment's defaults apply again.",
        "ORGANIZATION_CREATED": "`directory.organization.created`: an organization was created (by an admin, or by "
        "SCIM group provisioning).",
        "ORGANIZATION_UPDATED": "`directory.organization.updated`: an organization was renamed.",
        "ORGANIZATION_DELETED": "`directory.organization.deleted`: an organization was deleted (its teams moved to "
        "`moveMembersTo` first, when given).",
        "TEAM_CREATED": "`directory.team.created`: a team was created (by an admin, or by SCIM group provisioning).",
        "TEAM_UPDATED": "`directory.team.updated`: a team was renamed.",
        "TEAM_MOVED": "`directory.team.moved`: a team, with its users, was moved to another organization.",
        "TEAM_DELETED": "`directory.team.deleted`: a team was deleted (its members moved to `moveMembersTo` first, "
        "when given).",
        "USER_CREATED": "`directory.user.created`: a user was created by an admin or by SCIM provisioning "
        "(just-in-time sign-in records IDENTITY_PROVISIONED instead).",
        "USER_UPDATED": "`directory.user.updated`: a user's email, display name, role or external id changed.",
        "USER_MOVED": "`directory.user.moved`: a user's home team changed; future usage and policies follow it, past "
        "usage keeps its placement.",
        "USER_DELETED": "`directory.user.deleted`: a user was deleted with their OIDC links, caps and personal "
        "agents; usage history keeps its snapshot.",
        "USER_DEACTIVATED": "`directory.user.deactivated`: a user was deactivated (SCIM `active: false` or DELETE); "
        "kept with all history, refused at sign-in.",
        "USER_REACTIVATED": "`directory.user.reactivated`: a deactivated user was made active again and may sign in.",
        "PLAN_CREATED": "`budgets.plan.created`: the account's first budget plan was set; its first cycle opens with "
        "its GRANT.",
        "PLAN_UPDATED": "`budgets.plan.updated`: a new version of the budget plan was set; it applies from the next "
        "cycle.",
        "CAP_UPDATED": "`budgets.cap.updated`: an organization, team or user cap (credits per cycle) was set.",
        "CAP_CLEARED": "`budgets.cap.cleared`: an organization, team or user cap was removed.",
        "DEFAULT_CAP_UPDATED": "`budgets.default_user_cap.updated`: the default user cap of an account, organization "
        "or team was set.",
        "DEFAULT_CAP_CLEARED": "`budgets.default_user_cap.cleared`: the default user cap of an account, organization "
        "or team was removed.",
        "CREDITS_ADJUSTED": "`budgets.adjustment.created`: an admin added or removed credits in the current cycle, "
        "with a reason (an ADJUSTMENT ledger entry).",
        "CYCLE_RENEWED": "`budgets.cycle.renewed`: an admin ran the budget renewal on demand (renewBudgetCycle); the "
        "scheduled sweep writes no audit event.",
        "SETTLEMENT_INVOICED": "`budgets.settlement.invoiced`: a cycle's overflow settlement was marked INVOICED.",
        "SETTLEMENT_SETTLED": "`budgets.settlement.settled`: a settlement was paid (SETTLED, with its payment "
        "reference); books SETTLEMENT.",
        "SETTLEMENT_WRITTEN_OFF": "`budgets.settlement.written_off`: a super admin wrote a settlement off with a "
        "reason; books WRITE_OFF.",
        "MODEL_CREATED": "`models.model.created`: a model was added to the platform catalog (platform trail).",
        "MODEL_UPDATED": "`models.model.updated`: a catalog model was changed, e.g. its prices, enabled or deprecated "
        "(platform trail).",
        "MODEL_DELETED": "`models.model.deleted`: a model was removed from the platform catalog (platform trail).",
        "MODEL_ACCESS_UPDATED": "`policies.model_access.updated`: a scope's model access (allow list, deny list, "
        "default model) was set.",
        "MODEL_ACCESS_CLEARED": "`policies.model_access.cleared`: a scope's model access setting was removed.",
        "FLAG_UPDATED": "`policies.flag.updated`: a scope set a feature flag on or off, optionally locked.",
        "FLAG_CLEARED": "`policies.flag.cleared`: a scope's feature flag setting was removed.",
        "CONNECTION_MODE_UPDATED": "`policies.connection_mode.updated`: a scope set the connection permission mode, "
        "optionally locked.",
        "CONNECTION_MODE_CLEARED": "`policies.connection_mode.cleared`: a scope's connection mode setting was removed.",
        "GUARDRAIL_CREATED": "`guardrails.guardrail.created`: a guardrail definition (type, mode, config) was created "
        "in the account.",
        "GUARDRAIL_UPDATED": "`guardrails.guardrail.updated`: a guardrail definition's name, mode or config changed.",
        "GUARDRAIL_DELETED": "`guardrails.guardrail.deleted`: a guardrail definition was deleted, with every scope's "
        "setting of it.",
        "GUARDRAIL_SETTING_UPDATED": "`guardrails.setting.updated`: a scope set a guardrail ENABLED (optionally "
        "enforced) or DISABLED.",
        "GUARDRAIL_SETTING_CLEARED": "`guardrails.setting.cleared`: a scope's guardrail setting was removed.",
        "CONNECTION_CREATED": "`connections.connection.created`: an admin or personal connection was created (the "
        "secret's value is never recorded).",
        "CONNECTION_UPDATED": "`connections.connection.updated`: a connection's name or config changed, or its secret "
        "was replaced or cleared (flagged, never shown).",
        "CONNECTION_DELETED": "`connections.connection.deleted`: a connection was deleted.",
        "CONNECTION_ASSIGNED": "`connections.assignment.created`: an admin connection was assigned to a scope.",
        "CONNECTION_UNASSIGNED": "`connections.assignment.deleted`: an admin connection was unassigned from a scope.",
        "AGENT_CREATED": "`agents.agent.created`: an agent was created (by an admin at a scope, or a member's "
        "personal agent), as DRAFT.",
        "AGENT_UPDATED": "`agents.agent.updated`: an agent's definition was edited, making a new version.",
        "AGENT_PUBLISHED": "`agents.agent.published`: an agent went from DRAFT to PUBLISHED.",
        "AGENT_ARCHIVED": "`agents.agent.archived`: an agent was archived: it leaves every marketplace and workspace "
        "and cannot run.",
        "AGENT_DELETED": "`agents.agent.deleted`: a DRAFT agent was deleted (any other status is archived instead).",
        "AGENT_ASSIGNED": "`marketplace.assignment.created`: a published agent was assigned to a scope as AVAILABLE "
        "or INSTALLED (or its mode changed).",
        "AGENT_UNASSIGNED": "`marketplace.assignment.deleted`: an agent's assignment to a scope was removed.",
        "AGENT_INSTALLED": "`marketplace.install.created`: a member installed an AVAILABLE agent in their workspace.",
        "AGENT_UNINSTALLED": "`marketplace.install.deleted`: a member uninstalled an agent from their workspace.",
        "IDENTITY_LINKED": "`identity.user.linked`: at sign-in, an OIDC subject was linked to the existing user with "
        "its verified email.",
        "IDENTITY_PROVISIONED": "`identity.user.provisioned`: at sign-in, just-in-time provisioning created the user "
        "(default role, Global team) and linked the subject.",
        "IDENTITY_RECONCILED": "`identity.user.reconciled`: reconcileIdentities (not a dry run) linked kept "
        "identities; records the links and the count per outcome.",
        "IDENTITY_ACCOUNT_MISMATCH": "`identity.token.account_mismatch`: a token's subject is linked in another "
        "account than the one it resolves to; refused with ACCOUNT_MISMATCH.",
        "SCIM_TOKEN_CREATED": "`identity.scim_token.created`: an admin created a SCIM token (its secret is shown once "
        "and never recorded).",
        "SCIM_TOKEN_REVOKED": "`identity.scim_token.revoked`: an admin revoked a SCIM token; it stops authenticating.",
        "SCIM_USER_CREATED": "`identity.scim_user.created`: the identity provider created a user over SCIM (or "
        "adopted an existing one: `adopted: true`).",
        "SCIM_USER_UPDATED": "`identity.scim_user.updated`: the identity provider changed a SCIM user (userName, "
        "active, attributes).",
        "SCIM_USER_DELETED": "`identity.scim_user.deleted`: the identity provider deleted a SCIM user; the directory "
        "user is deactivated and leaves its groups.",
        "SCIM_GROUP_CREATED": "`identity.scim_group.created`: the identity provider created a SCIM group (mapped to a "
        "team by the naming rule).",
        "SCIM_GROUP_UPDATED": "`identity.scim_group.updated`: the identity provider renamed a SCIM group or changed "
        "its members.",
        "SCIM_GROUP_DELETED": "`identity.scim_group.deleted`: the identity provider deleted a SCIM group.",
        "ANOMALY_ACKNOWLEDGED": "`observability.anomaly.acknowledged`: an admin acknowledged a recorded cost anomaly, "
        "with an optional note.",
    },
)
AuditActorTypeEnum = described_enum(
    ActorType,
    name="AuditActorType",
    description="Who performed an audited change: a user of the account, a super admin, the system, or the "
    "account's identity provider over SCIM (the actor id is then the SCIM token's id).",
    values={
        "USER": "A user of the account, whose user id is the actor id; at sign-in (linking, provisioning) there is "
        "no id yet and the label is the token's email or subject.",
        "SUPER_ADMIN": "A platform operator (super admin); the actor id is the operator's id.",
        "SYSTEM": "The platform itself, with no person behind it: a command (bootstrap, model seeding) or a "
        "background job.",
        "SCIM": "The account's identity provider provisioning over SCIM; the actor id is the SCIM token's id.",
    },
)


@strawberry.type(description="Who performed an audited change, as recorded when it happened.")
class AuditActor:
    type: AuditActorTypeEnum = strawberry.field(description="User, super admin or system.")  # type: ignore[valid-type]
    id: str | None = strawberry.field(
        description="The recorded identifier (a user's or an operator's uuid); null for the system."
    )
    label: str = strawberry.field(description="The actor's name or email as it was at the time.")
    user_id: strawberry.ID | None = strawberry.field(
        description="The global id of the acting user (users of this account only; the user may since be deleted)."
    )


@strawberry.type(description="What an audited change was about, as recorded.")
class AuditTarget:
    type: str = strawberry.field(description="The kind of object (User, Team, Account, BudgetCap, …).")
    id: str | None = strawberry.field(description="The recorded identifier of the object (usually a uuid).")
    node_id: strawberry.ID | None = strawberry.field(
        description="The object's global id when it is a node of this account (it may since be deleted)."
    )


def _action(value: str) -> AuditAction:
    return AuditAction(value)


@strawberry.type(description="One audited change: what, who, on what, the before/after diff, and the request.")
class AuditEvent:
    id: strawberry.ID = strawberry.field(description="The event's identifier (stable; not a node id).")
    occurred_at: datetime = strawberry.field(description="When the change was committed (UTC).")
    action: AuditActionEnum = strawberry.field(description="The action, from the closed taxonomy.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="The action as `<module>.<entity>.<verb>`.")
    module: str = strawberry.field(description="The action's module (`directory`, `budgets`, …).")
    entity: str = strawberry.field(description="The action's entity (`user`, `cap`, …).")
    verb: str = strawberry.field(description="The action's verb (`created`, `updated`, …).")
    actor: AuditActor = strawberry.field(description="Who made the change.")
    target: AuditTarget = strawberry.field(description="What the change was about.")
    diff: JSON = strawberry.field(
        description="`{before, after}`: only the keys that changed, secrets redacted, as stored."
    )
    request_id: str | None = strawberry.field(description="The request that made the change (finds it in the logs).")

    @classmethod
    def from_row(cls, row: Any) -> AuditEvent:
        account_id: uuid.UUID | None = getattr(row, "account_id", None)
        module, entity, verb = row.action.split(".", 2)
        user_id = None
        if account_id is not None and row.actor_type == ActorType.USER.value and row.actor_id:
            user_id = _node(account_id, "User", row.actor_id)
        node_id = None
        if account_id is not None and row.target_type in ACCOUNT_SCOPED and row.target_id:
            node_id = _node(account_id, row.target_type, row.target_id)
        elif row.target_type == "Account" and row.target_id:
            node_id = _node(account_id or uuid.UUID(int=0), "Account", row.target_id)
        return cls(
            id=strawberry.ID(str(row.id)),
            occurred_at=row.occurred_at,
            action=_action(row.action),
            name=row.action,
            module=module,
            entity=entity,
            verb=verb,
            actor=AuditActor(
                type=ActorType(row.actor_type),
                id=row.actor_id,
                label=row.actor_label,
                user_id=user_id,
            ),
            target=AuditTarget(type=row.target_type, id=row.target_id, node_id=node_id),
            diff=row.diff,
            request_id=row.request_id,
        )


def _node(account_id: uuid.UUID, type_name: str, recorded: str) -> strawberry.ID | None:
    try:
        ident = uuid.UUID(recorded)
    except ValueError:
        return None
    if type_name == "Account":
        return strawberry.ID(encode_id("Account", ident, ident))
    return strawberry.ID(encode_id(type_name, account_id, ident))


@strawberry.input(description="Narrow an audit trail. Every given criterion must hold; a list matches any value.")
class AuditEventFilter:
    modules: list[str] | None = strawberry.field(
        default=None, description="Only actions of these modules (`directory`, `budgets`, …)."
    )
    entities: list[str] | None = strawberry.field(
        default=None, description="Only actions on these entities (`user`, `cap`, …)."
    )
    verbs: list[str] | None = strawberry.field(
        default=None, description="Only actions with these verbs (`created`, `deleted`, …)."
    )
    actions: list[AuditActionEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only these actions."
    )
    actor_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only changes by this actor: a User's global id, or a recorded actor id (an operator's uuid).",
    )
    actor_type: AuditActorTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only changes by this kind of actor."
    )
    target_type: str | None = strawberry.field(default=None, description="Only changes about this kind of object.")
    target_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only changes about this object: a global id (its type then applies too) or a recorded id.",
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Only changes at or after this instant."
    )
    to: datetime | None = strawberry.field(default=None, description="Only changes at or before this instant.")

    def to_domain(self, account_id: uuid.UUID | None) -> AuditFilter:
        """`account_id` is the trail's account (None for the platform trail): a global id of another
        account is kept as a filter that matches nothing, never as a way into that account."""
        impossible = "00000000-0000-0000-0000-000000000000/none"
        actor_id = None
        if self.actor_id is not None:
            ref = decode_id(self.actor_id)
            if ref is not None:
                actor_id = str(ref.id) if ref.account_id == (account_id or ref.account_id) else impossible
            else:
                actor_id = parse_recorded_id(self.actor_id)
        target_type, target_id = self.target_type, None
        if self.target_id is not None:
            ref = decode_id(self.target_id)
            if ref is None:
                target_id = parse_recorded_id(self.target_id)
            elif ref.type_name == "Account" or ref.account_id == (account_id or ref.account_id):
                target_id = str(ref.id)
                if target_type is None:
                    target_type = ref.type_name
            else:
                target_id = impossible
        return AuditFilter(
            modules=tuple(self.modules) if self.modules is not None else None,
            entities=tuple(self.entities) if self.entities is not None else None,
            verbs=tuple(self.verbs) if self.verbs is not None else None,
            actions=tuple(AuditAction(a).value for a in self.actions) if self.actions is not None else None,
            actor_id=actor_id,
            actor_type=ActorType(self.actor_type).value if self.actor_type is not None else None,
            target_type=target_type,
            target_id=target_id,
            occurred_from=self.from_,
            occurred_to=self.to,
        ).validate()
