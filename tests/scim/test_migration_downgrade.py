"""Migration 0008's downgrade refuses, before changing anything, while users are deactivated (dropping
`deactivated_at` would let them sign in again) or an account has several users without email (the old
unique constraint cannot come back). Run on the test database in a transaction that is rolled back."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import TEST_URL
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_USER, patch
from tests.support.world import World

MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0008_scim.py"


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("migration_0008_scim", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _downgrade_error() -> str | None:
    """Run 0008's downgrade as the owner inside a transaction that is always rolled back."""
    migration = _migration()
    engine = create_async_engine(TEST_URL)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:

                def run(sync_connection: Any) -> str | None:
                    with Operations.context(MigrationContext.configure(sync_connection)):
                        try:
                            migration.downgrade()
                        except RuntimeError as exc:
                            return str(exc)
                    return None

                return await connection.run_sync(run)
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


async def test_downgrade_refuses_while_users_are_deactivated_or_share_the_empty_email(
    world: World, scim_client: Any
) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    for n in range(2):  # no email, no address as userName: stored with the empty email
        status, user = await scim.call("POST", "/Users", {"schemas": [CORE_USER], "userName": f"no-mail-{n}"})
        assert status == 201, user
    status, _ = await scim.call("PATCH", f"/Users/{user['id']}", patch({"op": "replace", "value": {"active": False}}))
    assert status == 200
    error = await _downgrade_error()
    assert error is not None and error.startswith("Refusing to downgrade 0008_scim"), error
    assert "deactivated user(s)" in error and "without email" in error
    # the transaction was rolled back: the schema is intact
    status, listed = await scim.call("GET", "/Users")
    assert status == 200 and listed["totalResults"] == 2


def test_the_check_runs_before_any_change() -> None:
    source = MIGRATION.read_text()
    body = source[source.index("def downgrade()") :]
    assert body.index("refuse_unsafe_downgrade(") < body.index("op.drop_table")
    with pytest.raises(RuntimeError):

        class Refusing:
            def execute(self, statement: Any) -> Any:
                class Row:
                    def one(self) -> tuple[int, int]:
                        return (1, 0)

                return Row()

        _migration().refuse_unsafe_downgrade(Refusing())
