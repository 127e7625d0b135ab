"""Who may use and create connections (domain.md §3 connection mode, §4 connections): one function
each, used by the API, the member views and the runtime alike."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.policies.flags import Flag
from cockpit_graphql.domain.policies.resolve import EffectivePolicy
from cockpit_graphql.domain.policies.settings import ConnectionMode


@dataclass(frozen=True)
class ConnectionFacts:
    owner_user_id: uuid.UUID | None  # set for a personal connection
    assigned: frozenset[Scope]  # scopes an admin connection is assigned to


def may_use(connection: ConnectionFacts, chain: Sequence[Scope], *, personal: bool) -> bool:
    """A user may use a connection assigned to any scope of its chain, or, when `personal`
    (`may_use_personal` of the user's policy), its own personal one."""
    if connection.owner_user_id is not None:
        return personal and connection.owner_user_id == chain[-1].id
    return not connection.assigned.isdisjoint(chain)


def may_use_personal(policy: EffectivePolicy) -> bool:
    """Personal connections are usable only under SELF_MANAGED_ALLOWED: under ADMIN_MANAGED members use only
    the connections admins assigned to them (domain.md §3). The rows stay (their owner may still read and
    delete them) and are usable again when the mode allows it."""
    return policy.connection_mode.value is ConnectionMode.SELF_MANAGED_ALLOWED


def may_create_personal(policy: EffectivePolicy) -> bool:
    """Personal connections need CREATE_CONNECTIONS on and the SELF_MANAGED_ALLOWED mode for the user."""
    return (
        policy.flags[Flag.CREATE_CONNECTIONS].value
        and policy.connection_mode.value is ConnectionMode.SELF_MANAGED_ALLOWED
    )


def may_create_personal_agent(policy: EffectivePolicy) -> bool:
    return policy.flags[Flag.CREATE_AGENTS].value
