"""The /scim/v2 routes: discovery, Users and Groups. Each request authenticates its SCIM token, then
runs in exactly one tenant transaction of the token's account (its changes and their audit events land
together or not at all). Parsing, patching and filters are scim2-models'; the rules are the domain's."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
    ListResponse,
    NotImplementedException,
    PatchOp,
    ResourceType,
    Schema,
    SearchRequest,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from cockpit_graphql.auth.scim import RouteCache, ScimAuthError, authenticate_scim
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.actor import Operation, scim_actor
from cockpit_graphql.domain.scim import groups, listing, users
from cockpit_graphql.domain.scim.common import ScimCall, not_found
from cockpit_graphql.domain.scim.provider import CONFIG, PROVIDER, GroupModel, UserModel, normalize_user_patch
from cockpit_graphql.domain.scim.repository import lock_account
from cockpit_graphql.domain.scim.tokens import Liveness, confirm_live
from cockpit_graphql.scim import parsing
from cockpit_graphql.scim.responses import error_response, response_for, scim_response

PREFIX = "/scim/v2"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Work = Callable[[AsyncSession, ScimCall, Request], Awaitable[Response]]


@dataclass(frozen=True)
class Kind:
    """One resource endpoint and the domain functions behind it."""

    endpoint: str
    model: Any
    get: Callable[..., Awaitable[Any]]
    create: Callable[..., Awaitable[Any]]
    replace: Callable[..., Awaitable[Any]]
    patch: Callable[..., Awaitable[Any]]
    delete: Callable[..., Awaitable[None]]
    list: Callable[..., Awaitable[listing.Listed]]


GROUP_URN_PREFIX = f"{GroupModel.__schema__}:".lower()


def _group_attribute(path: Any) -> str:
    """An attribute path as named without its schema (`urn:…:core:2.0:Group:members` is `members`)."""
    return str(path).lower().removeprefix(GROUP_URN_PREFIX)


def _list_groups(session: AsyncSession, call: ScimCall, search: SearchRequest[Any]) -> Awaitable[listing.Listed]:
    excluded = {_group_attribute(p) for p in search.excluded_attributes or []}
    chosen = {_group_attribute(p) for p in search.attributes or []}
    with_members = "members" not in excluded and (not chosen or any(a.startswith("members") for a in chosen))
    return listing.list_groups(session, call, search, with_members=with_members)


USERS = Kind(
    "Users",
    UserModel,
    users.get_user,
    users.create_user,
    users.replace_user,
    users.patch_user,
    users.delete_user,
    listing.list_users,
)
GROUPS = Kind(
    "Groups",
    GroupModel,
    groups.get_group,
    groups.create_group,
    groups.replace_group,
    groups.patch_group,
    groups.delete_group,
    _list_groups,
)


class ScimService:
    """The handlers, bound to the app's database holder and settings."""

    def __init__(self, db: Callable[[], Database], group_separator: str) -> None:
        self.db = db
        self.group_separator = group_separator
        self.routes = RouteCache()

    async def run(self, request: Request, work: Work) -> Response:
        request_id = request.scope.get("state", {}).get("request_id") or str(uuid.uuid4())
        db = self.db()
        try:
            caller = await authenticate_scim(db, request.headers.get("authorization"), self.routes)
        except ScimAuthError as exc:
            return error_response(exc.status, exc.detail)
        except DBAPIError as exc:  # the statement timeout, say: answered like the same error after sign-in
            return response_for(exc, request_id)
        call = ScimCall(
            tenant=caller.tenant,
            operation=Operation(scim_actor(caller.token_id), request_id),
            base_url=str(request.base_url).rstrip("/") + PREFIX,
            group_separator=self.group_separator,
        )
        writes = request.method in WRITE_METHODS and not request.url.path.endswith(".search")
        try:
            async with db.tenant(caller.tenant) as session:
                if writes:
                    await lock_account(session, caller.tenant.value)
                liveness = await confirm_live(session, caller.token_id)
                if liveness is Liveness.REVOKED:
                    return error_response(401, "Unknown or revoked SCIM token.")
                if liveness is Liveness.SUSPENDED:
                    return error_response(403, "The account is suspended.")
                return await work(session, call, request)
        except Exception as exc:  # every failure is a SCIM error document
            return response_for(exc, request_id)

    # --- discovery ------------------------------------------------------------------------

    async def service_provider_config(self, request: Request) -> Response:
        async def work(_s: AsyncSession, call: ScimCall, r: Request) -> Response:
            if r.method != "GET":
                return _read_only(r)
            config = CONFIG.model_copy(update={"meta": _meta(call, "ServiceProviderConfig", "ServiceProviderConfig")})
            return scim_response(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))

        return await self.run(request, work)

    async def resource_types(self, request: Request) -> Response:
        return await self._discovery(request, ResourceType, list(PROVIDER.resource_types), "ResourceTypes")

    async def schemas(self, request: Request) -> Response:
        return await self._discovery(request, Schema, list(PROVIDER.schemas), "Schemas")

    async def _discovery(self, request: Request, model: Any, items: list[Any], endpoint: str) -> Response:
        wanted = request.path_params.get("id")

        async def work(_s: AsyncSession, call: ScimCall, r: Request) -> Response:
            if r.method != "GET":
                return _read_only(r)
            kind = "ResourceType" if endpoint == "ResourceTypes" else "Schema"
            located = [i.model_copy(update={"meta": _meta(call, kind, f"{endpoint}/{i.id}")}) for i in items]
            if wanted is not None:
                found = next((i for i in located if str(i.id) == wanted), None)
                if found is None:
                    raise not_found(endpoint, wanted)
                return scim_response(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
            message = ListResponse[model](  # type: ignore[valid-type]
                total_results=len(located), start_index=1, items_per_page=len(located), resources=located
            )
            return scim_response(message.model_dump(scim_ctx=Context.SEARCH_RESPONSE))

        return await self.run(request, work)

    async def root_search(self, request: Request) -> Response:
        async def work(_s: AsyncSession, _c: ScimCall, _r: Request) -> Response:
            raise NotImplementedException(detail="Search one resource type: POST /Users/.search or /Groups/.search.")

        return await self.run(request, work)

    async def unknown(self, request: Request) -> Response:
        async def work(_s: AsyncSession, _c: ScimCall, r: Request) -> Response:
            return error_response(404, f"No SCIM endpoint at {r.url.path}.")

        return await self.run(request, work)

    # --- resources ------------------------------------------------------------------------

    def collection(self, kind: Kind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            async def work(session: AsyncSession, call: ScimCall, r: Request) -> Response:
                if r.method not in ("GET", "POST"):
                    return error_response(405, f"{r.method} is not allowed on {r.url.path}.")
                if r.method == "POST":
                    body = await parsing.object_body(r)
                    resource = kind.model.model_validate(
                        body, scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_provider=PROVIDER
                    )
                    created = await kind.create(session, call, resource)
                    return parsing.resource_response(
                        created, Context.RESOURCE_CREATION_RESPONSE, parsing.response_parameters(r, kind.model), 201
                    )
                search = parsing.search_from_query(r, kind.model)
                return parsing.list_response(kind.model, await kind.list(session, call, search), search)

            return await self.run(request, work)

        return endpoint

    def search(self, kind: Kind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            async def work(session: AsyncSession, call: ScimCall, r: Request) -> Response:
                if r.method != "POST":
                    return error_response(405, f"{r.method} is not allowed on {r.url.path}: POST a SearchRequest.")
                search = await parsing.search_from_body(r, kind.model)
                return parsing.list_response(kind.model, await kind.list(session, call, search), search)

            return await self.run(request, work)

        return endpoint

    def item(self, kind: Kind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            resource_id = request.path_params["id"]

            async def work(session: AsyncSession, call: ScimCall, r: Request) -> Response:
                if_match = r.headers.get("if-match")
                if r.method == "GET":
                    params = parsing.response_parameters(r, kind.model)
                    found = await kind.get(session, call, resource_id)
                    return parsing.resource_response(found, Context.RESOURCE_QUERY_RESPONSE, params)
                if r.method == "DELETE":
                    await kind.delete(session, call, resource_id, if_match)
                    return scim_response(None, 204)
                body = await parsing.object_body(r)
                params = parsing.response_parameters(r, kind.model)
                if r.method == "PUT":
                    resource = kind.model.model_validate(
                        body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_provider=PROVIDER
                    )
                    replaced = await kind.replace(session, call, resource_id, resource, if_match)
                    return parsing.resource_response(replaced, Context.RESOURCE_REPLACEMENT_RESPONSE, params)
                if kind is USERS:
                    body = normalize_user_patch(body)
                patch = PatchOp[kind.model].model_validate(  # type: ignore[name-defined]
                    body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_provider=PROVIDER
                )
                patched = await kind.patch(session, call, resource_id, patch, if_match)
                return parsing.resource_response(patched, Context.RESOURCE_PATCH_RESPONSE, params)

            return await self.run(request, work)

        return endpoint


def _read_only(request: Request) -> Response:
    return error_response(405, f"{request.method} is not allowed on {request.url.path}: it is read-only.")


def _meta(call: ScimCall, resource_type: str, path: str) -> Any:
    from scim2_models import Meta

    return Meta(resource_type=resource_type, location=f"{call.base_url}/{path}")


def scim_mount(db: Callable[[], Database], group_separator: str) -> BaseRoute:
    """The /scim/v2 sub-application, for create_app's routes."""
    service = ScimService(db, group_separator)
    routes: list[BaseRoute] = [
        Route("/ServiceProviderConfig", service.service_provider_config, methods=ALL_METHODS),
        Route("/ResourceTypes", service.resource_types, methods=ALL_METHODS),
        Route("/ResourceTypes/{id}", service.resource_types, methods=ALL_METHODS),
        Route("/Schemas", service.schemas, methods=ALL_METHODS),
        Route("/Schemas/{id}", service.schemas, methods=ALL_METHODS),
        Route("/.search", service.root_search, methods=ALL_METHODS),
    ]
    for kind in (USERS, GROUPS):
        routes += [
            Route(f"/{kind.endpoint}", service.collection(kind), methods=ALL_METHODS),
            Route(f"/{kind.endpoint}/.search", service.search(kind), methods=ALL_METHODS),
            Route(f"/{kind.endpoint}/{{id}}", service.item(kind), methods=["GET", "PUT", "PATCH", "DELETE"]),
        ]
    routes.append(
        Route("/{rest:path}", service.unknown, methods=ALL_METHODS),
    )
    return Mount(PREFIX, routes=routes)
