"""Directory rules: the tree account → organization → team → user, its defaults and its moves.

Every function runs in the caller's tenant transaction, validates before it writes, raises
UserInputError (rolling the transaction back) for anything the user must fix, and writes exactly
one audit event for the change it makes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import IdentityBinding, Organization, Team, User
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.directory import repository as repo
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from cockpit_graphql.domain.marketplace import assignments as agent_rules
from cockpit_graphql.domain.marketplace import connections_repository
from cockpit_graphql.domain.policies import repository as policies_repository
from cockpit_graphql.domain.roles import ACCOUNT_ROLES, Role
from cockpit_graphql.domain.scim import repository as scim_repo
from cockpit_graphql.domain.validation import (
    MAX_EXTERNAL_ID,
    clean_email,
    clean_name,
    clean_optional_text,
)

DEFAULT_NAME = "Global"


def organization_snapshot(org: Organization) -> dict[str, Any]:
    return {"name": org.name, "isDefault": org.is_default}


def team_snapshot(team: Team) -> dict[str, Any]:
    return {"name": team.name, "organizationId": team.organization_id, "isDefault": team.is_default}


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "displayName": user.display_name,
        "role": user.role,
        "homeTeamId": user.home_team_id,
        "externalId": user.external_id,
    }


async def _is_last_active_admin(session: AsyncSession, user: User) -> bool:
    """Whether removing this user's admin rights (demotion, deactivation, deletion) would leave the account
    without any active admin. Locks the active admins' rows, so two such changes cannot both pass."""
    if user.role != Role.ACCOUNT_ADMIN.value or user.deactivated_at is not None:
        return False
    return await repo.count_admins(session, lock=True) <= 1


def _not_found(field: str, what: str) -> UserInputError:
    return UserInputError.single(field, UserErrorCode.NOT_FOUND, f"No {what} with this id in this account.")


def _protected(field: str, what: str, verb: str) -> UserInputError:
    return UserInputError.single(
        field, UserErrorCode.DEFAULT_PROTECTED, f"The default {what} ({DEFAULT_NAME}) cannot be {verb}."
    )


# --- defaults ---------------------------------------------------------------------------------


async def ensure_defaults(session: AsyncSession, tenant: TenantId) -> tuple[Organization, Team]:
    """Create the Global organization and team when missing (idempotent, no audit: part of creation)."""
    org = await repo.default_organization(session)
    if org is None:
        org = Organization(account_id=tenant.value, name=DEFAULT_NAME, is_default=True)
        session.add(org)
        await session.flush()
    team = await repo.default_team(session)
    if team is None:
        team = Team(account_id=tenant.value, organization_id=org.id, name=DEFAULT_NAME, is_default=True)
        session.add(team)
        await session.flush()
    return org, team


# --- organizations ----------------------------------------------------------------------------


async def create_organization(session: AsyncSession, tenant: TenantId, op: Operation, name: str) -> Organization:
    clean = clean_name(name)
    if await repo.organization_name_taken(session, clean):
        raise UserInputError.single("name", UserErrorCode.DUPLICATE, f"An organization named {clean!r} exists.")
    org = Organization(account_id=tenant.value, name=clean)
    session.add(org)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.ORGANIZATION_CREATED,
        target_type="Organization",
        target_id=org.id,
        after=organization_snapshot(org),
    )
    return org


async def update_organization(
    session: AsyncSession, tenant: TenantId, op: Operation, org_id: uuid.UUID, name: str | None
) -> Organization:
    org = await repo.get_organization(session, org_id, lock=True)
    if org is None:
        raise _not_found("id", "organization")
    before = organization_snapshot(org)
    if name is not None:
        clean = clean_name(name)
        if org.is_default and clean != org.name:
            raise _protected("name", "organization", "renamed")
        if await repo.organization_name_taken(session, clean, exclude=org.id):
            raise UserInputError.single("name", UserErrorCode.DUPLICATE, f"An organization named {clean!r} exists.")
        org.name = clean
    org.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(org)
    await record(
        session,
        tenant,
        op,
        AuditAction.ORGANIZATION_UPDATED,
        target_type="Organization",
        target_id=org.id,
        before=before,
        after=organization_snapshot(org),
    )
    return org


