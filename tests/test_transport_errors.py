"""Requests that are not GraphQL requests we can run are refused before GraphQL runs: HTTP 400 with a
GraphQL-shaped JSON body (`extensions.code` BAD_REQUEST and the request id), never an HTTP 500 and never
strawberry's text/plain reason without a code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.world import World

JSON = {"content-type": "application/json"}


def assert_bad_request(r: httpx.Response, reason: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), (r.headers["content-type"], r.text)
    body = r.json()
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST", "requestId": r.headers["x-request-id"]}, body
    assert reason in error["message"], body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'"x"', "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b"true", "must be a JSON object"),
        (b'{"query":"\xff"}', "not valid UTF-8"),
        (b"\xc3\x28", "not valid UTF-8"),
        (b"not json", "Unable to parse request body as JSON"),
        (b"", "Unable to parse request body as JSON"),
    ],
    ids=["string", "number", "null", "boolean", "invalid-utf8-in-string", "invalid-utf8", "not-json", "empty"],
)
async def test_a_body_that_is_not_a_json_object_is_a_bad_request(world: World, body: bytes, reason: str) -> None:
    # these were HTTP 500s (strawberry read the body with `.get`; UnicodeDecodeError was not caught) or text/plain
    assert_bad_request(await world.client.post("/graphql", content=body, headers=JSON), reason)


@pytest.mark.parametrize(
    ("request_kw", "reason"),
    [
        ({"json": [{"query": "{ viewer { role } }"}]}, "Batching is not enabled"),
        ({"json": {"query": "{ viewer { role } }", "variables": "x"}}, "`variables` must be an object"),
        ({"json": {"query": "{ viewer { role } }", "variables": [1]}}, "`variables` must be an object"),
        ({"json": {"query": 42}}, "`query` must be a string"),
        ({"json": {"query": "{ viewer { role } }", "extensions": 1}}, "`extensions` must be an object"),
        ({"json": {}}, "No GraphQL query found"),
        ({"json": {"query": "query A { viewer { role } }", "operationName": "B"}}, 'Unknown operation named "B"'),
        ({"content": b"{ viewer { role } }", "headers": {"content-type": "text/plain"}}, "Unsupported content type"),
    ],
    ids=[
        "batch",
        "variables-string",
        "variables-list",
        "query-number",
        "extensions-number",
        "no-query",
        "unknown-operation",
        "content-type",
    ],
)
async def test_transport_refusals_are_coded(world: World, request_kw: dict[str, Any], reason: str) -> None:
    assert_bad_request(await world.client.post("/graphql", **request_kw), reason)


async def test_get_is_refused_coded(world: World) -> None:
    query = {"query": "mutation { __typename }"}
    assert_bad_request(await world.client.get("/graphql", params=query), "mutations are not allowed")
    query = {"query": "{ __typename }"}  # queries over GET are off (allow_queries_via_get=False)
    assert_bad_request(await world.client.get("/graphql", params=query), "queries are not allowed")


async def test_a_valid_request_is_unchanged(world: World) -> None:
    r = await world.client.post("/graphql", json={"query": "query A { __typename }", "operationName": "A"})
    assert r.status_code == 200 and r.json()["data"] == {"__typename": "Query"}, r.text


TWO_OPERATIONS = "query A { viewer { role } } query B { viewer { isSuperAdmin } }"


@pytest.mark.parametrize("body", [{"query": TWO_OPERATIONS}, {"query": TWO_OPERATIONS, "operationName": None}])
async def test_several_operations_need_an_operation_name(world: World, body: dict[str, Any]) -> None:
    # the GraphQL spec's GetOperation(): a request error; strawberry ran the first operation (A)
    t = await world.tenant()
    r = await world.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {world.admin(t)}"})
    assert_bad_request(r, "`operationName`")


async def test_a_named_operation_of_several_runs_alone(world: World) -> None:
    t = await world.tenant()
    body = {"query": TWO_OPERATIONS, "operationName": "B"}
    r = await world.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {world.admin(t)}"})
    assert r.status_code == 200 and r.json()["data"] == {"viewer": {"isSuperAdmin": False}}, r.text
    one = await world.gql("query Only { viewer { ...R } } fragment R on Viewer { role }", token=world.admin(t))
    assert one.errors == [] and one.data == {"viewer": {"role": "ACCOUNT_ADMIN"}}  # fragments are no operations
