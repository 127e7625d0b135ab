"""OpenTelemetry spans (off by default, on with an exporter setting) and JSON logs with the request id."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from cockpit_graphql.logging_setup import JsonFormatter, job_context, request_id_var
from cockpit_graphql.ops.tracing import TracingUnavailable, build_tracing
from tests.ops.helpers import app_client, gql, own_settings
from tests.support.world import World

SECRET = "sk-live-secret-literal"


async def test_tracing_is_off_by_default(settings: Any, db: Any) -> None:
    assert settings.tracing_exporter == "none" and build_tracing(settings) is None
    async with app_client(own_settings(settings), db) as (app, _client):
        assert app.state.tracing is None


async def test_spans_are_produced_when_tracing_is_on(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with app_client(own_settings(settings, tracing_exporter="memory"), db) as (app, client):
        r = await gql(
            client,
            "query Traced($n: Int) { viewer { role account { "
            f'organizations(first: $n, filter: {{nameContains: "{SECRET}"}}) {{ totalCount }} }} }} }}',
            {"n": 3},
            token=world.admin(t),
            headers={"traceparent": f"00-{parent_trace}-00f067aa0ba902b7-01"},
        )
        assert r.errors == [], r.body
        spans = app.state.tracing.exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert "GraphQL Query: Traced" in names and "GraphQL Parsing" in names and "GraphQL Validation" in names
    assert any(n.startswith("GraphQL Resolving: ") for n in names)
    operation = next(s for s in spans if s.name == "GraphQL Query: Traced")
    assert operation.attributes["cockpit.request_id"] == r.headers["x-request-id"]
    assert operation.attributes["graphql.operation.name"] == "Traced"
    assert operation.attributes["query"].startswith("sha256:")
    assert format(operation.context.trace_id, "032x") == parent_trace  # the gateway's trace continues
    assert all(s.context.trace_id == operation.context.trace_id for s in spans)
    dumped = json.dumps([dict(s.attributes or {}) for s in spans])
    assert SECRET not in dumped  # neither the document text nor non-id argument values are exported
    assert '"graphql.param.first": 3' in dumped


class Capture(SpanProcessor):
    """What any span processor (an exporter's included) can read: each span's attributes when it starts,
    and its attributes, events and status when it ends."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.ended: list[dict[str, Any]] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append({"name": span.name, "attributes": dict(span.attributes or {})})

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(
            {
                "name": span.name,
                "attributes": dict(span.attributes or {}),
                "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
                "status": [span.status.status_code.name, span.status.description],
            }
        )


async def test_spans_never_carry_the_query_text_values_or_exception_messages(
    world: World, settings: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: strawberry set the raw document on the operation span when it started (replaced by the
    hash only afterwards) and recorded a resolver's exception as an event with its message and stack
    trace, and the message again as the status description."""
    from cockpit_graphql.domain.directory import repository

    t = await world.tenant()
    leaked = "value-quoted-by-the-driver-" + SECRET

    async def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f'invalid input for query argument $1: "{leaked}"')

    monkeypatch.setattr(repository, "teams_by_ids", failing)
    query = (
        "query Leaky { viewer { user { homeTeam { name } } account { "
        f'organizations(first: 2, filter: {{nameContains: "{SECRET}"}}) {{ totalCount }} }} }} }}'
    )
    capture = Capture()
    async with app_client(own_settings(settings, tracing_exporter="memory"), db) as (app, client):
        app.state.tracing.provider.add_span_processor(capture)
        r = await gql(client, query, token=world.admin(t))
    assert r.codes == ["INTERNAL"] and leaked not in json.dumps(r.body)
    assert len(capture.started) == len(capture.ended) > 3
    dumped = json.dumps({"started": capture.started, "ended": capture.ended})
    for needle in (SECRET, "nameContains", "homeTeam { name }", "invalid input", "Traceback", "RuntimeError:"):
        assert needle not in dumped, needle
    assert not any(span["events"] for span in capture.ended)  # no exception events at all
    operation_start = next(s for s in capture.started if s["name"].startswith("GraphQL Query"))
    assert operation_start["attributes"]["query"].startswith("sha256:")  # the hash from the first moment
    failed = next(s for s in capture.ended if s["name"] == "GraphQL Resolving: homeTeam")
    assert failed["status"] == ["ERROR", None]
    assert failed["attributes"]["exception.type"] == "RuntimeError"


async def test_a_cockpit_error_is_traced_by_its_code(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    denied = f'mutation Deny {{ suspendAccount(input: {{id: "{t.account_gid}"}}) {{ userErrors {{ code }} }} }}'
    capture = Capture()
    async with app_client(own_settings(settings, tracing_exporter="memory"), db) as (app, client):
        app.state.tracing.provider.add_span_processor(capture)
        r = await gql(client, denied, token=world.member(t))
    assert r.codes == ["FORBIDDEN"]
    failed = next(s for s in capture.ended if s["name"] == "GraphQL Resolving: suspendAccount")
    assert failed["status"] == ["ERROR", None] and failed["events"] == []
    assert failed["attributes"]["cockpit.error_code"] == "FORBIDDEN"
    assert r.errors[0]["message"] not in json.dumps(capture.ended)


def test_an_exporter_that_is_not_installed_stops_the_start(settings: Any) -> None:
    with pytest.raises(TracingUnavailable, match="opentelemetry-exporter-otlp"):
        build_tracing(settings.model_copy(update={"tracing_exporter": "otlp"}))


def _line(record: logging.LogRecord) -> dict[str, Any]:
    return json.loads(JsonFormatter().format(record))


def test_log_lines_carry_the_request_and_the_job() -> None:
    record = logging.LogRecord("cockpit.x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    assert "request_id" not in _line(record)
    token = request_id_var.set("req-123")
    try:
        assert _line(record) | {"ts": None} == {
            "ts": None,
            "level": "INFO",
            "logger": "cockpit.x",
            "message": "hello world",
            "request_id": "req-123",
        }
        with job_context("budgets.renew_sweep", "job-9"):
            line = _line(record)
        assert line["job"] == "budgets.renew_sweep" and line["job_id"] == "job-9"
    finally:
        request_id_var.reset(token)


async def test_every_log_line_of_a_request_has_its_id_and_each_request_one_access_line(
    world: World, settings: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cockpit_graphql.domain.directory import repository

    t = await world.tenant()
    original = repository.teams_by_ids

    async def noisy(*args: Any, **kwargs: Any) -> Any:
        logging.getLogger("cockpit.domain.test").warning("deep inside the domain")
        return await original(*args, **kwargs)

    monkeypatch.setattr(repository, "teams_by_ids", noisy)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    async with app_client(own_settings(settings), db) as (_app, client):
        root.addHandler(handler)
        level = root.level
        root.setLevel(logging.INFO)
        try:
            r = await gql(
                client,
                "query Home { viewer { user { homeTeam { name } } } }",
                token=world.admin(t),
                headers={"x-request-id": "trace-me-42"},
            )
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
    assert r.errors == [] and r.headers["x-request-id"] == "trace-me-42"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    domain = [x for x in lines if x["logger"] == "cockpit.domain.test"]
    assert domain and all(x["request_id"] == "trace-me-42" for x in domain)
    access = [x for x in lines if x["logger"] == "cockpit.access"]
    assert len(access) == 1
    assert access[0] | {"ts": None, "duration_ms": None} == {
        "ts": None,
        "level": "INFO",
        "logger": "cockpit.access",
        "message": "graphql request",
        "request_id": "trace-me-42",
        "operation": "Home",
        "operation_type": "query",
        "outcome": "ok",
        "status": 200,
        "duration_ms": None,
        "sql_statements": r.statements,
    }
