"""SCIM tokens as GraphQL: the token (never its value, except once in createScimToken's payload)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from cockpit_graphql.types.errors import Payload
from cockpit_graphql.types.ids import encode_id


@strawberry.type(
    description="A SCIM bearer token of an account: an identity provider (Okta, Entra ID, Zitadel) provisions "
    "users and groups with it at `/scim/v2`. Only its hash is stored; the value is shown once, at creation."
)
class ScimToken:
    id: strawberry.ID = strawberry.field(description="The token's global id (its audit events name it as actor).")
    name: str = strawberry.field(description="What it is for, e.g. `Okta production`.")
    token_prefix: str = strawberry.field(description="The value's first characters, to recognise it in a vault.")
    created_by: str = strawberry.field(description="Who created it (name or email at the time).")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a SCIM request (to the minute); null: never."
    )
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null: live.")
    revoked: bool = strawberry.field(description="Whether it was revoked (it then authenticates nothing).")

    @classmethod
    def from_row(cls, row: Any) -> ScimToken:
        return cls(
            id=strawberry.ID(encode_id("ScimToken", row.account_id, row.id)),
            name=row.name,
            token_prefix=row.token_prefix,
            created_by=row.created_by,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            revoked=row.revoked_at is not None,
        )


@strawberry.input(description="Create a SCIM token for an account.")
class CreateScimTokenInput:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account (super admins must say which; others act in their own)."
    )
    name: str = strawberry.field(description="What it is for (1–200 characters), e.g. `Okta production`.")


@strawberry.type(description="The new token, and its value: shown here once, stored nowhere.")
class CreateScimTokenPayload(Payload):
    token: ScimToken | None = strawberry.field(default=None, description="The token (without its value).")
    secret: str | None = strawberry.field(
        default=None,
        description="The bearer value for the identity provider's SCIM settings. It cannot be read again: "
        "store it now, or revoke the token and create another.",
    )
    scim_base_url_path: str = strawberry.field(
        default="/scim/v2", description="The SCIM base URL's path on this API's host (the same for every account)."
    )


@strawberry.input(description="Revoke a SCIM token: it stops authenticating at once.")
class RevokeScimTokenInput:
    id: strawberry.ID = strawberry.field(description="The token (a ScimToken global id).")


@strawberry.type(description="The revoked token.")
class RevokeScimTokenPayload(Payload):
    token: ScimToken | None = strawberry.field(default=None, description="The token, now revoked.")
