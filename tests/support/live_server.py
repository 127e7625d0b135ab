"""A real server for tests that need one over TCP (a browser, a fuzzer): uvicorn serving create_app() on a
free 127.0.0.1 port, in a thread of the test process (the app is already imported there: a subprocess
spent most of its start importing it again)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(settings: Any, **overrides: Any) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) once /healthz answers; stops the server after. The app
    opens its own database pool in its lifespan, on the server thread's event loop."""
    from cockpit_graphql.app import create_app

    app = create_app(settings.model_copy(update={"gc_tuning": False, **overrides}))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive(), "the server thread died while starting"
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.05)
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        # a server still running would keep its port, pool and event loop into the next tests
        assert not thread.is_alive(), f"the server thread on port {port} did not stop within 30 s"
