"""The operations routes next to /graphql: `/readyz` (readiness) and `/metrics` (Prometheus)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cockpit_graphql.db.engine import Database
from cockpit_graphql.ops.metrics import CONTENT_TYPE, redis_families, render
from cockpit_graphql.ops.readiness import readiness
from cockpit_graphql.settings import Settings


def operations_routes(settings: Settings, db: Callable[[], Database | None]) -> list[Route]:
    async def readyz(_request: Request) -> Response:
        # Redis down is fatal only when the rate limiter fails closed (ops/readiness.py)
        ready, checks = await readiness(
            db(),
            settings.redis_url,
            settings.readiness_timeout_seconds,
            redis_required=not settings.rate_limit_fail_open,
        )
        degraded = any(v.startswith("degraded") for v in checks.values())
        status = "unavailable" if not ready else "degraded" if degraded else "ok"
        return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)

    async def metrics(_request: Request) -> Response:
        extra = await redis_families(settings.redis_url, settings.worker_queue_name, settings.metrics_jobs_key)
        return Response(render(extra), media_type=CONTENT_TYPE)

    routes = [Route("/readyz", readyz)]
    if settings.metrics_enabled:
        routes.append(Route("/metrics", metrics))
    return routes