async def delete_organization(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    org_id: uuid.UUID,
    move_members_to: uuid.UUID | None,
    now: datetime | None = None,
) -> uuid.UUID:
    """Delete an empty organization, or move its teams (with their users) to `move_members_to` first
    (their users' placements end `now`: `repo.end_placements`)."""
    org = await repo.get_organization(session, org_id, lock=True)
    if org is None:
        raise _not_found("id", "organization")
    if org.is_default:
        raise _protected("id", "organization", "deleted")
    moved = 0
    if move_members_to is not None:
        if move_members_to == org.id:
            raise UserInputError.single(
                "moveMembersTo", UserErrorCode.INVALID_TARGET, "Members cannot move to the organization being deleted."
            )
        target = await repo.get_organization(session, move_members_to, lock=True)
        if target is None:
            raise _not_found("moveMembersTo", "organization")
        clash = (await repo.team_names_in(session, org.id)) & (await repo.team_names_in(session, target.id))
        if clash:
            raise UserInputError.single(
                "moveMembersTo",
                UserErrorCode.DUPLICATE,
                f"The target organization already has teams named {sorted(clash)}; rename them first.",
            )
        await repo.end_placements(session, Team.organization_id == org.id, now or datetime.now(UTC))
        moved = await repo.move_teams_between_organizations(session, org.id, target.id)
    elif await repo.count_teams_in(session, org.id):
        raise UserInputError.single(
            "id", UserErrorCode.NOT_EMPTY, "The organization still has teams: delete them or pass `moveMembersTo`."
        )
    if await agent_rules.owns_agents(session, "ORGANIZATION", org.id):
        raise UserInputError.single(
            "id", UserErrorCode.NOT_EMPTY, "The organization owns agents: delete or archive them first."
        )
    before = organization_snapshot(org)
    await _forget_scope(session, "ORGANIZATION", org.id)
    await session.delete(org)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.ORGANIZATION_DELETED,
        target_type="Organization",
        target_id=org_id,
        before=before | {"teamsMoved": moved, "movedTo": move_members_to},
        after=None,
    )
    return org_id


# --- teams ------------------------------------------------------------------------------------


async def create_team(
    session: AsyncSession, tenant: TenantId, op: Operation, organization_id: uuid.UUID, name: str
) -> Team:
    clean = clean_name(name)
    org = await repo.get_organization(session, organization_id)
    if org is None:
        raise _not_found("organizationId", "organization")
    if await repo.team_name_taken(session, org.id, clean):
        raise UserInputError.single("name", UserErrorCode.DUPLICATE, f"{org.name} already has a team named {clean!r}.")
    team = Team(account_id=tenant.value, organization_id=org.id, name=clean)
    session.add(team)
    await session.flush()
    await record(
        session, tenant, op, AuditAction.TEAM_CREATED, target_type="Team", target_id=team.id, after=team_snapshot(team)
    )
    return team


async def update_team(
    session: AsyncSession, tenant: TenantId, op: Operation, team_id: uuid.UUID, name: str | None
) -> Team:
    team = await repo.get_team(session, team_id, lock=True)
    if team is None:
        raise _not_found("id", "team")
    before = team_snapshot(team)
    if name is not None:
        clean = clean_name(name)
        if team.is_default and clean != team.name:
            raise _protected("name", "team", "renamed")
        if await repo.team_name_taken(session, team.organization_id, clean, exclude=team.id):
            raise UserInputError.single("name", UserErrorCode.DUPLICATE, f"A team named {clean!r} exists there.")
        team.name = clean
    team.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(team)
    await record(
        session,
        tenant,
        op,
        AuditAction.TEAM_UPDATED,
        target_type="Team",
        target_id=team.id,
        before=before,
        after=team_snapshot(team),
    )
    return team


async def move_team(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    team_id: uuid.UUID,
    organization_id: uuid.UUID,
    now: datetime | None = None,
) -> Team:
    """Move a team (with its users) to another organization; its users' placements end `now`."""
    team = await repo.get_team(session, team_id, lock=True)
    if team is None:
        raise _not_found("id", "team")
    if team.is_default:
        raise _protected("id", "team", "moved")
    target = await repo.get_organization(session, organization_id)
    if target is None:
        raise _not_found("organizationId", "organization")
    if target.id == team.organization_id:
        raise UserInputError.single(
            "organizationId", UserErrorCode.NOTHING_TO_CHANGE, "The team is already in this organization."
        )
    if await repo.team_name_taken(session, target.id, team.name):
        raise UserInputError.single(
            "organizationId", UserErrorCode.DUPLICATE, f"{target.name} already has a team named {team.name!r}."
        )
    before = team_snapshot(team)
    await repo.end_placements(session, User.home_team_id == team.id, now or datetime.now(UTC))
    team.organization_id = target.id
    team.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(team)
    await record(
        session,
        tenant,
        op,
        AuditAction.TEAM_MOVED,
        target_type="Team",
        target_id=team.id,
        before=before,
        after=team_snapshot(team),
    )
    return team


