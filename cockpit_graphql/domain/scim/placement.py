"""Where SCIM puts things in the directory: a group's team (the naming rule) and a user's home team.

Naming rule: a group named `Org<separator>Team` (separator " / " by default, `SCIM_GROUP_SEPARATOR`)
maps to team `Team` of organization `Org`; any other name maps to a team of that name in the Global
organization. Names are matched case-insensitively and created (audited, actor `scim`) when missing.
A group is *unmapped* (team null) when its name cannot be a team name (blank or longer than 200
characters on either side) or names the Global team itself.

Home-team rule: a SCIM user's home team is the team of the earliest-joined mapped group the user is
still in (ties by group id); with none, the account's Global team. It is recomputed for the users a
change touches, and the move goes through the directory's `move_user` (audited `directory.user.moved`).
Users deleted over SCIM keep their last placement.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.directory import repository as directory_repo
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.errors import UserInputError
from cockpit_graphql.domain.scim import repository as repo
from cockpit_graphql.domain.validation import clean_name

DEFAULT_SEPARATOR = " / "


@dataclass(frozen=True)
class TeamPath:
    organization: str | None  # None: the Global organization
    team: str


def team_path(display_name: str, separator: str = DEFAULT_SEPARATOR) -> TeamPath | None:
    """The team a group name maps to by the naming rule, or None (unmapped)."""
    org: str | None = None
    team = display_name
    if separator and separator in display_name:
        org, team = display_name.split(separator, 1)
    try:
        clean_team = clean_name(team)
        clean_org = clean_name(org) if org is not None else None
    except UserInputError:
        return None
    if clean_org is not None and clean_org.lower() == directory.DEFAULT_NAME.lower():
        clean_org = None
    if clean_org is None and clean_team.lower() == directory.DEFAULT_NAME.lower():
        return None  # the Global team is where unmapped users are anyway
    return TeamPath(clean_org, clean_team)


async def team_for_group(
    session: AsyncSession, tenant: TenantId, op: Operation, display_name: str, separator: str
) -> uuid.UUID | None:
    """Find (or create) the team a group maps to; None when the group is unmapped."""
    path = team_path(display_name, separator)
    if path is None:
        return None
    if path.organization is None:
        org, _ = await directory.ensure_defaults(session, tenant)
    else:
        found = await repo.organization_named(session, path.organization)
        org = found or await directory.create_organization(session, tenant, op, path.organization)
    team = await repo.team_named(session, org.id, path.team)
    if team is None:
        team = await directory.create_team(session, tenant, op, org.id, path.team)
    return team.id


async def place_users(session: AsyncSession, tenant: TenantId, op: Operation, user_ids: Iterable[uuid.UUID]) -> None:
    """Apply the home-team rule to these users (served by SCIM); moves are audited by the directory."""
    default = None
    for user_id in sorted(set(user_ids)):
        found = await repo.scim_user(session, user_id)
        if found is None:
            continue
        user, _ = found
        target = await repo.home_team_by_groups(session, user_id)
        if target is None:
            if default is None:
                _, team = await directory.ensure_defaults(session, tenant)
                default = team.id
            target = default
        if user.home_team_id != target:
            await directory.move_user(session, tenant, op, user_id, target)


async def default_team_id(session: AsyncSession, tenant: TenantId) -> uuid.UUID:
    team = await directory_repo.default_team(session)
    if team is None:
        _, team = await directory.ensure_defaults(session, tenant)
    return team.id
