"""Input types made only of scalars, enums and lists of them, built without strawberry's per-field work.

Strawberry converts an input object field by field, resolving each field's type and GraphQL name again
for every object: for `recordUsageBatch` that was 1,000 objects × 12 fields per request and 17 % of the
server's CPU. The values graphql-core hands over for such fields are already final (its scalars parsed
them), so `@leaf_input` installs strawberry's `from_input` hook (StrawberryObjectDefinition.from_input,
the documented way for a type to build itself) with a plan computed once: which GraphQL name fills
which attribute, and which values are lists to copy (graphql-core may share a default list between
requests). Omitted fields keep the class's defaults, exactly as with strawberry's own conversion; a
test compares both on every field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryList, StrawberryObjectDefinition, StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition

T = TypeVar("T")
Plan = list[tuple[str, str, bool]]  # (python name, GraphQL name, is a list)


def leaf_input(cls: type[T]) -> type[T]:
    """Build `cls` (a `@strawberry.input` of leaf fields) from its input value in one pass."""
    definition = get_object_definition(cls, strict=True)
    if not definition.is_input:
        raise TypeError(f"{cls.__name__} is not an input type")
    definition.from_input = _builder(definition)
    return cls


def _builder(definition: StrawberryObjectDefinition) -> Callable[[type, Mapping[str, Any], InputContext], Any]:
    plan: Plan | None = None

    def build(target: type, value: Mapping[str, Any], context: InputContext) -> Any:
        nonlocal plan
        if plan is None:
            plan = leaf_plan(definition, context)
        kwargs: dict[str, Any] = {}
        for python_name, graphql_name, is_list in plan:
            if graphql_name in value:
                item = value[graphql_name]
                kwargs[python_name] = list(item) if is_list and item is not None else item
        return target(**kwargs)

    return build


def leaf_plan(definition: StrawberryObjectDefinition, context: InputContext) -> Plan:
    """The fields of `definition` as (python name, GraphQL name, is a list); TypeError for a field
    that is not a scalar, an enum, or a list of them (such a field needs strawberry's conversion)."""
    plan: Plan = []
    for field in definition.fields:
        type_: Any = field.resolve_type(type_definition=definition)
        if isinstance(type_, StrawberryOptional):
            type_ = type_.of_type
        is_list = isinstance(type_, StrawberryList)
        if is_list:
            type_ = type_.of_type
            if isinstance(type_, StrawberryOptional):
                type_ = type_.of_type
        if not (
            is_scalar(type_, context.scalar_registry)
            or isinstance(type_, StrawberryEnumDefinition)
            or has_enum_definition(type_)
        ):
            raise TypeError(f"{definition.name}.{field.python_name} is not a scalar, an enum or a list of them")
        plan.append((field.python_name, context.config.name_converter.from_field(field), is_list))
    return plan