async def delete_team(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    team_id: uuid.UUID,
    move_members_to: uuid.UUID | None,
    now: datetime | None = None,
) -> uuid.UUID:
    """Delete an empty team, or move its users to `move_members_to` first (their placements end `now`)."""
    team = await repo.get_team(session, team_id, lock=True)
    if team is None:
        raise _not_found("id", "team")
    if team.is_default:
        raise _protected("id", "team", "deleted")
    moved = 0
    if move_members_to is not None:
        if move_members_to == team.id:
            raise UserInputError.single(
                "moveMembersTo", UserErrorCode.INVALID_TARGET, "Members cannot move to the team being deleted."
            )
        target = await repo.get_team(session, move_members_to, lock=True)
        if target is None:
            raise _not_found("moveMembersTo", "team")
        await repo.end_placements(session, User.home_team_id == team.id, now or datetime.now(UTC))
        moved = await repo.move_users_between_teams(session, team.id, target.id)
    elif await repo.count_users_in_team(session, team.id):
        raise UserInputError.single(
            "id", UserErrorCode.NOT_EMPTY, "The team still has members: move them or pass `moveMembersTo`."
        )
    if await agent_rules.owns_agents(session, "TEAM", team.id):
        raise UserInputError.single(
            "id", UserErrorCode.NOT_EMPTY, "The team owns agents: delete or archive them first."
        )
    before = team_snapshot(team)
    await _forget_scope(session, "TEAM", team.id)
    await session.delete(team)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.TEAM_DELETED,
        target_type="Team",
        target_id=team_id,
        before=before | {"membersMoved": moved, "movedTo": move_members_to},
        after=None,
    )
    return team_id


# --- users ------------------------------------------------------------------------------------


def _clean_role(role: Role | None) -> Role | None:
    if role is not None and role not in ACCOUNT_ROLES:
        raise UserInputError.single("role", UserErrorCode.INVALID, f"{role.value} is not an account role.")
    return role


async def _check_unique_user(
    session: AsyncSession, email: str | None, external_id: str | None, exclude: uuid.UUID | None = None
) -> None:
    if email is not None:
        other = await repo.user_by_email(session, email)
        if other is not None and other.id != exclude:
            raise UserInputError.single("email", UserErrorCode.DUPLICATE, f"A user with email {email} exists.")
    if external_id is not None:
        other = await repo.user_by_external_id(session, external_id)
        if other is not None and other.id != exclude:
            raise UserInputError.single("externalId", UserErrorCode.DUPLICATE, "Another user has this external id.")


async def create_user(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    *,
    email: str,
    display_name: str | None = None,
    role: Role | None = None,
    home_team_id: uuid.UUID | None = None,
    external_id: str | None = None,
    audit_action: AuditAction = AuditAction.USER_CREATED,
    allow_missing_email: bool = False,
) -> User:
    # SCIM may provision a user whose identity provider sent no email: stored empty (docs/scim.md).
    clean_mail = "" if allow_missing_email and not email.strip() else clean_email(email)
    name = clean_optional_text(display_name, "displayName", 200) or ""
    ext = clean_optional_text(external_id, "externalId", MAX_EXTERNAL_ID)
    chosen_role = _clean_role(role) or Role.MEMBER
    if home_team_id is None:
        team = await repo.default_team(session)
        if team is None:  # an account always has its defaults; self-heal rather than fail
            _, team = await ensure_defaults(session, tenant)
    else:
        team = await repo.get_team(session, home_team_id)
        if team is None:
            raise _not_found("homeTeamId", "team")
    await _check_unique_user(session, clean_mail or None, ext)
    user = User(
        account_id=tenant.value,
        home_team_id=team.id,
        email=clean_mail,
        display_name=name,
        role=chosen_role.value,
        external_id=ext,
    )
    session.add(user)
    await session.flush()
    await record(session, tenant, op, audit_action, target_type="User", target_id=user.id, after=user_snapshot(user))
    return user


async def update_user(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    user_id: uuid.UUID,
    *,
    email: str | None = None,
    display_name: str | None = None,
    role: Role | None = None,
    external_id: str | None = None,
    allow_missing_email: bool = False,
) -> User:
    user = await repo.get_user(session, user_id, lock=True)
    if user is None:
        raise _not_found("id", "user")
    before = user_snapshot(user)
    new_email = None
    if email is not None:
        new_email = "" if allow_missing_email and not email.strip() else clean_email(email)
    new_ext = clean_optional_text(external_id, "externalId", MAX_EXTERNAL_ID) if external_id is not None else None
    await _check_unique_user(session, new_email or None, new_ext, exclude=user.id)
    new_role = _clean_role(role)
    if new_role is not None and new_role.value != user.role:
        if await _is_last_active_admin(session, user):
            raise UserInputError.single(
                "role", UserErrorCode.LAST_ADMIN, "This is the account's last admin; promote another user first."
            )
        user.role = new_role.value
    if new_email is not None:
        user.email = new_email
    if display_name is not None:
        user.display_name = clean_optional_text(display_name, "displayName", 200) or ""
    if external_id is not None:
        user.external_id = new_ext
    user.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(user)
    await record(
        session,
        tenant,
        op,
        AuditAction.USER_UPDATED,
        target_type="User",
        target_id=user.id,
        before=before,
        after=user_snapshot(user),
    )
    return user


