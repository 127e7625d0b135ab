"""Depth, alias and cost of an operation, computed from its AST and variables before execution.

Cost: every field costs 1; a connection field (a type named *Connection) multiplies the cost of
what it selects by its page size (`first`/`last`, else the default page size); `nodes(ids:)`
multiplies by the number of ids, `_entities(representations:)` by the number of representations.
`__typename` costs nothing; each introspection field (`__schema`, `__type`) costs a fixed
`introspection_cost` (settings.introspection_cost: a full introspection answer is hundreds of KB and
~0.2 s of CPU, so it must not be free for the rate limit). Every operation costs at least 1, so no
request is free. A fragment counts in full at every spread, but is walked once (`_Walker`).
Variables are the request's, else their declared defaults (what the operation runs with).

Given the limits, the counts saturate: the cost stops at `max_cost + 1` and the walk stops as soon as
the operation's cost is known to pass `max_cost` (a subtree under `first: 0` counts 0 whatever it
holds, so only a part multiplied by nonzero page sizes ends the walk); the aliases stop at
`max_aliases + 1`. A refused request thus reports `max_cost + 1`, never a number too big to encode
(`first: 2147483647` three levels deep is ~10^28, past the 64-bit integers the JSON encoder takes).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from graphql import (
    BREAK,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    get_named_type,
    value_from_ast_untyped,
    visit,
)

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass
class Measure:
    """`cost` is exact up to `max_cost`, else `max_cost + 1` (the walk stopped there: `depth` and
    `aliases` are then what it saw, lower bounds); `aliases` likewise stops at `max_aliases + 1`."""

    cost: int
    depth: int
    aliases: int
    steps: int = 0  # selections walked: each fragment is walked once, however often it is spread


class _OverLimit(Exception):
    """The operation's cost has passed the limit: nothing more to learn from the walk."""


_DIGITS = re.compile(r"\d+")


class _IntLiterals(Visitor):
    def __init__(self, digits: int) -> None:
        super().__init__()
        self.digits = digits
        self.found = False

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> Any:
        if len(node.value.lstrip("-")) > self.digits:
            self.found = True
            return BREAK
        return None


def unreadable_int(document: Any, query: str | None) -> int | None:
    """The digits Python reads in an integer (`sys.get_int_max_str_digits()`, 4,300) when an Int literal
    of `document` has more, else None. Validation would wrap int()'s ValueError as the original error of
    its error, which is then masked as INTERNAL; no Int argument of any scalar reads such a literal."""
    digits = sys.get_int_max_str_digits()
    if not digits:
        return None
    if query is not None and (len(query) <= digits or all(len(run) <= digits for run in _DIGITS.findall(query))):
        return None  # one linear pass over the text (`\d{4301}` would backtrack at every digit of a run)
    literals = _IntLiterals(digits)
    visit(document, literals)
    return digits if literals.found else None


