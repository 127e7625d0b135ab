from tests.support.world import World


async def test_admin_reads_directory(world: World) -> None:
    t = await world.tenant()
    r = await world.gql(
        "{ viewer { role user { email } account { name organizations { totalCount nodes { name } } } } }",
        token=world.admin(t),
    )
    assert r.status == 200, r.body
    assert r.data["viewer"]["role"] == "ACCOUNT_ADMIN"
    assert sorted(n["name"] for n in r.data["viewer"]["account"]["organizations"]["nodes"]) == ["Engineering", "Global"]
