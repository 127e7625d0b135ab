"""Schema extensions: request limits with the cost in `extensions.cost`, and error shaping/masking."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, parse
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionResult

from cockpit_graphql.db.errors import is_timeout
from cockpit_graphql.domain.accounts.rate_limits import RateLimitSetting
from cockpit_graphql.domain.errors import CockpitError, ErrorCode
from cockpit_graphql.limits.cost import measure, unreadable_int
from cockpit_graphql.limits.rate_limit import Decision, RateLimiter, anonymous_bucket_key, bucket_key
from cockpit_graphql.middleware import RETRY_AFTER_STATE

log = logging.getLogger("cockpit.graphql")


def _too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value})


class QueryLimits(SchemaExtension):
    """Refuses documents over the token, depth, alias or cost limits before anything executes."""

    def on_operation(self) -> Iterator[None]:
        settings = self.execution_context.context.settings
        self.execution_context.parse_options["max_tokens"] = settings.max_tokens
        self._cost: int | None = None
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        settings = ctx.context.settings
        document = ctx.graphql_document
        if document is not None and ctx.pre_execution_errors is None:
            m = measure(
                ctx.schema._schema,
                document,
                ctx.operation_name,
                ctx.variables,
                settings.default_page_size,
                settings.introspection_cost,
                max_cost=settings.max_query_cost,
                max_aliases=settings.max_aliases,
            )
            self._cost = m.cost
            ctx.context.extras["cost"] = m.cost
            problems = []
            digits = unreadable_int(document, ctx.query)
            if digits is not None:
                problems.append(f"an Int literal has more than {digits} digits")
            if m.depth > settings.max_query_depth:
                problems.append(f"depth {m.depth} exceeds the limit of {settings.max_query_depth}")
            if m.aliases > settings.max_aliases:
                problems.append(f"aliases exceed the limit of {settings.max_aliases}")
            if m.cost > settings.max_query_cost:
                # counting stopped at limit + 1, which `extensions.cost.requested` reports
                problems.append(f"cost exceeds the limit of {settings.max_query_cost}")
            if problems:
                ctx.pre_execution_errors = [_too_complex("Query refused: " + "; ".join(problems) + ".")]
        yield

    def get_results(self) -> dict[str, Any]:
        settings = self.execution_context.context.settings
        cost = getattr(self, "_cost", None)
        if cost is None:
            return {}
        return {"cost": {"requested": cost, "limit": settings.max_query_cost}}


def _client_address(context: Any) -> str | None:
    request = getattr(context, "request", None)
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or None


def _bucket(context: Any) -> tuple[str, RateLimitSetting]:
    """The principal's bucket key and setting (the account's override, else the settings' default);
    without a principal, the client address's anonymous bucket (smaller settings of its own)."""
    principal = context.principal
    settings = context.settings
    if principal is None:
        anonymous = RateLimitSetting(
            settings.anonymous_rate_limit_capacity, settings.anonymous_rate_limit_refill_per_second
        )
        return anonymous_bucket_key(settings.rate_limit_key_prefix, _client_address(context)), anonymous
    identity = principal.identity
    if identity.user_id is not None:
        kind, who = "user", identity.user_id
    elif identity.operator_id is not None:
        kind, who = "operator", identity.operator_id
    else:
        kind, who = "subject", f"{identity.issuer}#{identity.subject}"
    setting = identity.rate_limit or RateLimitSetting(
        settings.rate_limit_capacity, settings.rate_limit_refill_per_second
    )
    return bucket_key(settings.rate_limit_key_prefix, identity.account_id, kind, who), setting


def _rate_limited(decision: Decision) -> GraphQLError:
    wait = decision.retry_after_seconds
    if decision.checked:
        message = (
            f"Rate limit exceeded: this request costs {decision.cost}; {decision.remaining} of {decision.limit} "
            f"left. Retry in {wait} s."
        )
    else:
        message = f"Rate limit could not be checked (limiter unavailable). Retry in {wait} s."
    return GraphQLError(
        message,
        extensions={
            "code": ErrorCode.RATE_LIMITED.value,
            "retryAfterSeconds": wait,
            "limit": decision.limit,
            "remaining": decision.remaining,
            "cost": decision.cost,
        },
    )


