"""OpenTelemetry spans for GraphQL operations (strawberry's OpenTelemetryExtension), off by default.

`TRACING_EXPORTER`: `none` (no extension at all: zero cost), `console` (spans as JSON on stderr),
`memory` (kept in an InMemorySpanExporter on `app.state.span_exporter`; tests), `otlp` (OTLP over
HTTP; needs the `opentelemetry-exporter-otlp-proto-http` package, which this project does not install:
add it to the deployment image and set the usual `OTEL_EXPORTER_OTLP_*` variables).

Each app gets its own TracerProvider (not the global one), so tests and workers do not share state.
A `traceparent` header from a gateway makes the operation span its child. Spans never carry the
document text or argument values (either may hold a secret), not even for a moment (a span processor
sees a span's attributes when it starts): the operation span records the document's sha256 from the
start, resolver spans only pagination and id arguments. A resolver that raises is marked ERROR with
the exception's class and, for a CockpitError, its code (`exception.type`, `cockpit.error_code`):
no exception event, message or stack trace (a driver's message can quote the values it refused).
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable, Iterator
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.extensions.tracing.utils import should_skip_tracing

from cockpit_graphql.domain.errors import ErrorCode
from cockpit_graphql.settings import Settings

SAFE_ARGUMENTS = frozenset({"first", "last", "after", "before", "id", "ids", "accountId", "userId"})
EXPORTERS = ("none", "console", "memory", "otlp")


class TracingUnavailable(RuntimeError):
    """The configured exporter cannot be built (unknown, or its package is not installed)."""


def _safe_arguments(args: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k in SAFE_ARGUMENTS}


def _query_hash(query: str | None) -> str:
    return "sha256:" + hashlib.sha256((query or "").encode()).hexdigest()


def _mark_failed(span: Span, exc: BaseException) -> None:
    """ERROR status, the exception's class and code; never its message (no description, no event)."""
    span.set_status(Status(StatusCode.ERROR))
    span.set_attribute("exception.type", type(exc).__name__)
    code = getattr(exc, "code", None)
    if isinstance(code, ErrorCode):
        span.set_attribute("cockpit.error_code", code.value)


class CockpitTracing(OpenTelemetryExtension):
    """strawberry's extension with its two leaks closed (both hooks are replaced, not wrapped):
    its on_operation sets the raw document as the `query` attribute when the span starts, and its
    resolve() opens spans that record exceptions (message and stack trace as a span event, the
    message in the status description)."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        parent = propagate.extract(dict(request.headers)) if request is not None else None  # W3C traceparent
        name = ctx.operation_name
        attributes: dict[str, Any] = {"component": "graphql", "query": _query_hash(ctx.query)}
        request_id = getattr(ctx.context, "request_id", None)
        if request_id:
            attributes["cockpit.request_id"] = request_id
        span = self._tracer.start_span(
            f"GraphQL Query: {name}" if name else "GraphQL Query",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,  # set before the processors' on_start sees the span
        )
        self._span_holder[LifecycleStep.OPERATION] = span
        try:
            yield
            operation_name = ctx.operation_name
            if operation_name:
                if not name:  # the document's only operation, known once parsed
                    span.update_name(f"GraphQL Query: {operation_name}")
                span.set_attribute("graphql.operation.name", operation_name)
            cost = getattr(ctx.context, "extras", {}).get("cost")
            if cost is not None:
                span.set_attribute("cockpit.cost", cost)
        finally:
            span.end()

    async def resolve(self, _next: Callable, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any) -> Any:
        if should_skip_tracing(_next, info):
            result = _next(root, info, *args, **kwargs)
            return await result if isawaitable(result) else result
        with self._tracer.start_as_current_span(
            f"GraphQL Resolving: {info.field_name}",
            context=trace.set_span_in_context(self._span_holder[LifecycleStep.OPERATION]),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            self.add_tags(span, info, kwargs)
            try:
                result = _next(root, info, *args, **kwargs)
                return await result if isawaitable(result) else result
            except Exception as exc:
                _mark_failed(span, exc)
                raise


def _exporter(name: str) -> tuple[SpanExporter, bool]:
    """(exporter, batch?)."""
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr), False
    if name == "memory":
        return InMemorySpanExporter(), False
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError as exc:
            raise TracingUnavailable(
                "TRACING_EXPORTER=otlp needs the opentelemetry-exporter-otlp-proto-http package."
            ) from exc
        return OTLPSpanExporter(), True
    raise TracingUnavailable(f"TRACING_EXPORTER must be one of {', '.join(EXPORTERS)}; got {name!r}.")


class Tracing:
    """The app's provider, exporter and the schema extension factory (None when tracing is off)."""

    def __init__(self, provider: TracerProvider, exporter: SpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter
        self.extension: Callable[[], OpenTelemetryExtension] = functools.partial(
            CockpitTracing, tracer_provider=provider, arg_filter=_safe_arguments
        )

    def shutdown(self) -> None:
        self.provider.shutdown()


def build_tracing(settings: Settings) -> Tracing | None:
    if settings.tracing_exporter == "none":
        return None
    exporter, batch = _exporter(settings.tracing_exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": settings.tracing_service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return Tracing(provider, exporter)
