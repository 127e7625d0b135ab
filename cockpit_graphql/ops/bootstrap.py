"""Bootstrap: migrations, the catalog seed, default directory entities for every account, operators,
demo data.

Idempotent: running it again changes nothing that is already there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cockpit_graphql.auth.dev_tokens import SUPER_ADMIN_SUBJECT
from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database, make_engine
from cockpit_graphql.db.migrate import upgrade_to_head
from cockpit_graphql.db.tables import Account, PlatformOperator
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.directory.service import ensure_defaults
from cockpit_graphql.domain.models.seed import seed_models
from cockpit_graphql.ops.demo import DEMO_MODEL_LISTS, seed_demo
from cockpit_graphql.ops.progress import ProgressCallback
from cockpit_graphql.settings import Settings


@dataclass
class BootstrapReport:
    accounts_checked: int = 0
    models_added: list[str] = field(default_factory=list)
    operators_added: list[str] = field(default_factory=list)
    demo: list[str] = field(default_factory=list)


async def add_platform_operator(settings: Settings, issuer: str, subject: str, name: str) -> bool:
    """Operators are platform rows the app role may only read: written with the owner connection."""
    engine = make_engine(settings.owner_database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                pg_insert(PlatformOperator.__table__)  # type: ignore[arg-type]
                .values(id=sa.func.gen_random_uuid(), issuer=issuer, subject=subject, display_name=name)
                .on_conflict_do_nothing()
            )
            return bool(result.rowcount)
    finally:
        await engine.dispose()


async def bootstrap(
    settings: Settings,
    *,
    demo: bool = False,
    operators: list[tuple[str, str]] | None = None,
    progress: Callable[[str], ProgressCallback] | None = None,
) -> BootstrapReport:
    """`progress(step)` gives the (done, total) callback of each long step ("accounts", "demo accounts")."""
    report = BootstrapReport()
    await upgrade_to_head(settings.owner_database_url)
    wanted = list(operators or [])
    if settings.dev_jwt_secret:
        wanted.append((settings.dev_issuer, SUPER_ADMIN_SUBJECT))
    for issuer, subject in wanted:
        if await add_platform_operator(settings, issuer, subject, f"operator {subject}"):
            report.operators_added.append(f"{issuer}#{subject}")
    db = Database.for_jobs(settings)
    try:
        # the catalog seed: COCKPIT_MODELS_<PROVIDER> lists (plus a small demo catalog with --demo)
        lists = {**(DEMO_MODEL_LISTS if demo else {}), **os.environ}
        async with db.platform() as session:
            seeded = await seed_models(
                session, Operation(SYSTEM_ACTOR, "bootstrap"), lists, progress("models") if progress else None
            )
        report.models_added = seeded.added
        async with db.platform() as session:
            account_ids = list((await session.scalars(sa.select(Account.id))).all())
        step = progress("accounts") if progress else None
        for done, account_id in enumerate(account_ids, 1):  # one transaction per account
            async with db.tenant(mint_for_system(account_id)) as session:
                await ensure_defaults(session, mint_for_system(account_id))
            if step:
                step(done, len(account_ids))
        report.accounts_checked = len(account_ids)
        if demo:
            report.demo = await seed_demo(db, settings, progress("demo accounts") if progress else None)
    finally:
        await db.dispose()
    return report
