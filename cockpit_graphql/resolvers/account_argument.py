"""The `accountId` argument of account-level queries: the account it names (required for super admins,
who belong to none) or, when omitted, the caller's own. Whether the caller may read that account is the
tenancy rule's (`Context.tenant_for`), decided by the caller of this function."""

from __future__ import annotations

import uuid

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.types.ids import decode_id


def requested_account(info: Info, account_id: strawberry.ID | None) -> uuid.UUID:
    principal = info.context.require_principal()
    if account_id is not None:
        ref = decode_id(account_id)
        if ref is None or ref.type_name != "Account":
            raise BadUserInput("`accountId` is not the id of an Account.")
        return ref.id
    if principal.account_id is None:
        raise BadUserInput("Super admins name the account: pass `accountId`.")
    return principal.account_id
