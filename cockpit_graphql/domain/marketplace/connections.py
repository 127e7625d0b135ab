"""Connection changes (domain.md §4): admin connections (assigned to scopes) and members' personal
ones. Each change is one transaction with one audit event. The secret is write-only: encrypted
here, never returned, and the audit shows only that it changed (`secretChanged`/`secretCleared`).

Who may do what (the caller's role comes from `op.actor`):
- admins (MANAGE_ASSETS) create, change, assign and delete admin connections, and may delete (not
  change) a member's personal connection (governance);
- anyone with MANAGE_PERSONAL_ASSETS creates personal connections when `may_create_personal` says
  so for them, and changes or deletes only their own."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId, mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import Account, Connection
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.directory.scopes import ensure_scope_exists
from cockpit_graphql.domain.errors import Forbidden, UserErrorCode, UserInputError
from cockpit_graphql.domain.marketplace import connections_repository as repo
from cockpit_graphql.domain.marketplace.connection_access import may_create_personal, may_use_personal
from cockpit_graphql.domain.marketplace.connection_types import ConnectionType, clean_config
from cockpit_graphql.domain.marketplace.secrets import SecretBox, SecretKeysError
from cockpit_graphql.domain.policies.effective import load_inputs, views
from cockpit_graphql.domain.policies.flags import FlagDefinition
from cockpit_graphql.domain.policies.resolve import EffectivePolicy
from cockpit_graphql.domain.roles import Permission, has_permission
from cockpit_graphql.domain.validation import clean_name

MAX_SECRET = 16_000
TARGET = "Connection"


@dataclass(frozen=True)
class NewConnection:
    name: str
    type: ConnectionType
    config: Any
    secret: str | None = None


@dataclass(frozen=True)
class ConnectionChanges:
    """None = leave as is. `secret` replaces the secret; `clear_secret` removes it (not both)."""

    name: str | None = None
    config: Any | None = None
    secret: str | None = None
    clear_secret: bool = False


def _is_admin(op: Operation) -> bool:
    return has_permission(op.actor.role, Permission.MANAGE_ASSETS)


def _scope_doc(scope: Scope) -> dict[str, str]:
    return {"level": scope.level.value, "id": str(scope.id)}


def snapshot(row: Connection, assigned: frozenset[Scope] | None = None) -> dict[str, Any]:
    """What the audit trail records of a connection: never the secret nor its ciphertext."""
    doc: dict[str, Any] = {
        "name": row.name,
        "type": row.type,
        "config": row.config,
        "personal": row.owner_user_id is not None,
        "ownerUserId": str(row.owner_user_id) if row.owner_user_id else None,
        "hasSecret": row.secret_ciphertext is not None,
    }
    if assigned is not None:
        doc["assignedTo"] = [_scope_doc(s) for s in sorted(assigned)]
    return doc


def _encrypt(box: SecretBox, secret: str, field: str = "secret") -> str:
    if not secret or not secret.strip():
        raise UserInputError.single(field, UserErrorCode.REQUIRED, f"`{field}` must not be blank (omit it for none).")
    if len(secret) > MAX_SECRET:
        raise UserInputError.single(field, UserErrorCode.TOO_LONG, f"`{field}` is longer than {MAX_SECRET} characters.")
    try:
        return box.encrypt(secret)
    except SecretKeysError as exc:  # the operator's settings, not the input: still never a 500
        raise UserInputError.single(field, UserErrorCode.INVALID, str(exc)) from None


async def _unique(
    session: AsyncSession, name: str, owner: uuid.UUID | None, except_id: uuid.UUID | None = None
) -> None:
    if await repo.name_taken(session, name, owner, except_id):
        where = "of yours" if owner else "in this account"
        raise UserInputError.single("name", UserErrorCode.DUPLICATE, f"A connection of this name exists {where}.")


async def _insert(
    session: AsyncSession,
    tenant: TenantId,
    box: SecretBox,
    new: NewConnection,
    owner: uuid.UUID | None,
) -> Connection:
    name = clean_name(new.name, "name")
    config = clean_config(new.type, new.config)
    ciphertext = _encrypt(box, new.secret) if new.secret is not None else None
    await _unique(session, name, owner)
    now = datetime.now(UTC)
    row = Connection(
        account_id=tenant.value,
        name=name,
        type=new.type.value,
        config=config,
        secret_ciphertext=ciphertext,
        secret_updated_at=now if ciphertext else None,
        owner_user_id=owner,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def create_connection(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    box: SecretBox,
    new: NewConnection,
    scope: Scope | None = None,
) -> Connection:
    """An admin connection, assigned to `scope` at once when given (one event: created, with its
    assignment)."""
    if scope is not None:
        await ensure_scope_exists(session, tenant, scope, "scopeId")
    row = await _insert(session, tenant, box, new, None)
    assigned: frozenset[Scope] = frozenset()
    if scope is not None:
        await repo.add_assignment(session, tenant.value, row.id, scope)
        assigned = frozenset({scope})
    after = snapshot(row, assigned)
    if row.secret_ciphertext is not None:
        after["secretChanged"] = True
    await record(session, tenant, op, AuditAction.CONNECTION_CREATED, target_type=TARGET, target_id=row.id, after=after)
    return row


async def usable_connections(
    session: AsyncSession, tenant: TenantId, user_id: uuid.UUID, registry: Mapping[str, FlagDefinition]
) -> list[Connection]:
    """The connections a user of the account may use now, by name (`myConnections`): admin connections
    assigned to a scope of their chain, and their own personal ones when their connection mode allows it
    (`may_use_personal`, resolved along their chain now). [] for a user of no team."""
    placement = (await budget_repo.placements(session, tenant, [user_id])).get(user_id)
    if placement is None:
        return []
    chain = placement.chain()
    policy = await _policy_along(session, tenant, chain, registry)
    return await repo.usable_for(session, chain, personal=may_use_personal(policy))


async def _policy_along(
    session: AsyncSession, tenant: TenantId, chain: list[Scope], registry: Mapping[str, FlagDefinition]
) -> EffectivePolicy:
    return views(await load_inputs(session, tenant, set(chain)), [chain], registry)[0].policy


async def create_personal_connection(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    box: SecretBox,
    registry: Mapping[str, FlagDefinition],
    new: NewConnection,
) -> Connection:
    """The caller's own connection, when CREATE_CONNECTIONS is on and the connection mode is
    SELF_MANAGED_ALLOWED for them (resolved along their chain, now)."""
    user_id = op.actor.user_id
    if user_id is None:
        raise Forbidden("Only a user of the account can own a personal connection.")
    placement = (await budget_repo.placements(session, tenant, [user_id])).get(user_id)
    if placement is None:
        raise Forbidden("Only a user of the account can own a personal connection.")
    policy = await _policy_along(session, tenant, placement.chain(), registry)
    if not may_create_personal(policy):
        raise Forbidden(
            "Personal connections need the CREATE_CONNECTIONS feature on and the SELF_MANAGED_ALLOWED connection "
            "mode for you; ask an admin."
        )
    row = await _insert(session, tenant, box, new, user_id)
    after = snapshot(row)
    if row.secret_ciphertext is not None:
        after["secretChanged"] = True
    await record(session, tenant, op, AuditAction.CONNECTION_CREATED, target_type=TARGET, target_id=row.id, after=after)
    return row


async def _existing(session: AsyncSession, ident: uuid.UUID, field: str) -> Connection:
    row = await repo.connection(session, ident, lock=True)
    if row is None:
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, "No such connection in this account.")
    return row


def _ensure_may_change(op: Operation, row: Connection, field: str, *, deleting: bool = False) -> None:
    """Owners change their personal connections; admins their admin ones, and may delete (only
    delete) a member's personal one. Someone else's personal connection does not exist for a member."""
    admin = _is_admin(op)
    if row.owner_user_id is None:
        if not admin:
            raise Forbidden("Only admins manage the account's connections.")
        return
    if row.owner_user_id == op.actor.user_id:
        return
    if not admin:
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, "No such connection in this account.")
    if not deleting:
        raise Forbidden("A personal connection is changed only by its owner; admins may delete it.")


async def update_connection(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    box: SecretBox,
    ident: uuid.UUID,
    changes: ConnectionChanges,
) -> Connection:
    """Rename it, replace its config (validated against its type), set or clear its secret."""
    row = await _existing(session, ident, "id")
    _ensure_may_change(op, row, "id")
    if changes.secret is not None and changes.clear_secret:
        raise UserInputError.single(
            "clearSecret", UserErrorCode.INVALID, "Set a new `secret` or `clearSecret`, not both."
        )
    before = snapshot(row)
    if changes.name is not None:
        row.name = clean_name(changes.name, "name")
        await _unique(session, row.name, row.owner_user_id, row.id)
    if changes.config is not None:
        row.config = clean_config(ConnectionType(row.type), changes.config)
    now = datetime.now(UTC)
    secret_event: dict[str, Any] = {}
    if changes.secret is not None:
        row.secret_ciphertext = _encrypt(box, changes.secret)
        row.secret_updated_at = now
        secret_event["secretChanged"] = True
    elif changes.clear_secret:
        if row.secret_ciphertext is None:
            raise UserInputError.single("clearSecret", UserErrorCode.NOTHING_TO_CHANGE, "There is no secret to clear.")
        row.secret_ciphertext = None
        row.secret_updated_at = now
        secret_event["secretCleared"] = True
    after = snapshot(row)
    if after == before and not secret_event:
        raise UserInputError.single("id", UserErrorCode.NOTHING_TO_CHANGE, "Nothing to change.")
    row.updated_at = now
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.CONNECTION_UPDATED,
        target_type=TARGET,
        target_id=row.id,
        before=before,
        after={**after, **secret_event},
    )
    return row


async def delete_connection(session: AsyncSession, tenant: TenantId, op: Operation, ident: uuid.UUID) -> uuid.UUID:
    """Delete a connection and its assignments."""
    row = await _existing(session, ident, "id")
    _ensure_may_change(op, row, "id", deleting=True)
    found = (await repo.facts(session, [row.id]))[row.id]
    before = snapshot(row, found.assigned)
    await session.delete(row)
    await session.flush()
    await record(
        session, tenant, op, AuditAction.CONNECTION_DELETED, target_type=TARGET, target_id=ident, before=before
    )
    return ident


async def _admin_connection(session: AsyncSession, ident: uuid.UUID) -> Connection:
    row = await _existing(session, ident, "connectionId")
    if row.owner_user_id is not None:
        raise UserInputError.single(
            "connectionId",
            UserErrorCode.INVALID,
            "A personal connection belongs to its owner and cannot be assigned to scopes.",
        )
    return row


async def assign_connection(
    session: AsyncSession, tenant: TenantId, op: Operation, ident: uuid.UUID, scope: Scope
) -> tuple[Connection, Scope]:
    """Offer an admin connection to every user of `scope` (and below)."""
    row = await _admin_connection(session, ident)
    await ensure_scope_exists(session, tenant, scope, "scopeId")
    if not await repo.add_assignment(session, tenant.value, row.id, scope):
        raise UserInputError.single(
            "scopeId", UserErrorCode.NOTHING_TO_CHANGE, "The connection is already assigned to this scope."
        )
    await record(
        session,
        tenant,
        op,
        AuditAction.CONNECTION_ASSIGNED,
        target_type=TARGET,
        target_id=row.id,
        before={"name": row.name, "scope": None},
        after={"name": row.name, "scope": _scope_doc(scope)},
    )
    return row, scope


async def unassign_connection(
    session: AsyncSession, tenant: TenantId, op: Operation, ident: uuid.UUID, scope: Scope
) -> tuple[Connection, Scope]:
    row = await _admin_connection(session, ident)
    if not await repo.remove_assignment(session, row.id, scope):
        raise UserInputError.single(
            "scopeId", UserErrorCode.NOTHING_TO_CHANGE, "The connection is not assigned to this scope."
        )
    await record(
        session,
        tenant,
        op,
        AuditAction.CONNECTION_UNASSIGNED,
        target_type=TARGET,
        target_id=row.id,
        before={"name": row.name, "scope": _scope_doc(scope)},
        after={"name": row.name, "scope": None},
    )
    return row, scope


@dataclass
class RotationReport:
    accounts: int = 0
    rotated: int = 0
    current: int = 0


async def rotate_account_secrets(session: AsyncSession, box: SecretBox, batch: int = 500) -> tuple[int, int]:
    """Re-encrypt every connection secret of the session's account with the primary key:
    (re-encrypted, already current). Idempotent; the plaintext never leaves this function."""
    rotated = current = 0
    after: uuid.UUID | None = None
    while True:
        page = await repo.secrets_page(session, after, batch)
        for ident, ciphertext in page:
            if box.is_current(ciphertext):
                current += 1
            else:
                await repo.set_ciphertext(session, ident, box.rotate(ciphertext))
                rotated += 1
        if len(page) < batch:
            return rotated, current
        after = page[-1][0]


async def rotate_all_secrets(
    db: Database, box: SecretBox, progress: Callable[[int, int], None] | None = None
) -> RotationReport:
    """`cockpit rotate-secrets`: every account, one transaction each (a failure leaves the accounts
    done so far rotated; running it again finishes the job). `progress(done, total)` after each account."""
    report = RotationReport()
    box.encrypt("")  # fail before touching anything when the keys are missing or malformed
    async with db.platform() as session:
        account_ids = list((await session.scalars(sa.select(Account.id).order_by(Account.id))).all())
    for account_id in account_ids:
        async with db.tenant(mint_for_system(account_id)) as session:
            rotated, current = await rotate_account_secrets(session, box)
        report.accounts += 1
        report.rotated += rotated
        report.current += current
        if progress:
            progress(report.accounts, len(account_ids))
    return report
