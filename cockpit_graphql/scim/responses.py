"""SCIM responses: `application/scim+json` bodies and RFC 7644 §3.12 error documents."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.responses import Response

MEDIA_TYPE = "application/scim+json"
RETRYABLE = frozenset({"40001", "40P01"})  # serialization failure, deadlock
log = logging.getLogger("cockpit.scim")


def scim_response(body: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = orjson.dumps(body) if body is not None else b""
    return Response(content, status_code=status, headers=headers, media_type=MEDIA_TYPE if body is not None else None)


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return scim_response(error.model_dump(), status)


def response_for(exc: Exception, request_id: str) -> Response:
    """Every failure as a SCIM error document: input problems are 4xx with a scimType, never a 500."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        return scim_response(error.model_dump(), int(error.status or 400))
    if isinstance(exc, ValidationError):
        errors = Error.from_validation_errors(exc)
        first = errors[0] if errors else Error(status=400, scim_type="invalidSyntax", detail=str(exc))
        return scim_response(first.model_dump(), int(first.status or 400))
    if isinstance(exc, IntegrityError):  # a concurrent write won a uniqueness race
        log.warning("SCIM write refused by a constraint: %s", exc.orig, extra={"request_id": request_id})
        return error_response(409, "The change conflicts with existing data (changed concurrently?).", "uniqueness")
    if isinstance(exc, DataError):
        return error_response(400, "A value is out of the allowed range.", "invalidValue")
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRYABLE:
        log.warning("SCIM request hit %s; the client should retry", exc.orig, extra={"request_id": request_id})
        return error_response(503, "A concurrent change got in the way: retry the request.")
    log.exception("SCIM request failed", extra={"request_id": request_id})
    return error_response(500, f"Internal error. Quote request id {request_id}.")
