"""The GraphQL side of request metrics: after an operation, name its operation and outcome for
RequestContextMiddleware, which records them with the request's duration and SQL statement count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from cockpit_graphql.middleware import GRAPHQL_STATE
from cockpit_graphql.ops.metrics import operation_label

INVALID = "invalid"  # the document did not parse


def outcome_of(errors: list[Any] | None, data: Any) -> str:
    """`ok`, `user_error` (a mutation answered userErrors) or the first error's extensions.code."""
    for error in errors or ():
        code = (getattr(error, "extensions", None) or {}).get("code")
        if code:
            return str(code)
    if errors:
        return "error"
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and value.get("userErrors"):
                return "user_error"
    return "ok"


class RequestOutcome(SchemaExtension):
    """Outermost of the request extensions, so it sees the shaped errors (codes) of ErrorShaping."""

    def on_operation(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        if request is None:
            return
        if ctx.graphql_document is None:
            operation, operation_type = INVALID, "none"
        else:
            # a name becomes a label only for a signed-in principal: an anonymous flood of made-up names
            # must not use up the label cap and turn every real operation into `other`
            authenticated = getattr(ctx.context, "principal", None) is not None
            operation = operation_label(ctx.operation_name, authenticated)
            try:
                operation_type = ctx.operation_type.value
            except Exception:  # an operationName that the document does not define
                operation_type = "none"
        result = ctx.result
        errors = getattr(result, "errors", None) if result is not None else ctx.pre_execution_errors
        data = getattr(result, "data", None) if result is not None else None
        request.scope.setdefault("state", {})[GRAPHQL_STATE] = (operation, operation_type, outcome_of(errors, data))
