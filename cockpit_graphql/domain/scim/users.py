"""SCIM Users onto directory users.

A SCIM user *is* a directory user (its SCIM id is the user's id) plus a `scim_users` row: the
userName, the resource as the identity provider last wrote it (`document`, every attribute it sent
but the password), `active` and a version. The directory holds the projection: email (the primary
email, else the first, else the userName when it is an address, else empty), display name
(displayName, else name.formatted, else given + family name), external id, and deactivation.
Creating a user whose email or external id a directory user already has adopts that user (a user
created by hand, by JIT, or deleted over SCIM earlier keeps its id and history), unless both carry an
external id and they differ (409: a new hire given a leaver's address is not the leaver); a user
deleted over SCIM comes back as a MEMBER. DELETE deactivates the directory user, drops its group
memberships and hides it from SCIM (404 afterwards). The account's last active admin can be neither
deactivated nor deleted (400 mutability).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from scim2_models import (
    Context,
    InvalidValueException,
    MutabilityException,
    PatchOp,
    UniquenessException,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import ScimGroup, ScimUser, User
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.directory import repository as directory_repo
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.domain.scim import repository as repo
from cockpit_graphql.domain.scim.common import ScimCall, check_version, directory_errors, etag, iso, not_found
from cockpit_graphql.domain.scim.placement import place_users
from cockpit_graphql.domain.scim.provider import PROVIDER, UserModel
from cockpit_graphql.domain.validation import EMAIL_RE, MAX_EMAIL, MAX_EXTERNAL_ID, MAX_NAME

ENDPOINT = "Users"
NOT_STORED = ("id", "meta", "groups", "password")
MAX_USER_NAME = MAX_EMAIL
"""userName is usually the sign-in email (and becomes the directory email): the directory's email limit."""
LIMITS = (("userName", "user_name", MAX_USER_NAME), ("displayName", "display_name", MAX_NAME))


@dataclass(frozen=True)
class Projection:
    email: str
    display_name: str
    external_id: str | None
    active: bool


def check_lengths(resource: Any) -> None:
    """The directory's own limits, checked before any SQL (an over-long userName would not fit its index)."""
    for name, attribute, limit in (*LIMITS, ("externalId", "external_id", MAX_EXTERNAL_ID)):
        value = getattr(resource, attribute, None)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidValueException(detail=f"{name} is longer than {limit} characters.")


def project(resource: Any, current_active: bool = True) -> Projection:
    """What the directory keeps of a SCIM user. An omitted `active` keeps the current value (a PUT that
    does not assert it does not reactivate a deactivated user; RFC 7644 §3.5.1); a new user is active."""
    emails = [e for e in (resource.emails or []) if e.value]
    chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
    if chosen is not None:
        email = str(chosen.value).strip().lower()
        if not EMAIL_RE.match(email):
            raise InvalidValueException(detail=f"{chosen.value!r} is not a valid email address.")
    else:
        candidate = (resource.user_name or "").strip().lower()
        email = candidate if EMAIL_RE.match(candidate) else ""
    name = resource.name
    display = resource.display_name or (name.formatted if name else None)
    if not display and name is not None:
        display = " ".join(p for p in (name.given_name, name.family_name) if p)
    return Projection(
        email=email,
        display_name=(display or "").strip(),
        external_id=resource.external_id,
        active=current_active if resource.active is None else bool(resource.active),
    )


def document_of(resource: Any) -> dict[str, Any]:
    data = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, scim_provider=PROVIDER)
    for key in NOT_STORED:
        data.pop(key, None)
    return data


def to_resource(call: ScimCall, user: User, scim: ScimUser, groups: list[ScimGroup]) -> Any:
    data = dict(scim.document)
    data["id"] = str(user.id)
    if groups:
        data["groups"] = [
            {"value": str(g.id), "$ref": call.location("Groups", g.id), "display": g.display_name, "type": "direct"}
            for g in groups
        ]
    data["meta"] = {
        "resourceType": "User",
        "created": iso(scim.created_at),
        "lastModified": iso(scim.updated_at),
        "location": call.location(ENDPOINT, user.id),
        "version": etag(scim.version),
    }
    return UserModel.model_validate(data, scim_ctx=None, scim_provider=PROVIDER)


async def _resource(session: AsyncSession, call: ScimCall, user: User, scim: ScimUser) -> Any:
    groups = (await repo.groups_of_users(session, [user.id]))[user.id]
    return to_resource(call, user, scim, groups)


