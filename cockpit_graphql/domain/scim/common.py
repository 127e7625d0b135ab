"""What every SCIM operation carries (tenant, actor, base URL, naming rule) and the shared helpers:
locations, versions (weak ETags), If-Match checks, and directory userErrors as SCIM errors."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    SCIMException,
    UniquenessException,
)

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError


@dataclass(frozen=True)
class ScimCall:
    tenant: TenantId
    operation: Operation
    base_url: str
    """The service root as the client reached it, e.g. https://api.example/scim/v2 (no trailing slash)."""
    group_separator: str = " / "

    def location(self, endpoint: str, resource_id: uuid.UUID | str) -> str:
        return f"{self.base_url}/{endpoint}/{resource_id}"


def etag(version: int) -> str:
    return f'W/"{version}"'


def check_version(if_match: str | None, version: int) -> None:
    """RFC 7644 §3.14: a write with If-Match must name the current version (or `*`), else 412."""
    if if_match is None:
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    if "*" in wanted or etag(version) in wanted or f'"{version}"' in wanted:
        return
    raise PreconditionFailedException(
        detail=f"The resource changed: its version is {etag(version)}, not {if_match}. Read it again."
    )


def iso(value: datetime) -> str:
    return value.isoformat()


def not_found(endpoint: str, resource_id: str) -> NotFoundException:
    return NotFoundException(detail=f"No {endpoint[:-1]} with id {resource_id!r} here.")


@contextlib.contextmanager
def directory_errors() -> Iterator[None]:
    """The directory services speak userErrors; SCIM clients understand scimType."""
    try:
        yield
    except UserInputError as exc:
        item = exc.errors[0]
        message = "; ".join(e.message for e in exc.errors)
        error: SCIMException
        if item.code is UserErrorCode.DUPLICATE:
            error = UniquenessException(detail=message)
        elif item.code is UserErrorCode.NOT_FOUND:
            error = NotFoundException(detail=message)
        else:
            error = InvalidValueException(detail=message)
        raise error from exc
