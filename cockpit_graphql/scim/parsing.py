"""Reading SCIM requests (JSON bodies, query parameters) and shaping resource and list responses,
all through scim2-models."""

from __future__ import annotations

from typing import Any

import orjson
from scim2_models import (
    Context,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    ResponseParameters,
    SearchRequest,
)
from starlette.requests import Request
from starlette.responses import Response

from cockpit_graphql.domain.scim import listing
from cockpit_graphql.domain.scim.provider import PROVIDER
from cockpit_graphql.scim.responses import scim_response

SEARCH_KEYS = ("filter", "startIndex", "count", "attributes", "excludedAttributes", "sortBy", "sortOrder")
RESPONSE_KEYS = ("attributes", "excludedAttributes")


NUL = "\x00"


def reject_nul(value: Any) -> Any:
    """Refuse any string (value or key) holding U+0000, which PostgreSQL cannot store in text or jsonb:
    400 invalidValue instead of a database error. Walks the parsed JSON iteratively (no recursion, so
    no depth limit to hit); returns the value unchanged."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                raise InvalidValueException(detail="A value contains the character U+0000, which is not allowed.")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


async def body(request: Request) -> Any:
    raw = await request.body()
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise InvalidSyntaxException(detail="The body is not valid JSON.") from exc
    return reject_nul(parsed)


def _query(request: Request, keys: tuple[str, ...]) -> dict[str, str]:
    return reject_nul({k: request.query_params[k] for k in keys if k in request.query_params})


async def object_body(request: Request) -> dict[str, Any]:
    parsed = await body(request)
    if not isinstance(parsed, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object.")
    return parsed


def response_parameters(request: Request, model: Any) -> ResponseParameters[Any]:
    given = _query(request, RESPONSE_KEYS)
    return ResponseParameters[model].model_validate(given, scim_provider=PROVIDER)  # type: ignore[no-any-return]


def resource_response(
    resource: Any, ctx: Context, params: ResponseParameters[Any] | None, status: int = 200
) -> Response:
    payload = resource.model_dump(scim_ctx=ctx, response_parameters=params, scim_provider=PROVIDER)
    meta = resource.meta
    headers = {}
    if meta is not None and meta.version:
        headers["ETag"] = meta.version
    if status == 201 and meta is not None and meta.location:
        headers["Location"] = meta.location
    return scim_response(payload, status, headers)


def list_response(model: Any, listed: listing.Listed, search: SearchRequest[Any]) -> Response:
    message = ListResponse[model](  # type: ignore[valid-type]
        total_results=listed.total,
        start_index=listed.start_index,
        items_per_page=len(listed.resources),
        resources=listed.resources or None,
    )
    return scim_response(
        message.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search, scim_provider=PROVIDER)
    )


def search_from_query(request: Request, model: Any) -> SearchRequest[Any]:
    given = _query(request, SEARCH_KEYS)
    return SearchRequest[model].model_validate(  # type: ignore[no-any-return]
        given, scim_ctx=Context.SEARCH_REQUEST, scim_provider=PROVIDER
    )


async def search_from_body(request: Request, model: Any) -> SearchRequest[Any]:
    return SearchRequest[model].model_validate(  # type: ignore[no-any-return]
        await object_body(request), scim_ctx=Context.SEARCH_REQUEST, scim_provider=PROVIDER
    )
