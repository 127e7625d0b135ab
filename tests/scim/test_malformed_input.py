"""Input PostgreSQL cannot store (U+0000, over-long indexed values, out-of-range offsets) answers a SCIM
400 `invalidValue` before any SQL, never a 500; and a database data error that slips through is a 400
too (mapped by SQLSTATE)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from cockpit_graphql.scim.responses import response_for
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, audit, patch
from tests.support.world import World

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
NUL = "\u0000"


def _user(login: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": login, "emails": [{"value": login, "primary": True}]} | extra


def _invalid_value(status: int, body: Any) -> None:
    assert status == 400, (status, body)
    assert body["schemas"] == [ERROR] and body["scimType"] == "invalidValue", body


@pytest.fixture
async def setup(world: World, scim_client: Any) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    who = await scim_tenant(world)
    scim = scim_client(who)
    status, user = await scim.call("POST", "/Users", _user(f"nora@{who.tenant.domain}"))
    assert status == 201, user
    status, group = await scim.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Nul"})
    assert status == 201, group
    return who, scim, user, group


async def test_nul_characters_are_invalid_values_everywhere(setup: Any, world: World) -> None:
    who, scim, user, group = setup
    domain = who.tenant.domain
    events = len(await audit(world, who.tenant.account_id))
    bodies = [
        ("POST", "/Users", _user(f"a{NUL}b@{domain}")),
        ("POST", "/Users", _user(f"c@{domain}", displayName=f"C{NUL}")),
        ("POST", "/Users", _user(f"d@{domain}", nickName=f"D{NUL}")),  # stored in the jsonb document only
        ("POST", "/Users", _user(f"e@{domain}", name={"givenName": f"E{NUL}"})),
        ("PUT", f"/Users/{user['id']}", _user(f"nora@{domain}", nickName=f"n{NUL}")),
        ("PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "nickName", "value": f"n{NUL}"})),
        ("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": f"G{NUL}"}),
        (
            "PATCH",
            f"/Groups/{group['id']}",
            patch({"op": "add", "path": "members", "value": [{"value": user["id"], "display": f"N{NUL}"}]}),
        ),
        ("PATCH", f"/Groups/{group['id']}", patch({"op": "replace", "path": "displayName", "value": f"x{NUL}"})),
        (
            "POST",
            "/Users/.search",
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f'userName eq "a{NUL}"'},
        ),
    ]
    for method, path, body in bodies:
        status, answer = await scim.call(method, path, body)
        _invalid_value(status, answer)
    # a key holding U+0000, and one deep in nested arrays (the walk is iterative: no recursion limit)
    deep: Any = f"x{NUL}"
    for _ in range(5000):
        deep = [deep]
    for raw in (
        orjson.dumps(_user(f"f@{domain}") | {f"k{NUL}": 1}),
        b'{"schemas": ["' + CORE_USER.encode() + b'"], "userName": "g", "x": ' + orjson.dumps([[[f"y{NUL}"]]]) + b"}",
    ):
        status, answer = await scim.call("POST", "/Users", raw)
        _invalid_value(status, answer)
    for query in (f'filter=userName+eq+"a{NUL}"', f"attributes=userName{NUL}"):
        status, answer = await scim.call("GET", f"/Users?{query.replace(NUL, '%00')}")
        _invalid_value(status, answer)
    assert len(await audit(world, who.tenant.account_id)) == events  # nothing was written


async def test_over_long_values_are_invalid_values(setup: Any, world: World) -> None:
    who, scim, user, _ = setup
    domain = who.tenant.domain
    events = len(await audit(world, who.tenant.account_id))
    long_login = "x" * 8000  # over the btree maximum of the lower(user_name) index
    for method, path, body in [
        ("POST", "/Users", {"schemas": [CORE_USER], "userName": long_login}),
        ("POST", "/Users", {"schemas": [CORE_USER], "userName": "y" * 321}),  # over the 320 of an email
        ("POST", "/Users", _user(f"h@{domain}", displayName="d" * 201)),
        ("POST", "/Users", _user(f"i@{domain}", externalId="e" * 257)),
        ("PUT", f"/Users/{user['id']}", {"schemas": [CORE_USER], "userName": long_login}),
        ("PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "userName", "value": long_login})),
        ("PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "displayName", "value": "d" * 201})),
    ]:
        status, answer = await scim.call(method, path, body)
        _invalid_value(status, answer)
        assert "longer than" in answer["detail"], answer
    assert len(await audit(world, who.tenant.account_id)) == events
    at_limits = {"userName": "z" * 320, "displayName": "d" * 200, "externalId": "e" * 256}
    status, ok = await scim.call("POST", "/Users", _user(f"z@{domain}") | at_limits)
    assert status == 201, ok  # the limits themselves are accepted


async def test_start_index_beyond_any_result_set_reads_as_past_the_end(setup: Any) -> None:
    _, scim, user, _ = setup
    huge = "99999999999999999999999"
    for path in (
        f"/Users?startIndex={huge}",
        f"/Users?startIndex={huge}&count={huge}",
        f"/Users?filter=userName+pr&startIndex={huge}",
        f"/Groups?startIndex={huge}",
        f"/Users?startIndex={2**31}",
    ):
        status, page = await scim.call("GET", path)
        assert status == 200, (path, page)
        assert page["startIndex"] == 2**31 - 1 and page["itemsPerPage"] == 0 and page.get("Resources", []) == []
        assert page["totalResults"] == 1, page
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 2**40, "count": 2**40}
    status, page = await scim.call("POST", "/Users/.search", search)
    assert status == 200 and page["startIndex"] == 2**31 - 1 and page["totalResults"] == 1, page
    # a JSON number beyond 64 bits is read as a float, which is no index: 400, not 500
    status, page = await scim.call(
        "POST", "/Users/.search", orjson.dumps(search).replace(b"1099511627776", huge.encode())
    )
    assert status == 400 and page["scimType"] == "invalidValue", page
    status, page = await scim.call("GET", f"/Users?startIndex=-{huge}&count={huge}")  # below 1 reads as 1
    assert status == 200 and page["startIndex"] == 1 and [r["id"] for r in page["Resources"]] == [user["id"]]


class _AsyncpgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["22021", "22003", "22001", "2201X", "54000"])
def test_database_data_errors_are_invalid_values_not_500(sqlstate: str) -> None:
    """As SQLAlchemy's asyncpg dialect raises them: a generic DBAPIError (not DataError) around asyncpg's."""
    exc = DBAPIError("SELECT 1", {}, _AsyncpgError(sqlstate))
    response = response_for(exc, "req-1")
    body = orjson.loads(response.body)
    assert response.status_code == 400 and body["scimType"] == "invalidValue", body
    assert sqlstate not in body["detail"]


def test_other_database_errors_keep_their_answers() -> None:
    assert response_for(IntegrityError("INSERT", {}, _AsyncpgError("23505")), "r").status_code == 409
    assert response_for(DBAPIError("SELECT", {}, _AsyncpgError("40P01")), "r").status_code == 503
    internal = response_for(DBAPIError("SELECT", {}, _AsyncpgError("XX000")), "r")
    assert internal.status_code == 500 and "r" in orjson.loads(internal.body)["detail"]
