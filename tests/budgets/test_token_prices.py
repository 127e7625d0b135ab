"""Usage priced from the catalog's token prices when the runtime sends no costUsd: exact credits, batches
mixing both kinds (one statement loads the batch's models), typed refusals that write nothing, replays."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import CatalogModel, UsageEvent
from cockpit_graphql.domain.models.prices import usd_for_tokens
from cockpit_graphql.types.ids import NO_ACCOUNT, encode_id
from tests.support.world import Tenant, World

CREATE_MODEL = """mutation($i: CreateModelInput!) { createModel(input: $i) { model { id } userErrors { code } } }"""
UPDATE_MODEL = """mutation($i: UpdateModelInput!) { updateModel(input: $i) { model { id } userErrors { code } } }"""
EVENT = "id costUsd credits creditsPerUsd modelId tokensIn tokensOut"
RECORD = f"""mutation($i: UsageEventInput!) {{ recordUsage(input: $i) {{
  result {{ replayed event {{ {EVENT} }} }} userErrors {{ field code message }} }} }}"""
BATCH = f"""mutation($i: RecordUsageBatchInput!) {{ recordUsageBatch(input: $i) {{
  results {{ replayed event {{ {EVENT} }} }} userErrors {{ field code message }} }} }}"""
FACTOR = "1234.5"


def test_usd_for_tokens_is_exact() -> None:
    model = CatalogModel(
        provider="OPENAI",
        provider_model_id="m",
        display_name="m",
        capabilities=["CHAT"],
        input_usd_per_mtok=Decimal("2.5000000000"),
        output_usd_per_mtok=Decimal("10.0000000000"),
    )
    assert usd_for_tokens(model, 1234, 567) == Decimal("0.008755")
    assert usd_for_tokens(model, 0, 0) == 0
    tiny = CatalogModel(
        provider="OPENAI",
        provider_model_id="t",
        display_name="t",
        capabilities=["CHAT"],
        input_usd_per_mtok=Decimal("0.0000000001"),
        output_usd_per_mtok=Decimal("999999.9999999999"),
    )
    assert usd_for_tokens(tiny, 3, 2_147_483_647) == Decimal("2147483646.9999997852516356")  # 16 decimals, none lost


async def _model(world: World, admin: str, input_price: str, output_price: str) -> str:
    r = await world.gql(
        CREATE_MODEL,
        {
            "i": {
                "provider": "AZURE_OPENAI",
                "providerModelId": f"priced-{uuid.uuid4().hex[:8]}",
                "capabilities": ["CHAT"],
                "inputUsdPerMillionTokens": input_price,
                "outputUsdPerMillionTokens": output_price,
            }
        },
        token=admin,
    )
    assert r.data["createModel"]["userErrors"] == [], r.body
    return str(r.data["createModel"]["model"]["id"])


async def _setup(world: World) -> tuple[Tenant, str, str, str]:
    """A tenant with a plan and a factor of 1234.5 credits per USD, a model at $2.50/$10 per Mtok."""
    root = await world.super_admin()
    t = await world.tenant()
    admin = world.admin(t)
    r = await world.gql(
        "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { userErrors { code } } }",
        {"i": {"id": t.account_gid, "creditsPerUsd": FACTOR}},
        token=root,
    )
    assert r.data["updateAccount"]["userErrors"] == []
    r = await world.gql(
        "mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) { userErrors { code } } }",
        {"i": {"creditsPerCycle": "100000", "renewalDay": 1}},
        token=admin,
    )
    assert r.data["setBudgetPlan"]["userErrors"] == []
    return t, admin, root, await _model(world, root, "2.50", "10")


async def _stored(world: World, t: Tenant) -> list[UsageEvent]:
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        return list((await s.scalars(sa.select(UsageEvent).order_by(UsageEvent.recorded_at, UsageEvent.id))).all())


def _usage(t: Tenant, **fields: Any) -> dict[str, Any]:
    return {"idempotencyKey": uuid.uuid4().hex, "userId": t.gid("User", "member")} | fields


async def test_credits_from_token_prices_are_exact(world: World) -> None:
    t, admin, root, model = await _setup(world)
    usage = _usage(t, modelId=model, tokensIn=1234, tokensOut=567)
    r = await world.gql(RECORD, {"i": usage}, token=admin)
    assert r.errors == [] and r.data["recordUsage"]["userErrors"] == [], r.body
    event = r.data["recordUsage"]["result"]["event"]
    # 1,234 × $2.50/Mtok + 567 × $10/Mtok = $0.003085 + $0.00567 = $0.008755; × 1234.5 = 10.8080475 → half-up
    assert Decimal(event["costUsd"]) == Decimal("0.008755")
    assert Decimal(event["credits"]) == Decimal("10.808048") and Decimal(event["creditsPerUsd"]) == Decimal(FACTOR)
    assert (event["modelId"], event["tokensIn"], event["tokensOut"]) == (model, 1234, 567)
    [stored] = await _stored(world, t)
    assert (stored.cost_usd, stored.credits, stored.model_id) == (Decimal("0.008755"), Decimal("10.808048"), model)

    # A disabled (or deprecated) model still prices usage that happened: the record is what was consumed.
    await world.gql(UPDATE_MODEL, {"i": {"id": model, "enabled": False}}, token=root)
    r = await world.gql(RECORD, {"i": _usage(t, modelId=model, tokensIn=1_000_000)}, token=admin)
    event = r.data["recordUsage"]["result"]["event"]
    assert Decimal(event["costUsd"]) == Decimal("2.5") and Decimal(event["credits"]) == Decimal("3086.25")


async def test_credits_come_from_the_unrounded_cost(world: World) -> None:
    """domain.md §2: credits are computed once from the unrounded cost; the event stores the cost at the 10
    decimals of a cost. 7 tokens at $0.3333333333/Mtok cost $0.0000023333333331: at 1,000,000 credits per USD
    that is 2.3333333331 → 2.333333 credits, where the cost rounded first would give 2.333300."""
    t, admin, root, _ = await _setup(world)
    r = await world.gql(
        "mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { userErrors { code } } }",
        {"i": {"id": t.account_gid, "creditsPerUsd": "1000000"}},
        token=root,
    )
    assert r.data["updateAccount"]["userErrors"] == []
    odd = await _model(world, root, "0.3333333333", "0")
    for query, answer in ((RECORD, "recordUsage"), (BATCH, "recordUsageBatch")):
        usage = _usage(t, modelId=odd, tokensIn=7)
        r = await world.gql(query, {"i": usage if query is RECORD else {"events": [usage]}}, token=admin)
        assert r.errors == [] and r.data[answer]["userErrors"] == [], r.body
        result = r.data[answer]["result"] if query is RECORD else r.data[answer]["results"][0]
        assert Decimal(result["event"]["credits"]) == Decimal("2.333333"), answer
        assert Decimal(result["event"]["costUsd"]) == Decimal("0.0000023333"), answer
    stored = [(e.cost_usd, e.credits) for e in await _stored(world, t)]
    assert stored == [(Decimal("0.0000023333"), Decimal("2.333333"))] * 2


async def test_a_batch_mixing_reported_and_priced_costs(world: World) -> None:
    t, admin, root, model = await _setup(world)
    odd = await _model(world, root, "0.3333333333", "0")
    events = [
        _usage(t, costUsd="0.5", modelId="openai"),  # reported cost: modelId stays free text
        _usage(t, modelId=model, tokensIn=1234, tokensOut=567),
        _usage(t, modelId=odd, tokensIn=7),  # 0.0000023333333331 USD: rounded half-up to 10 decimals
        _usage(t, costUsd="0", modelId=model, tokensIn=10**6),  # a reported cost wins over the token prices
    ]
    r = await world.gql(BATCH, {"i": {"events": events}}, token=admin)
    assert r.errors == [] and r.data["recordUsageBatch"]["userErrors"] == [], r.body
    got = [
        (Decimal(x["event"]["costUsd"]), Decimal(x["event"]["credits"]), x["event"]["modelId"])
        for x in r.data["recordUsageBatch"]["results"]
    ]
    assert got == [
        (Decimal("0.5"), Decimal("617.25"), "openai"),
        (Decimal("0.008755"), Decimal("10.808048"), model),
        (Decimal("0.0000023333"), Decimal("0.002880"), odd),  # 0.0000023333 × 1234.5 = 0.00288045885
        (Decimal(0), Decimal(0), model),
    ]
    assert len(await _stored(world, t)) == 4


async def test_the_models_of_a_batch_load_in_one_statement(world: World) -> None:
    t, admin, root, model = await _setup(world)
    others = [await _model(world, root, "1", "2") for _ in range(3)]
    await world.gql(BATCH, {"i": {"events": [_usage(t, costUsd="0.01")]}}, token=admin)  # open the cycle first
    one = await world.gql(
        BATCH, {"i": {"events": [_usage(t, modelId=model, tokensIn=5) for _ in range(4)]}}, token=admin
    )
    four = await world.gql(
        BATCH, {"i": {"events": [_usage(t, modelId=m, tokensIn=5) for m in [model, *others]]}}, token=admin
    )
    assert one.data["recordUsageBatch"]["userErrors"] == four.data["recordUsageBatch"]["userErrors"] == []
    assert four.statements == one.statements, (one.statements, four.statements)


async def test_unpriceable_events_are_user_errors_and_nothing_is_written(world: World) -> None:
    t, admin, _, model = await _setup(world)
    unknown = encode_id("Model", NO_ACCOUNT, uuid.uuid4())
    events = [
        _usage(t, costUsd="0.1"),
        _usage(t, modelId=unknown, tokensIn=10),  # a Model id that is not (or no longer) in the catalog
        _usage(t, tokensIn=10),  # neither a cost nor a model
        _usage(t, modelId="gpt-4o", tokensIn=10),  # free text is not a catalog model
        _usage(t, modelId=model, tokensIn=5),
    ]
    r = await world.gql(BATCH, {"i": {"events": events}}, token=admin)
    assert r.errors == [] and r.data["recordUsageBatch"]["results"] == []
    assert [(e["field"], e["code"]) for e in r.data["recordUsageBatch"]["userErrors"]] == [
        (["input", "events", "2", "costUsd"], "REQUIRED"),
        (["input", "events", "3", "modelId"], "NOT_FOUND"),
    ]
    r = await world.gql(BATCH, {"i": {"events": [events[0], events[1], events[4]]}}, token=admin)
    assert [(e["field"], e["code"], e["message"]) for e in r.data["recordUsageBatch"]["userErrors"]] == [
        (["input", "events", "1", "modelId"], "NOT_FOUND", "No such model in the catalog."),
    ]
    r = await world.gql(RECORD, {"i": _usage(t)}, token=admin)
    assert [(e["field"], e["code"]) for e in r.data["recordUsage"]["userErrors"]] == [
        (["input", "costUsd"], "REQUIRED")
    ]
    huge = await _model(world, (await world.super_admin()), "0", "1000000")
    r = await world.gql(RECORD, {"i": _usage(t, modelId=huge, tokensOut=2_000_000_000)}, token=admin)
    assert [(e["field"], e["code"]) for e in r.data["recordUsage"]["userErrors"]] == [
        (["input", "tokensIn"], "INVALID")
    ]
    assert await _stored(world, t) == []


async def test_a_replay_returns_the_first_result(world: World) -> None:
    t, admin, root, model = await _setup(world)
    usage = _usage(t, modelId=model, tokensIn=1234, tokensOut=567)
    first = await world.gql(RECORD, {"i": usage}, token=admin)
    result = first.data["recordUsage"]["result"]
    assert result["replayed"] is False
    await world.gql(UPDATE_MODEL, {"i": {"id": model, "inputUsdPerMillionTokens": "99"}}, token=root)
    again = await world.gql(RECORD, {"i": {**usage, "tokensIn": 999_999}}, token=admin)
    assert again.data["recordUsage"]["result"] == {**result, "replayed": True}
    unknown = encode_id("Model", NO_ACCOUNT, uuid.uuid4())
    bogus = await world.gql(RECORD, {"i": {**usage, "modelId": unknown}}, token=admin)  # replays are not re-priced
    assert bogus.data["recordUsage"]["result"] == {**result, "replayed": True}
    assert len(await _stored(world, t)) == 1


async def test_settling_a_reservation_by_tokens(world: World) -> None:
    t, admin, _, model = await _setup(world)
    held = await world.gql(
        """mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) {
          authorization { reservation { id } } } }""",
        {"i": {"userId": t.gid("User", "member"), "estimatedCredits": "50", "modelId": model}},
        token=admin,
    )
    reservation = held.data["authorizeUsage"]["authorization"]["reservation"]["id"]
    r = await world.gql(
        """mutation($i: SettleReservationInput!) { settleReservation(input: $i) {
          result { event { costUsd credits } } userErrors { field code } } }""",
        {"i": {"reservationId": reservation, "usage": _usage(t, modelId=model, tokensIn=1234, tokensOut=567)}},
        token=admin,
    )
    assert r.data["settleReservation"]["userErrors"] == [], r.body
    event = r.data["settleReservation"]["result"]["event"]
    assert (Decimal(event["costUsd"]), Decimal(event["credits"])) == (Decimal("0.008755"), Decimal("10.808048"))
