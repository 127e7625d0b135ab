"""The demo tenant: two accounts (so isolation can be explored), a few orgs, teams and users; a small
model catalog, and for Acme a budget plan and a few policies, so effectiveAccess answers something."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId, mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import Account, CatalogModel
from cockpit_graphql.domain.accounts.service import AccountChanges, create_account
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.budgets import plans
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.models.catalog import ModelChanges, update_model
from cockpit_graphql.domain.policies import service as policies
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType
from cockpit_graphql.domain.policies.settings import GuardrailState
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.ops.progress import ProgressCallback
from cockpit_graphql.settings import Settings

DEMO_MODEL_LISTS = {
    "COCKPIT_MODELS_AZURE_OPENAI": "gpt-4o,gpt-4.1-mini",
    "COCKPIT_MODELS_ANTHROPIC": "claude-sonnet-4",
    "COCKPIT_MODELS_OPENAI": "gpt-image-1",
}
DEMO_PRICES = {"gpt-4o": ("2.5", "10"), "gpt-4.1-mini": ("0.4", "1.6"), "claude-sonnet-4": ("3", "15")}

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


async def seed_demo(db: Database, settings: Settings, progress: ProgressCallback | None = None) -> list[str]:
    """Create the demo accounts once (keyed by the dev issuer and org id); report what was created."""
    created: list[str] = []
    op = Operation(SYSTEM_ACTOR, "bootstrap")
    for done, (org_key, spec) in enumerate(DEMO_ACCOUNTS.items(), 1):
        if progress:
            progress(done - 1, len(DEMO_ACCOUNTS))
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
            if org_key == "acme":
                await _acme_policies(session, tenant, op)
        created.append(str(spec["name"]))
    if progress:
        progress(len(DEMO_ACCOUNTS), len(DEMO_ACCOUNTS))
    return created


async def _acme_policies(session: AsyncSession, tenant: TenantId, op: Operation) -> None:
    """A plan, a default model and an enforced guardrail (through the same services as the API)."""
    await plans.set_plan(session, tenant, op, plans.PlanTerms(Decimal(100_000), 1), datetime.now(UTC))
    rows = (await session.scalars(sa.select(CatalogModel))).all()
    by_name = {m.provider_model_id: m for m in rows}
    for name, (price_in, price_out) in DEMO_PRICES.items():  # demo prices, only where still unpriced
        model = by_name.get(name)
        if model is not None and model.input_usd_per_mtok == 0 and model.output_usd_per_mtok == 0:
            prices = ModelChanges(input_usd_per_mtok=Decimal(price_in), output_usd_per_mtok=Decimal(price_out))
            await update_model(session, op, model.id, prices)  # audited in the platform trail
    account = Scope(ScopeLevel.ACCOUNT, tenant.value)
    default = by_name.get("gpt-4.1-mini")
    if default is not None:
        await policies.set_model_access(session, tenant, op, account, policies.ModelAccessRequest(None, [], default.id))
    pii = await policies.create_guardrail(
        session, tenant, op, "PII redaction", GuardrailType.PII_REDACTION, GuardrailMode.REDACT, {}
    )
    await policies.set_guardrail_state(session, tenant, op, account, pii.id, GuardrailState.ENABLED, True)
