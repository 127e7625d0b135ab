"""Policy fixtures: catalog models of a test's own (the catalog is platform-wide and shared by the
whole run, so each test confines its account to its models through the entitlement)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa

from cockpit_graphql.db.tables import Account
from cockpit_graphql.domain.models.catalog import Capability, ModelChanges, Provider, create_model
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.types.ids import NO_ACCOUNT, encode_id
from tests.support.world import OP, Tenant, World


async def catalog_model(
    world: World, name: str, *capabilities: Capability, price_in: str = "0", price_out: str = "0"
) -> uuid.UUID:
    async with world.db.platform() as s:
        row = await create_model(
            s,
            OP,
            ModelChanges(
                provider=Provider.OPENAI,
                provider_model_id=f"{name}-{uuid.uuid4().hex[:8]}",
                display_name=name,
                capabilities=list(capabilities) or [Capability.CHAT],
                input_usd_per_mtok=Decimal(price_in),
                output_usd_per_mtok=Decimal(price_out),
            ),
        )
    return row.id


def model_gid(model_id: uuid.UUID) -> str:
    return encode_id("Model", NO_ACCOUNT, model_id)


async def entitle(
    world: World, tenant: Tenant, models: Iterable[uuid.UUID], disabled_features: Iterable[str] = ()
) -> None:
    """Confine the account to `models` (and disable features), as a super admin would."""
    document = Entitlements(False, frozenset(models), frozenset(disabled_features)).to_document()
    async with world.db.platform() as s:
        await s.execute(sa.update(Account).where(Account.id == tenant.account_id).values(entitlements=document))
