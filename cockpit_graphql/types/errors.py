"""userErrors: the typed, expected failures of a mutation."""

from __future__ import annotations

import strawberry

from cockpit_graphql.domain.errors import UserErrorCode as DomainUserErrorCode
from cockpit_graphql.domain.errors import UserErrorItem
from cockpit_graphql.types.enums import described_enum

UserErrorCode = described_enum(
    DomainUserErrorCode,
    name="UserErrorCode",
    description="Stable codes of mutation userErrors.",
    values={
        "INVALID": "The value is malformed or out of its allowed range (the message says which rule it breaks).",
        "REQUIRED": "A value that must be given is missing or blank.",
        "TOO_LONG": "A text is longer than its limit in characters (the message gives the limit).",
        "NOT_FOUND": "The id names nothing in this account (another account's ids included), or not the expected type.",
        "DUPLICATE": "The value must be unique and is already taken (a name, email, external id, catalog model, …).",
        "DEFAULT_PROTECTED": "The account's default (Global) organization or team cannot be renamed, moved or deleted.",
        "NOT_EMPTY": "The organization or team still has teams, members or agents: move them first or pass "
        "`moveMembersTo`.",
        "INVALID_TARGET": "`moveMembersTo` names the organization or team that is being deleted.",
        "LAST_ADMIN": "The account's last ACCOUNT_ADMIN cannot be demoted or deleted: promote another user first.",
        "ILLEGAL_TRANSITION": "The status change is not allowed from the current status (for example an agent, "
        "reservation, settlement, account or SCIM token already past it).",
        "NOTHING_TO_CHANGE": "The request would change nothing: the state is already what it asks for.",
    },
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
