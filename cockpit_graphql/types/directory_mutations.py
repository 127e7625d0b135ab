"""Inputs and payloads of directory mutations."""

from __future__ import annotations

import strawberry

from cockpit_graphql.types.directory import Organization, RoleEnum, Team, User
from cockpit_graphql.types.errors import Payload


@strawberry.input(description="Create an organization.")
class CreateOrganizationInput:
    name: str = strawberry.field(description="Unique within the account (case-insensitive).")
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account (super admins must name it; others default to their own)."
    )


@strawberry.input(description="Change an organization.")
class UpdateOrganizationInput:
    id: strawberry.ID = strawberry.field(description="The organization.")
    name: str | None = strawberry.field(default=None, description="New name (the Global default keeps its name).")


@strawberry.input(description="Delete an organization: it must be empty, or its teams move with `moveMembersTo`.")
class DeleteOrganizationInput:
    id: strawberry.ID = strawberry.field(description="The organization (not the Global default).")
    move_members_to: strawberry.ID | None = strawberry.field(
        default=None, description="An organization that receives this one's teams (with their users)."
    )


@strawberry.type(description="Result of createOrganization / updateOrganization.")
class OrganizationPayload(Payload):
    organization: Organization | None = strawberry.field(default=None, description="The organization as saved.")


@strawberry.type(description="Result of a delete mutation.")
class DeletePayload(Payload):
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="The id that no longer exists.")


@strawberry.input(description="Create a team.")
class CreateTeamInput:
    organization_id: strawberry.ID = strawberry.field(description="The organization it belongs to.")
    name: str = strawberry.field(description="Unique within the organization (case-insensitive).")


@strawberry.input(description="Change a team.")
class UpdateTeamInput:
    id: strawberry.ID = strawberry.field(description="The team.")
    name: str | None = strawberry.field(default=None, description="New name (the Global default keeps its name).")


@strawberry.input(description="Move a team to another organization of the same account.")
class MoveTeamInput:
    id: strawberry.ID = strawberry.field(description="The team (not the Global default).")
    organization_id: strawberry.ID = strawberry.field(description="The organization it moves to.")


@strawberry.input(description="Delete a team: it must be empty, or its users move with `moveMembersTo`.")
class DeleteTeamInput:
    id: strawberry.ID = strawberry.field(description="The team (not the Global default).")
    move_members_to: strawberry.ID | None = strawberry.field(
        default=None, description="A team that receives this one's users."
    )


@strawberry.type(description="Result of a team mutation.")
class TeamPayload(Payload):
    team: Team | None = strawberry.field(default=None, description="The team as saved.")


@strawberry.input(description="Create a user.")
class CreateUserInput:
    email: str = strawberry.field(description="Unique within the account; stored in lower case.")
    display_name: str | None = strawberry.field(default=None, description="Display name.")
    role: RoleEnum | None = strawberry.field(default=None, description="ACCOUNT_ADMIN or MEMBER (default).")  # type: ignore[valid-type]
    home_team_id: strawberry.ID | None = strawberry.field(
        default=None, description="The home team; the account's Global team when omitted."
    )
    external_id: str | None = strawberry.field(default=None, description="The identity provider's id of the user.")
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account when no home team is given (super admins must name one)."
    )


@strawberry.input(description="Change a user; omitted fields stay as they are.")
class UpdateUserInput:
    id: strawberry.ID = strawberry.field(description="The user.")
    email: str | None = strawberry.field(default=None, description="New email.")
    display_name: str | None = strawberry.field(default=None, description="New display name.")
    role: RoleEnum | None = strawberry.field(default=None, description="New role (the last admin cannot lose it).")  # type: ignore[valid-type]
    external_id: str | None = strawberry.field(default=None, description="New identity provider id; empty clears it.")


@strawberry.input(description="Move a user to another home team. Past usage keeps its placement.")
class MoveUserInput:
    id: strawberry.ID = strawberry.field(description="The user.")
    team_id: strawberry.ID = strawberry.field(description="The new home team.")


@strawberry.input(description="Delete a user (the last account admin cannot be deleted).")
class DeleteUserInput:
    id: strawberry.ID = strawberry.field(description="The user.")


@strawberry.type(description="Result of a user mutation.")
class UserPayload(Payload):
    user: User | None = strawberry.field(default=None, description="The user as saved.")
