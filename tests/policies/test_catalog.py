"""The model catalog through GraphQL: create, update, delete with their userErrors and platform audit
events, who may list, read and change it, filters and paging, and entitlements naming catalog models."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.db.tables import CatalogModel, PlatformAuditEvent
from cockpit_graphql.types.ids import NO_ACCOUNT, decode_id, encode_id
from tests.support.world import World

FIELDS = """id provider providerModelId displayName capabilities inputUsdPerMillionTokens
  outputUsdPerMillionTokens enabled deprecated createdAt updatedAt"""
CREATE = f"""mutation($i: CreateModelInput!) {{ createModel(input: $i) {{
  model {{ {FIELDS} }} userErrors {{ field code message }} }} }}"""
UPDATE = f"""mutation($i: UpdateModelInput!) {{ updateModel(input: $i) {{
  model {{ {FIELDS} }} userErrors {{ field code message }} }} }}"""
DELETE = """mutation($i: DeleteModelInput!) { deleteModel(input: $i) {
  deletedModelId userErrors { field code message } } }"""
LIST = """query($first: Int, $after: String, $filter: ModelFilter) {
  models(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id providerModelId } } }"""
NODE = "query($id: ID!) { node(id: $id) { __typename ... on Model { providerModelId displayName } } }"
ENTITLEMENTS = """mutation($i: UpdateAccountEntitlementsInput!) { updateAccountEntitlements(input: $i) {
  account { entitlements { allowAllModels allowedModelIds disabledFeatures
    allowedModels { id providerModelId } } }
  userErrors { field code message } } }"""


def _unique(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _create(world: World, token: str, **fields: Any) -> dict[str, Any]:
    payload = {"provider": "OPENAI", "providerModelId": _unique(), "capabilities": ["CHAT"]} | fields
    r = await world.gql(CREATE, {"i": payload}, token=token)
    assert r.errors == [] and r.data["createModel"]["userErrors"] == [], r.body
    return r.data["createModel"]["model"]


async def _audit(world: World, target: str) -> list[PlatformAuditEvent]:
    async with world.db.platform() as s:
        stmt = (
            sa.select(PlatformAuditEvent)
            .where(PlatformAuditEvent.target_id == target)
            .order_by(PlatformAuditEvent.occurred_at, PlatformAuditEvent.id)
        )
        return list((await s.scalars(stmt)).all())


async def _counts(world: World) -> tuple[int, int]:
    async with world.db.platform() as s:
        models = await s.scalar(sa.select(sa.func.count()).select_from(CatalogModel))
        events = await s.scalar(sa.select(sa.func.count()).select_from(PlatformAuditEvent))
    return int(models or 0), int(events or 0)


def _uuid(gid: str) -> str:
    ref = decode_id(gid)
    assert ref is not None and ref.type_name == "Model" and ref.account_id == NO_ACCOUNT
    return str(ref.id)


async def test_create_update_delete_with_platform_audit(world: World) -> None:
    token = await world.super_admin()
    ident = _unique("gpt")
    r = await world.gql(
        CREATE,
        {
            "i": {
                "provider": "AZURE_OPENAI",
                "providerModelId": f"  {ident}  ",
                "displayName": "  GPT   4o ",
                "capabilities": ["CHAT", "IMAGE", "CHAT"],
                "inputUsdPerMillionTokens": "2.50",
                "outputUsdPerMillionTokens": "10",
            }
        },
        token=token,
    )
    assert r.errors == [] and r.data["createModel"]["userErrors"] == [], r.body
    model = r.data["createModel"]["model"]
    assert (model["provider"], model["providerModelId"], model["displayName"]) == ("AZURE_OPENAI", ident, "GPT 4o")
    assert model["capabilities"] == ["CHAT", "IMAGE"]
    assert (model["inputUsdPerMillionTokens"], model["outputUsdPerMillionTokens"]) == ("2.5", "10")
    assert (model["enabled"], model["deprecated"]) == (True, False)
    model_id = _uuid(model["id"])
    [created] = await _audit(world, model_id)
    assert (created.action, created.actor_type, created.target_type) == ("models.model.created", "SUPER_ADMIN", "Model")
    assert created.request_id == r.headers["x-request-id"]
    assert created.diff["before"] is None and created.diff["after"]["providerModelId"] == ident

    r = await world.gql(
        UPDATE,
        {
            "i": {
                "id": model["id"],
                "displayName": "GPT-4o (EU)",
                "outputUsdPerMillionTokens": "12.0000000001",
                "enabled": False,
                "deprecated": True,
            }
        },
        token=token,
    )
    assert r.data["updateModel"]["userErrors"] == [], r.body
    updated = r.data["updateModel"]["model"]
    assert updated["displayName"] == "GPT-4o (EU)" and updated["outputUsdPerMillionTokens"] == "12.0000000001"
    assert (updated["enabled"], updated["deprecated"], updated["providerModelId"]) == (False, True, ident)
    assert updated["createdAt"] == model["createdAt"] and updated["updatedAt"] >= model["updatedAt"]
    changed = (await _audit(world, model_id))[-1]
    assert changed.action == "models.model.updated"
    assert changed.diff == {
        "before": {
            "deprecated": False,
            "displayName": "GPT 4o",
            "enabled": True,
            "outputUsdPerMillionTokens": "10.0000000000",
        },
        "after": {
            "deprecated": True,
            "displayName": "GPT-4o (EU)",
            "enabled": False,
            "outputUsdPerMillionTokens": "12.0000000001",
        },
    }

    r = await world.gql(DELETE, {"i": {"id": model["id"]}}, token=token)
    assert r.data["deleteModel"] == {"deletedModelId": model["id"], "userErrors": []}
    deleted = (await _audit(world, model_id))[-1]
    assert deleted.action == "models.model.deleted" and deleted.diff["after"] is None
    assert deleted.diff["before"]["providerModelId"] == ident
    gone = await world.gql(NODE, {"id": model["id"]}, token=token)
    assert gone.errors == [] and gone.data == {"node": None}
    again = await world.gql(DELETE, {"i": {"id": model["id"]}}, token=token)
    assert again.data["deleteModel"]["userErrors"] == [
        {"field": ["input", "id"], "code": "NOT_FOUND", "message": "No such model in the catalog."}
    ]
    r = await world.gql(UPDATE, {"i": {"id": model["id"], "displayName": "x"}}, token=token)
    assert [e["code"] for e in r.data["updateModel"]["userErrors"]] == ["NOT_FOUND"]


async def test_validation_errors_are_user_errors_and_write_nothing(world: World) -> None:
    token = await world.super_admin()
    before = await _counts(world)
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"providerModelId": "   "}, [(["input", "providerModelId"], "REQUIRED")]),
        ({"providerModelId": "gpt 4o"}, [(["input", "providerModelId"], "INVALID")]),
        ({"providerModelId": "gpt-4o\t"}, []),  # surrounding whitespace is trimmed, not refused
        ({"providerModelId": "x" * 201}, [(["input", "providerModelId"], "TOO_LONG")]),
        ({"displayName": " "}, [(["input", "displayName"], "REQUIRED")]),
        ({"displayName": "d" * 201}, [(["input", "displayName"], "TOO_LONG")]),
        ({"capabilities": []}, [(["input", "capabilities"], "REQUIRED")]),
        ({"inputUsdPerMillionTokens": "-0.01"}, [(["input", "inputUsdPerMillionTokens"], "INVALID")]),
        ({"inputUsdPerMillionTokens": "0.00000000001"}, [(["input", "inputUsdPerMillionTokens"], "INVALID")]),
        ({"outputUsdPerMillionTokens": "1000000.0000000001"}, [(["input", "outputUsdPerMillionTokens"], "INVALID")]),
        (
            {"providerModelId": "a b", "capabilities": [], "inputUsdPerMillionTokens": "-1"},
            [
                (["input", "providerModelId"], "INVALID"),
                (["input", "capabilities"], "REQUIRED"),
                (["input", "inputUsdPerMillionTokens"], "INVALID"),
            ],
        ),
    ]
    created = 0
    for fields, expected in cases:
        payload = {"provider": "OPENAI", "providerModelId": _unique(), "capabilities": ["CHAT"]} | fields
        if fields.get("providerModelId") == "gpt-4o\t":
            payload["providerModelId"] = _unique("trim") + "\t"
        r = await world.gql(CREATE, {"i": payload}, token=token)
        assert r.errors == [], (fields, r.body)
        got = [(e["field"], e["code"]) for e in r.data["createModel"]["userErrors"]]
        assert got == expected, (fields, got)
        if expected:
            assert r.data["createModel"]["model"] is None
        else:
            created += 1
    # not a finite number: the Decimal scalar refuses it before the mutation runs (types/scalars.py)
    payload = {"provider": "OPENAI", "providerModelId": _unique(), "capabilities": ["CHAT"]}
    r = await world.gql(CREATE, {"i": payload | {"outputUsdPerMillionTokens": "NaN"}}, token=token)
    assert r.codes == ["BAD_USER_INPUT"] and r.data is None, r.body
    assert await _counts(world) == (before[0] + created, before[1] + created)  # refusals wrote nothing

    model = await _create(world, token, inputUsdPerMillionTokens="1.5")
    before = await _counts(world)
    r = await world.gql(
        UPDATE, {"i": {"id": model["id"], "capabilities": [], "outputUsdPerMillionTokens": "2000000"}}, token=token
    )
    assert [(e["field"], e["code"]) for e in r.data["updateModel"]["userErrors"]] == [
        (["input", "capabilities"], "REQUIRED"),
        (["input", "outputUsdPerMillionTokens"], "INVALID"),
    ]
    for bad_id in ("nope", encode_id("Team", uuid.uuid4(), uuid.uuid4())):
        r = await world.gql(UPDATE, {"i": {"id": bad_id, "displayName": "x"}}, token=token)
        assert r.data["updateModel"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert await _counts(world) == before


async def test_duplicates_per_provider(world: World) -> None:
    token = await world.super_admin()
    first = await _create(world, token, provider="ANTHROPIC")
    ident = first["providerModelId"]
    r = await world.gql(
        CREATE, {"i": {"provider": "ANTHROPIC", "providerModelId": ident, "capabilities": ["CHAT"]}}, token=token
    )
    assert r.data["createModel"]["userErrors"] == [
        {
            "field": ["input", "providerModelId"],
            "code": "DUPLICATE",
            "message": f"ANTHROPIC model {ident!r} is already in the catalog.",
        }
    ]
    other_provider = await _create(world, token, provider="BEDROCK", providerModelId=ident)  # same id elsewhere: fine
    r = await world.gql(UPDATE, {"i": {"id": other_provider["id"], "provider": "ANTHROPIC"}}, token=token)
    assert [e["code"] for e in r.data["updateModel"]["userErrors"]] == ["DUPLICATE"]
    r = await world.gql(UPDATE, {"i": {"id": first["id"], "providerModelId": ident}}, token=token)  # itself: fine
    assert r.data["updateModel"]["userErrors"] == []


async def test_who_may_list_read_and_change_the_catalog(world: World) -> None:
    token = await world.super_admin()
    model = await _create(world, token)
    t = await world.tenant()
    admin, member = world.admin(t), world.member(t)
    before = await _counts(world)

    r = await world.gql(
        CREATE, {"i": {"provider": "OPENAI", "providerModelId": _unique(), "capabilities": ["CHAT"]}}, token=admin
    )
    assert r.codes == ["FORBIDDEN"] and r.data is None
    for query, payload in ((UPDATE, {"id": model["id"], "displayName": "hijack"}), (DELETE, {"id": model["id"]})):
        r = await world.gql(query, {"i": payload}, token=admin)
        assert r.codes == ["FORBIDDEN"], r.body
        r = await world.gql(query, {"i": payload}, token=member)
        assert r.codes == ["FORBIDDEN"], r.body
    bad_input = await world.gql(UPDATE, {"i": {"id": "garbage", "capabilities": []}}, token=admin)
    assert bad_input.codes == ["FORBIDDEN"]  # the permission is checked before the input is looked at
    assert await _counts(world) == before

    listed = await world.gql(LIST, {"first": 100}, token=admin)
    assert listed.errors == [] and listed.data["models"]["totalCount"] >= 1
    r = await world.gql(LIST, {"first": 1}, token=member)
    assert r.codes == ["FORBIDDEN"]
    for who in (admin, member, token):  # any signed-in user reads a model by id (effective access names them)
        r = await world.gql(NODE, {"id": model["id"]}, token=who)
        assert r.errors == [] and r.data["node"] == {
            "__typename": "Model",
            "providerModelId": model["providerModelId"],
            "displayName": model["displayName"],
        }
    anonymous = await world.gql(NODE, {"id": model["id"]})
    assert anonymous.codes == ["UNAUTHENTICATED"]
    entities = await world.gql(
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Model { providerModelId } } }",
        {"r": [{"__typename": "Model", "id": model["id"]}]},
        token=member,
    )
    assert entities.data["_entities"] == [{"providerModelId": model["providerModelId"]}]


async def _all(world: World, token: str, flt: dict[str, Any] | None, size: int = 7) -> tuple[list[str], int]:
    ids: list[str] = []
    after = None
    total = -1
    while True:
        r = await world.gql(LIST, {"first": size, "after": after, "filter": flt}, token=token)
        assert r.errors == [], r.body
        page = r.data["models"]
        total = page["totalCount"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, total
        after = page["pageInfo"]["endCursor"]


async def test_list_filters_and_pages(world: World) -> None:
    token = await world.super_admin()
    chat = await _create(world, token, provider="MISTRAL", displayName="zz chat")
    image = await _create(world, token, provider="MISTRAL", capabilities=["IMAGE"], displayName="zz image")
    off = await _create(world, token, provider="XAI", enabled=False, displayName="zz off")
    embed = await _create(world, token, provider="VERTEX", capabilities=["EMBEDDING", "CHAT"], deprecated=True)
    everything, total = await _all(world, token, None)
    assert len(everything) == total == len(set(everything))  # pages neither skip nor repeat
    assert {chat["id"], image["id"], off["id"], embed["id"]} <= set(everything)

    mistral, total = await _all(world, token, {"provider": "MISTRAL"})
    assert {chat["id"], image["id"]} <= set(mistral) and off["id"] not in mistral and total == len(mistral)
    images, _ = await _all(world, token, {"capability": "IMAGE"})
    assert image["id"] in images and chat["id"] not in images
    embeddings, _ = await _all(world, token, {"capability": "EMBEDDING"})
    assert embed["id"] in embeddings and chat["id"] not in embeddings
    disabled, _ = await _all(world, token, {"enabled": False})
    assert off["id"] in disabled and chat["id"] not in disabled
    enabled_chat, _ = await _all(world, token, {"enabled": True, "capability": "CHAT", "provider": "MISTRAL"})
    assert chat["id"] in enabled_chat and image["id"] not in enabled_chat
    deprecated, _ = await _all(world, token, {"deprecated": True})
    assert embed["id"] in deprecated and chat["id"] not in deprecated
    r = await world.gql(LIST, {"first": 101}, token=token)
    assert r.codes == ["BAD_USER_INPUT"]


async def test_entitlements_name_catalog_models_and_registered_flags(world: World) -> None:
    token = await world.super_admin()
    a = await _create(world, token, displayName="Entitled A")
    b = await _create(world, token, displayName="Entitled B")
    t = await world.tenant()

    r = await world.gql(
        ENTITLEMENTS,
        {
            "i": {
                "id": t.account_gid,
                "allowAllModels": False,
                "allowedModelIds": [b["id"], a["id"], a["id"]],
                "disabledFeatures": ["create_agents", " IMAGE_GENERATION "],
            }
        },
        token=token,
    )
    assert r.data["updateAccountEntitlements"]["userErrors"] == [], r.body
    got = r.data["updateAccountEntitlements"]["account"]["entitlements"]
    expected_ids = sorted([a["id"], b["id"]], key=_uuid)
    assert got["allowAllModels"] is False and got["allowedModelIds"] == expected_ids
    assert [m["id"] for m in got["allowedModels"]] == expected_ids
    assert got["disabledFeatures"] == ["CREATE_AGENTS", "IMAGE_GENERATION"]
    async with world.db.platform() as s:  # the document stores raw catalog uuids
        from cockpit_graphql.db.tables import Account

        doc = await s.scalar(sa.select(Account.entitlements).where(Account.id == t.account_id))
    assert doc["allowedModelIds"] == sorted([_uuid(a["id"]), _uuid(b["id"])])

    unknown = encode_id("Model", NO_ACCOUNT, uuid.uuid4())
    r = await world.gql(
        ENTITLEMENTS,
        {
            "i": {
                "id": t.account_gid,
                "allowAllModels": False,
                "allowedModelIds": [a["id"], unknown],
                "disabledFeatures": ["CREATE_AGENTS", "TIME_TRAVEL"],
            }
        },
        token=token,
    )
    assert [(e["field"], e["code"]) for e in r.data["updateAccountEntitlements"]["userErrors"]] == [
        (["input", "allowedModelIds", "1"], "NOT_FOUND"),
        (["input", "disabledFeatures", "1"], "NOT_FOUND"),
    ]
    r = await world.gql(
        ENTITLEMENTS,
        {"i": {"id": t.account_gid, "allowAllModels": False, "allowedModelIds": ["gpt-4o", t.account_gid]}},
        token=token,
    )
    assert [(e["field"], e["code"]) for e in r.data["updateAccountEntitlements"]["userErrors"]] == [
        (["input", "allowedModelIds", "0"], "NOT_FOUND"),
        (["input", "allowedModelIds", "1"], "NOT_FOUND"),
    ]

    # Deleting a model: the entitlement keeps the id, but it no longer matches any model.
    await world.gql(DELETE, {"i": {"id": a["id"]}}, token=token)
    r = await world.gql(
        "query($id: ID) { account(id: $id) { entitlements { allowedModelIds allowedModels { id } } } }",
        {"id": t.account_gid},
        token=world.admin(t),
    )
    ent = r.data["account"]["entitlements"]
    assert ent["allowedModelIds"] == expected_ids and ent["allowedModels"] == [{"id": b["id"]}]
