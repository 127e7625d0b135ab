"""Progress of long CLI work goes to stderr: plain throttled lines, or a bar on a terminal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cockpit_graphql.ops.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
COCKPIT = str(Path(sys.executable).parent / "cockpit")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_are_throttled_but_the_last_is_always_written() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress("rotate-secrets", out, interval=1.0, clock=lambda: now[0])
    for done in range(1, 6):
        now[0] += 0.4
        progress(done, 5)
    assert out.getvalue().splitlines() == [
        "rotate-secrets: 1/5 (20%, 0.4s)",
        "rotate-secrets: 4/5 (80%, 1.6s)",
        "rotate-secrets: 5/5 (100%, 2.0s)",
    ]


def test_a_terminal_gets_one_redrawn_bar() -> None:
    out = Tty()
    progress = Progress("bootstrap: accounts", out, interval=0, width=10, clock=lambda: 0.0)
    progress(1, 4)
    progress(4, 4)
    assert out.getvalue() == (
        "\rbootstrap: accounts [##--------] 1/4  25% (0.0s)\rbootstrap: accounts [##########] 4/4 100% (0.0s)\n"
    )


async def test_bootstrap_reports_its_steps(settings: Any, world: Any) -> None:
    from cockpit_graphql.ops.bootstrap import bootstrap

    await world.tenant()
    calls: dict[str, list[tuple[int, int]]] = {}

    def step(name: str) -> Any:
        return lambda done, total: calls.setdefault(name, []).append((done, total))

    report = await bootstrap(settings, progress=step)
    accounts = calls["accounts"]
    assert len(accounts) == report.accounts_checked and accounts[-1] == (report.accounts_checked,) * 2


def test_rotate_secrets_prints_progress_on_stderr_and_the_result_on_stdout(settings: Any) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "CONNECTION_SECRET_KEYS": '["' + settings.connection_secret_keys[0] + '"]',
    }
    env.pop("DEV_JWT_SECRET", None)
    done = subprocess.run([COCKPIT, "rotate-secrets"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "re-encrypted" in done.stdout and "rotate-secrets:" not in done.stdout
    last = [line for line in done.stderr.splitlines() if line.startswith("rotate-secrets:")][-1]
    assert "(100%" in last
