"""SCIM responses: `application/scim+json` bodies and RFC 7644 §3.12 error documents."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError
from scim2_models import Error, SCIMException
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from cockpit_graphql.db.errors import QUERY_CANCELED, RETRYABLE, sqlstate_of

MEDIA_TYPE = "application/scim+json"
BAD_VALUE_CLASS = "22"  # data exception: invalid text (U+0000), numeric out of range, string too long…
PROGRAM_LIMIT = "54000"  # program limit exceeded (e.g. an index row over the btree maximum)
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
    sqlstate = sqlstate_of(exc)
    if sqlstate is not None and (sqlstate.startswith(BAD_VALUE_CLASS) or sqlstate == PROGRAM_LIMIT):
        # A safety net: the input checks should refuse such values before any SQL runs.
        log.warning("SCIM value refused by the database: %s", sqlstate, extra={"request_id": request_id})
        return error_response(400, "A value is invalid or out of the allowed range.", "invalidValue")
    if sqlstate in RETRYABLE:
        log.warning("SCIM request hit %s; the client should retry", sqlstate, extra={"request_id": request_id})
        return error_response(503, "A concurrent change got in the way: retry the request.")
    if sqlstate == QUERY_CANCELED:
        log.warning("SCIM request hit the statement timeout", extra={"request_id": request_id})
        return error_response(503, "The database took too long; nothing was changed: retry the request later.")
    log.exception("SCIM request failed", extra={"request_id": request_id})
    return error_response(500, f"Internal error. Quote request id {request_id}.")
