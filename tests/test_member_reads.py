"""What a MEMBER is refused: other users' data and the account's, by node, nodes, _entities, by scope, and
through the viewer's account, teams and organizations (docs/rules.md and the modules' "who may do what")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.budgets import give_budget_history
from tests.support.world import Tenant, World


@pytest.fixture(scope="module")
async def t(world: World) -> Tenant:
    t = await world.tenant()
    t.ids |= await give_budget_history(world, t)
    r = await world.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
        {"i": {"email": f"other@{t.domain}", "homeTeamId": t.gid("Team", "platform")}},
        token=world.admin(t),
    )
    t.ids["other_gid"] = r.data["createUser"]["user"]["id"]  # type: ignore[assignment]
    await world.gql("{ viewer { role } }", token=world.member(t))
    return t


A = "{ viewer { account { %s } } }"


def _reads(t: Tenant) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each read a member must be refused (FORBIDDEN), with its variables."""
    other = t.ids["other_gid"]
    admin = t.gid("User", "admin")
    return {
        "node other User": ("query($id: ID!) { node(id: $id) { ... on User { email } } }", {"id": other}),
        "node admin User": ("query($id: ID!) { node(id: $id) { ... on User { email } } }", {"id": admin}),
        "nodes other User": ("query($id: ID!) { nodes(ids: [$id]) { ... on User { email } } }", {"id": other}),
        "_entities other User": (
            'query($id: ID!) { _entities(representations: [{__typename: "User", id: $id}]) { ... on User { email } } }',
            {"id": other},
        ),
        "effectiveAllocation other user": (
            "query($id: ID!) { effectiveAllocation(scopeId: $id) { spent } }",
            {"id": other},
        ),
        "effectiveAllocation team": (
            "query($id: ID!) { effectiveAllocation(scopeId: $id) { spent } }",
            {"id": t.gid("Team", "platform")},
        ),
        "effectiveAllocation account": (
            "query($id: ID!) { effectiveAllocation(scopeId: $id) { spent } }",
            {"id": t.account_gid},
        ),
        "effectiveAccess other": ("query($id: ID!) { effectiveAccess(userId: $id) { allowed } }", {"id": other}),
        "node Settlement": ("query($id: ID!) { node(id: $id) { id } }", {"id": t.gid("Settlement", "settlement")}),
        "node Reservation": ("query($id: ID!) { node(id: $id) { id } }", {"id": t.gid("Reservation", "reservation")}),
        "account users": (A % "users { nodes { email } }", {}),
        "account billingNotices": (A % "billingNotices { nodes { id } }", {}),
        "account settlements": (A % "settlements { nodes { id } }", {}),
        "account budgetCycles": (A % "budgetCycles { nodes { id } }", {}),
        "account ledgerReconciliation": (A % "ledgerReconciliation { cycleId }", {}),
        "account currentCycle": (A % "currentCycle { id }", {}),
        "account budgetPlan": (A % "budgetPlan { creditsPerCycle }", {}),
        "account effectiveAllocation": (A % "effectiveAllocation { spent }", {}),
        "account budgetSettings": (A % "budgetSettings { defaultUserCap }", {}),
        "account directoryQuality": (A % "directoryQuality { __typename }", {}),
        "account guardrails": (A % "guardrails { id }", {}),
        "account sso": (A % "sso { issuer }", {}),
        "account creditsPerUsd": (A % "creditsPerUsd", {}),
        "account entitlements": (A % "entitlements { allowAllModels }", {}),
        "account rateLimit": (A % "rateLimit { capacity }", {}),
        "account policySettings": (A % "policySettings { __typename }", {}),
        "account effectiveFlags": (A % "effectiveFlags { __typename }", {}),
        "team users": ("{ viewer { user { homeTeam { users { nodes { email } } } } } }", {}),
        "team effectiveAllocation": ("{ viewer { user { homeTeam { effectiveAllocation { spent } } } } }", {}),
        "org teams users": (
            "{ viewer { account { organizations { nodes { teams { nodes { users { nodes { email } } } } } } } } }",
            {},
        ),
        "account teams users": (
            "{ viewer { account { teams { nodes { users { totalCount nodes { email } } } } } } }",
            {},
        ),
        "auditEvents": ("{ auditEvents { nodes { id } } }", {}),
        "platformAuditEvents": ("{ platformAuditEvents { nodes { id } } }", {}),
        "costBreakdown": (
            '{ costBreakdown(input: {from: "2024-01-01", to: "2030-01-01", groupBy: [USER]}) { __typename } }',
            {},
        ),
        "costAnomalies": ("{ costAnomalies { __typename } }", {}),
        "recordedAnomalies": ("{ recordedAnomalies { nodes { id } } }", {}),
        "scimTokens": ("{ scimTokens { nodes { id } } }", {}),
        "connections": ("{ connections { nodes { id } } }", {}),
        "agents": ("{ agents { nodes { id } } }", {}),
        "models": ("{ models { nodes { id } } }", {}),
        "accounts": ("{ accounts { nodes { id } } }", {}),
    }


READS = (
    "node other User",
    "node admin User",
    "nodes other User",
    "_entities other User",
    "effectiveAllocation other user",
    "effectiveAllocation team",
    "effectiveAllocation account",
    "effectiveAccess other",
    "node Settlement",
    "node Reservation",
    "account users",
    "account billingNotices",
    "account settlements",
    "account budgetCycles",
    "account ledgerReconciliation",
    "account currentCycle",
    "account budgetPlan",
    "account effectiveAllocation",
    "account budgetSettings",
    "account directoryQuality",
    "account guardrails",
    "account sso",
    "account creditsPerUsd",
    "account entitlements",
    "account rateLimit",
    "account policySettings",
    "account effectiveFlags",
    "team users",
    "team effectiveAllocation",
    "org teams users",
    "account teams users",
    "auditEvents",
    "platformAuditEvents",
    "costBreakdown",
    "costAnomalies",
    "recordedAnomalies",
    "scimTokens",
    "connections",
    "agents",
    "models",
    "accounts",
)


async def test_the_list_names_every_read(t: Tenant) -> None:
    assert sorted(READS) == sorted(_reads(t)) and len(READS) == len(set(READS))


@pytest.mark.parametrize("key", READS)
async def test_a_member_is_refused(world: World, t: Tenant, key: str) -> None:
    query, variables = _reads(t)[key]
    r = await world.gql(query, variables, token=world.member(t))
    assert r.status == 200 and r.codes == ["FORBIDDEN"], r.body
