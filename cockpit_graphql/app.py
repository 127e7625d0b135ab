"""create_app(): Starlette, lifespan (engine, pools, key source), middleware, /graphql."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, BaseUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET

from cockpit_graphql.auth.backend import JWTBackend, auth_error_response
from cockpit_graphql.auth.tokens import TokenVerifier, key_source_from_settings
from cockpit_graphql.context import Context, build_context
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.errors import ErrorCode
from cockpit_graphql.domain.policies.flags import flag_registry
from cockpit_graphql.ide import GraphiQLPage
from cockpit_graphql.limits.gate import OperationGate
from cockpit_graphql.limits.rate_limit import RateLimiter
from cockpit_graphql.logging_setup import configure_logging
from cockpit_graphql.middleware import ERROR_CODE_STATE, BodyLimitMiddleware, RequestContextMiddleware
from cockpit_graphql.ops.endpoints import operations_routes
from cockpit_graphql.ops.metrics import OPERATION_WAIT, RATE_LIMIT_UNAVAILABLE
from cockpit_graphql.ops.tracing import build_tracing
from cockpit_graphql.schema import build_schema
from cockpit_graphql.scim.app import PREFIX as SCIM_PREFIX
from cockpit_graphql.scim.app import scim_mount
from cockpit_graphql.settings import Settings, get_settings


class CockpitGraphQL(GraphQL[Context, None]):
    def __init__(
        self, settings: Settings, db_holder: dict[str, Database], ide: GraphiQLPage | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.db_holder = db_holder
        self.ide = ide
        self.gate = OperationGate(settings.max_concurrent_operations)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        # self-hosted assets + CSP when installed (make graphiql-assets), else strawberry's CDN page
        return self.ide.response() if self.ide else await super().render_graphql_ide(request)

    async def get_context(self, request: Any, response: Any = None) -> Context:  # type: ignore[override]
        return build_context(request, self.settings, self.db_holder["db"])

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:  # type: ignore[override]
        """Strawberry refuses what is not a GraphQL request it can run (a body that is not JSON or not an
        object, a batch, `variables` that is no object, an unknown `operationName`, a mutation over GET,
        an unsupported content type) with an HTTPException, which its ASGI app answers as text/plain
        without a code. Here they are GraphQL-shaped, with the same HTTP status."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            if isinstance(request, WebSocket):
                raise
            return self.refusal(request, exc)

    def refusal(self, request: Request, exc: HTTPException) -> Response:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.BAD_REQUEST
        state = request.scope.setdefault("state", {})
        state[ERROR_CODE_STATE] = code.value  # the request metrics' outcome
        request_id = state.get("request_id") or "unknown"
        body = {
            "data": None,
            "errors": [{"message": exc.reason, "extensions": {"code": code.value, "requestId": request_id}}],
        }
        return Response(self.encode_json(body), status_code=exc.status_code, media_type="application/json")

    async def execute_operation(self, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            async with self.gate.turn() as waited:
                OPERATION_WAIT.observe(waited)
                return await super().execute_operation(**kwargs)
        finally:
            context = kwargs.get("context")
            if isinstance(context, Context):
                context.release()

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data)
        except RecursionError:
            # a body nested ~900+ levels exhausts the recursive stdlib decoder (an uncaught 500); orjson
            # decodes up to 1,024 levels without recursion (the variables check then refuses them as
            # BAD_USER_INPUT: cockpit_graphql/limits/text.py) and raises JSONDecodeError beyond (400)
            value = orjson.loads(data)
        except UnicodeDecodeError as exc:  # not a JSONDecodeError: strawberry let it through (a 500)
            raise HTTPException(400, "The request body is not valid UTF-8.") from exc
        if isinstance(data, bytes) and not isinstance(value, dict | list):
            # only a POST body arrives as bytes (GET parameters and WebSocket messages are str); strawberry
            # reads it with `.get`: a string, number or null there was an AttributeError (a 500). A list is
            # a batch, which strawberry refuses itself.
            raise HTTPException(400, "The request body must be a JSON object.")
        return value


GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """A GraphQL response allocates tens of thousands of short-lived objects; with CPython's default
    thresholds a full collection (~100 ms on a warm heap) ran every other directory page. Freezing
    the startup heap and raising the first threshold keeps collections rare and short (see
    docs/performance.md for the measurement)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class LazyBackend(JWTBackend):
    """The backend is built before the lifespan opens the pool; it reads the pool when called."""

    def __init__(self, settings: Settings, verifier: TokenVerifier, db_holder: dict[str, Database]) -> None:
        self.settings = settings
        self.verifier = verifier
        self.db_holder = db_holder

    @property  # type: ignore[override]
    def db(self) -> Database:
        return self.db_holder["db"]

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.url.path.startswith(SCIM_PREFIX + "/"):  # SCIM tokens are not JWTs: the SCIM app checks them
            return None
        return await super().authenticate(conn)


def create_app(settings: Settings | None = None, database: Database | None = None) -> Starlette:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    flag_registry(settings.extra_feature_flags)  # a bad EXTRA_FEATURE_FLAGS stops the start, not each request
    holder: dict[str, Database] = {}
    if database is not None:
        holder["db"] = database
    # rate limits, metrics, traces: docs/operations.md
    limiter = RateLimiter(
        settings.redis_url,
        timeout=settings.rate_limit_timeout_seconds,
        fail_open=settings.rate_limit_fail_open,
        breaker_seconds=settings.rate_limit_breaker_seconds,
        on_unavailable=RATE_LIMIT_UNAVAILABLE.inc,
    )
    tracing = build_tracing(settings)  # None unless TRACING_EXPORTER is set

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = "db" not in holder
        if settings.gc_tuning:
            tune_gc()
        if owned:
            holder["db"] = Database.from_settings(settings)
        try:
            yield
        finally:
            await limiter.close()
            if tracing is not None:
                tracing.shutdown()
            if owned:
                await holder.pop("db").dispose()

    schema = build_schema(
        introspection=settings.introspection_enabled,
        rate_limiter=limiter,
        tracing=tracing.extension if tracing is not None else None,
    )
    ide = GraphiQLPage.build(settings.graphiql_assets_dir) if settings.graphiql_enabled else None
    graphql_app = CockpitGraphQL(
        settings,
        holder,
        ide,
        schema=schema,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=False,
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    verifier = TokenVerifier(settings, key_source_from_settings(settings))
    middleware = [
        Middleware(RequestContextMiddleware, metrics=settings.metrics_enabled),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        Middleware(
            AuthenticationMiddleware, backend=LazyBackend(settings, verifier, holder), on_error=auth_error_response
        ),
    ]
    routes = [
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        Route("/healthz", healthz),
        scim_mount(lambda: holder["db"], settings.scim_group_separator),  # docs/scim.md
        *operations_routes(settings, lambda: holder.get("db")),
        *(ide.routes() if ide else []),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.db_holder = holder
    app.state.rate_limiter = limiter
    app.state.tracing = tracing
    return app
