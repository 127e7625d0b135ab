"""Who performs an operation, as the domain and the audit trail see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from cockpit_graphql.domain.roles import Role


class ActorType(StrEnum):
    USER = "USER"
    SUPER_ADMIN = "SUPER_ADMIN"
    SYSTEM = "SYSTEM"
    SCIM = "SCIM"


@dataclass(frozen=True)
class Actor:
    type: ActorType
    role: Role
    label: str
    user_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None

    @property
    def audit_id(self) -> str | None:
        ident = self.user_id or self.operator_id or self.token_id
        return str(ident) if ident else None


SYSTEM_ACTOR = Actor(type=ActorType.SYSTEM, role=Role.SUPER_ADMIN, label="system")


def scim_actor(token_id: uuid.UUID) -> Actor:
    """An identity provider provisioning over SCIM with one of the account's SCIM tokens (audited as `scim`)."""
    return Actor(type=ActorType.SCIM, role=Role.ACCOUNT_ADMIN, label="scim", token_id=token_id)


@dataclass(frozen=True)
class Operation:
    """An actor plus the request id that ties its audit events to the logs."""

    actor: Actor
    request_id: str | None = None
