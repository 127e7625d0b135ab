"""Typed filters and orderings of directory lists, as SQL conditions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from cockpit_graphql.db.tables import Organization, Team, User
from cockpit_graphql.domain.pagination import Ordering, SortDirection
from cockpit_graphql.domain.roles import Role


class DirectoryOrderField(StrEnum):
    NAME = "NAME"
    CREATED_AT = "CREATED_AT"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class NameFilter:
    name_contains: str | None = None
    is_default: bool | None = None

    def conditions(self, table: type[Organization] | type[Team]) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.name_contains:
            out.append(table.name.ilike(f"%{_escape_like(self.name_contains)}%", escape="\\"))
        if self.is_default is not None:
            out.append(table.is_default.is_(self.is_default))
        return out


@dataclass(frozen=True)
class UserFilter:
    search: str | None = None
    role: Role | None = None
    home_team_id: uuid.UUID | None = None
    has_external_id: bool | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.search:
            pattern = f"%{_escape_like(self.search)}%"
            out.append(sa.or_(User.email.ilike(pattern, escape="\\"), User.display_name.ilike(pattern, escape="\\")))
        if self.role is not None:
            out.append(User.role == self.role.value)
        if self.home_team_id is not None:
            out.append(User.home_team_id == self.home_team_id)
        if self.has_external_id is not None:
            out.append(User.external_id.is_not(None) if self.has_external_id else User.external_id.is_(None))
        return out


def group_ordering(field: DirectoryOrderField, direction: SortDirection) -> Ordering:
    return Ordering("name" if field is DirectoryOrderField.NAME else "created_at", direction)


def user_ordering(field: DirectoryOrderField, direction: SortDirection) -> Ordering:
    return Ordering("email" if field is DirectoryOrderField.NAME else "created_at", direction)