def _parse_id(resource_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(resource_id)
    except ValueError:
        return None


async def _served(session: AsyncSession, resource_id: str, *, lock: bool = False) -> tuple[User, ScimUser]:
    user_id = _parse_id(resource_id)
    found = await repo.scim_user(session, user_id, lock=lock) if user_id else None
    if found is None:
        raise not_found(ENDPOINT, resource_id)
    return found


async def _touch(session: AsyncSession, user_ids: list[uuid.UUID]) -> None:
    """A sighting by the identity provider: `lastSeenInIdpAt` (read by the directory quality report)."""
    if user_ids:
        await session.execute(sa.update(User).where(User.id.in_(user_ids)).values(last_seen_in_idp_at=sa.func.now()))


def _scim_snapshot(scim: ScimUser) -> dict[str, Any]:
    return {"userName": scim.user_name, "active": scim.active, "attributes": scim.document}


async def get_user(session: AsyncSession, call: ScimCall, resource_id: str) -> Any:
    user, scim = await _served(session, resource_id)
    await _touch(session, [user.id])
    return await _resource(session, call, user, scim)


async def _adoptable(session: AsyncSession, proj: Projection) -> User | None:
    """A directory user this new SCIM user already is: same email, else same external id. Never a user
    whose external id differs from the one sent: an address reused for a new hire does not hand them
    the leaver's history and role (409 instead)."""
    found = await directory_repo.user_by_email(session, proj.email) if proj.email else None
    if found is None and proj.external_id:
        found = await directory_repo.user_by_external_id(session, proj.external_id)
    if found is not None and proj.external_id and found.external_id and found.external_id != proj.external_id:
        raise UniquenessException(
            detail="A directory user has this email with another externalId: it is not adopted. "
            "Free the email (or correct the externalId) first."
        )
    return found


@contextlib.contextmanager
def _last_admin_guard() -> Iterator[None]:
    """The directory refuses to deactivate the account's last active admin: a SCIM state conflict."""
    try:
        yield
    except UserInputError as exc:
        if exc.errors[0].code is UserErrorCode.LAST_ADMIN:
            raise MutabilityException(
                detail="This is the account's last active admin: it cannot be deactivated or deleted. "
                "Make another user an account admin first."
            ) from exc
        raise


async def _set_active(session: AsyncSession, call: ScimCall, user_id: uuid.UUID, active: bool) -> None:
    with directory_errors(), _last_admin_guard():  # the guard sees the directory's error first
        await directory.set_user_active(session, call.tenant, call.operation, user_id, active)


async def create_user(session: AsyncSession, call: ScimCall, resource: Any) -> Any:
    tenant, op = call.tenant, call.operation
    check_lengths(resource)
    user_name = str(resource.user_name)
    if await repo.user_name_taken(session, user_name):
        raise UniquenessException(detail=f"A user with userName {user_name!r} exists.")
    proj = project(resource)
    document = document_of(resource)
    existing = await _adoptable(session, proj)
    with directory_errors():
        if existing is None:  # audited by the directory (directory.user.created, actor scim)
            user = await directory.create_user(
                session,
                tenant,
                op,
                email=proj.email,
                display_name=proj.display_name,
                external_id=proj.external_id,
                allow_missing_email=True,
            )
            scim = ScimUser(account_id=tenant.value, user_id=user.id, user_name=user_name, document=document)
            session.add(scim)
        else:
            scim_found = await repo.scim_row(session, existing.id)
            if scim_found is not None and scim_found.deleted_at is None:
                raise UniquenessException(detail="Another SCIM user has this email or external id.")
            user = await _sync_directory(session, call, existing, proj)
            if scim_found is not None and user.role != Role.MEMBER.value:
                # provisioned again after a SCIM DELETE: the role granted before is not restored
                user = await directory.update_user(session, tenant, op, user.id, role=Role.MEMBER)
            if scim_found is None:
                scim = ScimUser(account_id=tenant.value, user_id=user.id, user_name=user_name, document=document)
                session.add(scim)
            else:  # provisioned again after a SCIM DELETE: the same user, a new version
                scim = scim_found
                scim.user_name, scim.document, scim.deleted_at = user_name, document, None
                scim.version += 1
                scim.created_at = scim.updated_at = sa.func.now()  # type: ignore[assignment]
        scim.active = proj.active
        await session.flush()
        await record(
            session,
            tenant,
            op,
            AuditAction.SCIM_USER_CREATED,
            target_type="User",
            target_id=user.id,
            after=_scim_snapshot(scim) | {"adopted": existing is not None},
        )
    await _set_active(session, call, user.id, proj.active)
    with directory_errors():
        await place_users(session, tenant, op, [user.id])
    await _touch(session, [user.id])
    await session.flush()
    await session.refresh(scim)
    user = await directory_repo.get_user(session, user.id) or user
    await session.refresh(user)
    return await _resource(session, call, user, scim)


async def _sync_directory(session: AsyncSession, call: ScimCall, user: User, proj: Projection) -> User:
    """Bring the directory user to the projection (one directory.user.updated event when it changes)."""
    changes: dict[str, Any] = {}
    if proj.email != user.email:
        changes["email"] = proj.email
    if proj.display_name != user.display_name:
        changes["display_name"] = proj.display_name
    if (proj.external_id or None) != user.external_id:
        changes["external_id"] = proj.external_id or ""
    if not changes:
        return user
    with directory_errors():
        return await directory.update_user(
            session, call.tenant, call.operation, user.id, allow_missing_email=True, **changes
        )


async def _apply(
    session: AsyncSession, call: ScimCall, user: User, scim: ScimUser, resource: Any, *, replacing: bool = False
) -> Any:
    """Write a replaced or patched resource: directory projection, SCIM row, version, audit. Without
    `active`, the user keeps its state; a PUT (`replacing`) that leaves it out also keeps it in the
    document, while a PATCH that removes it removes it from the document (RFC 7644 §3.5.2.2)."""
    check_lengths(resource)
    user_name = str(resource.user_name or "")
    if not user_name.strip():
        raise InvalidValueException(detail="userName is required.")
    if user_name.lower() != scim.user_name.lower() and await repo.user_name_taken(session, user_name, user.id):
        raise UniquenessException(detail=f"A user with userName {user_name!r} exists.")
    proj = project(resource, current_active=scim.active)
    document = document_of(resource)
    if replacing and resource.active is None and ("active" in scim.document or not scim.active):
        document["active"] = scim.active  # not asserted by the PUT: GET keeps answering the current value
    before = _scim_snapshot(scim)
    user = await _sync_directory(session, call, user, proj)
    await _set_active(session, call, user.id, proj.active)
    if (user_name, document, proj.active) != (scim.user_name, scim.document, scim.active):
        scim.user_name, scim.document, scim.active = user_name, document, proj.active
        scim.version += 1
        scim.updated_at = sa.func.now()  # type: ignore[assignment]
        await session.flush()
        await record(
            session,
            call.tenant,
            call.operation,
            AuditAction.SCIM_USER_UPDATED,
            target_type="User",
            target_id=user.id,
            before=before,
            after=_scim_snapshot(scim),
        )
    await _touch(session, [user.id])
    await session.flush()
    await session.refresh(scim)
    await session.refresh(user)
    return await _resource(session, call, user, scim)


async def replace_user(
    session: AsyncSession, call: ScimCall, resource_id: str, resource: Any, if_match: str | None
) -> Any:
    user, scim = await _served(session, resource_id, lock=True)
    check_version(if_match, scim.version)
    current = await _resource(session, call, user, scim)
    resource.replace(current)  # read-only attributes kept, immutable ones checked (mutability)
    return await _apply(session, call, user, scim, resource, replacing=True)


async def patch_user(
    session: AsyncSession, call: ScimCall, resource_id: str, patch: PatchOp[Any], if_match: str | None
) -> Any:
    user, scim = await _served(session, resource_id, lock=True)
    check_version(if_match, scim.version)
    current = await _resource(session, call, user, scim)
    patch.patch(current, PROVIDER.policy)
    return await _apply(session, call, user, scim, current)


async def delete_user(session: AsyncSession, call: ScimCall, resource_id: str, if_match: str | None) -> None:
    user, scim = await _served(session, resource_id, lock=True)
    check_version(if_match, scim.version)
    before = _scim_snapshot(scim)
    await _set_active(session, call, user.id, False)  # first: the last active admin is refused
    left = await repo.drop_memberships_of(session, user.id)
    await repo.bump_groups(session, left)
    scim.active = False
    scim.deleted_at = sa.func.now()  # type: ignore[assignment]
    scim.version += 1
    scim.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await record(
        session,
        call.tenant,
        call.operation,
        AuditAction.SCIM_USER_DELETED,
        target_type="User",
        target_id=user.id,
        before=before,
        after={"active": False, "groupsLeft": sorted(str(g) for g in left)},
    )
    await _touch(session, [user.id])
