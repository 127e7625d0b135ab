"""TenantId: the only value that opens a tenant transaction.

Only the auth layer mints it: from a verified principal (its own account), from a live SCIM token
(its account, routed by the token's hash: auth/scim.py), for a super admin who names an account
explicitly, or for platform jobs and operator commands that iterate accounts one transaction at a
time. Everything else receives one and passes it on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TenantId:
    """An account id vouched for by the auth layer. Construct only through the functions below."""

    value: uuid.UUID
    _minted_by: str

    def __str__(self) -> str:
        return str(self.value)


def mint_for_principal(account_id: uuid.UUID) -> TenantId:
    return TenantId(account_id, "principal")


def mint_for_super_admin(account_id: uuid.UUID) -> TenantId:
    return TenantId(account_id, "super_admin")


def mint_for_scim_token(account_id: uuid.UUID) -> TenantId:
    """For a SCIM request whose bearer token's hash routes to this account (`auth/scim.py`)."""
    return TenantId(account_id, "scim_token")


def mint_for_system(account_id: uuid.UUID) -> TenantId:
    """For workers, the CLI and bootstrap: work that runs one transaction per account."""
    return TenantId(account_id, "system")
