"""Bad input answers SCIM error documents (status + scimType), never a 500, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, audit, patch
from tests.support.world import World

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _user(login: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": login, "emails": [{"value": login, "primary": True}]} | extra


@pytest.fixture
async def setup(world: World, scim_client: Any) -> tuple[Any, Any, dict[str, Any]]:
    who = await scim_tenant(world)
    scim = scim_client(who)
    status, user = await scim.call("POST", "/Users", _user(f"erin@{who.tenant.domain}"))
    assert status == 201
    return who, scim, user


def _is_error(status: int, body: Any, expected: int, scim_type: str | None = None) -> None:
    assert status == expected, (status, body)
    assert body["schemas"] == [ERROR] and body["status"] == str(expected), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body


async def test_malformed_bodies_and_unknown_attributes(setup: Any, world: World) -> None:
    who, scim, user = setup
    events = len(await audit(world, who.tenant.account_id))
    status, body = await scim.call("POST", "/Users", b"{not json")
    _is_error(status, body, 400, "invalidSyntax")
    status, body = await scim.call("POST", "/Users", b"[1, 2]")
    _is_error(status, body, 400, "invalidSyntax")
    status, body = await scim.call("POST", "/Users", {"schemas": [CORE_USER]})  # userName missing
    _is_error(status, body, 400, "invalidValue")
    # an unknown attribute, in a body otherwise valid (so nothing else answers first)
    status, body = await scim.call("POST", "/Users", _user(f"x@{who.tenant.domain}", favouriteColour="blue"))
    _is_error(status, body, 400, "invalidSyntax")
    assert "favouriteColour" in body["detail"]
    unknown_sub = {"schemas": [CORE_USER], "userName": "z", "emails": [{"value": f"z@{who.tenant.domain}", "shoe": 1}]}
    status, body = await scim.call("POST", "/Users", unknown_sub)
    _is_error(status, body, 400, "invalidSyntax")
    status, body = await scim.call(
        "POST", "/Users", _user("x@y.test", emails=[{"value": "not an email", "primary": True}])
    )
    _is_error(status, body, 400, "invalidValue")
    status, body = await scim.call(
        "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "G", "members": [{"value": "nope"}]}
    )
    _is_error(status, body, 400, "invalidValue")
    status, body = await scim.call("PUT", f"/Users/{user['id']}", {"schemas": [CORE_USER], "userName": 5})
    _is_error(status, body, 400, "invalidValue")
    status, body = await scim.call("PATCH", f"/Users/{user['id']}", {"schemas": ["nope"], "Operations": []})
    _is_error(status, body, 400, "invalidSyntax")
    status, body = await scim.call(
        "PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "shoeSize", "value": 1})
    )
    _is_error(status, body, 400, "invalidPath")
    status, body = await scim.call(
        "PATCH", f"/Users/{user['id']}", patch({"op": "explode", "path": "userName", "value": "x"})
    )
    _is_error(status, body, 400, "invalidValue")
    status, body = await scim.call(
        "PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "id", "value": "x"})
    )
    _is_error(status, body, 400, "mutability")
    assert len(await audit(world, who.tenant.account_id)) == events  # nothing was written


async def test_invalid_filters_and_parameters(setup: Any) -> None:
    _, scim, _ = setup
    status, body = await scim.call("GET", "/Users?filter=userName+eq")
    _is_error(status, body, 400, "invalidFilter")
    status, body = await scim.call("GET", '/Users?filter=shoeSize+eq+"42"')
    _is_error(status, body, 400, "invalidFilter")
    status, body = await scim.call("GET", '/Users?filter=(userName+eq+"a"')
    _is_error(status, body, 400, "invalidFilter")
    status, body = await scim.call("GET", "/Users?attributes=userName&excludedAttributes=emails")
    _is_error(status, body, 400, "invalidValue")
    status, body = await scim.call(
        "POST", "/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    )
    _is_error(status, body, 501)


async def test_pagination(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    ids = []
    for n in range(5):
        status, user = await scim.call("POST", "/Users", _user(f"p{n}@{who.tenant.domain}"))
        ids.append(user["id"])
    status, page = await scim.call("GET", "/Users?startIndex=2&count=2")
    assert status == 200 and page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    status, page = await scim.call("GET", "/Users?startIndex=9&count=2")
    assert page["totalResults"] == 5 and page["itemsPerPage"] == 0
    status, page = await scim.call("GET", "/Users?count=0")
    assert page["totalResults"] == 5 and page.get("Resources", []) == []
    status, page = await scim.call(
        "POST",
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "p1"',
            "attributes": ["userName"],
        },
    )
    assert status == 200 and page["totalResults"] == 1 and set(page["Resources"][0]) == {"id", "userName", "schemas"}


async def test_versions_conflicts_and_missing_resources(setup: Any) -> None:
    who, scim, user = setup
    path = f"/Users/{user['id']}"
    replace = patch({"op": "replace", "path": "displayName", "value": "Erin"})
    status, body = await scim.call("PATCH", path, replace, **{"If-Match": 'W/"7"'})
    _is_error(status, body, 412)
    status, body = await scim.call("PATCH", path, replace, **{"If-Match": user["meta"]["version"]})
    assert status == 200 and body["meta"]["version"] == 'W/"2"'
    status, body = await scim.call("DELETE", path, **{"If-Match": user["meta"]["version"]})  # stale now
    _is_error(status, body, 412)
    status, body = await scim.call("PUT", path, _user(f"erin@{who.tenant.domain}", userName="other@x.test"))
    assert status == 200 and body["userName"] == "other@x.test"
    await scim.call("POST", "/Users", _user(f"frank@{who.tenant.domain}"))
    status, body = await scim.call(
        "PATCH", path, patch({"op": "replace", "path": "userName", "value": "FRANK@" + who.tenant.domain})
    )
    _is_error(status, body, 409, "uniqueness")
    for missing in ("/Users/00000000-0000-0000-0000-000000000000", "/Users/not-a-uuid", "/Groups/nope", "/Nothing"):
        status, body = await scim.call("GET", missing)
        _is_error(status, body, 404)
    status, body = await scim.call("PUT", "/ServiceProviderConfig", {})
    _is_error(status, body, 405)
    await scim.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Dup"})
    status, body = await scim.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "dup"})
    _is_error(status, body, 409, "uniqueness")
