"""`cockpit …`: serve, worker, migrate, bootstrap, seed-models, doctor, rotate-secrets, token, export-schema, db reset,
dev."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from cockpit_graphql.settings import get_settings

if TYPE_CHECKING:
    from cockpit_graphql.embedded import EmbeddedServices


def _settings():  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return get_settings()


def _bind_tcp_sockets() -> None:
    """uvicorn's supervisor (--workers > 1) binds its socket with protocol 0; accepted sockets inherit
    it and asyncio then leaves TCP_NODELAY off, so every reply on a kept-alive connection waits ~40 ms
    for the client's delayed ACK (Kludex/uvicorn#3149, open in 0.54). Rebinding the listening socket
    as IPPROTO_TCP is the fix proposed upstream; measured in docs/performance.md."""
    import socket

    import uvicorn.config

    bind = uvicorn.config.Config.bind_socket
    if getattr(bind, "_cockpit_tcp", False):
        return

    def bind_tcp(self: uvicorn.config.Config) -> socket.socket:
        sock = bind(self)
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())

    bind_tcp._cockpit_tcp = True  # type: ignore[attr-defined]
    uvicorn.config.Config.bind_socket = bind_tcp  # type: ignore[method-assign]


def _metrics_multiproc_dir(workers: int) -> tuple[str | None, bool]:
    """Several workers: /metrics must merge every worker's samples (prometheus-client's multiprocess
    mode). Use PROMETHEUS_MULTIPROC_DIR when set, else a fresh temporary directory (removed again when
    `serve` returns: the second value says it is ours); either way it is emptied here, before any worker
    starts (samples of an earlier run would be counted again)."""
    import tempfile

    from cockpit_graphql.ops.metrics import MULTIPROC_ENV, prepare_multiproc_dir

    directory = os.environ.get(MULTIPROC_ENV)
    if not directory and workers <= 1:
        return None, False
    created = not directory
    if not directory:
        directory = tempfile.mkdtemp(prefix="cockpit-metrics-")
        os.environ[MULTIPROC_ENV] = directory  # inherited by uvicorn's worker processes
    prepare_multiproc_dir(directory)
    return directory, created


DEFAULT_KEEP_ALIVE_S = 5  # uvicorn's own default


def cmd_serve(args: argparse.Namespace) -> int:
    return serve(args.host, args.port, args.workers, keep_alive=args.keep_alive)


def serve(
    host: str,
    port: int,
    workers: int,
    app_factory: str = "cockpit_graphql.app:create_app",
    *,
    keep_alive: int = DEFAULT_KEEP_ALIVE_S,
) -> int:
    """uvicorn as deployed: the TCP_NODELAY fix, merged metrics of several workers, JSON logs, and
    SERVER_WORKERS for every worker's settings. `app_factory`: another factory (the bench's floor).
    `keep_alive`: seconds an idle keep-alive connection stays open (behind a load balancer, longer than
    its idle timeout, or it may send a request on a connection uvicorn is closing)."""
    import uvicorn

    from cockpit_graphql.logging_setup import configure_logging

    os.environ["SERVER_WORKERS"] = str(workers)  # read by every worker's settings (metering_turns)
    _bind_tcp_sockets()
    directory, created = _metrics_multiproc_dir(workers)
    configure_logging(_settings().log_level)  # uvicorn's own lines as JSON too (log_config=None)
    try:
        uvicorn.run(
            app_factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_keep_alive=keep_alive,
            log_level="warning",
            log_config=None,
        )
    finally:
        if created and directory:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def cmd_worker(_args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from cockpit_graphql.logging_setup import configure_logging
    from cockpit_graphql.workers.settings import WorkerSettings

    configure_logging(_settings().log_level)
    run_worker(WorkerSettings)  # type: ignore[arg-type]
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    from cockpit_graphql.db.migrate import upgrade_to_head

    asyncio.run(upgrade_to_head(_settings().owner_database_url))
    print("migrated to head")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from cockpit_graphql.ops.bootstrap import bootstrap
    from cockpit_graphql.ops.progress import Progress

    operators = [tuple(o.split("#", 1)) for o in args.operator or []]
    report = asyncio.run(
        bootstrap(
            _settings(),
            demo=args.demo,
            operators=operators,  # type: ignore[arg-type]
            progress=lambda step: Progress(f"bootstrap: {step}"),
        )
    )
    print(f"migrations at head; {report.accounts_checked} accounts have their Global defaults")
    for op in report.operators_added:
        print(f"platform operator added: {op}")
    for name in report.demo:
        print(f"demo account created: {name}")
    return 0


def cmd_seed_models(args: argparse.Namespace) -> int:
    from cockpit_graphql.db.engine import Database
    from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
    from cockpit_graphql.domain.models.seed import seed_models
    from cockpit_graphql.ops.progress import Progress

    if not args.from_env:
        print("Say where the models come from: `cockpit seed-models --from-env`.", file=sys.stderr)
        return 2

    async def run() -> str:
        db = Database.for_jobs(_settings())  # the app role: the catalog is a platform table it may write
        try:
            async with db.platform() as session:
                report = await seed_models(
                    session, Operation(SYSTEM_ACTOR, "cli:seed-models"), os.environ, Progress("seed-models")
                )
        finally:
            await db.dispose()
        return report.render()

    print(asyncio.run(run()))
    return 0


def cmd_rotate_secrets(_args: argparse.Namespace) -> int:
    from cockpit_graphql.db.engine import Database
    from cockpit_graphql.domain.marketplace.connections import rotate_all_secrets
    from cockpit_graphql.domain.marketplace.secrets import SecretBox, SecretKeysError
    from cockpit_graphql.ops.progress import Progress

    settings = _settings()

    async def run() -> int:
        db = Database.for_jobs(settings)
        try:
            report = await rotate_all_secrets(
                db, SecretBox(settings.connection_secret_keys), Progress("rotate-secrets")
            )
        except SecretKeysError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        finally:
            await db.dispose()
        print(
            f"{report.accounts} accounts: {report.rotated} connection secrets re-encrypted with the primary key, "
            f"{report.current} already current"
        )
        return 0

    return asyncio.run(run())


def cmd_doctor(_args: argparse.Namespace) -> int:
    from cockpit_graphql.ops.doctor import render, run_checks

    checks = asyncio.run(run_checks(_settings()))
    print(render(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_token(args: argparse.Namespace) -> int:
    from cockpit_graphql.auth.dev_tokens import SUPER_ADMIN_SUBJECT, mint_dev_token

    settings = _settings()
    if not settings.dev_jwt_secret:
        print("DEV_JWT_SECRET is not set: dev tokens are disabled here.", file=sys.stderr)
        return 2
    if args.role == "SUPER_ADMIN":
        print(mint_dev_token(settings, subject=SUPER_ADMIN_SUBJECT))
        return 0
    if not args.account or not args.email:
        print("--account (external org id) and --email are required for account roles.", file=sys.stderr)
        return 2
    print(mint_dev_token(settings, subject=f"dev|{args.email}", organization=args.account, email=args.email))
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from cockpit_graphql.schema_export import SCHEMA_PATH, render_schema, write_schema

    if args.check:
        if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != render_schema():
            print("schema.graphql is out of date: run `make schema`", file=sys.stderr)
            return 1
        return 0
    print(f"wrote {write_schema()}")
    return 0


def cmd_db_reset(args: argparse.Namespace) -> int:
    from cockpit_graphql.db.migrate import upgrade_to_head
    from cockpit_graphql.ops.database import is_development, wipe_schema

    settings = _settings()

    async def run() -> int:
        if not await is_development(settings.owner_database_url):
            print(
                "Refusing: this database is not marked as development "
                "(COMMENT ON DATABASE … IS 'cockpit:development').",
                file=sys.stderr,
            )
            return 3
        await wipe_schema(settings.owner_database_url)
        await upgrade_to_head(settings.owner_database_url)
        print("database reset and migrated")
        return 0

    return asyncio.run(run())


def _dev_environment() -> EmbeddedServices:
    """`make run`: embedded services when no URLs are set, a persisted dev secret, dev settings."""
    from cockpit_graphql.embedded import DATA_DIR, start_embedded

    services = start_embedded()
    secret_file = DATA_DIR / "dev-jwt-secret"
    if not os.environ.get("DEV_JWT_SECRET"):
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(32))
            secret_file.chmod(0o600)
        os.environ["DEV_JWT_SECRET"] = secret_file.read_text().strip()
    key_file = DATA_DIR / "connection-secret-keys"
    if not os.environ.get("CONNECTION_SECRET_KEYS"):
        if not key_file.exists():
            from cockpit_graphql.domain.marketplace.secrets import generate_key

            key_file.write_text(json.dumps([generate_key()]))
            key_file.chmod(0o600)
        os.environ["CONNECTION_SECRET_KEYS"] = key_file.read_text().strip()
    os.environ.setdefault("ENVIRONMENT", "development")
    dev_issuer = os.environ.get("DEV_ISSUER", "https://dev.cockpit.local")
    os.environ.setdefault("PLATFORM_ISSUERS", f'["{dev_issuer}"]')
    return services


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def cmd_dev(args: argparse.Namespace) -> int:
    from cockpit_graphql.auth.dev_tokens import SUPER_ADMIN_SUBJECT, mint_dev_token
    from cockpit_graphql.ops.bootstrap import bootstrap
    from cockpit_graphql.ops.database import create_database, mark_development

    services = _dev_environment()
    # uvicorn re-raises the signal it caught after its graceful shutdown; with this handler that
    # becomes SystemExit, so the `finally` below stops the worker and the embedded servers.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings = _settings()
    asyncio.run(create_database(settings.owner_database_url, settings.database_name))
    asyncio.run(mark_development(settings.owner_database_url))
    report = asyncio.run(bootstrap(settings, demo=True))
    tokens = {
        "SUPER_ADMIN (platform operator)": mint_dev_token(settings, subject=SUPER_ADMIN_SUBJECT),
        "ACCOUNT_ADMIN admin@acme.example": mint_dev_token(
            settings, subject="dev|admin@acme.example", organization="acme-org", email="admin@acme.example"
        ),
        "MEMBER member@acme.example": mint_dev_token(
            settings, subject="dev|member@acme.example", organization="acme-org", email="member@acme.example"
        ),
    }
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"\nCockpit GraphQL is starting. Demo accounts: {', '.join(report.demo) or 'already seeded'}.")
    print(f"DATABASE_URL={settings.database_url}")
    print(f"REDIS_URL={settings.redis_url}")
    print(f"GraphiQL: {url}\n")
    print('Paste one of these into GraphiQL\'s headers as {"Authorization": "Bearer <token>"}:\n')
    for label, token in tokens.items():
        print(f"  {label}:\n    {token}\n")
    sys.stdout.flush()
    if args.no_serve:
        services.stop()
        return 0
    worker = subprocess.Popen([sys.executable, "-m", "cockpit_graphql.cli", "worker"], env=os.environ.copy())
    try:
        return serve(args.host, args.port, 1)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        services.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cockpit", description="Cockpit GraphQL operations.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--keep-alive",
        type=int,
        default=DEFAULT_KEEP_ALIVE_S,
        metavar="SECONDS",
        help=f"close keep-alive connections idle this long (default {DEFAULT_KEEP_ALIVE_S}; "
        "behind a load balancer: longer than its idle timeout)",
    )
    p.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="run the arq worker").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply migrations (as the owner)").set_defaults(func=cmd_migrate)
    p = sub.add_parser("bootstrap", help="migrate, ensure defaults, add operators, seed demo data")
    p.add_argument("--demo", action="store_true", help="create the demo accounts")
    p.add_argument("--operator", action="append", metavar="ISSUER#SUBJECT", help="register a super admin")
    p.set_defaults(func=cmd_bootstrap)
    p = sub.add_parser("seed-models", help="add catalog models listed in COCKPIT_MODELS_<PROVIDER> (idempotent)")
    p.add_argument("--from-env", action="store_true", help="read the COCKPIT_MODELS_<PROVIDER> lists")
    p.set_defaults(func=cmd_seed_models)
    sub.add_parser("doctor", help="runbook smoke checks").set_defaults(func=cmd_doctor)
    sub.add_parser(
        "rotate-secrets", help="re-encrypt every connection secret with the first CONNECTION_SECRET_KEYS key"
    ).set_defaults(func=cmd_rotate_secrets)
    p = sub.add_parser("token", help="mint a dev JWT (only with DEV_JWT_SECRET)")
    p.add_argument("--role", choices=["SUPER_ADMIN", "ACCOUNT"], default="ACCOUNT")
    p.add_argument("--account", help="external org id of the account (e.g. acme-org)")
    p.add_argument("--email", help="the user's email")
    p.set_defaults(func=cmd_token)
    p = sub.add_parser("export-schema", help="write schema.graphql")
    p.add_argument("--check", action="store_true", help="fail if schema.graphql is out of date")
    p.set_defaults(func=cmd_export_schema)
    p = sub.add_parser("db", help="database utilities")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("reset", help="wipe and re-migrate (development databases only)").set_defaults(func=cmd_db_reset)
    p = sub.add_parser("dev", help="what `make run` does: embedded services, bootstrap, tokens, serve + worker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="set up and print tokens, then exit")
    p.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
