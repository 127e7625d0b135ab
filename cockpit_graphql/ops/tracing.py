"""OpenTelemetry spans for GraphQL operations (strawberry's OpenTelemetryExtension), off by default.

`TRACING_EXPORTER`: `none` (no extension at all: zero cost), `console` (spans as JSON on stderr),
`memory` (kept in an InMemorySpanExporter on `app.state.span_exporter`; tests), `otlp` (OTLP over
HTTP; needs the `opentelemetry-exporter-otlp-proto-http` package, which this project does not install:
add it to the deployment image and set the usual `OTEL_EXPORTER_OTLP_*` variables).

Each app gets its own TracerProvider (not the global one), so tests and workers do not share state.
A `traceparent` header from a gateway makes the operation span its child. Spans never carry the
document text or argument values (either may hold a secret): the operation span records the
document's sha256, resolver spans only pagination and id arguments.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from cockpit_graphql.settings import Settings

SAFE_ARGUMENTS = frozenset({"first", "last", "after", "before", "id", "ids", "accountId", "userId"})
EXPORTERS = ("none", "console", "memory", "otlp")


class TracingUnavailable(RuntimeError):
    """The configured exporter cannot be built (unknown, or its package is not installed)."""


def _safe_arguments(args: dict[str, Any], _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k in SAFE_ARGUMENTS}


class CockpitTracing(OpenTelemetryExtension):
    def on_operation(self) -> Iterator[None]:
        request = getattr(self.execution_context.context, "request", None)
        token = None
        if request is not None:  # continue the caller's trace (W3C traceparent)
            token = otel_context.attach(propagate.extract(dict(request.headers)))
        steps = super().on_operation()
        try:
            next(steps)
        finally:
            if token is not None:
                otel_context.detach(token)
        span = self._span_holder[LifecycleStep.OPERATION]
        query = self.execution_context.query or ""
        span.set_attribute("query", "sha256:" + hashlib.sha256(query.encode()).hexdigest())
        request_id = getattr(self.execution_context.context, "request_id", None)
        if request_id:
            span.set_attribute("cockpit.request_id", request_id)
        yield
        operation_name = self.execution_context.operation_name
        if operation_name:
            span.set_attribute("graphql.operation.name", operation_name)
        cost = getattr(self.execution_context.context, "extras", {}).get("cost")
        if cost is not None:
            span.set_attribute("cockpit.cost", cost)
        for _ in steps:
            pass


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
