"""The audit trail API: filters, stable keyset pages, account isolation, roles, the platform trail, and
the taxonomy table in docs/observability.md."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import AuditEvent
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.types.ids import encode_id
from tests.support.policies import catalog_model
from tests.support.world import Tenant, World

NODE = (
    "id occurredAt action name module entity verb actor { type id label userId } target { type id nodeId }"
    " diff requestId"
)
TRAIL = (
    "query($a: ID, $f: AuditEventFilter, $first: Int, $after: String, $last: Int, $before: String) {"
    " auditEvents(accountId: $a, filter: $f, first: $first, after: $after, last: $last, before: $before) {"
    f" totalCount edges {{ cursor node {{ {NODE} }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}"
    " } }"
)
PLATFORM = (
    "query($f: AuditEventFilter, $first: Int, $after: String) {"
    f" platformAuditEvents(filter: $f, first: $first, after: $after) {{ totalCount nodes {{ {NODE} }} }} }}"
)
BASE = datetime(2020, 1, 1, tzinfo=UTC)


async def _plant(world: World, t: Tenant, rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Write audit events directly (fixed times, chosen actors) as the app role would."""
    ids = []
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        for row in rows:
            event = AuditEvent(
                account_id=t.account_id,
                action=row.get("action", AuditAction.TEAM_UPDATED).value,
                actor_type=row.get("actor_type", "USER"),
                actor_id=row.get("actor_id", str(t.ids["admin"])),
                actor_label=row.get("actor_label", "admin"),
                target_type=row.get("target_type", "Team"),
                target_id=row.get("target_id", str(t.ids.get("platform", t.ids["global_team"]))),
                diff=row.get("diff", {"before": {"name": "a"}, "after": {"name": "b"}}),
                request_id=row.get("request_id", "req-plant"),
                occurred_at=row.get("at", BASE),
            )
            s.add(event)
            await s.flush()
            ids.append(event.id)
    return ids


async def _trail(world: World, token: str, **variables: Any) -> dict[str, Any]:
    r = await world.gql(TRAIL, variables, token)
    assert r.errors == [], r.body
    return r.data["auditEvents"]


def _ids(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in conn["edges"]]


async def test_events_carry_action_actor_target_diff_and_request(world: World) -> None:
    t = await world.tenant()
    [planted] = await _plant(
        world,
        t,
        [{"action": AuditAction.USER_MOVED, "target_type": "User", "target_id": str(t.ids["member"]), "at": BASE}],
    )
    conn = await _trail(world, world.admin(t), f={"to": "2020-01-02T00:00:00Z"})
    assert conn["totalCount"] == 1
    node = conn["edges"][0]["node"]
    assert node == {
        "id": str(planted),
        "occurredAt": "2020-01-01T00:00:00+00:00",
        "action": "USER_MOVED",
        "name": "directory.user.moved",
        "module": "directory",
        "entity": "user",
        "verb": "moved",
        "actor": {"type": "USER", "id": str(t.ids["admin"]), "label": "admin", "userId": t.gid("User", "admin")},
        "target": {"type": "User", "id": str(t.ids["member"]), "nodeId": t.gid("User", "member")},
        "diff": {"before": {"name": "a"}, "after": {"name": "b"}},
        "requestId": "req-plant",
    }
    # real mutations land in the trail too, newest first
    r = await world.gql(
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
        {"i": {"name": "Audited", "organizationId": t.gid("Organization", "eng")}},
        world.admin(t),
    )
    team_id = r.data["createTeam"]["team"]["id"]
    newest = (await _trail(world, world.admin(t), first=1))["edges"][0]["node"]
    assert newest["action"] == "TEAM_CREATED" and newest["target"]["nodeId"] == team_id
    assert newest["diff"]["after"]["name"] == "Audited" and newest["requestId"]