class RateLimiting(SchemaExtension):
    """Takes the request's cost from its principal's token bucket (without a principal: the client
    address's anonymous bucket) after the document is validated
    (a refused or invalid document costs nothing), before anything executes: one EVALSHA. Over the
    limit: RATE_LIMITED with `retryAfterSeconds`, `limit`, `remaining` (HTTP 200 like every GraphQL
    error of a valid request, plus a `Retry-After` header). Allowed responses report
    `extensions.rateLimit = {limit, remaining}`."""

    def __init__(self, *, limiter: RateLimiter, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)
        self.limiter = limiter
        self._decision: Decision | None = None

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        cost = context.extras.get("cost")
        if (
            context.settings.rate_limit_enabled
            and cost
            and not ctx.pre_execution_errors
            and ctx.graphql_document is not None
        ):
            key, setting = _bucket(context)
            decision = await self.limiter.check(key, setting, cost)
            self._decision = decision
            if not decision.allowed:
                ctx.pre_execution_errors = [_rate_limited(decision)]
                context.request.scope.setdefault("state", {})[RETRY_AFTER_STATE] = decision.retry_after_seconds
        yield

    def get_results(self) -> dict[str, Any]:
        decision = self._decision
        if decision is None or not decision.allowed or not decision.checked:
            return {}
        return {"rateLimit": {"limit": decision.limit, "remaining": decision.remaining}}


@dataclass(frozen=True, eq=False)
class _Source:
    """A parsed document keyed by its exact text (so cached errors carry the right locations)."""

    text: str
    document: DocumentNode

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Source) and other.text == self.text


PARSED_DOCUMENTS = 512  # distinct query texts kept parsed, like the validation cache below


@functools.lru_cache(maxsize=PARSED_DOCUMENTS)
def parse_cached(text: str, options: tuple[tuple[str, Any], ...] = ()) -> DocumentNode:
    """The parsed document of `text` with graphql-core's parse `options` (as sorted pairs: hashable)."""
    return parse(text, **dict(options))


class OperationNameRequired(CannotGetOperationTypeError):
    """A document of several operations without `operationName`. The GraphQL spec (GetOperation) makes
    it a request error; strawberry ran the first operation instead. Raised as the error strawberry raises
    for an unknown `operationName`, so the HTTP view answers both alike: 400 BAD_REQUEST (app.py)."""

    def __init__(self) -> None:
        super().__init__(None)

    def as_http_error_reason(self) -> str:
        return "The document defines several operations: name the one to run with `operationName`."


def require_operation_name(ctx: Any) -> None:
    """Raises OperationNameRequired for a parsed document of several operations without a name given."""
    document = ctx.graphql_document
    if document is None or getattr(ctx, "_provided_operation_name", None) is not None:
        return  # `ctx.operation_name` would be the first operation's name: strawberry's fallback
    operations = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            operations += 1
            if operations > 1:
                raise OperationNameRequired


class CachedParsing(SchemaExtension):
    """Parses each distinct document text once per process (a bounded LRU): the effectiveAccess query
    was parsed on every request (~0.4 ms). Runs after QueryLimits, which sets the token limit. A text
    that does not parse is left to strawberry's own parse, which fails in its usual place and reports
    the error as usual (strawberry's ParserCache raises from inside the hook instead: the outer
    extensions, request metrics among them, then never see the failed operation finish). Once parsed,
    a document of several operations without `operationName` is refused (OperationNameRequired)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query is not None and ctx.graphql_document is None:
            with contextlib.suppress(Exception):  # strawberry parses it again and reports the error
                ctx.graphql_document = parse_cached(ctx.query, tuple(sorted(ctx.parse_options.items())))
        yield
        require_operation_name(ctx)


@functools.lru_cache(maxsize=512)
def _validate(schema: GraphQLSchema, source: _Source, rules: tuple[Any, ...]) -> list[GraphQLError]:
    return validate_document(schema, source.document, rules)


class CachedValidation(SchemaExtension):
    """Validates each distinct document text once per process (a bounded LRU of 512). Runs after
    QueryLimits, so an over-limit document is refused before any validation work and never cached."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None and ctx.validation_rules:
            source = _Source(ctx.query or "", ctx.graphql_document)
            ctx.pre_execution_errors = list(_validate(ctx.schema._schema, source, tuple(ctx.validation_rules)))
        yield


