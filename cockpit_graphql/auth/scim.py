"""SCIM bearer tokens → the tenant a SCIM request acts in.

The lookup is a platform-level routing read, like `identity_bindings`: the token's sha256 is looked up
in `scim_token_routes` (no tenant set), which names the account and the token. Only then is a TenantId
minted for that account (`mint_for_scim_token`); the SCIM request's one tenant transaction confirms the
token is still unrevoked there. A token of account A therefore only ever opens A's tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cockpit_graphql.auth.tenant import TenantId, mint_for_scim_token
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.scim.tokens import route_of


@dataclass(frozen=True)
class ScimCaller:
    tenant: TenantId
    token_id: uuid.UUID


class ScimAuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def authenticate_scim(db: Database, authorization: str | None) -> ScimCaller:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ScimAuthError(401, "Send `Authorization: Bearer <SCIM token>`.")
    async with db.platform() as session:
        route = await route_of(session, value.strip())
    if route is None:
        raise ScimAuthError(401, "Unknown or revoked SCIM token.")
    if not route.account_active:
        raise ScimAuthError(403, "The account is suspended.")
    return ScimCaller(mint_for_scim_token(route.account_id), route.token_id)
