"""Token prices: what a call cost in USD when the runtime reports tokens instead of a cost."""

from __future__ import annotations

from decimal import Decimal, localcontext

from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.budgets.money import EXACT

MILLION = Decimal(1_000_000)


def usd_for_tokens(model: CatalogModel, tokens_in: int, tokens_out: int) -> Decimal:
    """`tokens_in × input price / 1e6 + tokens_out × output price / 1e6`, exact (no rounding at all:
    prices have at most 10 decimals, so the result has at most 16)."""
    with localcontext(EXACT):
        return (Decimal(tokens_in) * model.input_usd_per_mtok + Decimal(tokens_out) * model.output_usd_per_mtok) / (
            MILLION
        )
