"""Validation of credit amounts and budget inputs."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from cockpit_graphql.domain.errors import UserErrorCode, UserInputError

MAX_CREDITS = Decimal("1000000000000")  # 1e12 credits: far beyond any real plan, well inside NUMERIC(20, 6)
MAX_POOL = Decimal("10000000000000")
"""1e13 credits: the most a cycle's pool may hold (GRANT ≤ MAX_CREDITS, plus adjustments and rollover). Every
ledger entry of a cycle (EXPIRY, ROLLOVER) is at most its pool, so it stays inside NUMERIC(20, 6) (< 1e14): an
adjustment past it is refused, and rollover is capped so that the next pool stays within it."""
MAX_ROLLOVER = MAX_POOL - MAX_CREDITS


def clean_amount(value: Decimal, field: str, *, allow_zero: bool = True, allow_negative: bool = False) -> Decimal:
    try:
        finite = value.is_finite()
    except (InvalidOperation, AttributeError):
        finite = False
    if not finite:
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` must be a finite decimal.")
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` has at most 6 decimals.")
    if not allow_negative and value < 0:
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` must not be negative.")
    if not allow_zero and value == 0:
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` must not be zero.")
    if value.copy_abs() > MAX_CREDITS:  # exact: abs() rounds to the context and overflows on 1e999999999
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` must be at most {MAX_CREDITS}.")
    return value
