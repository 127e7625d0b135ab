"""Secrets at rest: MultiFernet encryption, clear errors without keys, and key rotation end to end
(the service, the per-account rotation and the `cockpit rotate-secrets` command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import Connection
from cockpit_graphql.domain.marketplace import connections as service
from cockpit_graphql.domain.marketplace.connection_types import ConnectionType
from cockpit_graphql.domain.marketplace.secrets import (
    SecretBox,
    SecretKeysInvalid,
    SecretKeysMissing,
    SecretUndecryptable,
    generate_key,
)
from cockpit_graphql.settings import Settings
from tests.conftest import CONNECTION_SECRET_KEY
from tests.support.world import OP, World

ROOT = Path(__file__).resolve().parents[2]
COCKPIT = str(Path(sys.executable).parent / "cockpit")
KEY_A, KEY_B = generate_key(), generate_key()


def test_the_first_key_encrypts_and_any_key_decrypts() -> None:
    old = SecretBox([KEY_A]).encrypt("hunter2")
    assert "hunter2" not in old
    both = SecretBox([KEY_B, KEY_A])
    assert both.decrypt(old) == "hunter2" and not both.is_current(old)
    new = both.encrypt("hunter2")
    assert both.is_current(new) and SecretBox([KEY_B]).decrypt(new) == "hunter2"
    with pytest.raises(SecretUndecryptable) as caught:
        SecretBox([KEY_A]).decrypt(new)
    assert new not in str(caught.value)


def test_missing_or_malformed_keys_are_clear_errors() -> None:
    with pytest.raises(SecretKeysMissing, match="CONNECTION_SECRET_KEYS"):
        SecretBox([]).encrypt("x")
    with pytest.raises(SecretKeysInvalid, match=r"CONNECTION_SECRET_KEYS\[1\]"):
        SecretBox([KEY_A, "not-a-key"]).encrypt("x")
    assert not SecretBox(["  "]).configured


async def test_rotation_round_trip(world: World) -> None:
    """Encrypt with key A, rotate to [B, A], then decrypt with [B] alone."""
    t = await world.tenant()
    tid = mint_for_system(t.account_id)
    plain = {"One": "first-secret-value", "Two": "second-secret-value"}
    async with world.db.tenant(tid) as s:
        for name, secret in plain.items():
            new = service.NewConnection(name, ConnectionType.SLACK, {"workspace": "acme"}, secret)
            await service.create_connection(s, tid, OP, SecretBox([KEY_A]), new)
        await service.create_connection(  # no secret: nothing to rotate
            s, tid, OP, SecretBox([KEY_A]), service.NewConnection("None", ConnectionType.SLACK, {"workspace": "a"})
        )

    async def stored() -> dict[str, str]:
        async with world.db.tenant(tid) as s:
            rows = (await s.execute(sa.select(Connection.name, Connection.secret_ciphertext))).all()
        return {name: c for name, c in rows if c}

    before = await stored()
    rotating = SecretBox([KEY_B, KEY_A])
    async with world.db.tenant(tid) as s:
        assert await service.rotate_account_secrets(s, rotating, batch=1) == (2, 0)  # batches of one: paging works
    async with world.db.tenant(tid) as s:
        assert await service.rotate_account_secrets(s, rotating) == (0, 2)  # idempotent
    after = await stored()
    assert set(after) == set(plain) and all(after[n] != before[n] for n in plain)
    only_b = SecretBox([KEY_B])
    assert {n: only_b.decrypt(c) for n, c in after.items()} == plain
    with pytest.raises(SecretUndecryptable):
        SecretBox([KEY_A]).decrypt(after["One"])


def _cli(settings: Settings, keys: list[str] | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTION_SECRET_KEYS"}
    env |= {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    if keys is not None:
        env["CONNECTION_SECRET_KEYS"] = json.dumps(keys)
    return subprocess.run([COCKPIT, "rotate-secrets"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


async def test_rotate_secrets_command_is_idempotent(settings: Settings, world: World) -> None:
    t = await world.tenant()
    tid = mint_for_system(t.account_id)
    async with world.db.tenant(tid) as s:
        new = service.NewConnection("Old key", ConnectionType.SLACK, {"workspace": "acme"}, "cli-secret-value")
        await service.create_connection(s, tid, OP, SecretBox([KEY_A]), new)

    refused = _cli(settings, None)
    assert refused.returncode == 2 and "CONNECTION_SECRET_KEYS" in refused.stderr
    keys = [CONNECTION_SECRET_KEY, KEY_B, KEY_A]  # the test key stays primary for the other tests
    first = _cli(settings, keys)
    assert first.returncode == 0, first.stderr
    assert "accounts:" in first.stdout and " 0 connection secrets re-encrypted" not in first.stdout
    second = _cli(settings, keys)
    assert second.returncode == 0 and " 0 connection secrets re-encrypted" in second.stdout, second.stdout
    assert "cli-secret-value" not in first.stdout + first.stderr + second.stdout + second.stderr
    async with world.db.tenant(tid) as s:
        ciphertext = await s.scalar(sa.select(Connection.secret_ciphertext))
    assert SecretBox([CONNECTION_SECRET_KEY]).decrypt(ciphertext) == "cli-secret-value"
