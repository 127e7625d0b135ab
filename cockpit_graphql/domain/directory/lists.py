"""The directory's child lists: which table each pages, by which parent column, behind which permission.

One definition per list, read by the resolvers (types/account.py, types/directory.py) and by the
compiled directory pages (compiled_pages.py), so the two can never disagree on what a list holds or
who may read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cockpit_graphql.domain.roles import Permission


@dataclass(frozen=True)
class DirectoryList:
    table: str  # a key of dataloaders.pages.TABLES
    parent_column: str
    permission: Permission

    @property
    def of_users(self) -> bool:
        return self.table == "users"


ACCOUNT_ORGANIZATIONS = DirectoryList("organizations", "account_id", Permission.READ_DIRECTORY_STRUCTURE)
ACCOUNT_TEAMS = DirectoryList("teams", "account_id", Permission.READ_DIRECTORY_STRUCTURE)
ACCOUNT_USERS = DirectoryList("users", "account_id", Permission.READ_USERS)
ORGANIZATION_TEAMS = DirectoryList("teams", "organization_id", Permission.READ_DIRECTORY_STRUCTURE)
TEAM_USERS = DirectoryList("users", "home_team_id", Permission.READ_USERS)