async def test_each_filter(world: World) -> None:
    t = await world.tenant()
    other_user = str(uuid.uuid4())
    operator = str(uuid.uuid4())
    day = timedelta(days=1)
    e_team, e_user, e_cap, e_op, e_sys = await _plant(
        world,
        t,
        [
            {"action": AuditAction.TEAM_UPDATED, "at": BASE},
            {
                "action": AuditAction.USER_CREATED,
                "target_type": "User",
                "target_id": str(t.ids["member"]),
                "actor_id": other_user,
                "at": BASE + day,
            },
            {"action": AuditAction.CAP_UPDATED, "target_type": "BudgetCap", "target_id": "cap-1", "at": BASE + 2 * day},
            {
                "action": AuditAction.TEAM_DELETED,
                "actor_type": "SUPER_ADMIN",
                "actor_id": operator,
                "at": BASE + 3 * day,
            },
            {"action": AuditAction.CYCLE_RENEWED, "actor_type": "SYSTEM", "actor_id": None, "at": BASE + 4 * day},
        ],
    )
    admin = world.admin(t)
    window = {"to": (BASE + 10 * day).isoformat()}  # only the planted ones (setup events happen now)

    async def ids(**flt: Any) -> set[str]:
        conn = await _trail(world, admin, f=window | flt)
        assert conn["totalCount"] == len(conn["edges"])
        return set(_ids(conn))

    s = {k: str(v) for k, v in {"team": e_team, "user": e_user, "cap": e_cap, "op": e_op, "sys": e_sys}.items()}
    assert await ids() == set(s.values())
    assert await ids(modules=["budgets"]) == {s["cap"], s["sys"]}
    assert await ids(entities=["team"]) == {s["team"], s["op"]}
    assert await ids(verbs=["deleted", "created"]) == {s["user"], s["op"]}
    assert await ids(modules=["directory"], verbs=["updated"]) == {s["team"]}
    assert await ids(actions=["CAP_UPDATED", "USER_CREATED"]) == {s["cap"], s["user"]}
    assert await ids(actorType="SUPER_ADMIN") == {s["op"]}
    assert await ids(actorType="SYSTEM") == {s["sys"]}
    assert await ids(actorId=operator) == {s["op"]}
    assert await ids(actorId=encode_id("User", t.account_id, uuid.UUID(other_user))) == {s["user"]}
    assert await ids(targetType="BudgetCap") == {s["cap"]}
    assert await ids(targetId="cap-1") == {s["cap"]}
    assert await ids(targetId=t.gid("User", "member")) == {s["user"]}
    assert await ids(targetId=t.gid("Team", "platform")) == {s["team"], s["op"], s["sys"]}
    assert await ids(**{"from": (BASE + 2 * day).isoformat()}) == {s["cap"], s["op"], s["sys"]}
    assert await ids(**{"from": (BASE + day).isoformat(), "to": (BASE + 2 * day).isoformat()}) == {
        s["user"],
        s["cap"],
    }
    assert await ids(modules=["nothing"]) == set()


