"""Directory mutations: parse input -> domain service in one tenant transaction -> payload."""

from __future__ import annotations

from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.directory import service
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import Plan, default_account, mutate, parse_optional_ref, parse_ref
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

MANAGE = Permission.MANAGE_DIRECTORY
WHAT = "What to change."


def _org(row: object) -> OrganizationPayload:
    return OrganizationPayload(organization=Organization.from_row(row))  # type: ignore[arg-type]


def _team(row: object) -> TeamPayload:
    return TeamPayload(team=Team.from_row(row))  # type: ignore[arg-type]


def _user(row: object) -> UserPayload:
    return UserPayload(user=User.from_row(row))  # type: ignore[arg-type]


def _deleted(gid: str) -> DeletePayload:
    return DeletePayload(deleted_id=strawberry.ID(gid))


@strawberry.type
class DirectoryMutations:
    @strawberry.mutation(description="Create an organization in an account. Audited as directory.organization.created.")
    async def create_organization(
        self, info: Info, input: Annotated[CreateOrganizationInput, strawberry.argument(description=WHAT)]
    ) -> OrganizationPayload:
        def plan() -> Plan:
            account = parse_optional_ref(input.account_id, "Account", "accountId")
            return Plan(
                default_account(info, account),
                "accountId",
                lambda s, t, op: service.create_organization(s, t, op, input.name),
            )

        return await mutate(info, OrganizationPayload, permission=MANAGE, plan=plan, shape=_org)

    @strawberry.mutation(description="Rename an organization. Audited as directory.organization.updated.")
    async def update_organization(
        self, info: Info, input: Annotated[UpdateOrganizationInput, strawberry.argument(description=WHAT)]
    ) -> OrganizationPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Organization", "id")
            return Plan(
                ref.account_id, "id", lambda s, t, op: service.update_organization(s, t, op, ref.id, input.name)
            )

        return await mutate(info, OrganizationPayload, permission=MANAGE, plan=plan, shape=_org)

    @strawberry.mutation(description="Delete an organization (empty, or with moveMembersTo). Audited.")
    async def delete_organization(
        self, info: Info, input: Annotated[DeleteOrganizationInput, strawberry.argument(description=WHAT)]
    ) -> DeletePayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Organization", "id")
            target = parse_optional_ref(input.move_members_to, "Organization", "moveMembersTo")
            org_id, to = ref.id, target.id if target else None
            return Plan(ref.account_id, "id", lambda s, t, op: service.delete_organization(s, t, op, org_id, to))

        return await mutate(info, DeletePayload, permission=MANAGE, plan=plan, shape=lambda _: _deleted(input.id))

    @strawberry.mutation(description="Create a team in an organization. Audited as directory.team.created.")
    async def create_team(
        self, info: Info, input: Annotated[CreateTeamInput, strawberry.argument(description=WHAT)]
    ) -> TeamPayload:
        def plan() -> Plan:
            org = parse_ref(input.organization_id, "Organization", "organizationId")
            return Plan(
                org.account_id, "organizationId", lambda s, t, op: service.create_team(s, t, op, org.id, input.name)
            )

        return await mutate(info, TeamPayload, permission=MANAGE, plan=plan, shape=_team)

    @strawberry.mutation(description="Rename a team. Audited as directory.team.updated.")
    async def update_team(
        self, info: Info, input: Annotated[UpdateTeamInput, strawberry.argument(description=WHAT)]
    ) -> TeamPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Team", "id")
            return Plan(ref.account_id, "id", lambda s, t, op: service.update_team(s, t, op, ref.id, input.name))

        return await mutate(info, TeamPayload, permission=MANAGE, plan=plan, shape=_team)

    @strawberry.mutation(description="Move a team to another organization. Audited as directory.team.moved.")
    async def move_team(
        self, info: Info, input: Annotated[MoveTeamInput, strawberry.argument(description=WHAT)]
    ) -> TeamPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Team", "id")
            org = parse_ref(input.organization_id, "Organization", "organizationId")
            return Plan(ref.account_id, "id", lambda s, t, op: service.move_team(s, t, op, ref.id, org.id))

        return await mutate(info, TeamPayload, permission=MANAGE, plan=plan, shape=_team)

    @strawberry.mutation(description="Delete a team (empty, or with moveMembersTo). Audited as directory.team.deleted.")
    async def delete_team(
        self, info: Info, input: Annotated[DeleteTeamInput, strawberry.argument(description=WHAT)]
    ) -> DeletePayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Team", "id")
            target = parse_optional_ref(input.move_members_to, "Team", "moveMembersTo")
            team_id, to = ref.id, target.id if target else None
            return Plan(ref.account_id, "id", lambda s, t, op: service.delete_team(s, t, op, team_id, to))

        return await mutate(info, DeletePayload, permission=MANAGE, plan=plan, shape=lambda _: _deleted(input.id))

    @strawberry.mutation(description="Create a user. Audited as directory.user.created.")
    async def create_user(
        self, info: Info, input: Annotated[CreateUserInput, strawberry.argument(description=WHAT)]
    ) -> UserPayload:
        def plan() -> Plan:
            team = parse_optional_ref(input.home_team_id, "Team", "homeTeamId")
            account = parse_optional_ref(input.account_id, "Account", "accountId")
            account_id = team.account_id if team else default_account(info, account)
            return Plan(
                account_id,
                "homeTeamId" if team else "accountId",
                lambda s, t, op: service.create_user(
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

        return await mutate(info, UserPayload, permission=MANAGE, plan=plan, shape=_user)

    @strawberry.mutation(description="Change a user's email, name, role or external id. Audited.")
    async def update_user(
        self, info: Info, input: Annotated[UpdateUserInput, strawberry.argument(description=WHAT)]
    ) -> UserPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "User", "id")
            return Plan(
                ref.account_id,
                "id",
                lambda s, t, op: service.update_user(
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

        return await mutate(info, UserPayload, permission=MANAGE, plan=plan, shape=_user)

    @strawberry.mutation(description="Move a user to another home team. Audited as directory.user.moved.")
    async def move_user(
        self, info: Info, input: Annotated[MoveUserInput, strawberry.argument(description=WHAT)]
    ) -> UserPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "User", "id")
            team = parse_ref(input.team_id, "Team", "teamId")
            return Plan(ref.account_id, "id", lambda s, t, op: service.move_user(s, t, op, ref.id, team.id))

        return await mutate(info, UserPayload, permission=MANAGE, plan=plan, shape=_user)

    @strawberry.mutation(description="Delete a user and their identity links. Audited as directory.user.deleted.")
    async def delete_user(
        self, info: Info, input: Annotated[DeleteUserInput, strawberry.argument(description=WHAT)]
    ) -> DeletePayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "User", "id")
            user_id = ref.id
            return Plan(ref.account_id, "id", lambda s, t, op: service.delete_user(s, t, op, user_id))

        return await mutate(info, DeletePayload, permission=MANAGE, plan=plan, shape=lambda _: _deleted(input.id))
