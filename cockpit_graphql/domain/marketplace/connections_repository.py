"""All SQL about connections (inside the caller's tenant transaction: RLS + the explicit account
filter). `facts` and `usable_for` are one statement each, whatever the number of connections."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import Connection, ConnectionAssignment
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.marketplace.connection_access import ConnectionFacts


def _scopes(pairs: Iterable[Any]) -> frozenset[Scope]:
    return frozenset(Scope(ScopeLevel(level), uuid.UUID(str(ident))) for level, ident in pairs)


async def facts(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ConnectionFacts]:
    """Owner and assignments of each connection that exists (ONE statement); missing ids are absent."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    assigned = sa.func.coalesce(
        sa.func.jsonb_agg(
            sa.func.jsonb_build_array(ConnectionAssignment.scope_level, ConnectionAssignment.scope_id)
        ).filter(ConnectionAssignment.scope_id.is_not(None)),
        sa.text("'[]'::jsonb"),
    )
    stmt = (
        sa.select(Connection.id, Connection.owner_user_id, assigned)
        .outerjoin(
            ConnectionAssignment,
            sa.and_(
                ConnectionAssignment.account_id == Connection.account_id,
                ConnectionAssignment.connection_id == Connection.id,
            ),
        )
        .where(Connection.id.in_(wanted))
        .group_by(Connection.account_id, Connection.id, Connection.owner_user_id)
    )
    return {
        ident: ConnectionFacts(owner_user_id=owner, assigned=_scopes(pairs))
        for ident, owner, pairs in (await session.execute(stmt)).all()
    }


def _in_chain(chain: Sequence[Scope]) -> sa.ColumnElement[bool]:
    pairs = [sa.tuple_(sa.literal(s.level.value), sa.literal(s.id)) for s in chain]
    return sa.tuple_(ConnectionAssignment.scope_level, ConnectionAssignment.scope_id).in_(pairs)


async def usable_for(session: AsyncSession, chain: Sequence[Scope], *, personal: bool) -> list[Connection]:
    """The connections the user at the end of `chain` may use (connection_access.may_use): admin
    connections assigned to any scope of the chain, and, when `personal` (connection_access.may_use_personal),
    the user's own personal ones. ONE statement, ordered by name."""
    if not chain:
        return []
    assigned = (
        sa.select(ConnectionAssignment.connection_id)
        .where(
            ConnectionAssignment.account_id == Connection.account_id,
            ConnectionAssignment.connection_id == Connection.id,
            _in_chain(chain),
        )
        .exists()
    )
    user = chain[-1]
    mine = Connection.owner_user_id == user.id if personal and user.level is ScopeLevel.USER else sa.false()
    stmt = (
        sa.select(Connection)
        .where(sa.or_(mine, sa.and_(Connection.owner_user_id.is_(None), assigned)))
        .order_by(sa.func.lower(Connection.name), Connection.id)
    )
    return list((await session.scalars(stmt)).all())


async def connection(session: AsyncSession, ident: uuid.UUID, *, lock: bool = False) -> Connection | None:
    stmt = sa.select(Connection).where(Connection.id == ident)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt, execution_options={"populate_existing": True})).one_or_none()


async def connections(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Connection]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (await session.scalars(sa.select(Connection).where(Connection.id.in_(wanted)))).all()
    return {r.id: r for r in rows}


async def name_taken(
    session: AsyncSession, name: str, owner_user_id: uuid.UUID | None, except_id: uuid.UUID | None = None
) -> bool:
    """Admin connections have unique names in the account; personal ones, per owner (case-insensitive)."""
    owner = Connection.owner_user_id.is_(None) if owner_user_id is None else Connection.owner_user_id == owner_user_id
    stmt = sa.select(Connection.id).where(owner, sa.func.lower(Connection.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Connection.id != except_id)
    return (await session.scalar(stmt.limit(1))) is not None


async def add_assignment(session: AsyncSession, account_id: uuid.UUID, ident: uuid.UUID, scope: Scope) -> bool:
    """False when the connection is already assigned to that scope."""
    stmt = (
        pg_insert(ConnectionAssignment)
        .values(account_id=account_id, connection_id=ident, scope_level=scope.level.value, scope_id=scope.id)
        .on_conflict_do_nothing()
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def remove_assignment(session: AsyncSession, ident: uuid.UUID, scope: Scope) -> bool:
    stmt = sa.delete(ConnectionAssignment).where(
        ConnectionAssignment.connection_id == ident,
        ConnectionAssignment.scope_level == scope.level.value,
        ConnectionAssignment.scope_id == scope.id,
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def remove_scope(session: AsyncSession, level: str, scope_id: uuid.UUID) -> None:
    """A deleted organization, team or user takes the connections' assignments to it with it."""
    await session.execute(
        sa.delete(ConnectionAssignment).where(
            ConnectionAssignment.scope_level == level, ConnectionAssignment.scope_id == scope_id
        )
    )


async def secrets_page(session: AsyncSession, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
    """(id, ciphertext) of connections that have a secret, by id, for rotation in bounded batches."""
    stmt = (
        sa.select(Connection.id, Connection.secret_ciphertext)
        .where(Connection.secret_ciphertext.is_not(None))
        .order_by(Connection.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Connection.id > after)
    return [(i, c) for i, c in (await session.execute(stmt)).all()]


async def set_ciphertext(session: AsyncSession, ident: uuid.UUID, ciphertext: str) -> None:
    await session.execute(sa.update(Connection).where(Connection.id == ident).values(secret_ciphertext=ciphertext))


def personal_condition(personal: bool) -> sa.ColumnElement[bool]:
    """For list filters: personal connections (true) or admin ones (false)."""
    return Connection.owner_user_id.is_not(None) if personal else Connection.owner_user_id.is_(None)