# raised inside the operation on purpose: the HTTP view answers them (400), they are no internal errors
_PASS_THROUGH = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


def internal_error(exc: BaseException, request_id: str, *, nodes: Any = None, path: Any = None) -> GraphQLError:
    """Logs `exc` with its stack and the request id; the client gets INTERNAL with the request id only."""
    log.error(
        "unexpected error in a resolver" if path else "unexpected error in the request pipeline",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"request_id": request_id, "path": path},
    )
    return GraphQLError(
        f"Internal error. Quote request id {request_id} to support.",
        nodes=nodes,
        path=path,
        extensions={"code": ErrorCode.INTERNAL.value, "requestId": request_id},
    )


def shape_error(error: GraphQLError, request_id: str) -> GraphQLError:
    """An `extensions.code` and the request id for every error; unexpected ones masked as INTERNAL."""
    original = error.original_error
    if isinstance(original, CockpitError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": original.code.value, "requestId": request_id},
        )
    if original is None or isinstance(original, GraphQLError):
        extensions = dict(error.extensions or {})
        if "code" not in extensions:
            message = error.message
            if "tokens" in message and "Parsing aborted" in message:
                code = ErrorCode.QUERY_TOO_COMPLEX
            elif message.startswith("Syntax Error"):
                code = ErrorCode.GRAPHQL_PARSE_FAILED
            elif error.path:
                code = ErrorCode.BAD_USER_INPUT
            else:
                code = ErrorCode.GRAPHQL_VALIDATION_FAILED
            extensions["code"] = code.value
        extensions["requestId"] = request_id
        return GraphQLError(error.message, nodes=error.nodes, path=error.path, extensions=extensions)
    if is_timeout(original):
        log.warning("statement timeout", extra={"request_id": request_id, "path": error.path})
        return GraphQLError(
            "The database took longer than this API allows, and this field's work was rolled back: "
            "ask for less (fewer items, a shorter period) or retry later.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": ErrorCode.TIMEOUT.value, "requestId": request_id},
        )
    return internal_error(original, request_id, nodes=error.nodes, path=error.path)


def _request_id(context: Any) -> str:
    return getattr(context, "request_id", None) or "unknown"


class ErrorShaping(SchemaExtension):
    """Gives every error an `extensions.code`; masks unexpected ones as INTERNAL with a request id.

    Innermost of the extensions: an exception raised by a hook of another extension (parse, validate,
    execute) or by strawberry between them is thrown into this hook's `yield` and leaves it as a
    shaped error, which strawberry answers as the request's only error. Exceptions outside this span
    (an outer extension's `on_operation`, `get_results`) are shaped by `shape_escaped`, called by the
    schema's `execute`."""

    def on_operation(self) -> Iterator[None]:
        request_id = _request_id(self.execution_context.context)
        try:
            yield
        except _PASS_THROUGH:
            raise
        except GraphQLError as error:
            raise shape_error(error, request_id) from error
        except Exception as exc:
            raise internal_error(exc, request_id) from exc
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        result.errors = [shape_error(error, request_id) for error in result.errors]


def _shaped(error: GraphQLError) -> bool:
    extensions = error.extensions or {}
    return "code" in extensions and "requestId" in extensions


async def shaped_execute(execute: Callable[[], Awaitable[Any]], context: Any) -> Any:
    """`execute()` (the schema's), with errors that escaped ErrorShaping shaped, and an exception that
    escaped strawberry (an extension's `get_results`) answered as INTERNAL rather than an HTTP 500."""
    try:
        result = await execute()
    except _PASS_THROUGH:
        raise
    except Exception as exc:
        return ExecutionResult(data=None, errors=[internal_error(exc, _request_id(context))])
    errors = getattr(result, "errors", None)
    if errors and not all(_shaped(error) for error in errors):
        request_id = _request_id(context)
        result.errors = [error if _shaped(error) else shape_error(error, request_id) for error in errors]
    return result
