"""Roles and the one table that decides what each may do."""

from __future__ import annotations

from enum import StrEnum

from cockpit_graphql.domain.errors import Forbidden


class Role(StrEnum):
    SUPER_ADMIN = "SUPER_ADMIN"
    ACCOUNT_ADMIN = "ACCOUNT_ADMIN"
    MEMBER = "MEMBER"


ACCOUNT_ROLES: frozenset[Role] = frozenset({Role.ACCOUNT_ADMIN, Role.MEMBER})


class Permission(StrEnum):
    READ_ACCOUNT = "READ_ACCOUNT"
    READ_DIRECTORY_STRUCTURE = "READ_DIRECTORY_STRUCTURE"
    READ_USERS = "READ_USERS"
    MANAGE_DIRECTORY = "MANAGE_DIRECTORY"
    READ_AUDIT = "READ_AUDIT"
    READ_ACCOUNT_SETTINGS = "READ_ACCOUNT_SETTINGS"
    LIST_ACCOUNTS = "LIST_ACCOUNTS"
    MANAGE_ACCOUNTS = "MANAGE_ACCOUNTS"
    READ_OWN_BUDGET = "READ_OWN_BUDGET"
    READ_BUDGETS = "READ_BUDGETS"
    MANAGE_BUDGETS = "MANAGE_BUDGETS"
    RUNTIME_METERING = "RUNTIME_METERING"
    WRITE_OFF_SETTLEMENTS = "WRITE_OFF_SETTLEMENTS"
    READ_OWN_POLICIES = "READ_OWN_POLICIES"
    READ_POLICIES = "READ_POLICIES"
    MANAGE_POLICIES = "MANAGE_POLICIES"
    READ_MODEL_CATALOG = "READ_MODEL_CATALOG"
    MANAGE_MODEL_CATALOG = "MANAGE_MODEL_CATALOG"
    USE_MARKETPLACE = "USE_MARKETPLACE"
    MANAGE_PERSONAL_ASSETS = "MANAGE_PERSONAL_ASSETS"
    READ_ASSETS = "READ_ASSETS"
    MANAGE_ASSETS = "MANAGE_ASSETS"


_MEMBER = frozenset(
    {
        Permission.READ_ACCOUNT,
        Permission.READ_DIRECTORY_STRUCTURE,
        Permission.READ_OWN_BUDGET,
        Permission.READ_OWN_POLICIES,
        Permission.USE_MARKETPLACE,
        Permission.MANAGE_PERSONAL_ASSETS,
    }
)
_ACCOUNT_ADMIN = _MEMBER | {
    Permission.READ_USERS,
    Permission.MANAGE_DIRECTORY,
    Permission.READ_AUDIT,
    Permission.READ_ACCOUNT_SETTINGS,
    Permission.READ_BUDGETS,
    Permission.MANAGE_BUDGETS,
    Permission.RUNTIME_METERING,
    Permission.READ_POLICIES,
    Permission.MANAGE_POLICIES,
    Permission.READ_MODEL_CATALOG,
    Permission.READ_ASSETS,
    Permission.MANAGE_ASSETS,
}
_SUPER_ADMIN = _ACCOUNT_ADMIN | {
    Permission.LIST_ACCOUNTS,
    Permission.MANAGE_ACCOUNTS,
    Permission.WRITE_OFF_SETTLEMENTS,
    Permission.MANAGE_MODEL_CATALOG,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MEMBER: _MEMBER,
    Role.ACCOUNT_ADMIN: frozenset(_ACCOUNT_ADMIN),
    Role.SUPER_ADMIN: frozenset(_SUPER_ADMIN),
}


def has_permission(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def ensure_permission(role: Role, permission: Permission) -> None:
    """The single place where roles are enforced. Raises FORBIDDEN."""
    if not has_permission(role, permission):
        raise Forbidden(f"Your role ({role.value}) does not allow {permission.value}.")
