"""A real server for tests that need one over TCP (a browser, a fuzzer): `cockpit serve` in a subprocess
on a free 127.0.0.1 port, configured from a Settings object through the environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
COCKPIT = str(Path(sys.executable).parent / "cockpit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_environment(settings: Any) -> dict[str, str]:
    """Every field as the environment variable pydantic-settings reads (lists and dicts as JSON)."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list | dict):
            env[name.upper()] = json.dumps(value)
        elif isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        else:
            env[name.upper()] = str(value)
    return env


@contextmanager
def live_server(settings: Any, log_path: Path, **overrides: Any) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) once /healthz answers; stops the server after."""
    port = free_port()
    env = dict(os.environ) | settings_environment(settings.model_copy(update=overrides)) | {"XDG_RUNTIME_DIR": "/tmp"}
    log = log_path.open("w+")
    proc = subprocess.Popen(
        [COCKPIT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"server exited:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server did not start:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
