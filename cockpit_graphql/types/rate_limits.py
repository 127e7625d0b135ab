"""The rate limit of an account's principals, as GraphQL types (docs/operations.md)."""

from __future__ import annotations

import strawberry


@strawberry.type(
    description="The token bucket each principal of the account gets: a request takes its query cost "
    "(`extensions.cost.requested`) from it; over the limit a request is refused with RATE_LIMITED."
)
class AccountRateLimit:
    capacity: int = strawberry.field(description="Cost units a principal may spend at once (the bucket's size).")
    refill_per_second: float = strawberry.field(description="Cost units added back per second.")
    overridden: bool = strawberry.field(
        description="True when a super admin set this account's limit; false when the server's default applies."
    )


@strawberry.input(
    description="Set an account's rate limit (both fields), or clear it back to the server's default (neither)."
)
class SetAccountRateLimitInput:
    account_id: strawberry.ID = strawberry.field(description="The account.")
    capacity: int | None = strawberry.field(
        default=None, description="Cost units a principal may spend at once (1 to 1,000,000,000)."
    )
    refill_per_second: float | None = strawberry.field(
        default=None, description="Cost units added back per second (0.001 to 1,000,000,000)."
    )
