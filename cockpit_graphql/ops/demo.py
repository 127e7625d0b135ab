"""The demo tenant: two accounts (so isolation can be explored), a few orgs, teams and users."""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import Account
from cockpit_graphql.domain.accounts.service import AccountChanges, create_account
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.settings import Settings

DEMO_ACCOUNTS = {
    "acme": {
        "name": "Acme Corporation",
        "domain": "acme.example",
        "orgs": {"Engineering": ["Platform", "Data"], "Sales": ["EMEA", "Americas"]},
        "users": [
            ("admin", "Ada Admin", Role.ACCOUNT_ADMIN, "Platform"),
            ("member", "Max Member", Role.MEMBER, "Data"),
            ("grace", "Grace Hopper", Role.MEMBER, "Platform"),
            ("linus", "Linus Sales", Role.MEMBER, "EMEA"),
            ("newcomer", "Nia Newcomer", Role.MEMBER, None),
        ],
    },
    "globex": {
        "name": "Globex Inc.",
        "domain": "globex.example",
        "orgs": {"Research": ["Lab"]},
        "users": [("admin", "Gus Admin", Role.ACCOUNT_ADMIN, "Lab"), ("member", "Gil Member", Role.MEMBER, "Lab")],
    },
}


async def seed_demo(db: Database, settings: Settings) -> list[str]:
    """Create the demo accounts once (keyed by the dev issuer and org id); report what was created."""
    created: list[str] = []
    op = Operation(SYSTEM_ACTOR, "bootstrap")
    for org_key, spec in DEMO_ACCOUNTS.items():
        async with db.platform() as session:
            existing = await session.scalar(
                sa.select(Account.id).where(
                    Account.sso_issuer == settings.dev_issuer, Account.external_org_id == f"{org_key}-org"
                )
            )
        if existing is not None:
            continue
        tenant = mint_for_system(uuid.uuid4())
        async with db.tenant(tenant) as session:
            await create_account(
                session,
                tenant,
                op,
                AccountChanges(
                    name=str(spec["name"]),
                    external_org_id=f"{org_key}-org",
                    sso_issuer=settings.dev_issuer,
                    allowed_email_domains=[str(spec["domain"])],
                    jit_enabled=True,
                    jit_default_role=Role.MEMBER,
                    credits_per_usd=Decimal("1000"),
                ),
                None,
            )
            teams = {}
            for org_name, team_names in spec["orgs"].items():  # type: ignore[attr-defined]
                org = await directory.create_organization(session, tenant, op, org_name)
                for team_name in team_names:
                    team = await directory.create_team(session, tenant, op, org.id, team_name)
                    teams[team_name] = team.id
            for local, name, role, team_name in spec["users"]:  # type: ignore[attr-defined]
                await directory.create_user(
                    session,
                    tenant,
                    op,
                    email=f"{local}@{spec['domain']}",
                    display_name=name,
                    role=role,
                    home_team_id=teams.get(team_name) if team_name else None,
                    external_id=f"ext-{org_key}-{local}",
                )
        created.append(str(spec["name"]))
    return created
