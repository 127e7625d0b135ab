"""The model catalog: list it (account admins and super admins), change it (super admins)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.models import catalog
from cockpit_graphql.domain.pagination import ROOT, Ordering, SortDirection, count_children, page_children
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import PlatformWork, mutate_platform, parse_ref
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.models import (
    CreateModelInput,
    DeleteModelInput,
    DeleteModelPayload,
    Model,
    ModelFilter,
    ModelPayload,
    UpdateModelInput,
    model_gid,
)
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection

MANAGE = Permission.MANAGE_MODEL_CATALOG
WHAT = "What to change."
ORDERING = Ordering("display_name", SortDirection.ASC)


def _model(row: CatalogModel) -> ModelPayload:
    return ModelPayload(model=Model.from_row(row))


@strawberry.type
class ModelQueries:
    @strawberry.field(description="The platform model catalog, by display name (account admins and super admins).")
    async def models(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[ModelFilter | None, strawberry.argument(description="Narrow the list.")] = None,
    ) -> Connection[Model]:
        info.context.require(Permission.READ_MODEL_CATALOG)
        request = page_request(info, first, after, last, before)
        where = filter.conditions() if filter else []
        async with info.context.db.platform() as session:
            page = (await page_children(session, CatalogModel, None, [], request, ORDERING, where))[ROOT]

        async def count() -> int:
            async with info.context.db.platform() as session:
                return (await count_children(session, CatalogModel, None, [], where))[ROOT]

        return build_connection(page, ORDERING, Model.from_row, count)


@strawberry.type
class ModelMutations:
    @strawberry.mutation(description="Add a model to the platform catalog (super admins). Audited.")
    async def create_model(
        self, info: Info, input: Annotated[CreateModelInput, strawberry.argument(description=WHAT)]
    ) -> ModelPayload:
        def plan() -> PlatformWork[CatalogModel]:
            changes = input.changes()
            return lambda s, op: catalog.create_model(s, op, changes)

        return await mutate_platform(
            info, ModelPayload, permission=MANAGE, plan=plan, shape=_model, conflict_field="providerModelId"
        )

    @strawberry.mutation(
        description="Change a catalog model: names, capabilities, prices, enabled, deprecated (super admins). Audited."
    )
    async def update_model(
        self, info: Info, input: Annotated[UpdateModelInput, strawberry.argument(description=WHAT)]
    ) -> ModelPayload:
        def plan() -> PlatformWork[CatalogModel]:
            ref = parse_ref(input.id, "Model", "id")
            changes = input.changes()
            return lambda s, op: catalog.update_model(s, op, ref.id, changes)

        return await mutate_platform(
            info, ModelPayload, permission=MANAGE, plan=plan, shape=_model, conflict_field="providerModelId"
        )

    @strawberry.mutation(
        description="Remove a model from the catalog (super admins). Entitlements and policies that name it stop "
        "matching it; prefer disabling. Audited."
    )
    async def delete_model(
        self, info: Info, input: Annotated[DeleteModelInput, strawberry.argument(description=WHAT)]
    ) -> DeleteModelPayload:
        def plan() -> PlatformWork[object]:
            ref = parse_ref(input.id, "Model", "id")
            return lambda s, op: catalog.delete_model(s, op, ref.id)

        return await mutate_platform(
            info,
            DeleteModelPayload,
            permission=MANAGE,
            plan=plan,
            shape=lambda model_id: DeleteModelPayload(deleted_model_id=strawberry.ID(model_gid(model_id))),
        )
