"""Effective allocation: one pure function decides it for every caller (API, authorization, notices).

For each scope of a node's chain that has a cap, headroom = cap − spent − reserved. The node's
remaining budget is the smallest headroom (shown as zero when negative); the binding scope is the
one with the smallest headroom before clamping, the most specific on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from cockpit_graphql.domain.budgets.money import ZERO
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel


class CapSource(StrEnum):
    OVERRIDE = "OVERRIDE"
    DEFAULT = "DEFAULT"
    PLAN = "PLAN"
    NONE = "NONE"


@dataclass(frozen=True)
class ScopeSettings:
    """Explicit settings stored for a scope."""

    cap: Decimal | None = None
    default_user_cap: Decimal | None = None


@dataclass(frozen=True)
class PlanCeiling:
    """The account's cap, from its plan and the cycle's pool."""

    pool: Decimal
    overflow_allowed: bool
    overflow_cap: Decimal | None

    @property
    def cap(self) -> Decimal | None:
        if not self.overflow_allowed:
            return self.pool
        return None if self.overflow_cap is None else self.pool + self.overflow_cap


@dataclass(frozen=True)
class Level:
    scope: Scope
    cap: Decimal | None
    source: CapSource
    source_scope: Scope | None
    spent: Decimal
    reserved: Decimal

    @property
    def headroom(self) -> Decimal | None:
        return None if self.cap is None else self.cap - self.spent - self.reserved


@dataclass(frozen=True)
class Allocation:
    scope: Scope
    levels: list[Level]
    remaining: Decimal | None
    binding: Scope | None
    allocated_to_children: Decimal
    pool_headroom: Decimal | None
    overflow_headroom: Decimal | None
    has_plan: bool

    @property
    def cap(self) -> Level:
        return self.levels[-1]


CapOfLevel = tuple[Decimal | None, CapSource, Scope | None]
"""A level's cap, where it comes from, and the scope that set it (None when nothing caps the level)."""

_NO_SETTINGS = ScopeSettings()
_UNCAPPED: CapOfLevel = (None, CapSource.NONE, None)


def resolve_caps(
    chain: list[Scope], settings: dict[Scope, ScopeSettings], ceiling: PlanCeiling | None
) -> list[CapOfLevel]:
    """Cap and source per level of the chain (most general first)."""
    return [cap_of_level(chain, index, settings, ceiling) for index in range(len(chain))]


def cap_of_level(
    chain: list[Scope], index: int, settings: dict[Scope, ScopeSettings], ceiling: PlanCeiling | None
) -> CapOfLevel:
    """The cap rule for `chain[index]`: the account's comes from the plan; any other scope's own cap
    overrides; a user without one takes the nearest `defaultUserCap` above it; else uncapped.
    (Notices ask it for a user's level alone: ~600 users a usage batch.)"""
    scope = chain[index]
    if scope.level is ScopeLevel.ACCOUNT:
        cap = ceiling.cap if ceiling else None
        return (cap, CapSource.PLAN, scope) if cap is not None else _UNCAPPED
    own = settings.get(scope, _NO_SETTINGS)
    if own.cap is not None:
        return own.cap, CapSource.OVERRIDE, scope
    if scope.level is ScopeLevel.USER:
        for above in reversed(chain[:index]):
            default = settings.get(above, _NO_SETTINGS).default_user_cap
            if default is not None:
                return default, CapSource.DEFAULT, above
    return _UNCAPPED


def allocate(
    chain: list[Scope],
    settings: dict[Scope, ScopeSettings],
    ceiling: PlanCeiling | None,
    spent: dict[Scope, Decimal],
    reserved: dict[Scope, Decimal],
    children_caps: Decimal = ZERO,
) -> Allocation:
    levels = [
        Level(scope, cap, source, source_scope, spent.get(scope, ZERO), reserved.get(scope, ZERO))
        for scope, (cap, source, source_scope) in zip(chain, resolve_caps(chain, settings, ceiling), strict=True)
    ]
    binding: Level | None = None
    for level in levels:  # most general first, so `<=` lets the most specific win a tie
        if level.headroom is not None and (binding is None or level.headroom <= binding.headroom):  # type: ignore[operator]
            binding = level
    remaining = max(binding.headroom, ZERO) if binding is not None and binding.headroom is not None else None
    pool_headroom = overflow_headroom = None
    if ceiling is not None:
        account = levels[0]
        used = account.spent + account.reserved
        pool_headroom = ceiling.pool - used
        if ceiling.overflow_allowed and ceiling.overflow_cap is not None:
            overflow_headroom = ceiling.overflow_cap - max(used - ceiling.pool, ZERO)
    if ceiling is None:  # no plan authorizes nothing
        remaining, binding = ZERO, levels[0]
    return Allocation(
        scope=chain[-1],
        levels=levels,
        remaining=remaining,
        binding=binding.scope if binding else None,
        allocated_to_children=children_caps,
        pool_headroom=pool_headroom,
        overflow_headroom=overflow_headroom,
        has_plan=ceiling is not None,
    )
