"""SCIM test helpers: tenants with a SCIM token, an in-process SCIM client (httpx over ASGI), and the
app served by uvicorn on 127.0.0.1 (for scim2-tester's synchronous client)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.domain.scim.tokens import create_token
from tests.support.live_server import live_server
from tests.support.world import OP, Tenant, World

SCIM = "application/scim+json"


@dataclass
class ScimTenant:
    tenant: Tenant
    token: str
    token_id: Any

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": SCIM}


async def scim_tenant(world: World, name: str = "Okta") -> ScimTenant:
    t = await world.tenant()
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        row, value = await create_token(s, mint_for_system(t.account_id), OP, name)
    return ScimTenant(t, value, row.id)


class Scim:
    """A tiny SCIM client over the in-process app: returns (status, json body or None)."""

    def __init__(self, client: httpx.AsyncClient, who: ScimTenant) -> None:
        self.client = client
        self.who = who

    async def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        h = self.who.headers | headers
        content = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        r = await self.client.request(method, f"/scim/v2{path}", content=content, headers=h)
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = r.text
        return r.status_code, data


@pytest.fixture
def scim_client(client: httpx.AsyncClient) -> Any:
    return lambda who: Scim(client, who)


@pytest.fixture(scope="session")
def served(settings: Any) -> Iterator[str]:
    """The app under uvicorn on a free 127.0.0.1 port (the shared live server), for scim2-tester."""
    with live_server(settings) as base:
        yield base
