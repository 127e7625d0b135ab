"""Per-account SCIM bearer tokens: created (the value is shown once), listed without it, revoked.

A token is 32 random bytes (URL-safe, prefixed `cks_`); only its sha256 is stored, in the platform
routing table `scim_token_routes` (hash → account, token), which the SCIM endpoint reads before any
tenant is known, exactly like `identity_bindings`. The tenant row `scim_tokens` holds the name, a
display prefix, who created it, when it was last used and when it was revoked. Revoking deletes the
routing row in the same transaction, so a revoked token stops working at once.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Account, ScimToken, ScimTokenRoute
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from cockpit_graphql.domain.pagination import Ordering, SortDirection
from cockpit_graphql.domain.scim import repository as scim_repo
from cockpit_graphql.domain.validation import clean_name

VALUE_PREFIX = "cks_"
DISPLAY_PREFIX_LENGTH = 12
MAX_LIVE_TOKENS = 10
"""At most this many unrevoked tokens per account: enough to rotate, few enough to review."""
NEWEST_FIRST = Ordering("created_at", SortDirection.DESC)
LAST_USED_RESOLUTION = "1 minute"
"""`lastUsedAt` is written at most once a minute per token (a sync sends thousands of requests)."""


def new_token_value() -> str:
    return VALUE_PREFIX + secrets.token_urlsafe(32)


def token_hash(value: str) -> str:
    """sha256 of the token (hex): enough for a 256-bit random secret; no salt needed, nothing to guess."""
    return hashlib.sha256(value.encode()).hexdigest()


def snapshot(token: ScimToken) -> dict[str, Any]:
    return {"name": token.name, "tokenPrefix": token.token_prefix, "revokedAt": token.revoked_at}


async def create_token(session: AsyncSession, tenant: TenantId, op: Operation, name: str) -> tuple[ScimToken, str]:
    """Create a token; returns the row and the value, which is never stored nor shown again."""
    clean = clean_name(name)
    await scim_repo.lock_account(session, tenant.value)  # concurrent creates count one after the other
    live = await session.scalar(sa.select(sa.func.count()).select_from(ScimToken).where(ScimToken.revoked_at.is_(None)))
    if int(live or 0) >= MAX_LIVE_TOKENS:
        raise UserInputError.single(
            "name", UserErrorCode.INVALID, f"At most {MAX_LIVE_TOKENS} live SCIM tokens per account: revoke one first."
        )
    value = new_token_value()
    token = ScimToken(
        account_id=tenant.value,
        name=clean,
        token_prefix=value[:DISPLAY_PREFIX_LENGTH],
        created_by=op.actor.label,
    )
    session.add(token)
    await session.flush()
    session.add(ScimTokenRoute(token_hash=token_hash(value), account_id=tenant.value, token_id=token.id))
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.SCIM_TOKEN_CREATED,
        target_type="ScimToken",
        target_id=token.id,
        after=snapshot(token),
    )
    return token, value


async def revoke_token(session: AsyncSession, tenant: TenantId, op: Operation, token_id: uuid.UUID) -> ScimToken:
    token = (await session.scalars(sa.select(ScimToken).where(ScimToken.id == token_id).with_for_update())).first()
    if token is None:
        raise UserInputError.single("id", UserErrorCode.NOT_FOUND, "No SCIM token with this id in this account.")
    if token.revoked_at is not None:
        raise UserInputError.single("id", UserErrorCode.ILLEGAL_TRANSITION, "The SCIM token is revoked already.")
    before = snapshot(token)
    await session.execute(
        sa.delete(ScimTokenRoute).where(ScimTokenRoute.token_id == token.id, ScimTokenRoute.account_id == tenant.value)
    )
    token.revoked_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(token)
    await record(
        session,
        tenant,
        op,
        AuditAction.SCIM_TOKEN_REVOKED,
        target_type="ScimToken",
        target_id=token.id,
        before=before,
        after=snapshot(token),
    )
    return token


async def list_tokens(session: AsyncSession) -> list[ScimToken]:
    """The account's tokens, newest first (ties by id, descending), revoked ones included."""
    stmt = sa.select(ScimToken).order_by(ScimToken.created_at.desc(), ScimToken.id.desc())
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class Route:
    account_id: uuid.UUID
    token_id: uuid.UUID
    account_active: bool


async def route_of(session: AsyncSession, value: str) -> Route | None:
    """Platform lookup (no tenant yet): the account and token of a presented token, or None."""
    row = (
        await session.execute(
            sa.select(ScimTokenRoute.account_id, ScimTokenRoute.token_id, Account.status)
            .join(Account, Account.id == ScimTokenRoute.account_id)
            .where(ScimTokenRoute.token_hash == token_hash(value))
        )
    ).first()
    return Route(row[0], row[1], row[2] == "ACTIVE") if row else None


class Liveness(enum.Enum):
    LIVE = "LIVE"
    REVOKED = "REVOKED"
    """Unknown or revoked: 401."""
    SUSPENDED = "SUSPENDED"
    """The account is suspended: 403."""


async def confirm_live(session: AsyncSession, token_id: uuid.UUID) -> Liveness:
    """In the tenant transaction of a SCIM request: the token still exists unrevoked and its account is
    active (both checked on every request: a route the process remembers cannot outlive either), and
    note its use."""
    status = await session.scalar(
        sa.select(Account.status)
        .select_from(ScimToken)
        .join(Account, Account.id == ScimToken.account_id)
        .where(ScimToken.id == token_id, ScimToken.revoked_at.is_(None))
    )
    if status is None:
        return Liveness.REVOKED
    if status != "ACTIVE":
        return Liveness.SUSPENDED
    await session.execute(
        sa.update(ScimToken)
        .where(
            ScimToken.id == token_id,
            sa.or_(
                ScimToken.last_used_at.is_(None),
                ScimToken.last_used_at < sa.func.now() - sa.text(f"interval '{LAST_USED_RESOLUTION}'"),
            ),
        )
        .values(last_used_at=sa.func.now())
    )
    return Liveness.LIVE
