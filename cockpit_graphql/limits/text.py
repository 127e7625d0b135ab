"""Text PostgreSQL cannot store: the NUL character (U+0000) is refused before anything executes; and
variables nested deeper than the response encoder can encode are refused with it.

`text` and `jsonb` columns reject U+0000; without this check a name, email or JSON config carrying one
reached the database and came back as an INTERNAL error (found by the fuzz test, tests/fuzz). No input of
this API has a use for it, so any string in the document's literals or in the variables (keys included)
that contains one refuses the request as BAD_USER_INPUT.

Both checks run on every request, so they are cheap and never recursive (a few KB of JSON nest a value
thousands of levels deep, far beyond Python's recursion limit):

- the document: a NUL in a string literal can only come from a `\\u` escape (`\\u0000`, `\\u{0}`; the
  lexer refuses a raw U+0000), so a query text without `\\u` is clean after one substring search; only
  otherwise are its StringValue nodes looked at;
- the variables: serialised once with orjson (C), which writes U+0000 as `\\u0000`; no such bytes, no
  NUL. When orjson refuses the value (deeper than 254 levels, non-str keys, integers beyond 64 bits, lone
  surrogates) or the bytes contain `\\u0000` (also the text of an escaped backslash followed by `u0000`),
  an iterative walk with an explicit stack decides.

Variables nested deeper than MAX_VARIABLES_DEPTH levels (containers, the variables object included) are
refused as BAD_USER_INPUT: no input of this API needs more than a few levels, and the response encoder
(orjson, 254 levels) could not even echo such a value back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from cockpit_graphql.domain.errors import ErrorCode

NUL = "\x00"
NUL_MESSAGE = "Text must not contain the NUL character (U+0000)."
MAX_VARIABLES_DEPTH = 254  # orjson's own nesting limit: what it serialises is within this one
DEPTH_MESSAGE = f"Variables are nested too deeply (more than {MAX_VARIABLES_DEPTH} levels)."
_ESCAPED_NUL = b"\\u0000"


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[StringValueNode] = []

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if NUL in node.value:
            self.found.append(node)


def nul_literals(document: DocumentNode, query: str | None) -> list[StringValueNode]:
    """The string literals of `document` that contain U+0000; `query` is its text, when known."""
    if query is not None and "\\u" not in query and NUL not in query:
        return []
    literals = _Literals()
    visit(document, literals)  # graphql-core's visit keeps its own stack: no recursion
    return literals.found


def _walk(value: Any) -> str | None:
    """NUL_MESSAGE, DEPTH_MESSAGE or None, with an explicit stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if isinstance(item, str):
            if NUL in item:
                return NUL_MESSAGE
        elif isinstance(item, dict):
            if depth > MAX_VARIABLES_DEPTH:
                return DEPTH_MESSAGE
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return NUL_MESSAGE
                push((child, depth + 1))
        elif isinstance(item, list | tuple):
            if depth > MAX_VARIABLES_DEPTH:
                return DEPTH_MESSAGE
            for child in item:
                push((child, depth + 1))
    return None


def variables_problem(variables: Any) -> str | None:
    """Why the request's variables are refused (NUL_MESSAGE, DEPTH_MESSAGE), or None."""
    if not variables:
        return None
    try:
        data = orjson.dumps(variables)
    except TypeError:  # orjson.JSONEncodeError: too deep, non-str keys, huge ints, lone surrogates
        return _walk(variables)
    if _ESCAPED_NUL not in data:
        return None
    return _walk(variables)  # confirm: `\\u0000` (an escaped backslash) contains the same bytes


class NulFreeText(SchemaExtension):
    """Runs after validation (an invalid document keeps its validation errors)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and not ctx.pre_execution_errors:
            found = nul_literals(ctx.graphql_document, ctx.query)
            problem = NUL_MESSAGE if found else variables_problem(ctx.variables)
            if problem is not None:
                code = {"code": ErrorCode.BAD_USER_INPUT.value}
                ctx.pre_execution_errors = [GraphQLError(problem, nodes=found or None, extensions=code)]
        yield
