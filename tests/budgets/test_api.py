"""Budgets through GraphQL: allocations on every node, permissions, the runtime's calls, batching."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from cockpit_graphql.types.ids import decode_id, encode_id
from tests.support.world import Tenant, World

PLAN = """mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) {
  plan { version creditsPerCycle renewalDay overflowPolicy } userErrors { field code message } } }"""
CAP = """mutation($i: SetBudgetCapInput!) { setBudgetCap(input: $i) {
  scope { level id } settings { cap defaultUserCap } userErrors { field code message } } }"""
DEFAULT = """mutation($i: SetBudgetCapInput!) { setDefaultUserCap(input: $i) {
  settings { defaultUserCap } userErrors { code } } }"""
AUTHORIZE = """mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) {
  authorization { allowed reason bindingScope { level id } reservation { id credits status } }
  userErrors { field code message } } }"""
RECORD = """mutation($i: UsageEventInput!) { recordUsage(input: $i) {
  result { replayed event { id credits includedCredits overflowCredits creditsPerUsd userId teamId organizationId } }
  userErrors { field code message } } }"""
ALLOCATION = """query($id: ID!) { node(id: $id) { ... on User { effectiveAllocation {
  remaining cap capSource spent reserved bindingScope { level id }
  trace { scope { level } cap capSource capSourceScope { level } spent reserved headroom } } } } }"""


async def _setup(world: World) -> tuple[Tenant, str]:
    t = await world.tenant()
    admin = world.admin(t)
    r = await world.gql(PLAN, {"i": {"creditsPerCycle": "1000", "renewalDay": 1}}, token=admin)
    assert r.data["setBudgetPlan"]["userErrors"] == [], r.body
    return t, admin


async def test_plan_caps_and_allocation_trace(world: World) -> None:
    t, admin = await _setup(world)
    r = await world.gql(CAP, {"i": {"scopeId": t.gid("Organization", "eng"), "credits": "600"}}, token=admin)
    settings = r.data["setBudgetCap"]["settings"]
    assert Decimal(settings["cap"]) == 600 and settings["defaultUserCap"] is None
    r = await world.gql(DEFAULT, {"i": {"scopeId": t.gid("Team", "platform"), "credits": "250.5"}}, token=admin)
    assert r.data["setDefaultUserCap"]["userErrors"] == []
    r = await world.gql(ALLOCATION, {"id": t.gid("User", "member")}, token=admin)
    alloc = r.data["node"]["effectiveAllocation"]
    assert Decimal(alloc["remaining"]) == Decimal("250.5")
    assert alloc["capSource"] == "DEFAULT" and alloc["bindingScope"]["level"] == "USER"
    assert [lvl["capSource"] for lvl in alloc["trace"]] == ["PLAN", "OVERRIDE", "NONE", "DEFAULT"]
    assert alloc["trace"][3]["capSourceScope"] == {"level": "TEAM"}


async def test_cap_validation_and_foreign_scopes(world: World) -> None:
    t, admin = await _setup(world)
    negative = await world.gql(CAP, {"i": {"scopeId": t.gid("Team", "platform"), "credits": "-1"}}, token=admin)
    assert [e["code"] for e in negative.data["setBudgetCap"]["userErrors"]] == ["INVALID"]
    account = await world.gql(CAP, {"i": {"scopeId": t.account_gid, "credits": "1"}}, token=admin)
    assert [e["code"] for e in account.data["setBudgetCap"]["userErrors"]] == ["INVALID"]
    other = await world.tenant()
    foreign = await world.gql(CAP, {"i": {"scopeId": other.gid("Team", "platform"), "credits": "1"}}, token=admin)
    assert [e["code"] for e in foreign.data["setBudgetCap"]["userErrors"]] == ["NOT_FOUND"]
    bogus = await world.gql(CAP, {"i": {"scopeId": "nope", "credits": "1"}}, token=admin)
    assert [e["code"] for e in bogus.data["setBudgetCap"]["userErrors"]] == ["NOT_FOUND"]


async def test_members_read_only_their_own_allocation(world: World) -> None:
    t, _ = await _setup(world)
    member = world.member(t)
    own = await world.gql(ALLOCATION, {"id": t.gid("User", "member")}, token=member)
    assert own.errors == [] and own.data["node"]["effectiveAllocation"]["remaining"] is not None
    r = await world.gql("{ viewer { account { effectiveAllocation { remaining } } } }", token=member)
    assert r.codes == ["FORBIDDEN"]
    r = await world.gql(AUTHORIZE, {"i": {"userId": t.gid("User", "member"), "estimatedCredits": "1"}}, token=member)
    assert r.codes == ["FORBIDDEN"]
    r = await world.gql(CAP, {"i": {"scopeId": t.gid("User", "member"), "credits": "9999"}}, token=member)
    assert r.codes == ["FORBIDDEN"]


async def test_runtime_authorize_record_and_replay(world: World) -> None:
    t, admin = await _setup(world)
    await world.gql(CAP, {"i": {"scopeId": t.gid("User", "member"), "credits": "100"}}, token=admin)
    denied = await world.gql(
        AUTHORIZE, {"i": {"userId": t.gid("User", "member"), "estimatedCredits": "100.5"}}, token=admin
    )
    decision = denied.data["authorizeUsage"]["authorization"]
    assert decision["allowed"] is False and decision["reason"] == "CAP_EXCEEDED"
    assert decision["bindingScope"] == {"level": "USER", "id": t.gid("User", "member")}
    held = await world.gql(AUTHORIZE, {"i": {"userId": t.gid("User", "member"), "estimatedCredits": "40"}}, token=admin)
    reservation = held.data["authorizeUsage"]["authorization"]["reservation"]
    assert reservation["status"] == "HELD"
    key = uuid.uuid4().hex
    usage = {"idempotencyKey": key, "userId": t.gid("User", "member"), "costUsd": "0.0123456"}
    first = await world.gql(RECORD, {"i": usage}, token=admin)
    result = first.data["recordUsage"]["result"]
    assert result["replayed"] is False and Decimal(result["event"]["credits"]) == Decimal("12.345600")
    placement = [result["event"][f] for f in ("userId", "teamId", "organizationId")]
    assert placement == [t.gid("User", "member"), t.gid("Team", "platform"), t.gid("Organization", "eng")]
    assert decode_id(result["event"]["id"]).type_name == "UsageEvent"  # type: ignore[union-attr]
    replay = await world.gql(RECORD, {"i": {**usage, "costUsd": "9"}}, token=admin)
    assert replay.data["recordUsage"]["result"] == {**result, "replayed": True}
    settle_q = """mutation($i: SettleReservationInput!) { settleReservation(input: $i) {
        result { event { credits } } userErrors { field code } } }"""
    bad = {**usage, "idempotencyKey": key + "-bad", "costUsd": "100000.0000000001"}
    refused = await world.gql(settle_q, {"i": {"reservationId": reservation["id"], "usage": bad}}, token=admin)
    # one event's errors are named where this input has the field, not as the metering's `events.0`
    errors = refused.data["settleReservation"]["userErrors"]
    assert errors == [{"field": ["input", "usage", "costUsd"], "code": "INVALID"}]
    settle = await world.gql(
        settle_q,
        {"i": {"reservationId": reservation["id"], "usage": {**usage, "idempotencyKey": key + "-s"}}},
        token=admin,
    )
    assert settle.data["settleReservation"]["userErrors"] == []
    r = await world.gql(ALLOCATION, {"id": t.gid("User", "member")}, token=admin)
    alloc = r.data["node"]["effectiveAllocation"]
    assert Decimal(alloc["reserved"]) == 0 and Decimal(alloc["spent"]) == Decimal("24.6912")


async def test_batch_validation_is_typed(world: World) -> None:
    t, admin = await _setup(world)
    q = """mutation($i: RecordUsageBatchInput!) { recordUsageBatch(input: $i) {
      results { replayed } userErrors { field code } } }"""
    events: list[dict[str, Any]] = [
        {"idempotencyKey": "a", "userId": t.gid("User", "member"), "costUsd": "1"},
        {"idempotencyKey": "b", "userId": t.gid("User", "member"), "costUsd": "-1"},
    ]
    r = await world.gql(q, {"i": {"events": events}}, token=admin)
    errors = r.data["recordUsageBatch"]["userErrors"]
    assert errors == [{"field": ["input", "events", "1", "costUsd"], "code": "INVALID"}]
    assert r.data["recordUsageBatch"]["results"] == []
    bad_id = [events[0], {**events[0], "idempotencyKey": "c", "userId": t.gid("Team", "platform")}]
    r = await world.gql(q, {"i": {"events": bad_id}}, token=admin)
    assert r.data["recordUsageBatch"]["userErrors"] == [
        {"field": ["input", "events", "1", "userId"], "code": "NOT_FOUND"}
    ]
    ok = await world.gql(q, {"i": {"events": events[:1]}}, token=admin)
    assert ok.data["recordUsageBatch"]["results"] == [{"replayed": False}]


async def test_allocation_of_a_page_of_users_costs_constant_statements(world: World) -> None:
    q = """query($id: ID!) { node(id: $id) { ... on Team { users(first: 100) { nodes { email
      effectiveAllocation { remaining bindingScope { level } } } } } } }"""
    counts = []
    for size in (3, 60):
        t, admin = await _setup(world)
        for i in range(size):
            await world.gql(
                "mutation($i: CreateUserInput!) { createUser(input: $i) { userErrors { code } } }",
                {"i": {"email": f"u{i}@{t.domain}", "homeTeamId": t.gid("Team", "platform")}},
                token=admin,
            )
        r = await world.gql(q, {"id": t.gid("Team", "platform")}, token=admin)
        assert r.errors == [] and len(r.data["node"]["users"]["nodes"]) == size + 1
        counts.append(r.statements)
    assert counts[0] == counts[1], counts


async def test_a_usage_batch_costs_the_same_statements_whatever_its_size(world: World) -> None:
    """The query-count guard of recordUsageBatch (docs/performance.md, "Statement count"): 1 for
    authentication, then the metering's fixed set on the write-ahead path: its events and ledger entries
    are one statement (before the budget mutex), its rollups another (under it)."""
    q = """mutation($i: RecordUsageBatchInput!) { recordUsageBatch(input: $i) {
      results { replayed } userErrors { code } } }"""
    t, admin = await _setup(world)
    user = t.gid("User", "member")
    counts = []
    for size in (2, 200):
        events = [{"idempotencyKey": uuid.uuid4().hex, "userId": user, "costUsd": "0.000001"} for _ in range(size)]
        r = await world.gql(q, {"i": {"events": events}}, token=admin)
        assert r.errors == [] and r.data["recordUsageBatch"]["userErrors"] == [], r.body
        assert len(r.data["recordUsageBatch"]["results"]) == size
        counts.append(r.statements)
    assert counts == [17, 17]


async def test_deleting_a_node_removes_its_budget_settings(world: World) -> None:
    import sqlalchemy as sa

    from cockpit_graphql.auth.tenant import mint_for_system

    t, admin = await _setup(world)
    r = await world.gql(
        """mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }""",
        {"i": {"organizationId": t.gid("Organization", "eng"), "name": "Ephemeral"}},
        token=admin,
    )
    team = r.data["createTeam"]["team"]["id"]
    await world.gql(CAP, {"i": {"scopeId": team, "credits": "5"}}, token=admin)
    await world.gql(DEFAULT, {"i": {"scopeId": team, "credits": "1"}}, token=admin)
    deleted = await world.gql(
        "mutation($i: DeleteTeamInput!) { deleteTeam(input: $i) { deletedId } }", {"i": {"id": team}}, token=admin
    )
    assert deleted.data["deleteTeam"]["deletedId"] == team
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        assert await s.scalar(sa.text("SELECT count(*) FROM budget_caps WHERE scope_level = 'TEAM'")) == 0


async def test_account_budget_views(world: World) -> None:
    from tests.support.budgets import give_budget_history

    t = await world.tenant()
    await give_budget_history(world, t)
    q = """{ viewer { account {
      budgetPlan { version creditsPerCycle overflowPolicy }
      currentCycle { status }
      budgetCycles { totalCount nodes { status ledgerEntries { nodes { kind amount } } } }
      settlements { nodes { status overflowCredits amountUsd } }
      billingNotices { totalCount nodes { kind scope { level } } }
      ledgerReconciliation { status clean differences { check } }
    } } }"""
    r = await world.gql(q, token=world.admin(t))
    assert r.errors == [], r.body
    account = r.data["viewer"]["account"]
    assert account["budgetPlan"]["version"] == 1 and account["budgetPlan"]["overflowPolicy"] == "ALLOW"
    assert account["currentCycle"] == {"status": "OPEN"}
    cycles = account["budgetCycles"]
    assert cycles["totalCount"] >= 3 and cycles["nodes"][0]["status"] == "OPEN"
    closed_kinds = {e["kind"] for c in cycles["nodes"] if c["status"] == "CLOSED" for e in c["ledgerEntries"]["nodes"]}
    assert {"GRANT", "EXPIRY", "ROLLOVER", "USAGE", "OVERFLOW_USAGE"} <= closed_kinds
    [settlement] = account["settlements"]["nodes"]
    assert settlement["status"] == "PENDING" and Decimal(settlement["overflowCredits"]) == 50
    assert Decimal(settlement["amountUsd"]) == Decimal("0.50")
    assert {"kind": "OVERFLOW_ENTERED", "scope": {"level": "ACCOUNT"}} in account["billingNotices"]["nodes"]
    assert all(c["clean"] and c["differences"] == [] for c in account["ledgerReconciliation"])
    member = await world.gql("{ viewer { account { budgetCycles { totalCount } } } }", token=world.member(t))
    assert member.codes == ["FORBIDDEN"]


async def test_adjustment_and_settlement_errors_name_their_input_fields(world: World) -> None:
    t, admin = await _setup(world)
    root = await world.super_admin()
    r = await world.gql(
        "mutation($i: AdjustCreditsInput!) { adjustCredits(input: $i) { userErrors { field code } } }",
        {"i": {"credits": "0", "reason": "x"}},
        token=admin,
    )
    assert r.data["adjustCredits"]["userErrors"] == [{"field": ["input", "credits"], "code": "INVALID"}], r.body
    unknown = encode_id("Settlement", t.account_id, uuid.uuid4())
    for mutation, extra in (
        ("invoiceSettlement", {}),
        ("settleSettlement", {"externalReference": "INV-1"}),
        ("writeOffSettlement", {"reason": "x"}),
    ):
        input_type = mutation[0].upper() + mutation[1:] + "Input"
        r = await world.gql(
            f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ userErrors {{ field code }} }} }}",
            {"i": {"id": unknown, **extra}},
            token=root if mutation == "writeOffSettlement" else admin,
        )
        assert r.data[mutation]["userErrors"] == [{"field": ["input", "id"], "code": "NOT_FOUND"}], r.body


async def test_a_batch_whose_totals_pass_what_a_column_holds_is_invalid_and_writes_nothing(world: World) -> None:
    """1,000 events of 100,000 USD at 1,000,000 credits per USD are 1e11 credits each, but 1e14 together:
    more than a running total (NUMERIC(20, 6)) holds. The database refuses it (a data exception the asyncpg
    dialect raises as a plain DBAPIError, which was INTERNAL): now an INVALID userError, nothing written."""
    t, admin = await _setup(world)
    root = await world.super_admin()
    r = await world.gql(
        "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { userErrors { code } } }",
        {"i": {"id": t.account_gid, "creditsPerUsd": "1000000"}},
        token=root,
    )
    assert r.data["updateAccount"]["userErrors"] == []
    user = t.gid("User", "member")
    events = [{"idempotencyKey": f"huge-{i}", "userId": user, "costUsd": "100000"} for i in range(1000)]
    r = await world.gql(
        "mutation($i: RecordUsageBatchInput!) { recordUsageBatch(input: $i) { results { replayed } "
        "userErrors { field code } } }",
        {"i": {"events": events}},
        token=admin,
    )
    assert r.errors == [], r.body
    assert r.data["recordUsageBatch"]["userErrors"] == [{"field": ["input"], "code": "INVALID"}], r.body
    r = await world.gql(
        "{ account { effectiveAllocation { spent } } }",
        token=admin,
    )
    assert r.errors == [] and Decimal(r.data["account"]["effectiveAllocation"]["spent"]) == 0, r.body
