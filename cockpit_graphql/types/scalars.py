"""Scalars whose input the API narrows beyond strawberry's built-in parsing.

`Decimal`: strawberry's scalar hands `decimal.Decimal(value)` to the resolvers, which accepts `NaN`,
`sNaN`, `Infinity` and any exponent (`1e999999999`, `1E+2147483647`). Every amount, rate and
threshold of this API is a finite number far inside ±10^30 (credits are NUMERIC(20, 6), prices
NUMERIC(20, 10)), but these values reached the domain and raised there (a comparison with NaN is
InvalidOperation, `abs()` of a huge exponent is decimal.Overflow), answered as INTERNAL. So the scalar
refuses them, from literals and variables alike, as BAD_USER_INPUT before anything executes:

- a value that is not finite (NaN, sNaN, Infinity, either sign);
- a value whose adjusted exponent (the power of ten of its leading digit: 3 for 1234.5, -3 for 0.00125,
  the written exponent for a zero) is outside ±MAX_DECIMAL_EXPONENT.

A string that is no number at all keeps strawberry's answer ("Value cannot represent a Decimal").
Fields keep their own, narrower rules (at most 6 decimals, at most 10^12 credits, …) as userErrors.
"""

from __future__ import annotations

from decimal import Decimal

from graphql import GraphQLError
from strawberry.schema.types.base_scalars import DecimalDefinition as StrawberryDecimal
from strawberry.types.scalar import ScalarDefinition, ScalarWrapper

from cockpit_graphql.domain.errors import ErrorCode

MAX_DECIMAL_EXPONENT = 30
"""The largest |adjusted exponent| a Decimal input may have: 10^30 is far above every legitimate value."""


def _refused(value: str, why: str) -> GraphQLError:
    return GraphQLError(
        f'Value cannot represent a Decimal: "{value}" ({why}).', extensions={"code": ErrorCode.BAD_USER_INPUT.value}
    )


def parse_decimal(value: object) -> Decimal:
    """A finite Decimal within ±10^MAX_DECIMAL_EXPONENT (strawberry's parsing, then the bounds)."""
    parsed: Decimal = StrawberryDecimal.parse_value(value)  # type: ignore[misc]
    text = value if isinstance(value, str) else str(value)
    if not parsed.is_finite():
        raise _refused(text, "not a finite number")
    if not -MAX_DECIMAL_EXPONENT <= parsed.adjusted() <= MAX_DECIMAL_EXPONENT:
        raise _refused(text, f"its exponent must be within ±{MAX_DECIMAL_EXPONENT}")
    return parsed


DecimalDefinition = ScalarDefinition(
    name="Decimal",
    description=(
        'Decimal (fixed-point), written as a string such as "12.5". Finite, and its leading digit within '
        f"10^-{MAX_DECIMAL_EXPONENT} to 10^{MAX_DECIMAL_EXPONENT}: NaN, Infinity and larger or smaller "
        "exponents are BAD_USER_INPUT."
    ),
    specified_by_url=None,
    serialize=str,
    parse_value=parse_decimal,
    parse_literal=None,
    origin=Decimal,
)

SCALAR_OVERRIDES: dict[object, ScalarWrapper | ScalarDefinition] = {Decimal: DecimalDefinition}
