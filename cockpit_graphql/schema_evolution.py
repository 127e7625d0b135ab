"""Breaking-change policy: a breaking change against the last released schema is allowed only when
the removed or changed element was deprecated with `Removal after YYYY-MM-DD.` and that date passed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from graphql import (
    BreakingChange,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

REMOVAL_RE = re.compile(r"Removal after (\d{4}-\d{2}-\d{2})")
ELEMENT_RE = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Verdict:
    change: BreakingChange
    allowed: bool
    reason: str


def removal_date(reason: str | None) -> date | None:
    match = REMOVAL_RE.search(reason or "")
    return date.fromisoformat(match.group(1)) if match else None


def _deprecation_of(schema: GraphQLSchema, description: str) -> str | None:
    """The deprecation reason of the field or enum value a change names ("Field Query.b was removed.")."""
    match = ELEMENT_RE.search(description)
    if not match:
        return None
    owner = schema.get_type(match.group(1))
    if isinstance(owner, GraphQLEnumType):
        value = owner.values.get(match.group(2))
        return value.deprecation_reason if value else None
    if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
        field = owner.fields.get(match.group(2))
        return getattr(field, "deprecation_reason", None) if field else None
    return None


def judge(old_sdl: str, new_sdl: str, today: date) -> list[Verdict]:
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    verdicts = []
    for change in find_breaking_changes(old, new):
        reason = _deprecation_of(old, change.description)
        when = removal_date(reason)
        if when is None:
            verdicts.append(Verdict(change, False, "not deprecated with a 'Removal after YYYY-MM-DD.' date"))
        elif when >= today:
            verdicts.append(Verdict(change, False, f"deprecated, but its removal date {when} has not passed"))
        else:
            verdicts.append(Verdict(change, True, f"deprecated; removal date {when} passed"))
    return verdicts


def dangerous_changes(old_sdl: str, new_sdl: str) -> list[str]:
    return [c.description for c in find_dangerous_changes(build_schema(old_sdl), build_schema(new_sdl))]
