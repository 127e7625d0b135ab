"""The ecosystem tests (issue #8, items 1 and 2): our server over TCP, next to npm tools from
ecosystem/ (installed by `make ecosystem`) and the client generators (`make codegen-venv`).

A missing tool fails these tests: they never skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import live_server

ROOT = Path(__file__).resolve().parents[2]
ECOSYSTEM = ROOT / "ecosystem"


def node() -> str:
    path = shutil.which("node")
    assert path, "node is not on PATH: the ecosystem tests need Node.js (20 or newer) and npm"
    assert (ECOSYSTEM / "node_modules" / ".installed").exists(), (
        "ecosystem/node_modules is missing: run `make ecosystem`"
    )
    return path


def run_node(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs an ecosystem/ script to completion (cwd ecosystem/, so its node_modules resolve)."""
    return subprocess.run(
        [node(), script, *args], cwd=ECOSYSTEM, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def node_service(script: str, *args: str, log_path: Path, port: int | None = None) -> Iterator[Callable[[], str]]:
    """Starts an ecosystem/ server script (on `port`, else a free one) and yields `ready()`, which waits
    for its `{"ready": url}` line and returns the URL (so other work can run while it starts); stops it."""
    log = log_path.open("w+")
    proc = subprocess.Popen(
        [node(), script, *args],
        cwd=ECOSYSTEM,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ) | {"PORT": str(port or 0)},
    )

    def ready() -> str:
        deadline = time.monotonic() + 60
        while True:
            for line in log_path.read_text().splitlines():
                if line.startswith('{"ready"'):
                    return str(json.loads(line)["ready"])
            assert proc.poll() is None, f"{script} exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"{script} did not start:\n{log_path.read_text()}"
            time.sleep(0.05)

    try:
        yield ready
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def api(settings: Any, db: Any) -> Iterator[str]:
    """Our app (create_app with the test settings and database) served by uvicorn on a free 127.0.0.1
    port (tests/support/live_server.py): the base URL."""
    with live_server(settings) as base:
        yield base
