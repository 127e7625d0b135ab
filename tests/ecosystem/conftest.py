"""The ecosystem tests (issue #8, items 1 and 2): our server over TCP, next to npm tools from
ecosystem/ (installed by `make ecosystem`) and the client generators (`make codegen-venv`).

A missing tool fails these tests: they never skip."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port, in a thread with its own event loop and pool: the base URL."""
    from cockpit_graphql.app import create_app

    port = free_port()
    app = create_app(settings.model_copy(update={"gc_tuning": False}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"ecosystem-api-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive(), "the server thread stopped (see the log above)"
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.05)
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
