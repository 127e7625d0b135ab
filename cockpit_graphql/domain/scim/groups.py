"""SCIM Groups onto teams: a group maps to a team by the naming rule (placement.py), its members are
stored as memberships (`scim_group_members`, a user may be in several groups), and every change of
membership re-applies the home-team rule to the users it touches. Deleting a group drops its
memberships, so its members move to their next mapped group's team or to the Global team; the team
itself stays (with its caps and policies) until an admin deletes it.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from scim2_models import InvalidValueException, PatchOp, UniquenessException
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import ScimGroup, ScimGroupMember, User
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.scim import repository as repo
from cockpit_graphql.domain.scim.common import ScimCall, check_version, directory_errors, etag, iso, not_found
from cockpit_graphql.domain.scim.placement import place_users, team_for_group
from cockpit_graphql.domain.scim.provider import PROVIDER, GroupModel
from cockpit_graphql.domain.validation import MAX_EXTERNAL_ID

ENDPOINT = "Groups"
MAX_DISPLAY_NAME = 400


def to_resource(call: ScimCall, group: ScimGroup, members: list[ScimGroupMember] | None) -> Any:
    data: dict[str, Any] = {
        "schemas": [str(GroupModel.__schema__)],
        "id": str(group.id),
        "displayName": group.display_name,
    }
    if group.external_id is not None:
        data["externalId"] = group.external_id
    if members:
        data["members"] = [
            {"value": str(m.user_id), "$ref": call.location("Users", m.user_id), "type": "User"}
            | ({"display": m.display} if m.display is not None else {})
            for m in members
        ]
    data["meta"] = {
        "resourceType": "Group",
        "created": iso(group.created_at),
        "lastModified": iso(group.updated_at),
        "location": call.location(ENDPOINT, group.id),
        "version": etag(group.version),
    }
    return GroupModel.model_validate(data, scim_ctx=None, scim_provider=PROVIDER)


def _snapshot(group: ScimGroup) -> dict[str, Any]:
    return {"displayName": group.display_name, "externalId": group.external_id, "teamId": group.team_id}


async def _served(session: AsyncSession, resource_id: str, *, lock: bool = False) -> ScimGroup:
    try:
        group_id = uuid.UUID(resource_id)
    except ValueError:
        group_id = None
    group = await repo.get_group(session, group_id, lock=lock) if group_id else None
    if group is None:
        raise not_found(ENDPOINT, resource_id)
    return group


async def _current(session: AsyncSession, call: ScimCall, group: ScimGroup) -> tuple[Any, list[ScimGroupMember]]:
    members = (await repo.members_of(session, [group.id]))[group.id]
    return to_resource(call, group, members), members


def _clean_name(resource: Any) -> str:
    name = " ".join(str(resource.display_name or "").split())
    if not name:
        raise InvalidValueException(detail="displayName is required.")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidValueException(detail=f"displayName is longer than {MAX_DISPLAY_NAME} characters.")
    return name


def _clean_external_id(resource: Any) -> str | None:
    value = resource.external_id
    if value is not None and len(value) > MAX_EXTERNAL_ID:
        raise InvalidValueException(detail=f"externalId is longer than {MAX_EXTERNAL_ID} characters.")
    return value


async def _wanted_members(session: AsyncSession, resource: Any) -> dict[uuid.UUID, str | None]:
    """The members a resource names: users SCIM serves in this account (nested groups are refused)."""
    wanted: dict[uuid.UUID, str | None] = {}
    for member in resource.members or []:
        if member.type is not None and str(member.type) != "User":
            raise InvalidValueException(detail="Members must be users (nested groups are not supported).")
        try:
            user_id = uuid.UUID(str(member.value))
        except ValueError as exc:
            raise InvalidValueException(detail=f"No user with id {member.value!r} here.") from exc
        wanted[user_id] = member.display
    missing = set(wanted) - await repo.served_user_ids(session, list(wanted))
    if missing:
        raise InvalidValueException(detail=f"No user with id {sorted(str(m) for m in missing)[0]!r} here.")
    return wanted


async def _touch(session: AsyncSession, user_ids: set[uuid.UUID]) -> None:
    if user_ids:
        await session.execute(
            sa.update(User).where(User.id.in_(list(user_ids))).values(last_seen_in_idp_at=sa.func.now())
        )


async def get_group(session: AsyncSession, call: ScimCall, resource_id: str) -> Any:
    group = await _served(session, resource_id)
    resource, _ = await _current(session, call, group)
    return resource


async def create_group(session: AsyncSession, call: ScimCall, resource: Any) -> Any:
    name = _clean_name(resource)
    if await repo.group_name_taken(session, name):
        raise UniquenessException(detail=f"A group named {name!r} exists.")
    wanted = await _wanted_members(session, resource)
    with directory_errors():
        team_id = await team_for_group(session, call.tenant, call.operation, name, call.group_separator)
    group = ScimGroup(
        account_id=call.tenant.value, display_name=name, external_id=_clean_external_id(resource), team_id=team_id
    )
    session.add(group)
    await session.flush()
    await repo.add_members(session, call.tenant.value, group.id, wanted)
    await record(
        session,
        call.tenant,
        call.operation,
        AuditAction.SCIM_GROUP_CREATED,
        target_type="ScimGroup",
        target_id=group.id,
        after=_snapshot(group) | {"membersAdded": sorted(str(u) for u in wanted)},
    )
    with directory_errors():
        await place_users(session, call.tenant, call.operation, wanted)
    await _touch(session, set(wanted))
    await session.refresh(group)
    resource, _ = await _current(session, call, group)
    return resource


async def _apply(
    session: AsyncSession, call: ScimCall, group: ScimGroup, resource: Any, members: list[ScimGroupMember]
) -> Any:
    before = _snapshot(group)
    name = _clean_name(resource)
    external_id = _clean_external_id(resource)
    renamed = name != group.display_name
    if renamed and name.lower() != group.display_name.lower() and await repo.group_name_taken(session, name, group.id):
        raise UniquenessException(detail=f"A group named {name!r} exists.")
    wanted = await _wanted_members(session, resource)
    current = {m.user_id: m.display for m in members}
    added = {u: d for u, d in wanted.items() if u not in current}
    removed = [u for u in current if u not in wanted]
    redisplayed = [u for u, d in wanted.items() if u in current and current[u] != d]
    if renamed:
        with directory_errors():
            group.team_id = await team_for_group(session, call.tenant, call.operation, name, call.group_separator)
    moved_team = group.team_id != before["teamId"]
    group.display_name, group.external_id = name, external_id
    await repo.remove_members(session, group.id, removed)
    await repo.add_members(session, call.tenant.value, group.id, added)
    for user_id in redisplayed:
        await repo.set_member_display(session, group.id, user_id, wanted[user_id])
    if renamed or external_id != before["externalId"] or added or removed or redisplayed:
        group.version += 1
        group.updated_at = sa.func.now()  # type: ignore[assignment]
        await session.flush()
        await record(
            session,
            call.tenant,
            call.operation,
            AuditAction.SCIM_GROUP_UPDATED,
            target_type="ScimGroup",
            target_id=group.id,
            before=before,
            after=_snapshot(group)
            | {"membersAdded": sorted(str(u) for u in added), "membersRemoved": sorted(str(u) for u in removed)},
        )
    touched = set(added) | set(removed) | (set(wanted) if moved_team else set())
    with directory_errors():
        await place_users(session, call.tenant, call.operation, touched)
    await _touch(session, set(added) | set(removed))
    await session.flush()
    await session.refresh(group)
    result, _ = await _current(session, call, group)
    return result


async def replace_group(
    session: AsyncSession, call: ScimCall, resource_id: str, resource: Any, if_match: str | None
) -> Any:
    group = await _served(session, resource_id, lock=True)
    check_version(if_match, group.version)
    current, members = await _current(session, call, group)
    resource.replace(current)
    return await _apply(session, call, group, resource, members)


async def patch_group(
    session: AsyncSession, call: ScimCall, resource_id: str, patch: PatchOp[Any], if_match: str | None
) -> Any:
    group = await _served(session, resource_id, lock=True)
    check_version(if_match, group.version)
    current, members = await _current(session, call, group)
    patch.patch(current, PROVIDER.policy)
    return await _apply(session, call, group, current, members)


async def delete_group(session: AsyncSession, call: ScimCall, resource_id: str, if_match: str | None) -> None:
    group = await _served(session, resource_id, lock=True)
    check_version(if_match, group.version)
    members = [m.user_id for m in (await repo.members_of(session, [group.id]))[group.id]]
    before = _snapshot(group) | {"members": len(members)}
    await session.delete(group)  # memberships go with it (foreign key)
    await session.flush()
    await record(
        session,
        call.tenant,
        call.operation,
        AuditAction.SCIM_GROUP_DELETED,
        target_type="ScimGroup",
        target_id=group.id,
        before=before,
        after=None,
    )
    with directory_errors():
        await place_users(session, call.tenant, call.operation, members)
