"""Found in review: Decimal inputs NaN, sNaN, Infinity and huge exponents came back as INTERNAL:
`costAnomalies(input: {sigmas: "NaN"})` compared NaN (InvalidOperation), `setBudgetPlan(rolloverPercent:
"NaN")` likewise, and `setBudgetPlan`, `setBudgetCap` or `adjustCredits` with `"1e999999999"` overflowed
in `abs()` (decimal.Overflow). Now the Decimal scalar (cockpit_graphql/types/scalars.py) refuses a value
that is not finite or whose adjusted exponent is beyond ±30 as BAD_USER_INPUT before anything runs, from
literals and variables alike; and `clean_amount` compares exactly (`copy_abs`), so a value within the
scalar's bounds but over a field's own limit is that field's INVALID userError."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from graphql import GraphQLError

from cockpit_graphql.domain.budgets import plans
from cockpit_graphql.domain.budgets.validation import clean_amount
from cockpit_graphql.domain.errors import BadUserInput, UserInputError
from cockpit_graphql.domain.observability import anomalies
from cockpit_graphql.types.scalars import MAX_DECIMAL_EXPONENT, parse_decimal
from tests.support.world import Tenant, World

NOT_FINITE = ["NaN", "-NaN", "sNaN", "NaN123", "Infinity", "-Infinity", "inf", "-Inf"]
TOO_LARGE = ["1e999999999", "1E+2147483647", "-1E+2147483647", "1e31", "-12345678901234567890123456789012"]
TOO_SMALL = ["1e-999999999", "1E-31", "-0.0000000000000000000000000000000001", "0E-40"]
REFUSED = NOT_FINITE + TOO_LARGE + TOO_SMALL


@pytest.mark.parametrize("value", REFUSED)
def test_the_scalar_refuses_non_finite_values_and_absurd_exponents(value: str) -> None:
    with pytest.raises(GraphQLError) as caught:
        parse_decimal(value)
    assert caught.value.extensions == {"code": "BAD_USER_INPUT"}
    assert caught.value.message.startswith(f'Value cannot represent a Decimal: "{value}"')


@pytest.mark.parametrize(
    "value", ["0", "-0", "12.5", "0.0125", "1e12", "9.999e30", "-9.999e30", "1e-30", "1E+30", 3, 2.5, "0E-30"]
)
def test_the_scalar_keeps_every_value_within_the_bounds(value: Any) -> None:
    assert parse_decimal(value) == Decimal(str(value))
    assert abs(Decimal(str(value)).adjusted()) <= MAX_DECIMAL_EXPONENT


@pytest.mark.parametrize("value", ["1e999999999", "1E+2147483647", "-1E+2147483647", "1e13"])
def test_clean_amount_refuses_a_huge_amount_as_invalid(value: str) -> None:
    with pytest.raises(UserInputError) as caught:
        clean_amount(Decimal(value), "credits", allow_negative=True)
    assert [(e.code, e.message) for e in caught.value.errors] == [
        ("INVALID", "`credits` must be at most 1000000000000.")
    ]


ANOMALIES = "query($i: CostAnomaliesInput!) { costAnomalies(input: $i) { __typename } }"
PLAN = """mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) {
  plan { version } userErrors { field code message } } }"""
CAP = """mutation($i: SetBudgetCapInput!) { setBudgetCap(input: $i) { userErrors { field code message } } }"""
ADJUST = """mutation($i: AdjustCreditsInput!) { adjustCredits(input: $i) { userErrors { field code message } } }"""
PLAN_VERSION = "{ viewer { account { budgetPlan { version creditsPerCycle } } } }"


def _inputs(t: Tenant, value: str) -> list[tuple[str, dict[str, Any]]]:
    """Every Decimal field the review found, each holding `value`."""
    plan = {"creditsPerCycle": "10", "renewalDay": 1}
    return [
        (ANOMALIES, {"sigmas": value}),
        (ANOMALIES, {"minCredits": value}),
        (PLAN, {**plan, "rolloverPercent": value}),
        (PLAN, {**plan, "creditsPerCycle": value}),
        (PLAN, {**plan, "rolloverCap": value}),
        (PLAN, {**plan, "overflowUsdPerCredit": value}),
        (CAP, {"scopeId": t.gid("Team", "platform"), "credits": value}),
        (ADJUST, {"credits": value, "reason": "review"}),
    ]


async def _plan(world: World, t: Tenant) -> dict[str, Any]:
    r = await world.gql(PLAN_VERSION, token=world.admin(t))
    assert r.errors == [], r.body
    return r.data["viewer"]["account"]["budgetPlan"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("value", ["NaN", "sNaN", "-Infinity", "1e999999999", "1E+2147483647", "1e-31"])
async def test_refused_decimals_are_bad_user_input_and_change_nothing(world: World, value: str) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    assert (await world.gql(PLAN, {"i": {"creditsPerCycle": "10", "renewalDay": 1}}, token=admin)).errors == []
    before = await _plan(world, t)
    for document, payload in _inputs(t, value):
        r = await world.gql(document, {"i": payload}, token=admin)
        assert r.codes == ["BAD_USER_INPUT"] and r.data is None, (payload, r.body)
        assert f'Value cannot represent a Decimal: "{value}"' in r.errors[0]["message"], r.body
    literal = f'{{ costAnomalies(input: {{sigmas: "{value}"}}) {{ __typename }} }}'
    r = await world.gql(literal, token=admin)
    assert r.codes == ["BAD_USER_INPUT"], r.body
    assert await _plan(world, t) == before


async def test_a_float_literal_beyond_the_bounds_is_bad_user_input(world: World) -> None:
    """A GraphQL Float literal reaches the scalar as a float: 1e999 is infinity there."""
    t = await world.tenant()
    for literal in ("1e999", "-1e999", "1e40"):
        r = await world.gql(f"{{ costAnomalies(input: {{sigmas: {literal}}}) {{ __typename }} }}", token=world.admin(t))
        assert r.codes == ["BAD_USER_INPUT"], (literal, r.body)


@pytest.mark.parametrize("value", ["9.999e30", "-9.999e30", "1e-30", "1e13"])
async def test_decimals_within_the_bounds_get_each_fields_answer(world: World, value: str) -> None:
    """Accepted by the scalar: each field's own rule answers (a userError, or the query runs), never INTERNAL."""
    t = await world.tenant()
    admin = world.admin(t)
    assert (await world.gql(PLAN, {"i": {"creditsPerCycle": "10", "renewalDay": 1}}, token=admin)).errors == []
    for document, payload in _inputs(t, value):
        r = await world.gql(document, {"i": payload}, token=admin)
        assert r.errors == [] or r.codes == ["BAD_USER_INPUT"], (payload, r.body)
        if document is not ANOMALIES:
            name = next(iter(r.data))
            assert [e["code"] for e in r.data[name]["userErrors"]] == ["INVALID"], (payload, r.body)
    usage = {"idempotencyKey": uuid.uuid4().hex, "userId": t.gid("User", "member"), "costUsd": value}
    r = await world.gql(
        "mutation($i: UsageEventInput!) { recordUsage(input: $i) { userErrors { code } } }", {"i": usage}, token=admin
    )
    assert "INTERNAL" not in r.codes, r.body
    r = await world.gql(
        "mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) { userErrors { code } } }",
        {"i": {"userId": t.gid("User", "member"), "estimatedCredits": value}},
        token=admin,
    )
    assert "INTERNAL" not in r.codes, r.body


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity"])
def test_a_plan_with_a_non_finite_rollover_percent_is_invalid(value: str) -> None:
    """The scalar keeps these out; the plan's own rule does not depend on it (a comparison with NaN raises)."""
    with pytest.raises(UserInputError) as caught:
        plans._validate(plans.PlanTerms(Decimal(10), 1, rollover_percent=Decimal(value)))
    assert [(e.field, e.code) for e in caught.value.errors] == [(("rolloverPercent",), "INVALID")]


@pytest.mark.parametrize(("sigmas", "min_credits"), [("NaN", "1"), ("1", "sNaN"), ("-Infinity", "1")])
async def test_anomaly_thresholds_that_are_not_finite_are_bad_user_input(sigmas: str, min_credits: str) -> None:
    with pytest.raises(BadUserInput):
        await anomalies.anomalies(
            None,  # type: ignore[arg-type]  # refused before any statement
            None,  # type: ignore[arg-type]
            datetime.now(UTC),
            sigmas=Decimal(sigmas),
            min_credits=Decimal(min_credits),
        )
