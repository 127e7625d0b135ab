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


def share_of(amount: Decimal, percent: Decimal) -> Decimal:
    """`amount × percent / 100`, exact, then half-up to 6 decimals (rollover)."""
    with localcontext(EXACT):
        return (amount * percent / Decimal(100)).quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)


def usd_of(credits: Decimal, usd_per_credit: Decimal) -> Decimal:
    """`credits × usdPerCredit`, exact, then half-up to cents (settlements)."""
    with localcontext(EXACT):
        return (credits * usd_per_credit).quantize(CENT, rounding=ROUND_HALF_UP)
