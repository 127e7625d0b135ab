"""The authenticated principal of a request, and the only place that decides account access."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cockpit_graphql.auth.tenant import TenantId, mint_for_principal, mint_for_super_admin
from cockpit_graphql.domain.actor import Actor
from cockpit_graphql.domain.identity.service import Identity
from cockpit_graphql.domain.roles import Role


@dataclass(frozen=True)
class Principal:
    identity: Identity

    @property
    def role(self) -> Role:
        return self.identity.role

    @property
    def account_id(self) -> uuid.UUID | None:
        return self.identity.account_id

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.identity.user_id

    @property
    def is_super_admin(self) -> bool:
        return self.identity.role is Role.SUPER_ADMIN

    @property
    def actor(self) -> Actor:
        return self.identity.actor

    def tenant_for(self, account_id: uuid.UUID) -> TenantId | None:
        """The tenant this principal may act in for `account_id`, or None (answer: does not exist)."""
        if self.is_super_admin:
            return mint_for_super_admin(account_id)
        if account_id == self.identity.account_id:
            return mint_for_principal(account_id)
        return None

    def home_tenant(self) -> TenantId | None:
        return mint_for_principal(self.identity.account_id) if self.identity.account_id else None
