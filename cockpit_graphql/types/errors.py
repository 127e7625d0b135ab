"""userErrors: the typed, expected failures of a mutation."""

from __future__ import annotations

import strawberry

from cockpit_graphql.domain.errors import UserErrorCode as DomainUserErrorCode
from cockpit_graphql.domain.errors import UserErrorItem

UserErrorCode = strawberry.enum(
    DomainUserErrorCode,
    name="UserErrorCode",
    description="Stable codes of mutation userErrors.",
)


@strawberry.type(description="A validation failure, conflict or illegal transition; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, starting at the mutation's `input`."
    )
    code: UserErrorCode = strawberry.field(description="A stable machine-readable code.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="A human-readable explanation.")

    @classmethod
    def from_item(cls, item: UserErrorItem) -> UserError:
        return cls(field=list(item.field) or None, code=item.code, message=item.message)


@strawberry.type(description="Common shape of mutation payloads.")
class Payload:
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was written; empty on success."
    )
