"""SCIM bearer tokens → the tenant a SCIM request acts in.

The lookup is a platform-level routing read, like `identity_bindings`: the token's sha256 is looked up
in `scim_token_routes` (no tenant set), which names the account and the token. Only then is a TenantId
minted for that account (`mint_for_scim_token`); the SCIM request's one tenant transaction confirms the
token is still unrevoked there and the account still active. A token of account A therefore only ever opens A's tenant.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from cockpit_graphql.auth.tenant import TenantId, mint_for_scim_token
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.scim.tokens import Route, route_of, token_hash


@dataclass(frozen=True)
class ScimCaller:
    tenant: TenantId
    token_id: uuid.UUID


class ScimAuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


ROUTE_CACHE_SECONDS = 5.0
"""A live token's route is remembered this long per process (a sync sends requests back to back). Safe
for revocation and suspension, which every request re-checks in its tenant transaction
(`confirm_live`)."""
ROUTE_CACHE_SIZE = 1024


class RouteCache:
    def __init__(self, ttl: float = ROUTE_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._routes: dict[str, tuple[float, Route]] = {}

    async def route(self, db: Database, value: str) -> Route | None:
        key = token_hash(value)  # never keep the token itself
        now = time.monotonic()
        cached = self._routes.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with db.platform() as session:
            route = await route_of(session, value)
        if route is None:
            self._routes.pop(key, None)
            return None
        if len(self._routes) >= ROUTE_CACHE_SIZE:
            self._routes.clear()
        self._routes[key] = (now + self.ttl, route)
        return route


async def authenticate_scim(db: Database, authorization: str | None, cache: RouteCache | None = None) -> ScimCaller:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ScimAuthError(401, "Send `Authorization: Bearer <SCIM token>`.")
    route = await (cache or RouteCache(ttl=0)).route(db, value.strip())
    if route is None:
        raise ScimAuthError(401, "Unknown or revoked SCIM token.")
    if not route.account_active:
        raise ScimAuthError(403, "The account is suspended.")
    return ScimCaller(mint_for_scim_token(route.account_id), route.token_id)
