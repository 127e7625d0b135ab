"""Directory (SCIM) data quality as GraphQL: a count and up to 10 samples per check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from cockpit_graphql.domain.observability import quality
from cockpit_graphql.types.directory import Organization, Team, User

COUNT = "How many match (all of them, not only the samples)."


@strawberry.type(description="A data quality check over users: how many match, and up to 10 of them (by email).")
class UserQualityCheck:
    count: int = strawberry.field(description=COUNT)
    samples: list[User] = strawberry.field(description="Up to 10 matching users, by email.")


@strawberry.type(description="A data quality check over teams: how many match, and up to 10 of them (by name).")
class TeamQualityCheck:
    count: int = strawberry.field(description=COUNT)
    samples: list[Team] = strawberry.field(description="Up to 10 matching teams, by name.")


@strawberry.type(description="A data quality check over organizations: how many match, and up to 10 of them (by name).")
class OrganizationQualityCheck:
    count: int = strawberry.field(description=COUNT)
    samples: list[Organization] = strawberry.field(description="Up to 10 matching organizations, by name.")


@strawberry.type(description="A SCIM group, as the identity provider named it.")
class ScimGroupSample:
    scim_id: str = strawberry.field(description="The group's SCIM id (its `/scim/v2/Groups/{id}`).")
    display_name: str = strawberry.field(description="The group's displayName.")
    external_id: str | None = strawberry.field(description="The identity provider's id of the group, if sent.")


@strawberry.type(description="A data quality check over SCIM groups: how many match, and up to 10 of them (by name).")
class ScimGroupQualityCheck:
    count: int = strawberry.field(description=COUNT)
    samples: list[ScimGroupSample] = strawberry.field(description="Up to 10 matching groups, by displayName.")


def _users(check: quality.Check) -> UserQualityCheck:
    return UserQualityCheck(count=check.count, samples=[User.from_row(r) for r in check.samples])


@strawberry.type(
    description="How well the identity provider's provisioning (SCIM) fits the directory: counts plus samples. "
    "The rules are in docs/observability.md."
)
class DirectoryQuality:
    users_without_external_id: UserQualityCheck = strawberry.field(
        description="Users with no external id (not provisioned by the identity provider)."
    )
    users_in_default_team: UserQualityCheck = strawberry.field(
        description="Users still in the account's default (Global) team."
    )
    duplicate_emails: UserQualityCheck = strawberry.field(
        description="Users whose email another user also has, case-insensitively (0 while the unique index holds)."
    )
    missing_emails: UserQualityCheck = strawberry.field(
        description="Users with an empty email: SCIM users whose identity provider sent none (docs/scim.md)."
    )
    users_without_identity: UserQualityCheck = strawberry.field(
        description="Users not linked to any OIDC subject (they have never signed in)."
    )
    empty_teams: TeamQualityCheck = strawberry.field(description="Teams without users (the default team excluded).")
    empty_organizations: OrganizationQualityCheck = strawberry.field(
        description="Organizations none of whose teams has a user (the default organization excluded)."
    )
    users_not_seen_in_last_sync: UserQualityCheck = strawberry.field(
        description="Users the identity provider's latest sync did not report: never seen, or last seen more than "
        "the tolerance before the account's latest sighting. Empty when no sync has reported anyone."
    )
    last_idp_sync_at: datetime | None = strawberry.field(
        description="The account's latest `lastSeenInIdpAt` (taken as the latest sync); null when none."
    )
    idp_sync_tolerance_seconds: int = strawberry.field(
        description="How long before the latest sighting a user still counts as seen in that sync."
    )
    unmapped_scim_groups: ScimGroupQualityCheck = strawberry.field(
        description="SCIM groups that map to no team (their name cannot be a team name, or names the Global "
        "team): their members stay in the Global team unless another group places them. Rules: docs/scim.md."
    )

    @classmethod
    def of(cls, q: Any) -> DirectoryQuality:
        return cls(
            users_without_external_id=_users(q.users_without_external_id),
            users_in_default_team=_users(q.users_in_default_team),
            duplicate_emails=_users(q.duplicate_emails),
            missing_emails=_users(q.missing_emails),
            users_without_identity=_users(q.users_without_identity),
            empty_teams=TeamQualityCheck(
                count=q.empty_teams.count, samples=[Team.from_row(r) for r in q.empty_teams.samples]
            ),
            empty_organizations=OrganizationQualityCheck(
                count=q.empty_organizations.count,
                samples=[Organization.from_row(r) for r in q.empty_organizations.samples],
            ),
            users_not_seen_in_last_sync=_users(q.users_not_seen_in_last_sync),
            last_idp_sync_at=q.last_idp_sync_at,
            idp_sync_tolerance_seconds=int(q.idp_sync_tolerance.total_seconds()),
            unmapped_scim_groups=ScimGroupQualityCheck(
                count=q.unmapped_scim_groups.count,
                samples=[
                    ScimGroupSample(scim_id=str(g.id), display_name=g.display_name, external_id=g.external_id)
                    for g in q.unmapped_scim_groups.samples
                ],
            ),
        )
