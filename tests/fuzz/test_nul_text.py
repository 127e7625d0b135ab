"""Found by the fuzz test: a string with U+0000 (in a name, an email, a model id, a JSON config) reached
PostgreSQL, which refuses it in text and jsonb, and came back as INTERNAL. Now it is BAD_USER_INPUT before
anything executes, from literals and from variables alike, and nothing is written."""

from __future__ import annotations

import pytest

from tests.support.world import World

CREATE_ORG = "mutation($name: String!) { createOrganization(input: {name: $name}) { organization { id } } }"


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        ('mutation { createOrganization(input: {name: "a\\u0000b"}) { organization { id } } }', None),
        (CREATE_ORG, {"name": "a\x00b"}),
        ('mutation { createUser(input: {email: "a\\u0000@x.example"}) { user { id } } }', None),
        (
            'mutation($c: JSON!) { createConnection(input: {name: "c", type: SLACK, config: $c}) '
            "{ connection { id } } }",
            {"c": {"workspace\x00": "w"}},
        ),
        ('{ node(id: "\\u0000") { id } }', None),
    ],
    ids=["literal", "variable", "email", "json-key", "query-argument"],
)
async def test_nul_characters_are_bad_user_input(world: World, document: str, variables: dict | None) -> None:
    t = await world.tenant()
    r = await world.gql(document, variables, token=world.admin(t))
    assert r.status == 200 and r.codes == ["BAD_USER_INPUT"], r.body
    assert r.data is None and "U+0000" in r.errors[0]["message"]
    r = await world.gql("{ viewer { account { organizations { totalCount } } } }", token=world.admin(t))
    assert r.data["viewer"]["account"]["organizations"]["totalCount"] == 2  # Global + Engineering: nothing added


async def test_super_admin_catalog_input_with_nul_is_refused(world: World) -> None:
    document = (
        'mutation { createModel(input: {displayName: "m\\u0000", provider: OPENAI, providerModelId: "x", '
        "capabilities: [CHAT]}) { model { id } } }"
    )
    r = await world.gql(document, token=await world.super_admin())
    assert r.codes == ["BAD_USER_INPUT"], r.body