async def move_user(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    user_id: uuid.UUID,
    team_id: uuid.UUID,
    now: datetime | None = None,
) -> User:
    """Change a user's home team from `now`: future usage and policy resolution follow; usage that
    happened before keeps the placement it had, even when it is recorded later (`repo.end_placements`)."""
    user = await repo.get_user(session, user_id, lock=True)
    if user is None:
        raise _not_found("id", "user")
    team = await repo.get_team(session, team_id)
    if team is None:
        raise _not_found("teamId", "team")
    if team.id == user.home_team_id:
        raise UserInputError.single("teamId", UserErrorCode.NOTHING_TO_CHANGE, "The user is already in this team.")
    before = user_snapshot(user)
    await repo.end_placements(session, User.id == user.id, now or datetime.now(UTC))
    user.home_team_id = team.id
    user.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(user)
    await record(
        session,
        tenant,
        op,
        AuditAction.USER_MOVED,
        target_type="User",
        target_id=user.id,
        before=before,
        after=user_snapshot(user),
    )
    return user


async def set_user_active(
    session: AsyncSession, tenant: TenantId, op: Operation, user_id: uuid.UUID, active: bool
) -> User:
    """Deactivate a user (kept with all its history, refused at sign-in) or reactivate one. Idempotent:
    no change, no audit event. The account's last active admin cannot be deactivated (LAST_ADMIN)."""
    user = await repo.get_user(session, user_id, lock=True)
    if user is None:
        raise _not_found("id", "user")
    if (user.deactivated_at is None) == active:
        return user
    if not active and await _is_last_active_admin(session, user):
        raise UserInputError.single(
            "id", UserErrorCode.LAST_ADMIN, "This is the account's last active admin; promote another user first."
        )
    before = {"deactivatedAt": user.deactivated_at}
    user.deactivated_at = None if active else sa.func.now()  # type: ignore[assignment]
    user.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(user)
    await record(
        session,
        tenant,
        op,
        AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED,
        target_type="User",
        target_id=user.id,
        before=before,
        after={"deactivatedAt": user.deactivated_at},
    )
    return user


async def delete_user(session: AsyncSession, tenant: TenantId, op: Operation, user_id: uuid.UUID) -> uuid.UUID:
    user = await repo.get_user(session, user_id, lock=True)
    if user is None:
        raise _not_found("id", "user")
    if await _is_last_active_admin(session, user):
        raise UserInputError.single("id", UserErrorCode.LAST_ADMIN, "The account's last admin cannot be deleted.")
    before = user_snapshot(user)
    subjects = await repo.delete_identities_of(session, user.id)
    for issuer, subject in subjects:
        await session.execute(
            sa.delete(IdentityBinding).where(
                IdentityBinding.issuer == issuer,
                IdentityBinding.subject == subject,
                IdentityBinding.account_id == tenant.value,
            )
        )
    await agent_rules.delete_personal_agents(session, user.id)  # their installs go with them (foreign key)
    await _forget_scope(session, "USER", user.id)
    # Its SCIM group memberships would go with it (foreign key); dropped here so that each group's version
    # (its SCIM ETag) grows, as it does when SCIM removes a member: a stale If-Match is then refused.
    await scim_repo.bump_groups(session, await scim_repo.drop_memberships_of(session, user.id))
    await session.delete(user)
    await session.flush()
    await record(
        session, tenant, op, AuditAction.USER_DELETED, target_type="User", target_id=user_id, before=before, after=None
    )
    return user_id


async def _forget_scope(session: AsyncSession, level: str, scope_id: uuid.UUID) -> None:
    """What a deleted organization, team or user takes with it: the agents' and connections' assignments to
    it, its budget cap and default user cap, and its policy settings (its usage history stays; archived
    agents it owned pass to the account)."""
    await agent_rules.remove_scope(session, level, scope_id)
    await connections_repository.remove_scope(session, level, scope_id)
    await repo.delete_budget_settings(session, level, scope_id)
    await policies_repository.delete_scope_settings(session, level, scope_id)
