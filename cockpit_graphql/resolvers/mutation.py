"""One way to run a mutation: permission, tenant, one transaction, userErrors instead of exceptions."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.context import Context, Info
from cockpit_graphql.db.errors import is_data_exception, is_retryable, sqlstate_of
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.limits.account_turns import METERING_TURNS
from cockpit_graphql.ops.metrics import METERING_TURN_WAIT
from cockpit_graphql.types.errors import UserError
from cockpit_graphql.types.ids import GlobalId, decode_id

log = logging.getLogger("cockpit.mutations")

R = TypeVar("R")
P = TypeVar("P")

Work = Callable[[AsyncSession, TenantId, Operation], Awaitable[R]]

ATTEMPTS = 3
"""A tenant mutation whose transaction PostgreSQL aborted as a deadlock victim or a serialization failure
(nothing of it was written) runs again, up to this many times in all: two usage calls recording the same
new idempotency key, one written ahead of the budget mutex and one under it, wait on each other."""


def user_errors(exc: UserInputError) -> list[UserError]:
    return [UserError.from_item(UserErrorItem(("input", *item.field), item.code, item.message)) for item in exc.errors]


def parse_ref(value: str | None, type_name: str, field: str | tuple[str, ...]) -> GlobalId:
    """Decode a global id of `type_name`, or raise the userError a client can fix. `field` is the
    input path (a name, or a tuple such as ("events", "3", "userId") inside a list)."""
    ref = decode_id(value) if value else None
    if ref is None or ref.type_name != type_name:
        name = field if isinstance(field, str) else field[-1]
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, f"`{name}` is not the id of a {type_name}.")
    return ref


def parse_optional_ref(value: str | None, type_name: str, field: str) -> GlobalId | None:
    return None if value is None else parse_ref(value, type_name, field)


@dataclass(frozen=True)
class Refused:
    """The userErrors of a mutation that wrote nothing."""

    errors: list[UserError]


async def run_mutation(
    info: Info,
    *,
    permission: Permission,
    account_id: uuid.UUID | None,
    account_field: str,
    work: Work[R],
    metered: bool = False,
) -> R | Refused:
    """Run `work` in one tenant transaction: its change and its audit event land together or not at all.
    `metered` work (it takes the account's budget mutex) first waits for the account's turn in this
    worker (limits/account_turns.py), before it takes a connection."""
    ctx = info.context
    ctx.require(permission)
    tenant = ctx.tenant_for(account_id) if account_id is not None else None
    if tenant is None:
        return Refused(
            user_errors(
                UserInputError.single(
                    account_field, UserErrorCode.NOT_FOUND, f"No such `{account_field}` in your account."
                )
            )
        )
    turn = METERING_TURNS.turn(tenant.value, ctx.settings.metering_turns() if metered else 0)
    try:
        async with turn as waited:
            if metered:
                METERING_TURN_WAIT.observe(waited)
            return await _run_with_retries(ctx, tenant, work)
    except UserInputError as exc:
        return Refused(user_errors(exc))
    except DBAPIError as exc:
        return database_refusal(exc, account_field, ctx.request_id)


async def _run_with_retries(ctx: Context, tenant: TenantId, work: Work[R]) -> R:
    """`work` in a tenant transaction, run again (up to ATTEMPTS) when PostgreSQL asks for a retry."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with ctx.db.tenant(tenant) as session:
                return await work(session, tenant, ctx.operation())
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == ATTEMPTS:
                raise
            log.warning(
                "mutation hit %s; retrying it (attempt %d)",
                sqlstate_of(exc),
                attempt + 1,
                extra={"request_id": ctx.request_id},
            )
    raise AssertionError("unreachable")  # pragma: no cover


def database_refusal(exc: DBAPIError, conflict_field: str, request_id: str | None) -> Refused:
    """What the database refused that is the input's fault, as a userError (the transaction rolled back:
    nothing written): a constraint (a concurrent change, a duplicate) as DUPLICATE on `conflict_field`, a
    value beyond what a column holds (SQLSTATE class 22, which the asyncpg dialect raises as a plain
    DBAPIError, not SQLAlchemy's DataError) as INVALID. Anything else is re-raised (an INTERNAL error)."""
    if isinstance(exc, IntegrityError):
        log.warning("mutation refused by a database constraint: %s", exc.orig, extra={"request_id": request_id})
        message = "The change conflicts with existing data (changed concurrently?)."
        return Refused(user_errors(UserInputError.single(conflict_field, UserErrorCode.DUPLICATE, message)))
    if isinstance(exc, DataError) or is_data_exception(exc):
        log.warning("mutation refused by the database: %s", exc.orig, extra={"request_id": request_id})
        return Refused(
            user_errors(UserInputError.single((), UserErrorCode.INVALID, "A value is out of the allowed range."))
        )
    raise exc


def default_account(info: Info, explicit: GlobalId | None) -> uuid.UUID | None:
    """The account a create mutation acts in: the explicit one (required for super admins) or the caller's."""
    if explicit is not None:
        return explicit.id
    return info.context.require_principal().account_id


@dataclass(frozen=True)
class Plan:
    """What a mutation will do, decided from its parsed input: in which account, and the work."""

    account_id: uuid.UUID | None
    account_field: str
    work: Work[Any]
    metered: bool = False  # the work takes the account's budget mutex: it waits for the account's turn first


async def mutate(
    info: Info,
    payload: Callable[..., P],
    *,
    permission: Permission,
    plan: Callable[[], Plan],
    shape: Callable[[Any], P],
) -> P:
    """Parse (ids become userErrors when malformed), run the work in one transaction, shape the payload."""
    try:
        decided = plan()
    except UserInputError as exc:
        return payload(user_errors=user_errors(exc))
    result = await run_mutation(
        info,
        permission=permission,
        account_id=decided.account_id,
        account_field=decided.account_field,
        work=decided.work,
        metered=decided.metered,
    )
    if isinstance(result, Refused):
        return payload(user_errors=result.errors)
    return shape(result)


PlatformWork = Callable[[AsyncSession, Operation], Awaitable[R]]


async def run_platform_mutation(
    info: Info, *, permission: Permission, work: PlatformWork[R], conflict_field: str = "id"
) -> R | Refused:
    """Run `work` in one platform transaction (no account set: platform tables such as the model
    catalog), for changes that belong to no account. Its change and its platform audit event land
    together or not at all; input problems become userErrors exactly as in `run_mutation`."""
    ctx = info.context
    ctx.require(permission)
    try:
        async with ctx.db.platform() as session:
            return await work(session, ctx.operation())
    except UserInputError as exc:
        return Refused(user_errors(exc))
    except DBAPIError as exc:
        return database_refusal(exc, conflict_field, ctx.request_id)


async def mutate_platform(
    info: Info,
    payload: Callable[..., P],
    *,
    permission: Permission,
    plan: Callable[[], PlatformWork[Any]],
    shape: Callable[[Any], P],
    conflict_field: str = "id",
) -> P:
    """`mutate` for platform mutations: the permission first (a caller without it learns nothing about
    its input), then parse (malformed ids become userErrors), run in one platform transaction, shape."""
    info.context.require(permission)
    try:
        work = plan()
    except UserInputError as exc:
        return payload(user_errors=user_errors(exc))
    result = await run_platform_mutation(info, permission=permission, work=work, conflict_field=conflict_field)
    if isinstance(result, Refused):
        return payload(user_errors=result.errors)
    return shape(result)
