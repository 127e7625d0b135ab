"""Typed clients (issue #8, item 2): `make clients` generates a Python client (ariadne-codegen) and
TypeScript types (graphql-codegen: typescript + typescript-operations) for clients/operations from
schema.graphql into build/clients (ignored) and type-checks the TypeScript with `tsc --noEmit`; the
generated Python client then runs real operations against our server."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from graphql import OperationDefinitionNode, parse

from tests.ecosystem.conftest import ECOSYSTEM, ROOT
from tests.support.world import World

OPERATIONS = ROOT / "clients" / "operations"
BUILD = ROOT / "build" / "clients"


def operations() -> dict[str, str]:
    """{operation name: "Query" | "Mutation"} of every .graphql file in clients/operations."""
    found: dict[str, str] = {}
    for path in sorted(OPERATIONS.glob("*.graphql")):
        for d in parse(path.read_text()).definitions:
            if isinstance(d, OperationDefinitionNode):
                assert d.name, f"{path.name}: every operation is named (the generated names come from it)"
                found[d.name.value] = d.operation.value.capitalize()
    return found


@pytest.fixture(scope="module")
def generated() -> Path:
    assert shutil.which("node") and shutil.which("npm"), "node and npm are needed: the tests never skip without them"
    done = subprocess.run(
        ["make", "--no-print-directory", "clients"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr  # tsc --noEmit is the last step
    return BUILD


@pytest.fixture(scope="module")
def cockpit_client(generated: Path) -> Iterator[ModuleType]:
    sys.path.insert(0, str(generated / "python"))
    try:
        yield importlib.import_module("cockpit_client")
    finally:
        sys.path.remove(str(generated / "python"))


def test_the_known_clients_operations_are_in_the_repository() -> None:
    assert operations() == {
        "AuditTrail": "Query",
        "CostBreakdownReport": "Query",
        "DirectoryPage": "Query",
        "MarketplacePage": "Query",
        "Members": "Query",
        "RuntimeAccess": "Query",
        "AuthorizeUsage": "Mutation",
        "RecordUsage": "Mutation",
        "RecordUsageBatch": "Mutation",
        "Viewer": "Query",
    }


def test_typescript_types_cover_every_operation(generated: Path) -> None:
    ts = (generated / "typescript" / "operations.ts").read_text()
    for name, kind in operations().items():
        assert f"export type {name}{kind} = " in ts, name
        assert f"export type {name}{kind}Variables = " in ts, name
    schema_ts = (generated / "typescript" / "schema.ts").read_text()
    assert re.search(r"^export type User = Node & PolicyScope & \{", schema_ts, re.M)


def test_tsc_rejects_code_that_misuses_the_generated_types(generated: Path, tmp_path: Path) -> None:
    """The type check has teeth: a wrong variable type and an unchecked nullable result fail it."""
    (tmp_path / "misuse.ts").write_text(
        "import type { RuntimeAccessQueryVariables, RecordUsageMutation }"
        f' from "{generated}/typescript/operations";\n'
        "export const ask: RuntimeAccessQueryVariables = { userId: true };\n"
        "export const credits = (r: RecordUsageMutation): string => r.recordUsage.result.event.credits;\n"
    )
    config = json.loads((ROOT / "clients" / "typescript" / "tsconfig.json").read_text())
    (tmp_path / "tsconfig.json").write_text(json.dumps(config | {"files": ["misuse.ts"]}))
    tsc = subprocess.run(
        [str(ECOSYSTEM / "node_modules" / ".bin" / "tsc"), "--project", str(tmp_path / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tsc.returncode != 0
    assert "misuse.ts(2," in tsc.stdout and "TS2322" in tsc.stdout, tsc.stdout  # a boolean is no ID
    assert "misuse.ts(3," in tsc.stdout and "TS18047" in tsc.stdout, tsc.stdout  # result is possibly null


def test_the_python_client_has_a_typed_method_per_operation(cockpit_client: ModuleType) -> None:
    client = cockpit_client.CockpitClient
    for name in operations():
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        assert callable(getattr(client, method, None)), method


async def test_the_generated_python_client_runs_real_operations(
    cockpit_client: ModuleType, api: str, world: World
) -> None:
    t = await world.tenant()
    client = cockpit_client.CockpitClient
    async with client(url=f"{api}/graphql", headers={"Authorization": f"Bearer {world.member(t)}"}) as member:
        viewer = (await member.viewer()).viewer
        assert viewer.role == cockpit_client.Role.MEMBER
        assert viewer.user.email == t.member_email
        # an error of the request (here: a member may not meter usage) raises, with its code
        with pytest.raises(cockpit_client.GraphQLClientGraphQLMultiError) as denied:
            await member.record_usage(
                cockpit_client.UsageEventInput(idempotencyKey="k-1", userId=viewer.user.id, costUsd=Decimal("1"))
            )
        assert [e.extensions["code"] for e in denied.value.errors] == ["FORBIDDEN"]

    async with client(url=f"{api}/graphql", headers={"Authorization": f"Bearer {world.admin(t)}"}) as admin:
        # userErrors are data: the change is refused with a code and the field at fault
        refused = await admin.record_usage(
            cockpit_client.UsageEventInput(idempotencyKey="k-1", userId="not-a-user", costUsd=Decimal("1"))
        )
        assert refused.record_usage.result is None
        assert [(e.code, e.field) for e in refused.record_usage.user_errors] == [
            (cockpit_client.UserErrorCode.NOT_FOUND, ["input", "userId"])
        ]

        emails, after = [], None
        while True:  # one member per page, by the connection's cursor
            page = (await admin.members(first=1, after=after)).viewer.account.users
            emails += [u.email for u in page.nodes]
            if not page.page_info.has_next_page:
                break
            after = page.page_info.end_cursor
        assert sorted(emails) == sorted([t.admin_email, t.member_email]) and page.total_count == 2
