"""Found in review: a cursor is opaque but not signed, and one forged as valid base64 JSON whose sort value
has the wrong type (a number where the list sorts by name, an object, a string with U+0000, an integer
beyond 64 bits) reached SQL (`operator does not exist: text > integer`, the NUL refused by PostgreSQL)
or an in-memory comparison (TypeError) and came back as INTERNAL from every connection. Now the decoder
knows the type of each list's sort value and answers BAD_USER_INPUT "Invalid cursor ..." as it does for
a cursor that is not base64 JSON at all."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.pagination import Cursor, SortKind
from tests.marketplace.helpers import create_agent
from tests.support.world import Tenant, World


def forge(raw: Any) -> str:
    """A cursor of the API's own encoding around any JSON value."""
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def forged(value: Any) -> str:
    return forge([value, str(uuid.uuid4())])


WRONG_FOR_TEXT = [123, 10**30, {"a": 1}, ["a"], None, True, 1.5, "a\x00b", "\ud800"]
WRONG_FOR_TIME = [123, "yesterday", "a\x00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", {"a": 1}]
WRONG_FOR_INTEGER = ["3", 2**63, -(2**63) - 1, 10**30, 1.5, True, None, {"a": 1}]
NOT_A_PAIR = [{"a": 1, "b": 2}, ["x"], ["x", "y", "z"], ["x", 123], ["x", None], "ab", 42, "[" * 5000]


@pytest.mark.parametrize("kind", list(SortKind))
def test_the_decoder_refuses_what_the_list_cannot_compare(kind: SortKind) -> None:
    wrong = {SortKind.TEXT: WRONG_FOR_TEXT, SortKind.TIME: WRONG_FOR_TIME, SortKind.INTEGER: WRONG_FOR_INTEGER}[kind]
    cursors = [forged(v) for v in wrong] + [forge(raw) for raw in NOT_A_PAIR]
    cursors.append(base64.urlsafe_b64encode(b"[" * 100_000).decode())  # nesting beyond the JSON parser's stack
    for cursor in cursors:
        with pytest.raises(BadUserInput) as caught:
            Cursor.decode(cursor, kind)
        assert caught.value.message == f"Invalid cursor {cursor!r}."


@pytest.mark.parametrize(
    ("kind", "value", "decoded"),
    [
        (SortKind.TEXT, 'Qu"ote Ünïcode 😀', 'Qu"ote Ünïcode 😀'),
        (SortKind.INTEGER, 2**63 - 1, 2**63 - 1),
        (SortKind.INTEGER, -(2**63), -(2**63)),
        (SortKind.TIME, datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
        (
            SortKind.TIME,
            datetime(2026, 6, 30, 23, 0, tzinfo=timezone(timedelta(hours=-7))),
            datetime(2026, 7, 1, 6, 0, tzinfo=UTC),
        ),
        (SortKind.TIME, "2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_the_cursors_the_api_writes_still_decode(kind: SortKind, value: Any, decoded: Any) -> None:
    ident = uuid.uuid4()
    cursor = Cursor(value, ident).encode()
    assert Cursor.decode(cursor, kind) == Cursor(decoded, ident)


async def _agent(world: World, t: Tenant) -> str:
    return str((await create_agent(world, world.admin(t), "Forged", t.account_gid))["id"])


# (the list, the forged sort values, the principal: "admin" or "member", whether it needs an agent)
LISTS = [
    ("{ viewer { account { organizations(first: 1, after: $c) { nodes { id } } } } }", WRONG_FOR_TEXT, "admin"),
    ("{ viewer { account { teams(after: $c) { totalCount nodes { name } } } } }", WRONG_FOR_TEXT, "admin"),
    ("{ viewer { account { users(after: $c) { edges { cursor } } } } }", WRONG_FOR_TEXT, "admin"),
    (
        "{ viewer { account { users(after: $c, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id } } } } }",
        WRONG_FOR_TIME,
        "admin",
    ),
    (
        "{ viewer { account { organizations { nodes { teams(after: $c) { nodes { users { nodes { id } } } } } } } } }",
        WRONG_FOR_TEXT,
        "admin",
    ),
    ("{ models(first: 1, after: $c) { nodes { id } } }", WRONG_FOR_TEXT, "admin"),
    ("{ agents(first: 1, after: $c) { nodes { id } } }", WRONG_FOR_TEXT, "admin"),
    ("{ connections(first: 1, after: $c) { nodes { id } } }", WRONG_FOR_TEXT, "admin"),
    ("{ marketplace(first: 1, after: $c) { nodes { __typename } } }", WRONG_FOR_TEXT, "member"),
    ("{ viewer { workspace(after: $c) { nodes { __typename } } } }", WRONG_FOR_TEXT, "member"),
    ("{ auditEvents(first: 1, after: $c) { nodes { id } } }", WRONG_FOR_TIME, "admin"),
    ("{ recordedAnomalies(first: 1, after: $c) { nodes { id } } }", WRONG_FOR_TIME, "admin"),
    ("{ viewer { account { budgetCycles(after: $c) { nodes { id } } } } }", WRONG_FOR_TIME, "admin"),
    ("{ viewer { account { billingNotices(after: $c) { nodes { id } } } } }", WRONG_FOR_TIME, "admin"),
]


@pytest.mark.parametrize(("selection", "wrong", "who"), LISTS, ids=[f"list-{i}" for i in range(len(LISTS))])
async def test_a_forged_cursor_is_bad_user_input_on_every_list(
    world: World, selection: str, wrong: list[Any], who: str
) -> None:
    t = await world.tenant()
    token = world.admin(t) if who == "admin" else world.member(t)
    document = "query($c: String) " + selection
    assert (await world.gql(document, {"c": None}, token=token)).errors == []
    for value in wrong:
        cursor = forged(value)
        r = await world.gql(document, {"c": cursor}, token=token)
        assert r.codes == ["BAD_USER_INPUT"], (value, r.body)
        assert r.errors[0]["message"] == f"Invalid cursor {cursor!r}.", r.body


@pytest.mark.parametrize("direction", ["after", "before"])
async def test_agent_versions_refuse_a_forged_version(world: World, direction: str) -> None:
    """Agent.versions pages in memory by version number: a string there was a TypeError in the comparison."""
    t = await world.tenant()
    agent = await _agent(world, t)
    page = "first: 1, after: $c" if direction == "after" else "last: 1, before: $c"
    versions = f"versions({page}) {{ nodes {{ version }} }}"
    document = f"query($id: ID!, $c: String) {{ node(id: $id) {{ ... on Agent {{ {versions} }} }} }}"
    beyond = Cursor(2 if direction == "after" else 0, uuid.uuid4()).encode()  # newest first: 1 is after 2
    r = await world.gql(document, {"id": agent, "c": beyond}, token=world.admin(t))
    assert r.errors == [] and r.data["node"]["versions"]["nodes"] == [{"version": 1}], r.body
    for value in WRONG_FOR_INTEGER:
        r = await world.gql(document, {"id": agent, "c": forged(value)}, token=world.admin(t))
        assert r.codes == ["BAD_USER_INPUT"], (value, r.body)