class _Walker:
    """Walks an operation once: a fragment's selections are walked at its first spread and their
    (cost, depth, aliases) kept for every later spread (a document whose fragments each spread the
    next one twice costs 2^n without the memo, 8.5 s of CPU for 21 fragments in 891 bytes). A spread
    of a fragment being walked (a cycle, which validation refuses afterwards) adds nothing."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        default_page: int,
        introspection_cost: int = 0,
        max_cost: int | None = None,
        max_aliases: int | None = None,
    ) -> None:
        self.schema = schema
        self.introspection_cost = introspection_cost
        self.fragments = fragments
        self.variables = variables
        self.default_page = default_page
        self.cost_cap = None if max_cost is None else max_cost + 1
        self.alias_cap = None if max_aliases is None else max_aliases + 1
        self.aliases = 0
        self.deepest = 0
        self.steps = 0
        self._walked: dict[tuple[str, str | None], tuple[int, int, int]] = {}  # fragment, type → result
        self._walking: set[str] = set()

    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def _capped(self, cost: int) -> int:
        return cost if self.cost_cap is None else min(cost, self.cost_cap)

    def _add_aliases(self, count: int) -> None:
        self.aliases += count
        if self.alias_cap is not None:
            self.aliases = min(self.aliases, self.alias_cap)

    def _multiplier(self, node: FieldNode, type_name: str) -> int:
        if type_name.endswith("Connection"):
            size = self._arg(node, "first")
            if size is None:
                size = self._arg(node, "last")
            return max(int(size), 0) if isinstance(size, int) else self.default_page
        if node.name.value == "nodes":
            ids = self._arg(node, "ids")
            return len(ids) if isinstance(ids, list) else 1
        if node.name.value == "_entities":
            representations = self._arg(node, "representations")
            return len(representations) if isinstance(representations, list) else 1
        return 1

    def _fragment(self, name: str, parent: Any, live: bool) -> tuple[int, int, int] | None:
        """(cost, depth below the spread, aliases) of fragment `name`; None when it adds nothing."""
        fragment = self.fragments.get(name)
        if fragment is None or name in self._walking:
            return None
        target = self.schema.get_type(fragment.type_condition.name.value) or parent
        key = (name, getattr(target, "name", None))
        walked = self._walked.get(key)
        if walked is None:
            aliases = self.aliases
            self._walking.add(name)
            cost, depth = self.walk(fragment.selection_set, target, 0, live)
            self._walking.discard(name)
            walked = self._walked[key] = (cost, depth, self.aliases - aliases)
        else:
            self._add_aliases(walked[2])
        return walked

    def walk(
        self, selection_set: SelectionSetNode | None, parent: Any, depth: int, live: bool = True
    ) -> tuple[int, int]:
        """(cost, depth) of a selection set at `depth`; `live`: no page size on the way here is 0, so
        its cost adds to the operation's at least once (raises _OverLimit once that passes the cap)."""
        if selection_set is None:
            return 0, depth
        cost, max_depth = 0, depth
        for selection in selection_set.selections:
            self.steps += 1
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    if name in INTROSPECTION_FIELDS:
                        cost = self._capped(cost + self.introspection_cost)
                        self._check(cost, live)
                    continue
                if selection.alias is not None:
                    self._add_aliases(1)
                self.deepest = max(self.deepest, depth + 1)
                field_type = None
                fields = getattr(parent, "fields", None)
                if fields and name in fields:
                    field_type = get_named_type(fields[name].type)
                multiplier = self._multiplier(selection, field_type.name if field_type else "")
                sub_cost, sub_depth = self.walk(selection.selection_set, field_type, depth + 1, live and multiplier > 0)
                cost = self._capped(cost + 1 + multiplier * sub_cost)
                max_depth = max(max_depth, sub_depth)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.schema.get_type(selection.type_condition.name.value) or parent
                sub_cost, sub_depth = self.walk(selection.selection_set, target, depth, live)
                cost = self._capped(cost + sub_cost)
                max_depth = max(max_depth, sub_depth)
            elif isinstance(selection, FragmentSpreadNode):
                walked = self._fragment(selection.name.value, parent, live)
                if walked is not None:
                    cost = self._capped(cost + walked[0])
                    max_depth = max(max_depth, depth + walked[1])
                    self.deepest = max(self.deepest, max_depth)
            self._check(cost, live)
        return cost, max_depth

    def _check(self, cost: int, live: bool) -> None:
        if live and self.cost_cap is not None and cost >= self.cost_cap:
            raise _OverLimit


def _with_defaults(operation: OperationDefinitionNode, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The variables as the operation runs with them: a variable not sent takes its declared default
    (`query($n: Int = 100)` sent without `n` runs with 100 per page, not the default page size)."""
    values = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    values.update(variables or {})
    return values


def measure(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    default_page: int,
    introspection_cost: int = 0,
    *,
    max_cost: int | None = None,
    max_aliases: int | None = None,
) -> Measure:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    total_cost, total_depth = 0, 0
    walker = _Walker(schema, fragments, {}, default_page, introspection_cost, max_cost, max_aliases)
    for operation in operations[:1]:
        walker.variables = _with_defaults(operation, variables)
        root: GraphQLObjectType | None = schema.get_root_type(operation.operation)
        try:
            total_cost, total_depth = walker.walk(operation.selection_set, root, 0)
        except _OverLimit:
            total_cost, total_depth = walker.cost_cap or 0, walker.deepest
        total_cost = max(total_cost, 1)  # `{ __typename }` too: every request is charged something
    return Measure(cost=total_cost, depth=total_depth, aliases=walker.aliases, steps=walker.steps)
