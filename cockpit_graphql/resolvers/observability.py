"""Observability resolvers: an account's directory quality, and identity reconciliation."""

from __future__ import annotations

import uuid

from cockpit_graphql.context import Info
from cockpit_graphql.domain.errors import NotFound
from cockpit_graphql.domain.observability import quality
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.types.quality import DirectoryQuality


async def directory_quality_of(info: Info, account_id: uuid.UUID) -> DirectoryQuality:
    """`Account.directoryQuality`: admins of the account (READ_USERS), super admins; one tenant transaction."""
    ctx = info.context
    ctx.require(Permission.READ_USERS)
    tenant = ctx.tenant_for(account_id)
    if tenant is None:
        raise NotFound("No such account.")
    async with ctx.db.tenant(tenant) as session:
        found = await quality.directory_quality(session, tenant)
    return DirectoryQuality.of(found)
