"""GraphQL enums over the domain's enums, with a description on every value.

The domain never imports strawberry, so its StrEnums cannot carry `strawberry.enum_value(...)` members, and
`strawberry.enum(DomainEnum, ...)` takes no per-value descriptions. `described_enum` wraps the domain enum exactly
as `strawberry.enum` does (same class, same members, same GraphQL names and values: resolvers keep returning and
receiving the domain members) and then sets each value's description on the enum's strawberry definition, which
the schema reads when it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import EnumMeta
from typing import TypeVar

import strawberry
from strawberry.types.enum import has_enum_definition

E = TypeVar("E", bound=EnumMeta)


def described_enum(cls: E, *, name: str, description: str, values: Mapping[str, str]) -> E:
    """`strawberry.enum(cls, name=name, description=description)` with `values[member name]` as each value's
    description. Every member needs a non-blank description and every description a member: a new domain
    member without one (or a description left behind by a removed member) fails at import, not in a client."""
    members = [member.name for member in cls]  # type: ignore[var-annotated]
    missing = [m for m in members if not values.get(m, "").strip()]
    unknown = sorted(set(values) - set(members))
    if missing or unknown:
        raise ValueError(f"enum {name}: values without a description {missing}, descriptions of no value {unknown}")
    wrapped = strawberry.enum(cls, name=name, description=description)
    assert has_enum_definition(wrapped)
    for value in wrapped.__strawberry_definition__.values:
        value.description = values[value.name]
    return wrapped
