"""scim2-tester against the served app: no failure for the resources implemented."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.scim.conftest import scim_tenant
from tests.support.world import World

FAILED = (Status.ERROR, Status.CRITICAL)


def _run_checker(base_url: str, token: str) -> list[Any]:
    with httpx2.Client(base_url=f"{base_url}/scim/v2", headers={"Authorization": f"Bearer {token}"}) as http:
        return check_server(SyncSCIMClient(http))


async def test_scim2_tester_reports_no_failures(world: World, served: str) -> None:
    who = await scim_tenant(world, "scim2-tester")
    results = await asyncio.to_thread(_run_checker, served, who.token)
    failures = [r for r in results if r.status in FAILED]
    assert not failures, "\n".join(f"{r.title} [{r.resource_type}]: {r.reason}" for r in failures)
    checked = {r.resource_type for r in results if r.status is Status.SUCCESS}
    assert {"User", "Group"} <= checked
