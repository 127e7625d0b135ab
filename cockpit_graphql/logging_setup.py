"""JSON logs: one object per line, with the request id that clients see in error extensions.

Every line logged while a request is handled carries its `request_id` (a context variable set by
RequestContextMiddleware), whoever logs it; lines of arq jobs carry `job` and `job_id`; with tracing
on, lines inside a span carry `trace_id` and `span_id`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from opentelemetry import trace

request_id_var: ContextVar[str | None] = ContextVar("cockpit_request_id", default=None)
job_var: ContextVar[tuple[str, str | None] | None] = ContextVar("cockpit_job", default=None)

EXTRA_KEYS = (
    "request_id",
    "code",
    "path",
    "operation",
    "operation_type",
    "outcome",
    "method",
    "status",
    "duration_ms",
    "sql_statements",
    "cost",
)


@contextlib.contextmanager
def job_context(name: str, job_id: str | None) -> Iterator[None]:
    token = job_var.set((name, job_id))
    try:
        yield
    finally:
        job_var.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in EXTRA_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if "request_id" not in entry:
            request_id = request_id_var.get()
            if request_id is not None:
                entry["request_id"] = request_id
        job = job_var.get()
        if job is not None:
            entry["job"], job_id = job
            if job_id is not None:
                entry["job_id"] = job_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("strawberry.execution").handlers[:] = []
    for noisy in ("pgserver", "arq.worker", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for server in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's lines in the same JSON format
        logger = logging.getLogger(server)
        logger.handlers[:] = []
        logger.propagate = True
