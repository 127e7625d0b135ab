"""Text PostgreSQL cannot store: the NUL character (U+0000) is refused before anything executes.

`text` and `jsonb` columns reject U+0000; without this check a name, email or JSON config carrying one
reached the database and came back as an INTERNAL error (found by the fuzz test, tests/fuzz). No input of
this API has a use for it, so any string in the document's literals or in the variables (keys included)
that contains one refuses the request as BAD_USER_INPUT."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from cockpit_graphql.domain.errors import ErrorCode

NUL = "\x00"
MESSAGE = "Text must not contain the NUL character (U+0000)."


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[StringValueNode] = []

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if NUL in node.value:
            self.found.append(node)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class NulFreeText(SchemaExtension):
    """Runs after validation (an invalid document keeps its validation errors)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and not ctx.pre_execution_errors:
            literals = _Literals()
            visit(ctx.graphql_document, literals)
            if literals.found or _has_nul(ctx.variables):
                code = {"code": ErrorCode.BAD_USER_INPUT.value}
                ctx.pre_execution_errors = [GraphQLError(MESSAGE, nodes=literals.found or None, extensions=code)]
        yield
