"""Builds tenants through the domain services and talks to the API over HTTP (ASGI) with real tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.accounts.service import AccountChanges, create_account
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.directory import repository as repo
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.ops.bootstrap import add_platform_operator
from cockpit_graphql.settings import Settings
from cockpit_graphql.types.ids import encode_id
from tests.support.keys import KeyRing

CUSTOMER_ISSUER = "https://idp.customer.test"
PLATFORM_ISSUER = "https://platform.cockpit.test"
OP = Operation(SYSTEM_ACTOR, "test-setup")


@dataclass
class Tenant:
    account_id: uuid.UUID
    external_org_id: str
    issuer: str
    domain: str
    admin_email: str
    member_email: str
    default_org_id: uuid.UUID
    default_team_id: uuid.UUID
    ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def gid(self, type_name: str, key: str) -> str:
        return encode_id(type_name, self.account_id, self.ids[key])

    @property
    def account_gid(self) -> str:
        return encode_id("Account", self.account_id, self.account_id)


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    @property
    def statements(self) -> int:
        return int(self.headers.get("x-sql-statements", "-1"))


@dataclass
class World:
    settings: Settings
    db: Database
    keys: KeyRing
    client: httpx.AsyncClient
    _operator_ready: bool = False

    async def tenant(
        self,
        *,
        jit: bool = False,
        issuer: str = CUSTOMER_ISSUER,
        domains: list[str] | None = None,
        with_structure: bool = True,
    ) -> Tenant:
        tag = uuid.uuid4().hex[:10]
        domain = f"t{tag}.example"
        tenant_id = mint_for_system(uuid.uuid4())
        async with self.db.tenant(tenant_id) as session:
            await create_account(
                session,
                tenant_id,
                OP,
                AccountChanges(
                    name=f"Tenant {tag}",
                    external_org_id=f"org-{tag}",
                    sso_issuer=issuer,
                    allowed_email_domains=domains if domains is not None else [domain],
                    jit_enabled=jit,
                    jit_default_role=Role.MEMBER,
                ),
                f"admin@{domain}",
            )
            org = await repo.default_organization(session)
            team = await repo.default_team(session)
            assert org and team
            t = Tenant(
                tenant_id.value, f"org-{tag}", issuer, domain, f"admin@{domain}", f"member@{domain}", org.id, team.id
            )
            t.ids["global_org"] = org.id
            t.ids["global_team"] = team.id
            admin = await repo.user_by_email(session, t.admin_email)
            assert admin
            t.ids["admin"] = admin.id
            if with_structure:
                eng = await directory.create_organization(session, tenant_id, OP, "Engineering")
                platform = await directory.create_team(session, tenant_id, OP, eng.id, "Platform")
                member = await directory.create_user(
                    session, tenant_id, OP, email=t.member_email, display_name="Member", home_team_id=platform.id
                )
                t.ids |= {"eng": eng.id, "platform": platform.id, "member": member.id}
        return t

    def token(self, tenant: Tenant, email: str, **kw: Any) -> str:
        return self.keys.token(iss=tenant.issuer, sub=f"sub|{email}", org=tenant.external_org_id, email=email, **kw)

    def admin(self, tenant: Tenant) -> str:
        return self.token(tenant, tenant.admin_email)

    def member(self, tenant: Tenant) -> str:
        return self.token(tenant, tenant.member_email)

    async def super_admin(self, subject: str = "operator-1") -> str:
        await add_platform_operator(self.settings, PLATFORM_ISSUER, subject, "Test Operator")
        return self.keys.token(iss=PLATFORM_ISSUER, sub=subject)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        r = await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)
        try:
            body = r.json()
        except ValueError:
            body = {"raw": r.text}
        return Response(r.status_code, body, r.headers)
