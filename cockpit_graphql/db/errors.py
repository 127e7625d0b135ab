"""What a database error says: its SQLSTATE, and whether retrying the whole transaction may succeed."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

RETRYABLE = frozenset({"40001", "40P01"})  # serialization failure, deadlock: nothing was written
QUERY_CANCELED = "57014"  # statement_timeout (db_statement_timeout_seconds) or a cancel: the transaction rolls back


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error. SQLAlchemy's asyncpg dialect raises a generic DBAPIError (never
    its DataError subclass) wrapping asyncpg's error, which carries the code as `sqlstate`."""
    if not isinstance(exc, DBAPIError):
        return None
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(code) if code else None


def is_retryable(exc: BaseException) -> bool:
    return sqlstate_of(exc) in RETRYABLE


def is_data_exception(exc: BaseException) -> bool:
    """SQLSTATE class 22 (a value the column cannot hold: numeric out of range, string too long, …). The
    asyncpg dialect raises it as a plain DBAPIError, never SQLAlchemy's DataError."""
    return (sqlstate_of(exc) or "").startswith("22")


def is_timeout(exc: BaseException) -> bool:
    """A statement canceled by the statement timeout (or an operator's pg_cancel_backend)."""
    return sqlstate_of(exc) == QUERY_CANCELED
