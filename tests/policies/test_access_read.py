"""effectiveAccess's one read, run two ways: in a tenant transaction (ACCESS_READ) and alone, as one
call of cockpit_access_read() (migrations 0012 and 0013) outside any transaction. Both must answer the
same, and the function must run the very query of ACCESS_READ: a migration freezes its text, so a
change of the Python statement without a new migration fails here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.rls import TENANT_SETTING
from cockpit_graphql.domain.budgets.repository import known_renewal_day
from cockpit_graphql.domain.policies.access import AccessRequest
from cockpit_graphql.domain.policies.access_read import ACCESS_READ
from cockpit_graphql.domain.policies.flags import flag_registry
from cockpit_graphql.domain.policies.runtime import effective_access, effective_access_alone
from tests.support.policies import catalog_model, entitle, model_gid
from tests.support.world import World


def _normalized(sql: str) -> str:
    return " ".join(sql.split())


async def test_the_function_runs_the_query_of_access_read(world: World) -> None:
    async with world.db.platform() as session:
        definition = await session.scalar(sa.text("SELECT pg_get_functiondef('cockpit_access_read'::regproc)"))
    assert definition is not None
    frozen = re.search(r"RETURN QUERY(.*?);\s*PERFORM", definition, re.S)
    assert frozen is not None, definition
    expected = ACCESS_READ.element.text
    for name, parameter in ((":account_id", "p_account"), (":users", "p_users"), (":start", "p_start")):
        expected = expected.replace(name, parameter)
    assert _normalized(frozen.group(1)) == _normalized(expected)


async def test_both_ways_answer_alike_and_the_function_leaves_no_tenant_behind(world: World) -> None:
    t = await world.tenant()
    alpha = await catalog_model(world, "Alpha")
    await entitle(world, t, [alpha])
    admin = world.admin(t)
    for mutation, input_type, payload in (
        ("setModelAccess", "SetModelAccessInput", {"scopeId": t.account_gid, "defaultModelId": model_gid(alpha)}),
        ("setBudgetPlan", "SetBudgetPlanInput", {"creditsPerCycle": "500", "renewalDay": 3, "overflowPolicy": "BLOCK"}),
        ("setBudgetCap", "SetBudgetCapInput", {"scopeId": t.gid("Team", "platform"), "credits": "40"}),
    ):
        query = f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ userErrors {{ code }} }} }}"
        r = await world.gql(query, {"i": payload}, admin)
        assert r.data[mutation]["userErrors"] == [], r.body
    tenant = mint_for_system(t.account_id)
    asks = [(t.ids["member"], AccessRequest()), (t.ids["admin"], AccessRequest()), (t.account_id, AccessRequest())]
    registry, now = flag_registry(), datetime.now(UTC)
    async with world.db.tenant(tenant) as session:
        in_transaction = await effective_access(session, tenant, asks, registry, now)
    day = known_renewal_day(t.account_id)
    assert day == 3  # learned by the committed transaction above
    alone = await effective_access_alone(world.db, tenant, asks, registry, now, day)
    assert alone == in_transaction
    member, admin_answer, nobody = alone
    assert member is not None and member.decision.allowed and member.model is not None
    assert member.allocation.remaining == 40  # the team's cap binds
    assert admin_answer is not None and nobody is None  # the account's id is no user

    # the function entered the account for its own statement only: the caller's setting is back
    async with world.db.platform() as session:
        await session.execute(sa.text(f"SELECT set_config('{TENANT_SETTING}', 'before', true)"))
        await session.execute(
            sa.text("SELECT count(*) FROM cockpit_access_read(:a, ARRAY[]::uuid[], NULL)"), {"a": t.account_id}
        )
        assert await session.scalar(sa.text(f"SELECT current_setting('{TENANT_SETTING}')")) == "before"
