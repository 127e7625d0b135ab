"""Every mutation writes exactly one audit event in its own transaction; a refused one writes none."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import AuditEvent, PlatformAuditEvent
from cockpit_graphql.domain.audit.taxonomy import UNAUDITED_RUNTIME_MUTATIONS, AuditAction
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.policies import service as policies
from cockpit_graphql.domain.policies.flags import flag_registry
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType
from cockpit_graphql.domain.policies.settings import ConnectionMode, GuardrailState
from cockpit_graphql.schema import schema
from cockpit_graphql.types.ids import NO_ACCOUNT, decode_id, encode_id
from tests.support.budgets import give_budget_history
from tests.support.world import OP, Tenant, World


@dataclass
class Case:
    input_type: str
    selection: str
    good: Callable[[World, Tenant], Awaitable[dict[str, Any]]]
    bad: Callable[[World, Tenant], Awaitable[dict[str, Any]]]
    action: AuditAction
    super_admin: bool = False
    platform: bool = False  # a platform change: audited in platform_audit_events, not in an account


async def _org(world: World, t: Tenant, name: str) -> str:
    r = await world.gql(
        "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } } }",
        {"i": {"name": name}},
        token=world.admin(t),
    )
    return r.data["createOrganization"]["organization"]["id"]


async def _team(world: World, t: Tenant, name: str) -> str:
    r = await world.gql(
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
        {"i": {"name": name, "organizationId": t.gid("Organization", "eng")}},
        token=world.admin(t),
    )
    return r.data["createTeam"]["team"]["id"]


async def _user(world: World, t: Tenant, local: str) -> str:
    r = await world.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
        {"i": {"email": f"{local}@{t.domain}"}},
        token=world.admin(t),
    )
    return r.data["createUser"]["user"]["id"]


def _static(value: dict[str, Any]) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def build(_w: World, _t: Tenant) -> dict[str, Any]:
        return value

    return build


CASES: dict[str, Case] = {
    "createOrganization": Case(
        "CreateOrganizationInput",
        "organization { id }",
        lambda w, t: _static({"name": "Audited Org"})(w, t),
        _static({"name": "   "}),
        AuditAction.ORGANIZATION_CREATED,
    ),
    "updateOrganization": Case(
        "UpdateOrganizationInput",
        "organization { id }",
        lambda w, t: _static({"id": t.gid("Organization", "eng"), "name": "Engineering 2"})(w, t),
        lambda w, t: _static({"id": t.gid("Organization", "global_org"), "name": "Renamed"})(w, t),
        AuditAction.ORGANIZATION_UPDATED,
    ),
    "deleteOrganization": Case(
        "DeleteOrganizationInput",
        "deletedId",
        lambda w, t: _wrap(_org(w, t, "Doomed"), lambda i: {"id": i}),
        lambda w, t: _static({"id": t.gid("Organization", "eng")})(w, t),  # has teams: NOT_EMPTY
        AuditAction.ORGANIZATION_DELETED,
    ),
    "createTeam": Case(
        "CreateTeamInput",
        "team { id }",
        lambda w, t: _static({"organizationId": t.gid("Organization", "eng"), "name": "Audited Team"})(w, t),
        lambda w, t: _static({"organizationId": t.gid("Organization", "eng"), "name": "platform"})(w, t),
        AuditAction.TEAM_CREATED,
    ),
    "updateTeam": Case(
        "UpdateTeamInput",
        "team { id }",
        lambda w, t: _static({"id": t.gid("Team", "platform"), "name": "Platform 2"})(w, t),
        lambda w, t: _static({"id": t.gid("Team", "global_team"), "name": "Renamed"})(w, t),
        AuditAction.TEAM_UPDATED,
    ),
    "moveTeam": Case(
        "MoveTeamInput",
        "team { id }",
        lambda w, t: _wrap(
            _team(w, t, "Mover"), lambda i: {"id": i, "organizationId": t.gid("Organization", "global_org")}
        ),
        lambda w, t: _static({"id": t.gid("Team", "global_team"), "organizationId": t.gid("Organization", "eng")})(
            w, t
        ),
        AuditAction.TEAM_MOVED,
    ),
    "deleteTeam": Case(
        "DeleteTeamInput",
        "deletedId",
        lambda w, t: _wrap(_team(w, t, "Doomed Team"), lambda i: {"id": i}),
        lambda w, t: _static({"id": t.gid("Team", "platform")})(w, t),  # has members: NOT_EMPTY
        AuditAction.TEAM_DELETED,
    ),
    "createUser": Case(
        "CreateUserInput",
        "user { id }",
        lambda w, t: _static({"email": f"new@{t.domain}", "displayName": "New"})(w, t),
        lambda w, t: _static({"email": t.member_email})(w, t),  # duplicate
        AuditAction.USER_CREATED,
    ),
    "updateUser": Case(
        "UpdateUserInput",
        "user { id }",
        lambda w, t: _static({"id": t.gid("User", "member"), "displayName": "Renamed Member"})(w, t),
        lambda w, t: _static({"id": t.gid("User", "admin"), "role": "MEMBER"})(w, t),  # last admin
        AuditAction.USER_UPDATED,
    ),
    "moveUser": Case(
        "MoveUserInput",
        "user { id }",
        lambda w, t: _static({"id": t.gid("User", "member"), "teamId": t.gid("Team", "global_team")})(w, t),
        lambda w, t: _static({"id": t.gid("User", "admin"), "teamId": t.gid("Team", "global_team")})(w, t),
        AuditAction.USER_MOVED,
    ),
    "deleteUser": Case(
        "DeleteUserInput",
        "deletedId",
        lambda w, t: _wrap(_user(w, t, "leaver"), lambda i: {"id": i}),
        lambda w, t: _static({"id": t.gid("User", "admin")})(w, t),  # last admin
        AuditAction.USER_DELETED,
    ),
    "createAccount": Case(
        "CreateAccountInput",
        "account { id }",
        lambda w, t: _static(
            {
                "name": "Created",
                "externalOrgId": f"created-{t.external_org_id}",
                "sso": {"issuer": "https://idp.created.test"},
            }
        )(w, t),
        lambda w, t: _static({"name": "Dup", "externalOrgId": t.external_org_id, "sso": {"issuer": t.issuer}})(w, t),
        AuditAction.ACCOUNT_CREATED,
        super_admin=True,
    ),
    "updateAccount": Case(
        "UpdateAccountInput",
        "account { id }",
        lambda w, t: _static({"id": t.account_gid, "name": "Renamed Account", "creditsPerUsd": "1250.5"})(w, t),
        lambda w, t: _static({"id": t.account_gid, "creditsPerUsd": "-1"})(w, t),
        AuditAction.ACCOUNT_UPDATED,
        super_admin=True,
    ),
    "suspendAccount": Case(
        "AccountStatusInput",
        "account { id }",
        lambda w, t: _static({"id": t.account_gid})(w, t),
        lambda w, t: _static({"id": t.account_gid})(w, t),  # run after good: already suspended
        AuditAction.ACCOUNT_SUSPENDED,
        super_admin=True,
    ),
    "reactivateAccount": Case(
        "AccountStatusInput",
        "account { id }",
        lambda w, t: _static({"id": t.account_gid})(w, t),
        lambda w, t: _static({"id": t.account_gid})(w, t),
        AuditAction.ACCOUNT_REACTIVATED,
        super_admin=True,
    ),
    "updateAccountEntitlements": Case(
        "UpdateAccountEntitlementsInput",
        "account { id }",
        lambda w, t: _entitled(w, t),
        lambda w, t: _static({"id": "not-an-id", "allowAllModels": False})(w, t),
        AuditAction.ENTITLEMENTS_UPDATED,
        super_admin=True,
    ),
    "setAccountRateLimit": Case(
        "SetAccountRateLimitInput",
        "account { id rateLimit { capacity refillPerSecond overridden } }",
        lambda w, t: _static({"accountId": t.account_gid, "capacity": 500, "refillPerSecond": 5.5})(w, t),
        lambda w, t: _static({"accountId": t.account_gid, "capacity": 0, "refillPerSecond": 5})(w, t),
        AuditAction.RATE_LIMIT_UPDATED,
        super_admin=True,
    ),
}


async def _wrap(coro: Awaitable[str], build: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    return build(await coro)


async def _history(world: World, t: Tenant) -> dict[str, str]:
    ids = await give_budget_history(world, t)
    return {"settlement": encode_id("Settlement", t.account_id, ids["settlement"])}


def _settlement_case(extra: dict[str, Any]) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def build(world: World, t: Tenant) -> dict[str, Any]:
        found = await _history(world, t)
        t.ids["__settlement"] = decode_id(found["settlement"]).id  # type: ignore[union-attr]
        return {"id": found["settlement"], **extra}

    return build


def _same_settlement(extra: dict[str, Any]) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def build(_w: World, t: Tenant) -> dict[str, Any]:  # run after `good`: the transition is now illegal
        return {"id": encode_id("Settlement", t.account_id, t.ids["__settlement"]), **extra}

    return build


async def _with_plan(world: World, t: Tenant, payload: dict[str, Any]) -> dict[str, Any]:
    await give_budget_history(world, t)
    return payload


CASES |= {
    "setBudgetPlan": Case(
        "SetBudgetPlanInput",
        "plan { id }",
        _static({"creditsPerCycle": "1000", "renewalDay": 1}),
        _static({"creditsPerCycle": "1000", "renewalDay": 29}),
        AuditAction.PLAN_CREATED,
    ),
    "setBudgetCap": Case(
        "SetBudgetCapInput",
        "scope { id }",
        lambda w, t: _static({"scopeId": t.gid("Team", "platform"), "credits": "10"})(w, t),
        lambda w, t: _static({"scopeId": t.account_gid, "credits": "10"})(w, t),
        AuditAction.CAP_UPDATED,
    ),
    "clearBudgetCap": Case(
        "ClearBudgetCapInput",
        "scope { id }",
        lambda w, t: _static({"scopeId": t.gid("User", "member")})(w, t),
        lambda w, t: _static({"scopeId": t.account_gid})(w, t),
        AuditAction.CAP_CLEARED,
    ),
    "setDefaultUserCap": Case(
        "SetBudgetCapInput",
        "scope { id }",
        lambda w, t: _static({"scopeId": t.gid("Team", "platform"), "credits": "5"})(w, t),
        lambda w, t: _static({"scopeId": t.gid("User", "member"), "credits": "5"})(w, t),
        AuditAction.DEFAULT_CAP_UPDATED,
    ),
    "clearDefaultUserCap": Case(
        "ClearBudgetCapInput",
        "scope { id }",
        lambda w, t: _static({"scopeId": t.account_gid})(w, t),
        lambda w, t: _static({"scopeId": t.gid("User", "member")})(w, t),
        AuditAction.DEFAULT_CAP_CLEARED,
    ),
    "adjustCredits": Case(
        "AdjustCreditsInput",
        "entry { id }",
        lambda w, t: _with_plan(w, t, {"credits": "25.5", "reason": "goodwill top-up"}),
        _static({"credits": "0", "reason": "nothing"}),
        AuditAction.CREDITS_ADJUSTED,
    ),
    "renewBudgetCycle": Case(
        "RenewBudgetCycleInput",
        "renewals { expired }",
        _static({}),
        _static({"accountId": "garbage"}),
        AuditAction.CYCLE_RENEWED,
    ),
    "invoiceSettlement": Case(
        "InvoiceSettlementInput",
        "settlement { status }",
        _settlement_case({"externalReference": "INV-1"}),
        _same_settlement({"externalReference": "INV-1"}),
        AuditAction.SETTLEMENT_INVOICED,
    ),
    "settleSettlement": Case(
        "SettleSettlementInput",
        "settlement { status }",
        _settlement_case({"externalReference": "PAY-1"}),
        _same_settlement({"externalReference": "PAY-1"}),
        AuditAction.SETTLEMENT_SETTLED,
    ),
    "writeOffSettlement": Case(
        "WriteOffSettlementInput",
        "settlement { status }",
        _settlement_case({"reason": "goodwill"}),
        _same_settlement({"reason": "goodwill"}),
        AuditAction.SETTLEMENT_WRITTEN_OFF,
        super_admin=True,
    ),
}


def _new_model(**extra: Any) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    """A catalog model created by a super admin (its own audit event lands before the count)."""

    async def build(world: World, t: Tenant) -> dict[str, Any]:
        r = await world.gql(
            "mutation($i: CreateModelInput!) { createModel(input: $i) { model { id } } }",
            {"i": {"provider": "OPENAI", "providerModelId": f"audit-{uuid.uuid4().hex[:8]}", "capabilities": ["CHAT"]}},
            token=await world.super_admin(),
        )
        model = r.data["createModel"]["model"]["id"]
        t.ids["__model"] = decode_id(model).id  # type: ignore[union-attr]
        return {"id": model, **extra}

    return build


async def _entitled(world: World, t: Tenant) -> dict[str, Any]:
    model = (await _new_model()(world, t))["id"]
    return {"id": t.account_gid, "allowAllModels": False, "allowedModelIds": [model]}


def _same_model(extra: dict[str, Any]) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def build(_w: World, t: Tenant) -> dict[str, Any]:  # run after `good`
        return {"id": encode_id("Model", NO_ACCOUNT, t.ids["__model"]), **extra}

    return build


CASES |= {
    "createModel": Case(
        "CreateModelInput",
        "model { id }",
        lambda w, t: _static(
            {
                "provider": "ANTHROPIC",
                "providerModelId": f"audit-{uuid.uuid4().hex[:8]}",
                "capabilities": ["CHAT"],
                "inputUsdPerMillionTokens": "3",
            }
        )(w, t),
        _static({"provider": "ANTHROPIC", "providerModelId": "has space", "capabilities": ["CHAT"]}),
        AuditAction.MODEL_CREATED,
        super_admin=True,
        platform=True,
    ),
    "updateModel": Case(
        "UpdateModelInput",
        "model { id }",
        _new_model(displayName="Audited", enabled=False),
        _same_model({"inputUsdPerMillionTokens": "-1"}),
        AuditAction.MODEL_UPDATED,
        super_admin=True,
        platform=True,
    ),
    "deleteModel": Case(
        "DeleteModelInput",
        "deletedModelId",
        _new_model(),
        _same_model({}),  # run after good: already deleted
        AuditAction.MODEL_DELETED,
        super_admin=True,
        platform=True,
    ),
}


async def _guardrail(world: World, t: Tenant, *, set_at_account: bool = False) -> str:
    """A guardrail made through the service (its audit event lands before the count)."""
    tid = mint_for_system(t.account_id)
    async with world.db.tenant(tid) as s:
        row = await policies.create_guardrail(
            s, tid, OP, f"G {uuid.uuid4().hex[:6]}", GuardrailType.TOPIC_BLOCK, GuardrailMode.BLOCK, {"topics": ["x"]}
        )
        if set_at_account:
            account = Scope(ScopeLevel.ACCOUNT, t.account_id)
            await policies.set_guardrail_state(s, tid, OP, account, row.id, GuardrailState.ENABLED, False)
    t.ids["__guardrail"] = row.id
    return encode_id("Guardrail", t.account_id, row.id)


def _with_guardrail(
    build: Callable[[Tenant, str], dict[str, Any]], *, set_at_account: bool = False
) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def make(world: World, t: Tenant) -> dict[str, Any]:
        return build(t, await _guardrail(world, t, set_at_account=set_at_account))

    return make


def _same_guardrail(
    build: Callable[[Tenant, str], dict[str, Any]],
) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def make(_w: World, t: Tenant) -> dict[str, Any]:  # run after `good`
        return build(t, encode_id("Guardrail", t.account_id, t.ids["__guardrail"]))

    return make


def _preset(
    change: Callable[[Any, Any, Scope], Awaitable[Any]], payload: Callable[[Tenant], dict[str, Any]]
) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    """Set something at the team through the service, so that the case can clear it."""

    async def make(world: World, t: Tenant) -> dict[str, Any]:
        tid = mint_for_system(t.account_id)
        async with world.db.tenant(tid) as s:
            await change(s, tid, Scope(ScopeLevel.TEAM, t.ids["platform"]))
        return payload(t)

    return make


REGISTRY = flag_registry()


def _at_team(t: Tenant, **extra: Any) -> dict[str, Any]:
    return {"scopeId": t.gid("Team", "platform"), **extra}


CASES |= {
    "setModelAccess": Case(
        "SetModelAccessInput",
        "scope { id }",
        lambda w, t: _static(_at_team(t, denyModelIds=[]))(w, t),
        lambda w, t: _static(_at_team(t, denyModelIds=[encode_id("Model", NO_ACCOUNT, uuid.uuid4())]))(w, t),
        AuditAction.MODEL_ACCESS_UPDATED,
    ),
    "clearModelAccess": Case(
        "ClearModelAccessInput",
        "scope { id }",
        _preset(
            lambda s, tid, scope: policies.set_model_access(
                s, tid, OP, scope, policies.ModelAccessRequest(None, [], None)
            ),
            _at_team,
        ),
        lambda w, t: _static(_at_team(t))(w, t),  # run after good: nothing left to clear
        AuditAction.MODEL_ACCESS_CLEARED,
    ),
    "setFeatureFlag": Case(
        "SetFeatureFlagInput",
        "scope { id }",
        lambda w, t: _static(_at_team(t, flag="CREATE_AGENTS", enabled=True, locked=True))(w, t),
        lambda w, t: _static(_at_team(t, flag="NO_SUCH_FLAG", enabled=True))(w, t),
        AuditAction.FLAG_UPDATED,
    ),
    "clearFeatureFlag": Case(
        "ClearFeatureFlagInput",
        "scope { id }",
        _preset(
            lambda s, tid, scope: policies.set_flag(s, tid, OP, scope, REGISTRY, "CREATE_AGENTS", True, False),
            lambda t: _at_team(t, flag="CREATE_AGENTS"),
        ),
        lambda w, t: _static(_at_team(t, flag="CREATE_AGENTS"))(w, t),
        AuditAction.FLAG_CLEARED,
    ),
    "setConnectionMode": Case(
        "SetConnectionModeInput",
        "scope { id }",
        lambda w, t: _static(_at_team(t, mode="SELF_MANAGED_ALLOWED"))(w, t),
        _static({"scopeId": "garbage", "mode": "ADMIN_MANAGED"}),
        AuditAction.CONNECTION_MODE_UPDATED,
    ),
    "clearConnectionMode": Case(
        "ClearConnectionModeInput",
        "scope { id }",
        _preset(
            lambda s, tid, scope: policies.set_connection_mode(s, tid, OP, scope, ConnectionMode.ADMIN_MANAGED, True),
            _at_team,
        ),
        lambda w, t: _static(_at_team(t))(w, t),
        AuditAction.CONNECTION_MODE_CLEARED,
    ),
    "createGuardrail": Case(
        "CreateGuardrailInput",
        "guardrail { id }",
        _static({"name": "PII", "type": "PII_REDACTION", "mode": "REDACT", "config": {"entities": ["EMAIL"]}}),
        _static({"name": "PII 2", "type": "PII_REDACTION", "mode": "REDACT", "config": {"entities": ["SHOE_SIZE"]}}),
        AuditAction.GUARDRAIL_CREATED,
    ),
    "updateGuardrail": Case(
        "UpdateGuardrailInput",
        "guardrail { id }",
        _with_guardrail(lambda t, g: {"id": g, "mode": "MONITOR"}),
        _same_guardrail(lambda t, g: {"id": g, "mode": "REDACT"}),  # TOPIC_BLOCK cannot REDACT
        AuditAction.GUARDRAIL_UPDATED,
    ),
    "deleteGuardrail": Case(
        "DeleteGuardrailInput",
        "deletedGuardrailId",
        _with_guardrail(lambda t, g: {"id": g}, set_at_account=True),
        _same_guardrail(lambda t, g: {"id": g}),
        AuditAction.GUARDRAIL_DELETED,
    ),
    "setGuardrailState": Case(
        "SetGuardrailStateInput",
        "scope { id }",
        _with_guardrail(lambda t, g: _at_team(t, guardrailId=g, state="ENABLED", enforced=True)),
        _same_guardrail(lambda t, g: _at_team(t, guardrailId=g, state="DISABLED", enforced=True)),
        AuditAction.GUARDRAIL_SETTING_UPDATED,
    ),
    "clearGuardrailState": Case(
        "ClearGuardrailStateInput",
        "scope { id }",
        _with_guardrail(lambda t, g: {"scopeId": t.account_gid, "guardrailId": g}, set_at_account=True),
        _same_guardrail(lambda t, g: {"scopeId": t.account_gid, "guardrailId": g}),
        AuditAction.GUARDRAIL_SETTING_CLEARED,
    ),
}


async def _connection(world: World, t: Tenant, *, scope: Scope | None = None) -> str:
    """An admin connection made through the service (its audit event lands before the count)."""
    from cockpit_graphql.domain.marketplace import connections as connection_service
    from cockpit_graphql.domain.marketplace.connection_types import ConnectionType
    from cockpit_graphql.domain.marketplace.secrets import SecretBox

    tid = mint_for_system(t.account_id)
    new = connection_service.NewConnection(f"C {uuid.uuid4().hex[:6]}", ConnectionType.SLACK, {"workspace": "a"})
    async with world.db.tenant(tid) as s:
        row = await connection_service.create_connection(s, tid, OP, SecretBox([]), new, scope)
    t.ids["__connection"] = row.id
    return encode_id("Connection", t.account_id, row.id)


def _with_connection(
    build: Callable[[Tenant, str], dict[str, Any]], *, assigned: bool = False
) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def make(world: World, t: Tenant) -> dict[str, Any]:
        scope = Scope(ScopeLevel.TEAM, t.ids["platform"]) if assigned else None
        return build(t, await _connection(world, t, scope=scope))

    return make


def _same_connection(
    build: Callable[[Tenant, str], dict[str, Any]],
) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def make(_w: World, t: Tenant) -> dict[str, Any]:  # run after `good`
        return build(t, encode_id("Connection", t.account_id, t.ids["__connection"]))

    return make


async def _self_managed(world: World, t: Tenant) -> dict[str, Any]:
    """Personal connections allowed for everyone of the account (set through the service)."""
    tid = mint_for_system(t.account_id)
    account = Scope(ScopeLevel.ACCOUNT, t.account_id)
    async with world.db.tenant(tid) as s:
        await policies.set_flag(s, tid, OP, account, REGISTRY, "CREATE_CONNECTIONS", True, False)
        await policies.set_connection_mode(s, tid, OP, account, ConnectionMode.SELF_MANAGED_ALLOWED, False)
    return {"name": "Mine", "type": "GITHUB", "config": {"organization": "me"}, "secret": "audited-secret"}


CASES |= {
    "createConnection": Case(
        "CreateConnectionInput",
        "connection { id }",
        _static({"name": "Audited", "type": "SLACK", "config": {"workspace": "acme"}, "secret": "audited-secret"}),
        _static({"name": "Bad", "type": "JIRA", "config": {"baseUrl": "http://not-https.example"}}),
        AuditAction.CONNECTION_CREATED,
    ),
    "createPersonalConnection": Case(
        "CreatePersonalConnectionInput",
        "connection { id }",
        _self_managed,
        _static({"name": "mine", "type": "GITHUB", "config": {"organization": "me"}}),  # run after good: DUPLICATE
        AuditAction.CONNECTION_CREATED,
    ),
    "updateConnection": Case(
        "UpdateConnectionInput",
        "connection { id }",
        _with_connection(lambda t, c: {"id": c, "secret": "rotated-audited-secret"}),
        _same_connection(lambda t, c: {"id": c, "secret": "x", "clearSecret": True}),
        AuditAction.CONNECTION_UPDATED,
    ),
    "deleteConnection": Case(
        "DeleteConnectionInput",
        "deletedConnectionId",
        _with_connection(lambda t, c: {"id": c}, assigned=True),
        _same_connection(lambda t, c: {"id": c}),  # run after good: already deleted
        AuditAction.CONNECTION_DELETED,
    ),
    "assignConnection": Case(
        "ConnectionAssignmentInput",
        "connection { id }",
        _with_connection(lambda t, c: {"connectionId": c, "scopeId": t.gid("Team", "platform")}),
        _same_connection(lambda t, c: {"connectionId": c, "scopeId": t.gid("Team", "platform")}),  # already
        AuditAction.CONNECTION_ASSIGNED,
    ),
    "unassignConnection": Case(
        "ConnectionAssignmentInput",
        "connection { id }",
        _with_connection(lambda t, c: {"connectionId": c, "scopeId": t.gid("Team", "platform")}, assigned=True),
        _same_connection(lambda t, c: {"connectionId": c, "scopeId": t.gid("Team", "platform")}),  # not any more
        AuditAction.CONNECTION_UNASSIGNED,
    ),
}


async def _agent(world: World, t: Tenant, *, publish: bool = False, assign: bool = False, install: bool = False) -> str:
    """An account agent made through the services (their audit events land before the count)."""
    from cockpit_graphql.domain.marketplace import agents as agent_service
    from cockpit_graphql.domain.marketplace import assignments as agent_assignments
    from cockpit_graphql.domain.marketplace.audience import AgentStatus, AssignmentMode

    tid = mint_for_system(t.account_id)
    account = Scope(ScopeLevel.ACCOUNT, t.account_id)
    async with world.db.tenant(tid) as s:
        changes = agent_service.AgentChanges(name=f"Agent {uuid.uuid4().hex[:6]}")
        row = await agent_service.create_agent(s, tid, OP, account, changes)
        if publish:
            await agent_service.transition_agent(s, tid, OP, row.id, AgentStatus.PUBLISHED)
        if assign:
            await agent_assignments.assign_agent(s, tid, OP, row.id, account, AssignmentMode.AVAILABLE)
        if install:
            await agent_assignments.install_agent(s, tid, OP, t.ids["admin"], row.id)
    t.ids["__agent"] = row.id
    return encode_id("Agent", t.account_id, row.id)


def _with_agent(
    build: Callable[[Tenant, str], dict[str, Any]], **setup: bool
) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def make(world: World, t: Tenant) -> dict[str, Any]:
        return build(t, await _agent(world, t, **setup))

    return make


def _same_agent(build: Callable[[Tenant, str], dict[str, Any]]) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    async def make(_w: World, t: Tenant) -> dict[str, Any]:  # run after `good`
        return build(t, encode_id("Agent", t.account_id, t.ids["__agent"]))

    return make


CASES |= {
    "createAgent": Case(
        "CreateAgentInput",
        "agent { id }",
        lambda w, t: _static({"name": "Audited agent", "ownerId": t.account_gid})(w, t),
        lambda w, t: _static({"name": "   ", "ownerId": t.account_gid})(w, t),
        AuditAction.AGENT_CREATED,
    ),
    "updateAgent": Case(
        "UpdateAgentInput",
        "agent { id }",
        _with_agent(lambda t, a: {"id": a, "name": "Renamed", "tags": ["audited"]}),
        _same_agent(lambda t, a: {"id": a, "name": ""}),
        AuditAction.AGENT_UPDATED,
    ),
    "publishAgent": Case(
        "PublishAgentInput",
        "agent { id }",
        _with_agent(lambda t, a: {"id": a}),
        _same_agent(lambda t, a: {"id": a}),  # already published
        AuditAction.AGENT_PUBLISHED,
    ),
    "archiveAgent": Case(
        "ArchiveAgentInput",
        "agent { id }",
        _with_agent(lambda t, a: {"id": a}, publish=True),
        _same_agent(lambda t, a: {"id": a}),  # archived is final
        AuditAction.AGENT_ARCHIVED,
    ),
    "deleteAgent": Case(
        "DeleteAgentInput",
        "deletedAgentId",
        _with_agent(lambda t, a: {"id": a}),
        _same_agent(lambda t, a: {"id": a}),  # already deleted
        AuditAction.AGENT_DELETED,
    ),
    "assignAgent": Case(
        "AssignAgentInput",
        "agent { id }",
        _with_agent(
            lambda t, a: {"agentId": a, "scopeId": t.gid("Team", "platform"), "mode": "INSTALLED"}, publish=True
        ),
        _same_agent(lambda t, a: {"agentId": a, "scopeId": t.gid("Team", "platform"), "mode": "INSTALLED"}),
        AuditAction.AGENT_ASSIGNED,
    ),
    "unassignAgent": Case(
        "UnassignAgentInput",
        "agent { id }",
        _with_agent(lambda t, a: {"agentId": a, "scopeId": t.account_gid}, publish=True, assign=True),
        _same_agent(lambda t, a: {"agentId": a, "scopeId": t.account_gid}),  # no longer assigned
        AuditAction.AGENT_UNASSIGNED,
    ),
    "installAgent": Case(
        "InstallAgentInput",
        "item { inWorkspace }",
        _with_agent(lambda t, a: {"agentId": a}, publish=True, assign=True),
        _same_agent(lambda t, a: {"agentId": a}),  # installed already
        AuditAction.AGENT_INSTALLED,
    ),
    "uninstallAgent": Case(
        "UninstallAgentInput",
        "item { inWorkspace }",
        _with_agent(lambda t, a: {"agentId": a}, publish=True, assign=True, install=True),
        _same_agent(lambda t, a: {"agentId": a}),  # not installed any more
        AuditAction.AGENT_UNINSTALLED,
    ),
}


CASES |= {
    "reconcileIdentities": Case(
        "ReconcileIdentitiesInput",
        "dryRun",
        _static({}),
        _static({"accountId": "garbage"}),
        AuditAction.IDENTITY_RECONCILED,
    ),
}


def _anomaly(*, acknowledged: bool) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    """A recorded cost anomaly of the tenant, planted as the daily job would write it."""

    async def build(world: World, t: Tenant) -> dict[str, Any]:
        from datetime import UTC, date, datetime
        from decimal import Decimal

        from cockpit_graphql.db.tables import CostAnomaly

        row = CostAnomaly(
            account_id=t.account_id,
            kind="SPIKE",
            day=date(2026, 11, 19),
            dimension="MODEL",
            dimension_key=f"m-{uuid.uuid4().hex[:6]}",
            observed=Decimal(500),
            detected_at=datetime.now(UTC),
            acknowledged_at=datetime.now(UTC) if acknowledged else None,
        )
        async with world.db.tenant(mint_for_system(t.account_id)) as s:
            s.add(row)
        return {"id": encode_id("CostAnomaly", t.account_id, row.id), "note": "seen"}

    return build


CASES |= {
    "acknowledgeAnomaly": Case(
        "AcknowledgeAnomalyInput",
        "anomaly { acknowledged }",
        _anomaly(acknowledged=False),
        _anomaly(acknowledged=True),  # acknowledged already: NOTHING_TO_CHANGE
        AuditAction.ANOMALY_ACKNOWLEDGED,
    ),
}


def _scim_token(*, revoked: bool) -> Callable[[World, Tenant], Awaitable[dict[str, Any]]]:
    """A SCIM token row of the tenant (revoked already for the refusal), planted without an audit event."""

    async def build(world: World, t: Tenant) -> dict[str, Any]:
        from datetime import UTC, datetime

        from cockpit_graphql.db.tables import ScimToken

        row = ScimToken(
            account_id=t.account_id,
            name=f"idp-{uuid.uuid4().hex[:6]}",
            token_prefix="cks_test",
            revoked_at=datetime.now(UTC) if revoked else None,
        )
        async with world.db.tenant(mint_for_system(t.account_id)) as s:
            s.add(row)
        return {"id": encode_id("ScimToken", t.account_id, row.id)}

    return build


CASES |= {
    "createScimToken": Case(
        "CreateScimTokenInput",
        "token { id } secret",
        _static({"name": "Okta production"}),
        _static({"name": "   "}),  # blank: REQUIRED
        AuditAction.SCIM_TOKEN_CREATED,
    ),
    "revokeScimToken": Case(
        "RevokeScimTokenInput",
        "token { revoked }",
        _scim_token(revoked=False),
        _scim_token(revoked=True),  # revoked already: ILLEGAL_TRANSITION
        AuditAction.SCIM_TOKEN_REVOKED,
    ),
}


async def _platform_events(world: World) -> list[PlatformAuditEvent]:
    async with world.db.platform() as s:
        stmt = sa.select(PlatformAuditEvent).order_by(PlatformAuditEvent.occurred_at, PlatformAuditEvent.id)
        return list((await s.scalars(stmt)).all())


async def _events(world: World, t: Tenant, account_id: uuid.UUID | None = None) -> list[AuditEvent]:
    async with world.db.tenant(mint_for_system(account_id or t.account_id)) as s:
        return list((await s.scalars(sa.select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id))).all())


def test_every_mutation_has_audit_coverage() -> None:
    fields = set(schema._schema.mutation_type.fields)  # type: ignore[union-attr]
    uncovered = fields - set(CASES) - UNAUDITED_RUNTIME_MUTATIONS
    assert not uncovered, f"mutations without an audit coverage test: {sorted(uncovered)}"
    assert not set(CASES) - fields, "stale audit cases"


async def _call(world: World, name: str, case: Case, payload: dict[str, Any], token: str) -> Any:
    q = f"mutation($i: {case.input_type}!) {{ {name}(input: $i) {{ {case.selection} userErrors {{ code }} }} }}"
    return await world.gql(q, {"i": payload}, token=token)


async def test_each_mutation_writes_exactly_one_event_and_refusals_write_none(world: World) -> None:
    super_token = await world.super_admin()
    order = [n for n in CASES if n != "reactivateAccount"] + ["reactivateAccount"]
    for name in order:
        case = CASES[name]
        t = await world.tenant()
        token = super_token if case.super_admin else world.admin(t)
        if name == "reactivateAccount":
            await _call(world, "suspendAccount", CASES["suspendAccount"], {"id": t.account_gid}, super_token)
        await world.gql("{ viewer { role } }", token=world.admin(t))  # link identities before counting
        read: Callable[[], Awaitable[list[Any]]] = (
            (lambda: _platform_events(world)) if case.platform else (lambda t=t: _events(world, t))  # type: ignore[misc]
        )
        before = await read()

        payload = await case.good(world, t)
        setup_events = await read()  # helpers may have created rows through other mutations
        tenant_events = await _events(world, t)
        r = await _call(world, name, case, payload, token)
        assert r.status == 200 and r.errors == [], (name, r.body)
        assert r.data[name]["userErrors"] == [], (name, r.data)
        after = await read()
        if case.platform:  # a platform change is audited once, on the platform, in no account
            assert await _events(world, t) == tenant_events, name
        account_id = t.account_id
        if name == "createAccount":  # the event lands in the new account, none in the caller's
            assert after == setup_events
            ref = decode_id(r.data[name]["account"]["id"])
            assert ref is not None
            account_id = ref.id
            new = await _events(world, t, account_id)
        else:
            new = after[len(setup_events) :]
        assert [e.action for e in new] == [case.action.value], (name, [e.action for e in new])
        event = new[0]
        assert event.request_id == r.headers["x-request-id"]
        assert event.actor_type == ("SUPER_ADMIN" if case.super_admin else "USER")
        assert case.platform or event.account_id == account_id
        assert event.target_id and event.diff, name

        bad = await case.bad(world, t)
        r = await _call(world, name, case, bad, token)
        assert r.errors == [] and r.data[name]["userErrors"], (name, r.body)
        assert await read() == after, f"{name}: a refused mutation wrote an audit event"
        assert len(before) <= len(setup_events)
