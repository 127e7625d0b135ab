"""graphql-core's executor with one fast path: lists of objects whose selected fields are all plain.

A directory page of 1,000 users selecting `email role` runs graphql-core's field machinery 2,000
times for values that are attributes already on the node objects: per field an info object, the
resolver call through strawberry's wrapper, awaitable checks, a path entry, leaf coercion; a
1,000-event recordUsageBatch answer, 6,000 times. Here a list whose item type is an object type and
whose collected sub-selection (fragments, aliases and @include/@skip already applied by
graphql-core's own `collect_subfields`) consists only of plain fields

- `__typename`, or
- fields strawberry resolves as *basic* (no resolver, no field extension, no permission, no
  exception handler: strawberry installs `_get_basic_result`, which reads the attribute with the
  default `getattr`), without arguments, of a scalar or enum type, or of an object type whose
  selection is plain in turn,

is completed by reading the attributes and coercing them with the same `coerce_output_value` the
executor calls. Anything unusual hands the whole list back to graphql-core's own path, which then
produces exactly its usual result and errors: an item that is null or not of the type, a null for a
non-null field, a value the scalar refuses, a source without the attribute, @stream or @defer, a
schema extension that wraps resolvers (tracing), or an `is_type_of` that is not a plain yes.
tests/test_fast_lists.py compares the two paths on the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from cockpit_graphql.compiled_pages import ROOT_TABLES, compile_page, run_page

TYPENAME = object()  # marks `__typename` in a plan


class _Fallback(Exception):
    """Something graphql-core's own path must handle (and report)."""


@dataclass(frozen=True, slots=True)
class PlainField:
    key: str  # the response key (alias or name)
    attribute: Any  # the python attribute name, or TYPENAME
    leaf: GraphQLScalarType | GraphQLEnumType | None  # the scalar or enum; None for __typename and objects
    nested: ObjectPlan | None  # a plain object field: its own plan
    non_null: bool


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    """How to complete an object whose selected fields are all plain (module docstring)."""

    object_type: GraphQLObjectType
    fields: tuple[PlainField, ...]

    def complete_list(self, items: list[Any] | tuple[Any, ...], info: GraphQLResolveInfo) -> list[Any] | None:
        """The completed items, or None when graphql-core's own path must complete this list (it then
        raises or reports whatever went wrong here, e.g. a source without the attribute)."""
        try:
            return [self.complete(item, info) for item in items]
        except Exception:  # _Fallback, or what graphql-core's path turns into the right field error
            return None

    def complete(self, item: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
        is_type_of = self.object_type.is_type_of
        if item is None or (is_type_of is not None and is_type_of(item, info) is not True):
            raise _Fallback
        value: dict[str, Any] = {}
        for field in self.fields:
            if field.attribute is TYPENAME:
                value[field.key] = self.object_type.name
                continue
            raw = getattr(item, field.attribute)
            if raw is None:
                if field.non_null:
                    raise _Fallback
                value[field.key] = None
            elif field.nested is not None:
                value[field.key] = field.nested.complete(raw, info)
            else:
                coerced = field.leaf.coerce_output_value(raw)  # type: ignore[union-attr]
                if coerced is None or coerced is Undefined:
                    raise _Fallback
                value[field.key] = coerced
        return value


class CockpitExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context plus the plain-list fast path (module docstring) and the compiled
    directory pages (compiled_pages.py)."""

    fast_lists: bool = True  # tests turn it off to compare with graphql-core's own path
    compiled_pages: bool = True  # likewise

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[int, int], tuple[Any, ObjectPlan | None]] = {}

    def _object_plan(self, item_type: GraphQLOutputType, field_details_list: Any) -> ObjectPlan | None:
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(object_type, GraphQLObjectType):
            return None
        key = (id(object_type), id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            cached = (field_details_list, self._plan_of(object_type, field_details_list))
            self._plans[key] = cached  # keeps the list alive: its id stays unique while cached
        return cached[1]

    def _plan_of(self, object_type: GraphQLObjectType, field_details_list: Any) -> ObjectPlan | None:
        grouped, new_defer_usages, forbidden = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages or forbidden or not grouped:
            return None
        fields = []
        for key, details in grouped.items():
            field = self._plain_field(object_type, key, details)
            if field is None:
                return None
            fields.append(field)
        return ObjectPlan(object_type, tuple(fields))

    def _plain_field(self, object_type: GraphQLObjectType, key: str, details: Any) -> PlainField | None:
        """A plain field: `__typename`, or one strawberry resolves as basic, without arguments, of a
        scalar, an enum, or an object type whose selection is plain in turn (not a list, not abstract)."""
        name = details[0].node.name.value
        if name == "__typename":
            return PlainField(key, TYPENAME, None, None, True)
        field_def = object_type.fields.get(name)
        if field_def is None or field_def.args or getattr(field_def.resolve, "__name__", "") != "_get_basic_result":
            return None
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if definition is None or not definition.is_basic_field or definition.default_resolver is not getattr:
            return None
        field_type: Any = field_def.type
        non_null = isinstance(field_type, GraphQLNonNull)
        inner = field_type.of_type if non_null else field_type
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            return PlainField(key, definition.python_name, inner, None, non_null)
        if isinstance(inner, GraphQLObjectType):
            nested = self._plan_of(inner, details)
            return None if nested is None else PlainField(key, definition.python_name, None, nested, non_null)
        return None

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        page = None
        if (
            self.compiled_pages
            and isinstance(path.key, str)  # a field's value, not a list item: a list's items batch through loaders
            and return_type.name in ROOT_TABLES
            and not (self.middleware_manager and self.middleware_manager.middlewares)
            and (return_type.is_type_of is None or return_type.is_type_of(result, info) is True)
        ):
            page = compile_page(self, return_type, field_details_list, result)
        if page is None:
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

        async def compiled() -> Any:
            value = await run_page(self.context_value, page)
            if value is not None:
                return value
            completed = super(CockpitExecutionContext, self).complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
            return await completed if self.is_awaitable(completed) else completed

        return compiled()

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo,
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        if (
            self.fast_lists
            and isinstance(items, list | tuple)
            and not (self.middleware_manager and self.middleware_manager.middlewares)
            and self.get_stream_usage(field_details_list, path) is None
        ):
            plan = self._object_plan(item_type, field_details_list)
            if plan is not None:
                completed = plan.complete_list(items, info)
                if completed is not None:
                    return completed
        return super().complete_iterable_value(item_type, field_details_list, info, path, items, position_context)
