"""Input types made only of scalars, enums and lists of them, built without strawberry's per-field work.

Strawberry converts an input object field by field, resolving each field's type and GraphQL name again
for every object: for `recordUsageBatch` that was 1,000 objects × 12 fields per request and 17 % of the
server's CPU. The values graphql-core hands over for such fields are already final (its scalars parsed
them), so `@leaf_input` installs strawberry's `from_input` hook (StrawberryObjectDefinition.from_input,
the documented way for a type to build itself) with a plan computed once: which GraphQL name fills
which attribute, and which values are lists to copy (graphql-core may share a default list between
requests). Omitted fields keep the class's defaults, exactly as with strawberry's own conversion; a
test compares both on every field.

A field may also be a list of another `@leaf_input` type (`RecordUsageBatchInput.events`): its items
are built with that type's plan directly, instead of strawberry's conversion dispatching on each item's
type again (~2.5 ms of a 1,000-event batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryList, StrawberryObjectDefinition, StrawberryOptional, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition

T = TypeVar("T")
Builder = Callable[[type, Mapping[str, Any], InputContext], Any]


@dataclass(frozen=True)
class PlanField:
    """One field of a plan: the attribute, the GraphQL name that fills it, whether its value is a list
    (copied), and for a list of `@leaf_input` objects the item type and its builder."""

    python_name: str
    graphql_name: str
    is_list: bool
    item_type: type | None = None
    item_builder: Builder | None = None


_BUILDERS: dict[type, Builder] = {}  # the classes `leaf_input` decorated, and their builders


def leaf_input(cls: type[T]) -> type[T]:
    """Build `cls` (a `@strawberry.input` of leaf fields, or lists of `@leaf_input` types) from its input
    value in one pass."""
    definition = get_object_definition(cls, strict=True)
    if not definition.is_input:
        raise TypeError(f"{cls.__name__} is not an input type")
    definition.from_input = _BUILDERS[cls] = _builder(definition)
    return cls


def _builder(definition: StrawberryObjectDefinition) -> Builder:
    plan: list[PlanField] | None = None

    def build(target: type, value: Mapping[str, Any], context: InputContext) -> Any:
        nonlocal plan
        if plan is None:
            plan = leaf_plan(definition, context)
        kwargs: dict[str, Any] = {}
        for field in plan:
            if field.graphql_name in value:
                item = value[field.graphql_name]
                if item is not None and field.is_list:
                    if field.item_builder is not None:
                        make, of = field.item_builder, field.item_type
                        item = [None if x is None else make(of, x, context) for x in item]  # type: ignore[arg-type]
                    else:
                        item = list(item)
                kwargs[field.python_name] = item
        return target(**kwargs)

    return build


def leaf_plan(definition: StrawberryObjectDefinition, context: InputContext) -> list[PlanField]:
    """The fields of `definition`; TypeError for a field that is not a scalar, an enum, a list of them or
    a list of a `@leaf_input` type (such a field needs strawberry's conversion)."""
    plan: list[PlanField] = []
    for field in definition.fields:
        type_: Any = field.resolve_type(type_definition=definition)
        if isinstance(type_, StrawberryOptional):
            type_ = type_.of_type
        is_list = isinstance(type_, StrawberryList)
        if is_list:
            type_ = type_.of_type
            if isinstance(type_, StrawberryOptional):
                type_ = type_.of_type
        name = context.config.name_converter.from_field(field)
        if is_list and isinstance(type_, type) and type_ in _BUILDERS:
            plan.append(PlanField(field.python_name, name, True, type_, _BUILDERS[type_]))
            continue
        if not (
            is_scalar(type_, context.scalar_registry)
            or isinstance(type_, StrawberryEnumDefinition)
            or has_enum_definition(type_)
        ):
            raise TypeError(f"{definition.name}.{field.python_name} is not a scalar, an enum or a list of them")
        plan.append(PlanField(field.python_name, name, is_list))
    return plan
