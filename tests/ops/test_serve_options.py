"""`cockpit serve` passes its options to uvicorn: the keep-alive a load balancer needs (docs/runbook.md)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from cockpit_graphql import cli, logging_setup


@pytest.mark.parametrize(("argv", "keep_alive"), [([], cli.DEFAULT_KEEP_ALIVE_S), (["--keep-alive", "75"], 75)])
def test_serve_gives_uvicorn_the_keep_alive(monkeypatch: pytest.MonkeyPatch, argv: list[str], keep_alive: int) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options, app=app))
    monkeypatch.setattr(logging_setup, "configure_logging", lambda level: None)  # the suite's logging stays
    monkeypatch.setattr(cli, "_bind_tcp_sockets", lambda: None)  # uvicorn's Config stays as it is
    monkeypatch.setenv("SERVER_WORKERS", "1")  # serve sets it; restored after the test
    assert cli.main(["serve", "--port", "8765", *argv]) == 0
    assert seen["timeout_keep_alive"] == keep_alive
    assert (seen["app"], seen["port"], seen["workers"]) == ("cockpit_graphql.app:create_app", 8765, 1)
