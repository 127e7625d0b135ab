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
from cockpit_graphql.types.ids import ACCOUNT_SCOPED, decode_id, encode_id

AuditActionEnum = strawberry.enum(
    AuditAction,
    name="AuditAction",
    description="The closed audit taxonomy: every action an audit event can record (`<module>.<entity>.<verb>`; "
    "docs/observability.md lists them all).",
)
AuditActorTypeEnum = strawberry.enum(
    ActorType,
    name="AuditActorType",
    description="Who performed an audited change: a user of the account, a super admin, the system, or the "
    "account's identity provider over SCIM (the actor id is then the SCIM token's id).",
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
