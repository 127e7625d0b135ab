"""Rate limiting per principal on query cost: a Redis token bucket shared by every replica, RATE_LIMITED
with retry information, per-account overrides set by super admins, fail-open when Redis is down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from cockpit_graphql.domain.accounts.rate_limits import RateLimitSetting
from cockpit_graphql.limits.rate_limit import RateLimiter
from cockpit_graphql.ops.metrics import RATE_LIMIT_UNAVAILABLE
from tests.ops.helpers import CLOSED_REDIS, app_client, gql, own_settings
from tests.support.world import World

ROLE = "{ viewer { role } }"  # costs 2


def tiny(settings: Any, capacity: int = 10, refill: float = 0.001, **update: Any) -> Any:
    return own_settings(settings, rate_limit_capacity=capacity, rate_limit_refill_per_second=refill, **update)


async def test_over_the_limit_answers_rate_limited_with_retry_information(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    async with app_client(tiny(settings), db) as (_app, client):
        answers = [await gql(client, ROLE, token=world.admin(t)) for _ in range(6)]
    ok, refused = answers[:5], answers[5]
    assert all(r.errors == [] and r.data["viewer"]["role"] == "ACCOUNT_ADMIN" for r in ok)
    assert [r.body["extensions"]["rateLimit"]["remaining"] for r in ok] == [8, 6, 4, 2, 0]
    assert ok[0].body["extensions"]["rateLimit"]["limit"] == 10
    assert refused.status == 200 and refused.data is None  # GraphQL convention, like QUERY_TOO_COMPLEX
    assert refused.codes == ["RATE_LIMITED"]
    ext = refused.errors[0]["extensions"]
    assert ext["limit"] == 10 and ext["remaining"] == 0 and ext["cost"] == 2
    assert ext["retryAfterSeconds"] >= 1000  # 2 units at 0.001/s
    assert ext["requestId"] == refused.headers["x-request-id"]
    assert int(refused.headers["retry-after"]) == pytest.approx(ext["retryAfterSeconds"], abs=1)
    assert refused.statements <= 4  # refused before any resolver ran (authentication only)


async def test_buckets_are_per_principal_and_shared_by_replicas(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    limited = tiny(settings, capacity=4)
    replica = limited.model_copy()  # same prefix: another process serving the same deployment
    async with app_client(limited, db) as (_a, first), app_client(replica, db) as (_b, second):
        assert (await gql(first, ROLE, token=world.admin(t))).errors == []
        assert (await gql(second, ROLE, token=world.admin(t))).errors == []
        assert (await gql(first, ROLE, token=world.admin(t))).codes == ["RATE_LIMITED"]
        assert (await gql(second, ROLE, token=world.admin(t))).codes == ["RATE_LIMITED"]
        member = await gql(second, ROLE, token=world.member(t))  # another principal of the account
        assert member.errors == [] and member.data["viewer"]["role"] == "MEMBER"


async def test_the_charge_is_the_query_cost_and_invalid_documents_are_free(
    world: World, settings: Any, db: Any
) -> None:
    t = await world.tenant()
    async with app_client(tiny(settings, capacity=30), db) as (_app, client):
        token = world.admin(t)
        assert (await gql(client, "{ viewer { noSuchField } }", token=token)).codes == ["GRAPHQL_VALIDATION_FAILED"]
        assert (await gql(client, "{ viewer { role ", token=token)).codes == ["GRAPHQL_PARSE_FAILED"]
        page = await gql(client, "{ viewer { account { organizations(first: 5) { nodes { name } } } } }", token=token)
        cost = page.body["extensions"]["cost"]["requested"]
        assert cost == 1 + 1 + 1 + 5 * 2
        assert page.body["extensions"]["rateLimit"]["remaining"] == 30 - cost  # nothing charged before it
        # a query costing more than the whole bucket needs a full bucket (charged the capacity), never refused forever
        big = await gql(client, "{ viewer { account { organizations(first: 50) { nodes { name } } } } }", token=token)
        assert big.codes == ["RATE_LIMITED"] and big.errors[0]["extensions"]["cost"] == 103


async def test_the_bucket_refills(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    async with app_client(tiny(settings, capacity=4, refill=40.0), db) as (_app, client):
        token = world.admin(t)
        assert (await gql(client, ROLE, token=token)).errors == []
        assert (await gql(client, ROLE, token=token)).errors == []
        refused = await gql(client, ROLE, token=token)
        if refused.codes == ["RATE_LIMITED"]:  # unless the machine was slow enough to refill already
            assert 0 < refused.errors[0]["extensions"]["retryAfterSeconds"] <= 0.05
        await asyncio.sleep(0.2)  # 8 units refilled, capped at the capacity
        assert (await gql(client, ROLE, token=token)).errors == []


SET = """mutation($i: SetAccountRateLimitInput!) { setAccountRateLimit(input: $i) {
  account { id rateLimit { capacity refillPerSecond overridden } } userErrors { field code } } }"""


async def test_super_admins_override_an_accounts_limit(world: World, settings: Any, db: Any) -> None:
    t, other = await world.tenant(), await world.tenant()
    root = await world.super_admin("rate-limit-operator")
    async with app_client(own_settings(settings), db) as (_app, client):  # the suite's huge default limits
        read = "{ account { rateLimit { capacity refillPerSecond overridden } } }"
        default = await gql(client, read, token=world.admin(t))
        assert default.data["account"]["rateLimit"] == {
            "capacity": settings.rate_limit_capacity,
            "refillPerSecond": settings.rate_limit_refill_per_second,
            "overridden": False,
        }
        r = await gql(client, SET, {"i": {"accountId": t.account_gid, "capacity": 4, "refillPerSecond": 0.001}}, root)
        assert r.data["setAccountRateLimit"]["userErrors"] == []
        limit = {"capacity": 4, "refillPerSecond": 0.001, "overridden": True}
        assert r.data["setAccountRateLimit"]["account"]["rateLimit"] == limit
        assert (await gql(client, ROLE, token=world.admin(t))).errors == []
        assert (await gql(client, ROLE, token=world.admin(t))).errors == []
        assert (await gql(client, ROLE, token=world.admin(t))).codes == ["RATE_LIMITED"]
        assert (await gql(client, ROLE, token=world.member(t))).errors == []  # its own bucket of 4
        assert (await gql(client, ROLE, token=world.admin(other))).errors == []  # other accounts: the default
        for _ in range(3):
            assert (await gql(client, ROLE, token=world.admin(other))).errors == []
        # clearing returns the account to the default (a fresh, full default bucket is never smaller)
        cleared = await gql(client, SET, {"i": {"accountId": t.account_gid}}, root)
        assert cleared.data["setAccountRateLimit"]["account"]["rateLimit"]["overridden"] is False


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"capacity": 5}, [(["input", "refillPerSecond"], "REQUIRED")]),
        ({"refillPerSecond": 5}, [(["input", "capacity"], "REQUIRED")]),
        (
            {"capacity": 0, "refillPerSecond": 0},
            [(["input", "capacity"], "INVALID"), (["input", "refillPerSecond"], "INVALID")],
        ),
        (
            {"capacity": 2_000_000_000, "refillPerSecond": 1e300},
            [(["input", "capacity"], "INVALID"), (["input", "refillPerSecond"], "INVALID")],
        ),
        ({}, [(["input", "accountId"], "NOTHING_TO_CHANGE")]),
    ],
)
async def test_bad_overrides_are_user_errors(
    world: World, payload: dict[str, Any], expected: list[tuple[list[str], str]]
) -> None:
    t = await world.tenant()
    root = await world.super_admin("rate-limit-operator")
    r = await world.gql(SET, {"i": {"accountId": t.account_gid, **payload}}, token=root)
    assert r.errors == [], r.body
    errors = r.data["setAccountRateLimit"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == expected


async def test_only_super_admins_set_limits(world: World) -> None:
    t = await world.tenant()
    r = await world.gql(SET, {"i": {"accountId": t.account_gid, "capacity": 1, "refillPerSecond": 1}}, world.admin(t))
    assert r.codes == ["FORBIDDEN"]
    bad_id = await world.gql(
        SET, {"i": {"accountId": "nope", "capacity": 1, "refillPerSecond": 1}}, await world.super_admin()
    )
    assert [e["code"] for e in bad_id.data["setAccountRateLimit"]["userErrors"]] == ["NOT_FOUND"]


async def test_redis_down_fails_open_logged_and_counted(
    world: World, settings: Any, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    t = await world.tenant()
    before = RATE_LIMIT_UNAVAILABLE._value.get()
    down = tiny(settings, capacity=2, redis_url=CLOSED_REDIS, rate_limit_breaker_seconds=60.0)
    async with app_client(down, db) as (_app, client):
        with caplog.at_level(logging.WARNING, logger="cockpit.rate_limit"):
            answers = [await gql(client, ROLE, token=world.admin(t)) for _ in range(3)]
        assert all(r.errors == [] for r in answers)  # served although over the tiny limit: not checked
        assert all("rateLimit" not in r.body["extensions"] for r in answers)
        warnings = [rec for rec in caplog.records if rec.name == "cockpit.rate_limit"]
        assert len(warnings) == 1 and "failing open" in warnings[0].getMessage()  # the breaker: one line, one try
        assert RATE_LIMIT_UNAVAILABLE._value.get() - before == 3
        ready = await client.get("/readyz")
        # failing open, requests are served: the replica stays ready, Redis degraded (docs/operations.md)
        assert ready.status_code == 200 and ready.json()["checks"]["redis"].startswith("degraded")


async def test_redis_down_fails_closed_when_configured(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    closed = tiny(settings, redis_url=CLOSED_REDIS, rate_limit_fail_open=False, rate_limit_breaker_seconds=7.0)
    async with app_client(closed, db) as (_app, client):
        r = await gql(client, ROLE, token=world.admin(t))
    assert r.status == 200 and r.codes == ["RATE_LIMITED"]
    assert r.errors[0]["extensions"]["retryAfterSeconds"] == 7.0
    assert "could not be checked" in r.errors[0]["message"]


async def test_the_breaker_retries_redis_after_its_window(settings: Any) -> None:
    now = [0.0]
    limiter = RateLimiter(CLOSED_REDIS, breaker_seconds=5.0, clock=lambda: now[0])
    setting = RateLimitSetting(10, 1.0)
    first = await limiter.check("k", setting, 1)
    assert first.allowed and not first.checked and limiter._open_until == 5.0
    now[0] = 4.9
    await limiter.check("k", setting, 1)
    assert limiter._open_until == 5.0  # inside the window: Redis not asked
    now[0] = 5.1
    await limiter.check("k", setting, 1)
    assert limiter._open_until == pytest.approx(10.1)  # asked again, failed again
    limiter.redis_url = settings.redis_url
    await limiter.close()
    now[0] = 11.0
    key = f"{settings.rate_limit_key_prefix}breaker:{id(limiter)}"
    back = await limiter.check(key, setting, 3)
    assert back.checked and back.allowed and back.remaining == 7
    await limiter.close()
