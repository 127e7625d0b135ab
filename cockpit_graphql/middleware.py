"""Pure-ASGI middleware (BaseHTTPMiddleware would break context variables)."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cockpit_graphql.db.statements import count_statements
from cockpit_graphql.domain.errors import ErrorCode
from cockpit_graphql.logging_setup import request_id_var
from cockpit_graphql.ops.metrics import observe_request

access_log = logging.getLogger("cockpit.access")

GRAPHQL_STATE = "graphql"
"""scope["state"] key where the GraphQL layer leaves (operation, operation type, outcome)."""
ERROR_CODE_STATE = "error_code"
"""scope["state"] key where a refusal before GraphQL (authentication) leaves its error code."""
RETRY_AFTER_STATE = "retry_after"
"""scope["state"] key: seconds a rate-limited client should wait (sent as Retry-After)."""

_CODE_BY_STATUS = {401: ErrorCode.UNAUTHENTICATED.value, 403: ErrorCode.FORBIDDEN.value, 413: "REQUEST_TOO_LARGE"}


class RequestContextMiddleware:
    """Assigns a request id (also to every log line of the request), counts SQL statements of the
    request, reports both as headers, and records each GraphQL request: metrics and one access log
    line (operation, outcome, status, duration, statements)."""

    def __init__(self, app: ASGIApp, graphql_path: str = "/graphql", metrics: bool = True) -> None:
        self.app = app
        self.graphql_path = graphql_path
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        status = 500
        try:
            with count_statements() as counter:

                async def send_with_headers(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        headers = list(message.get("headers", []))
                        headers.append((b"x-request-id", request_id.encode()))
                        headers.append((b"x-sql-statements", str(counter.count).encode()))
                        retry_after = state.get(RETRY_AFTER_STATE)
                        if retry_after is not None:
                            headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
                        message["headers"] = headers
                    await send(message)

                try:
                    await self.app(scope, receive, send_with_headers)
                finally:
                    if scope.get("path") == self.graphql_path and scope.get("method") == "POST":
                        self._record(state, status, time.perf_counter() - started, counter.count)
        finally:
            request_id_var.reset(token)

    def _record(self, state: dict[str, Any], status: int, seconds: float, statements: int) -> None:
        graphql = state.get(GRAPHQL_STATE)
        if graphql is not None:
            operation, operation_type, outcome = graphql
        else:
            operation, operation_type = "none", "none"
            outcome = state.get(ERROR_CODE_STATE) or _CODE_BY_STATUS.get(status) or f"http_{status}"
        if self.metrics:
            observe_request(operation, operation_type, outcome, seconds, statements)
        access_log.info(
            "graphql request",
            extra={
                "operation": operation,
                "operation_type": operation_type,
                "outcome": outcome,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "sql_statements": statements,
            },
        )


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with a GraphQL-shaped REQUEST_TOO_LARGE error (413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "data": None,
                "errors": [
                    {
                        "message": f"Request body exceeds {self.max_bytes} bytes.",
                        "extensions": {"code": ErrorCode.REQUEST_TOO_LARGE.value},
                    }
                ],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        # Read the whole body (bounded) before the app sees it, so a lying or absent length is caught too.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
