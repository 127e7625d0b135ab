"""Typed failures raised by the domain and mapped once to GraphQL (userErrors or extensions.code)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes of errors that are not the user's input: GraphQL errors with `extensions.code`."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    ACCOUNT_MISMATCH = "ACCOUNT_MISMATCH"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    BAD_REQUEST = "BAD_REQUEST"  # the HTTP request is not a GraphQL request we can run (HTTP 400)
    BAD_USER_INPUT = "BAD_USER_INPUT"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    TIMEOUT = "TIMEOUT"  # a statement ran past the database's statement timeout; nothing was written
    INTERNAL = "INTERNAL"


class CockpitError(Exception):
    """An expected failure that becomes a GraphQL error with `extensions.code`."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Unauthenticated(CockpitError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(CockpitError):
    code = ErrorCode.FORBIDDEN


class NotFound(CockpitError):
    code = ErrorCode.NOT_FOUND


class BadUserInput(CockpitError):
    code = ErrorCode.BAD_USER_INPUT


class UserErrorCode(StrEnum):
    """Stable codes of mutation `userErrors`: validation failures, conflicts, illegal transitions."""

    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    DEFAULT_PROTECTED = "DEFAULT_PROTECTED"
    NOT_EMPTY = "NOT_EMPTY"
    INVALID_TARGET = "INVALID_TARGET"
    LAST_ADMIN = "LAST_ADMIN"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    NOTHING_TO_CHANGE = "NOTHING_TO_CHANGE"


@dataclass(frozen=True)
class UserErrorItem:
    field: tuple[str, ...]
    code: UserErrorCode
    message: str


class UserInputError(Exception):
    """Raised by a service to abort its transaction and report userErrors; nothing is written."""

    def __init__(self, *errors: UserErrorItem) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)

    @classmethod
    def single(cls, field: str | tuple[str, ...], code: UserErrorCode, message: str) -> UserInputError:
        path = (field,) if isinstance(field, str) else field
        return cls(UserErrorItem(path, code, message))
