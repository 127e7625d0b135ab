"""What this SCIM service provider serves and tolerates, described with scim2-models once.

Resources: `User` (with the enterprise extension, as Entra ID sends it) and `Group`. The policy is the
strict reading of RFC 7643/7644 (unknown attributes are refused) with the two tolerances that real
identity providers need: a PATCH `remove` whose `value` selects the members to remove (Entra ID), and
a PATCH `add`/`replace` whose path filter matches nothing creates the entry (Entra ID's
`emails[type eq "work"].value`).
"""

from __future__ import annotations

from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Pagination,
    Patch,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

MAX_RESULTS = 200
"""The largest page (`count`) a list answers; also the default page size."""

UserModel: Any = User[EnterpriseUser]
GroupModel: Any = Group

POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.forbid,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

CONFIG = ServiceProviderConfig(
    documentation_uri="https://cockpit.example/docs/scim",
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    pagination=Pagination(cursor=False, index=True, default_page_size=MAX_RESULTS, max_page_size=MAX_RESULTS),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="SCIM bearer token",
            description="A per-account SCIM token created by an account admin (GraphQL `createScimToken`).",
            primary=True,
        )
    ],
)

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(UserModel), ResourceType.from_resource(Group)],
    config=CONFIG,
    policy=POLICY,
)


MANAGER_PATH = f"{EnterpriseUser.__schema__}:manager".lower()


def normalize_user_patch(body: Any) -> Any:
    """Entra ID sets the enterprise `manager` with a bare id (`"value": "<id>"`) where RFC 7643 has a
    complex `{"value": "<id>"}`: wrap it, and leave everything else to scim2-models."""
    operations = body.get("Operations") if isinstance(body, dict) else None
    if not isinstance(operations, list):
        return body
    for operation in operations:
        if (
            isinstance(operation, dict)
            and str(operation.get("path", "")).lower() == MANAGER_PATH
            and isinstance(operation.get("value"), str)
        ):
            operation["value"] = {"value": operation["value"]}
    return body
