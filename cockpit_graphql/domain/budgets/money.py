"""Exact amounts: credits have 6 decimals, USD amounts on bills have 2; always half-up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

CREDIT_QUANTUM = Decimal("0.000001")
CENT = Decimal("0.01")
ZERO = Decimal(0)


EXACT = Context(prec=80)  # wide enough that products of our inputs are never rounded before quantize


def credits_of(cost_usd: Decimal, credits_per_usd: Decimal) -> Decimal:
    """`costUsd × creditsPerUsd`, computed exactly (no context rounding), then rounded half-up to 6
    decimals once."""
    with localcontext(EXACT):
        return (cost_usd * credits_per_usd).quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)


def round_credits(amount: Decimal) -> Decimal:
    return amount.quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)


def usd_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