async def test_from_after_to_is_bad_user_input(world: World) -> None:
    t = await world.tenant(with_structure=False)
    r = await world.gql(TRAIL, {"f": {"from": "2021-01-02T00:00:00Z", "to": "2021-01-01T00:00:00Z"}}, world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"], r.body
    r = await world.gql(TRAIL, {"first": 101}, world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"], r.body
    r = await world.gql(TRAIL, {"first": 1, "last": 1}, world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"], r.body
    r = await world.gql(TRAIL, {"after": "not-a-cursor"}, world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"], r.body


async def test_pages_are_stable_without_skips_or_duplicates(world: World) -> None:
    t = await world.tenant(with_structure=False)
    # 23 events, many sharing one instant: the id breaks ties
    rows = [{"at": BASE + timedelta(minutes=i // 4)} for i in range(23)]
    await _plant(world, t, rows)
    admin = world.admin(t)
    await _trail(world, admin, first=1)  # the first request links the admin's identity (an audit event too)
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        expected = [
            str(i)
            for i in await s.scalars(
                sa.select(AuditEvent.id).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            )
        ]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        conn = await _trail(world, admin, first=5, after=after)
        seen += _ids(conn)
        pages += 1
        assert conn["totalCount"] == len(expected)
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == expected and len(set(seen)) == len(seen)
    # and backwards, with last/before, the same list
    back: list[str] = []
    before = None
    while True:
        conn = await _trail(world, admin, last=6, before=before)
        back = _ids(conn) + back
        if not conn["pageInfo"]["hasPreviousPage"]:
            break
        before = conn["pageInfo"]["startCursor"]
    assert back == expected


async def test_statements_do_not_grow_with_the_page(world: World) -> None:
    t = await world.tenant(with_structure=False)
    await _plant(world, t, [{"at": BASE + timedelta(seconds=i)} for i in range(60)])
    await _trail(world, world.admin(t), first=1)  # the first request links the admin's identity
    counts = []
    for n in (2, 50):
        r = await world.gql(TRAIL, {"first": n}, world.admin(t))
        assert r.errors == [], r.body
        assert len(r.data["auditEvents"]["edges"]) == n
        counts.append(r.statements)
    assert counts[0] == counts[1], counts


async def test_account_isolation_roles_and_super_admins(world: World) -> None:
    a, b = await world.tenant(), await world.tenant()
    [b_event] = await _plant(world, b, [{"at": BASE}])
    admin_a = world.admin(a)
    # another account's trail answers as an empty one
    conn = await _trail(world, admin_a, a=b.account_gid)
    assert conn["edges"] == [] and conn["totalCount"] == 0
    # forged filters with B's ids find nothing of B in A's trail
    own = await _trail(world, admin_a, first=100)
    assert str(b_event) not in _ids(own)
    for flt in (
        {"targetId": b.gid("Team", "platform")},
        {"actorId": b.gid("User", "admin")},
        {"targetId": encode_id("Team", a.account_id, b.ids["platform"])},
        {"targetId": str(b.ids["platform"])},
    ):
        conn = await _trail(world, admin_a, f=flt)
        assert conn["edges"] == [], flt
    assert all(e["node"]["id"] != str(b_event) for e in own["edges"])
    # members may not read the trail
    r = await world.gql(TRAIL, {}, world.member(a))
    assert r.codes == ["FORBIDDEN"], r.body
    r = await world.gql(TRAIL, {}, None)
    assert r.codes == ["UNAUTHENTICATED"] or r.status == 401, r.body
    # malformed account id
    r = await world.gql(TRAIL, {"a": b.gid("Team", "platform")}, admin_a)
    assert r.codes == ["BAD_USER_INPUT"], r.body
    # super admins name the account, and read any
    root = await world.super_admin()
    r = await world.gql(TRAIL, {}, root)
    assert r.codes == ["BAD_USER_INPUT"], r.body
    for t, event in ((b, b_event), (a, None)):
        conn = await _trail(world, root, a=t.account_gid, first=100)
        got = _ids(conn)
        assert got and (event is None or str(event) in got)
        accounts = {e["node"]["target"]["nodeId"] for e in conn["edges"] if e["node"]["target"]["type"] == "Account"}
        assert accounts <= {t.account_gid}
    a_ids = set(_ids(await _trail(world, root, a=a.account_gid, first=100)))
    assert str(b_event) not in a_ids


async def test_platform_trail_for_super_admins_only(world: World) -> None:
    t = await world.tenant()
    model = await catalog_model(world, "Audited")
    root = await world.super_admin()
    r = await world.gql(PLATFORM, {"f": {"targetId": str(model)}}, root)
    assert r.errors == [], r.body
    conn = r.data["platformAuditEvents"]
    assert conn["totalCount"] == 1
    [node] = conn["nodes"]
    assert node["action"] == "MODEL_CREATED" and node["module"] == "models"
    assert node["target"] == {"type": "Model", "id": str(model), "nodeId": None}
    assert node["diff"]["before"] is None and "Audited" in str(node["diff"]["after"])
    r = await world.gql(PLATFORM, {"f": {"modules": ["directory"], "targetId": str(model)}}, root)
    assert r.data["platformAuditEvents"]["nodes"] == []
    r = await world.gql(PLATFORM, {"f": {"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"}}, root)
    assert r.codes == ["BAD_USER_INPUT"], r.body
    for token in (world.admin(t), world.member(t)):
        r = await world.gql(PLATFORM, {}, token)
        assert r.codes == ["FORBIDDEN"], r.body


def test_docs_list_every_action() -> None:
    """docs/observability.md carries the whole taxonomy table, so docs cannot drift from the enum."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text()
    rows = set(re.findall(r"^\| `([A-Z_]+)` \| `([a-z_.]+)` \|", text, re.MULTILINE))
    expected = {(a.name, a.value) for a in AuditAction}
    assert rows == expected, {"missing": expected - rows, "stale": rows - expected}
