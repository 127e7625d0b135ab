"""One settings object, read once from the environment (prefix-free names, as operators expect)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    """Runtime configuration. Every value has a safe production default unless noted."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # --- database -------------------------------------------------------------------------
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/cockpit",
        description="Owner connection (migrations, bootstrap, doctor). The app never serves requests on it.",
    )
    app_database_url: str | None = Field(
        None, description="Connection of the app role; derived from database_url and app_db_role when unset."
    )
    app_db_role: str = Field("cockpit_app", description="Login role the API runs as; owns nothing.")
    app_db_password: str | None = None
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_seconds: float = Field(
        60.0,
        ge=0,
        description="Longest a statement of the API may run (PostgreSQL statement_timeout, lock waits included); "
        "beyond it the request fails with code TIMEOUT and its transaction rolls back. 0: the app sets none "
        "(the role's, database's or server's statement_timeout applies).",
    )
    worker_statement_timeout_seconds: float = Field(
        900.0,
        ge=0,
        description="The same limit for the arq worker's jobs (renewal catch-up, rollup rebuilds) and the operator "
        "commands (bootstrap, seed-models, rotate-secrets). 0: the app sets none.",
    )

    # --- redis / worker -------------------------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"
    worker_queue_name: str = Field(
        "arq:queue",
        description="The arq queue the worker consumes (default: arq's own). Test runs sharing one Redis use their "
        "own; separate deployments need separate Redis databases (arq job ids, cron runs' too, span a database).",
    )
    worker_heartbeat_seconds: int = 30
    worker_heartbeat_max_age_seconds: int = 120

    # --- identity -------------------------------------------------------------------------
    oidc_audience: str = "cockpit-api"
    oidc_jwks_url: str | None = None
    oidc_jwks_file: str | None = None
    oidc_jwks_cache_seconds: int = 300
    oidc_jwks_min_refresh_seconds: int = 10
    oidc_org_claim: str = "urn:zitadel:iam:user:resourceowner:id"
    oidc_email_claim: str = "email"
    oidc_email_verified_claim: str = "email_verified"
    oidc_leeway_seconds: int = 30
    platform_issuers: list[str] = Field(
        default_factory=list, description="Issuers whose operators may be super admins."
    )
    dev_jwt_secret: str | None = Field(None, description="Enables HS256 dev tokens. Never set in production.")
    dev_issuer: str = "https://dev.cockpit.local"

    # --- GraphQL and limits ---------------------------------------------------------------
    graphiql_enabled: bool = True
    graphiql_assets_dir: str | None = Field(
        None,
        description="Self-hosted GraphiQL assets (default cockpit_graphql/static/graphiql, filled by "
        "`make graphiql-assets`); when incomplete, GraphiQL loads them from the CDN. See docs/graphiql.md.",
    )
    introspection_enabled: bool = True
    max_body_bytes: int = 1024 * 1024  # a recordUsageBatch of 1,000 full events is ~320 KiB
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_query_cost: int = 50_000
    introspection_cost: int = Field(
        1_000,
        description="Cost of each introspection field (__schema, __type) for the rate limit: a full "
        "introspection answer is ~375 KB and ~0.2 s of CPU. Every request costs at least 1.",
    )
    max_concurrent_operations: int = Field(
        4,
        ge=0,
        description="GraphQL operations executing at once per worker process; the others wait their turn "
        "(first come, first served). 0: no limit. See cockpit_graphql/limits/gate.py and docs/runbook.md.",
    )
    server_workers: int = Field(
        1, ge=1, description="uvicorn worker processes serving the API (`cockpit serve --workers` sets it)."
    )
    metering_turns_per_account: int | None = Field(
        None,
        ge=0,
        description="Metering calls (authorize, record, settle, release usage) of one account executing at "
        "once per worker process; the others wait their turn, holding no connection. 0: no limit. Unset: 1 "
        "when SERVER_WORKERS > 1, else no limit. See cockpit_graphql/limits/account_turns.py.",
    )
    max_page_size: int = 100
    default_page_size: int = 20
    max_nodes_ids: int = 100

    # --- rate limits (docs/operations.md) ---------------------------------------------------
    rate_limit_enabled: bool = Field(True, description="Token bucket per principal on query cost, in Redis.")
    rate_limit_capacity: int = Field(
        100_000, description="Default bucket: cost units a principal may spend at once (accounts may override)."
    )
    rate_limit_refill_per_second: float = Field(
        2_000.0, description="Default bucket: cost units refilled per second (accounts may override)."
    )
    rate_limit_fail_open: bool = Field(
        True, description="Serve requests when Redis cannot be asked (logged and counted); false refuses them."
    )
    rate_limit_timeout_seconds: float = Field(0.25, description="How long a request waits for the limiter.")
    rate_limit_breaker_seconds: float = Field(
        5.0, description="After a Redis failure, how long requests skip the limiter before the next attempt."
    )
    rate_limit_key_prefix: str = "cockpit:ratelimit:"
    anonymous_rate_limit_capacity: int = Field(
        5_000, description="Bucket of requests without a principal, one per client address (5 introspections)."
    )
    anonymous_rate_limit_refill_per_second: float = Field(
        50.0, description="Refill of the anonymous bucket (one introspection per 20 s at the default cost)."
    )

    # --- metrics, tracing, readiness (docs/operations.md) ----------------------------------
    metrics_enabled: bool = Field(True, description="Serve /metrics (Prometheus) and record request metrics.")
    metrics_jobs_key: str = Field("cockpit:metrics:jobs", description="Redis hash of job outcomes (worker).")
    tracing_exporter: Literal["none", "console", "memory", "otlp"] = Field(
        "none",
        description="OpenTelemetry spans: none (off), console (stderr), memory (tests), otlp (needs "
        "opentelemetry-exporter-otlp-proto-http, not installed by default).",
    )
    tracing_service_name: str = "cockpit-graphql"
    readiness_timeout_seconds: float = Field(2.0, description="/readyz: how long each dependency may take.")

    # --- SCIM provisioning (docs/scim.md) ----------------------------------------------------
    scim_group_separator: str = Field(
        " / ",
        description="A SCIM group named `Org<separator>Team` maps to team Team of organization Org; other "
        "names map to a team of that name in the Global organization. Empty: never split.",
    )

    # --- budgets --------------------------------------------------------------------------
    usage_grace_seconds: int = Field(
        3600, description="A cycle closes this long after its end; later events go to the open cycle, flagged late."
    )
    reservation_default_ttl_seconds: int = 300

    # --- policies -------------------------------------------------------------------------
    extra_feature_flags: dict[str, bool] = Field(
        default_factory=dict,
        description="More feature flags and their defaults, as JSON: EXTRA_FEATURE_FLAGS='{\"WEB_SEARCH\": false}'.",
    )

    # --- connections ----------------------------------------------------------------------
    connection_secret_keys: list[str] = Field(
        default_factory=list,
        description="Fernet keys for connection secrets, as a JSON list: the first encrypts, every one decrypts "
        "(rotation: put the new key first, run `cockpit rotate-secrets`, then drop the old one).",
    )

    # --- misc -----------------------------------------------------------------------------
    environment: str = Field("production", description="'development' enables dev conveniences.")
    log_level: str = "INFO"
    gc_tuning: bool = Field(True, description="Freeze the startup heap and raise GC thresholds in servers.")

    @property
    def owner_database_url(self) -> str:
        return self.database_url

    @property
    def resolved_app_database_url(self) -> str:
        if self.app_database_url:
            return self.app_database_url
        url = make_url(self.database_url).set(username=self.app_db_role, password=self.app_db_password)
        return url.render_as_string(hide_password=False)

    @property
    def database_name(self) -> str:
        return make_url(self.database_url).database or "postgres"

    def metering_turns(self) -> int:
        """Metering calls of one account at once per worker (0: no limit). With one worker its calls
        overlap each other's database work, which is how a lone worker keeps busy; with several, each
        worker's one call overlaps the others' and a mutex holder no longer waits in its event loop
        behind its account's other calls (docs/performance.md measured both)."""
        if self.metering_turns_per_account is not None:
            return self.metering_turns_per_account
        return 1 if self.server_workers > 1 else 0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
