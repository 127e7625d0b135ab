"""Directory mutations: parse input -> domain service in one tenant transaction -> payload."""

from __future__ import annotations

from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.directory import service
from cockpit_graphql.domain.errors import UserInputError
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import (
    default_account,
    parse_optional_ref,
    parse_ref,
    run_mutation,
    user_errors,
)
from cockpit_graphql.types.directory import Organization, Team, User
from cockpit_graphql.types.directory_mutations import (
    CreateOrganizationInput,
    CreateTeamInput,
    CreateUserInput,
    DeleteOrganizationInput,
    DeletePayload,
    DeleteTeamInput,
    DeleteUserInput,
    MoveTeamInput,
    MoveUserInput,
    OrganizationPayload,
    TeamPayload,
    UpdateOrganizationInput,
    UpdateTeamInput,
    UpdateUserInput,
    UserPayload,
)
from cockpit_graphql.types.ids import encode_id

MANAGE = Permission.MANAGE_DIRECTORY


def _org_payload(result: object) -> OrganizationPayload:
    if isinstance(result, list):
        return OrganizationPayload(user_errors=result)
    return OrganizationPayload(organization=Organization(row=result))


def _team_payload(result: object) -> TeamPayload:
    if isinstance(result, list):
        return TeamPayload(user_errors=result)
    return TeamPayload(team=Team(row=result))


def _user_payload(result: object) -> UserPayload:
    if isinstance(result, list):
        return UserPayload(user_errors=result)
    return UserPayload(user=User(row=result))


def _delete_payload(result: object, type_name: str, account_id: object) -> DeletePayload:
    if isinstance(result, list):
        return DeletePayload(user_errors=result)
    return DeletePayload(deleted_id=strawberry.ID(encode_id(type_name, account_id, result)))  # type: ignore[arg-type]


@strawberry.type
class DirectoryMutations:
    @strawberry.mutation(description="Create an organization in an account. Audited as directory.organization.created.")
    async def create_organization(
        self, info: Info, input: Annotated[CreateOrganizationInput, strawberry.argument(description="What to change.")]
    ) -> OrganizationPayload:
        try:
            account = parse_optional_ref(input.account_id, "Account", "accountId")
        except UserInputError as exc:
            return OrganizationPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=default_account(info, account),
            account_field="accountId",
            work=lambda s, t, op: service.create_organization(s, t, op, input.name),
        )
        return _org_payload(result)

    @strawberry.mutation(description="Rename an organization. Audited as directory.organization.updated.")
    async def update_organization(
        self, info: Info, input: Annotated[UpdateOrganizationInput, strawberry.argument(description="What to change.")]
    ) -> OrganizationPayload:
        try:
            ref = parse_ref(input.id, "Organization", "id")
        except UserInputError as exc:
            return OrganizationPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.update_organization(s, t, op, ref.id, input.name),
        )
        return _org_payload(result)

    @strawberry.mutation(description="Delete an organization (empty, or with moveMembersTo). Audited.")
    async def delete_organization(
        self, info: Info, input: Annotated[DeleteOrganizationInput, strawberry.argument(description="What to change.")]
    ) -> DeletePayload:
        try:
            ref = parse_ref(input.id, "Organization", "id")
            target = parse_optional_ref(input.move_members_to, "Organization", "moveMembersTo")
        except UserInputError as exc:
            return DeletePayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.delete_organization(s, t, op, ref.id, target.id if target else None),
        )
        return _delete_payload(result, "Organization", ref.account_id)

    @strawberry.mutation(description="Create a team in an organization. Audited as directory.team.created.")
    async def create_team(
        self, info: Info, input: Annotated[CreateTeamInput, strawberry.argument(description="What to change.")]
    ) -> TeamPayload:
        try:
            org = parse_ref(input.organization_id, "Organization", "organizationId")
        except UserInputError as exc:
            return TeamPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=org.account_id,
            account_field="organizationId",
            work=lambda s, t, op: service.create_team(s, t, op, org.id, input.name),
        )
        return _team_payload(result)

    @strawberry.mutation(description="Rename a team. Audited as directory.team.updated.")
    async def update_team(
        self, info: Info, input: Annotated[UpdateTeamInput, strawberry.argument(description="What to change.")]
    ) -> TeamPayload:
        try:
            ref = parse_ref(input.id, "Team", "id")
        except UserInputError as exc:
            return TeamPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.update_team(s, t, op, ref.id, input.name),
        )
        return _team_payload(result)

    @strawberry.mutation(description="Move a team to another organization. Audited as directory.team.moved.")
    async def move_team(
        self, info: Info, input: Annotated[MoveTeamInput, strawberry.argument(description="What to change.")]
    ) -> TeamPayload:
        try:
            ref = parse_ref(input.id, "Team", "id")
            org = parse_ref(input.organization_id, "Organization", "organizationId")
        except UserInputError as exc:
            return TeamPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.move_team(s, t, op, ref.id, org.id),
        )
        return _team_payload(result)

    @strawberry.mutation(description="Delete a team (empty, or with moveMembersTo). Audited as directory.team.deleted.")
    async def delete_team(
        self, info: Info, input: Annotated[DeleteTeamInput, strawberry.argument(description="What to change.")]
    ) -> DeletePayload:
        try:
            ref = parse_ref(input.id, "Team", "id")
            target = parse_optional_ref(input.move_members_to, "Team", "moveMembersTo")
        except UserInputError as exc:
            return DeletePayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.delete_team(s, t, op, ref.id, target.id if target else None),
        )
        return _delete_payload(result, "Team", ref.account_id)

    @strawberry.mutation(description="Create a user. Audited as directory.user.created.")
    async def create_user(
        self, info: Info, input: Annotated[CreateUserInput, strawberry.argument(description="What to change.")]
    ) -> UserPayload:
        try:
            team = parse_optional_ref(input.home_team_id, "Team", "homeTeamId")
            account = parse_optional_ref(input.account_id, "Account", "accountId")
        except UserInputError as exc:
            return UserPayload(user_errors=user_errors(exc))
        account_id = team.account_id if team else default_account(info, account)
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=account_id,
            account_field="homeTeamId" if team else "accountId",
            work=lambda s, t, op: service.create_user(
                s,
                t,
                op,
                email=input.email,
                display_name=input.display_name,
                role=input.role,
                home_team_id=team.id if team else None,
                external_id=input.external_id,
            ),
        )
        return _user_payload(result)

    @strawberry.mutation(description="Change a user's email, name, role or external id. Audited.")
    async def update_user(
        self, info: Info, input: Annotated[UpdateUserInput, strawberry.argument(description="What to change.")]
    ) -> UserPayload:
        try:
            ref = parse_ref(input.id, "User", "id")
        except UserInputError as exc:
            return UserPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.update_user(
                s,
                t,
                op,
                ref.id,
                email=input.email,
                display_name=input.display_name,
                role=input.role,
                external_id=input.external_id,
            ),
        )
        return _user_payload(result)

    @strawberry.mutation(description="Move a user to another home team. Audited as directory.user.moved.")
    async def move_user(
        self, info: Info, input: Annotated[MoveUserInput, strawberry.argument(description="What to change.")]
    ) -> UserPayload:
        try:
            ref = parse_ref(input.id, "User", "id")
            team = parse_ref(input.team_id, "Team", "teamId")
        except UserInputError as exc:
            return UserPayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.move_user(s, t, op, ref.id, team.id),
        )
        return _user_payload(result)

    @strawberry.mutation(description="Delete a user and their identity links. Audited as directory.user.deleted.")
    async def delete_user(
        self, info: Info, input: Annotated[DeleteUserInput, strawberry.argument(description="What to change.")]
    ) -> DeletePayload:
        try:
            ref = parse_ref(input.id, "User", "id")
        except UserInputError as exc:
            return DeletePayload(user_errors=user_errors(exc))
        result = await run_mutation(
            info,
            permission=MANAGE,
            account_id=ref.account_id,
            account_field="id",
            work=lambda s, t, op: service.delete_user(s, t, op, ref.id),
        )
        return _delete_payload(result, "User", ref.account_id)
