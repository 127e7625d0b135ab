"""Counts SQL statements per unit of work (a request, a test block) via a context variable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class StatementCounter:
    count: int = 0
    statements: list[str] = field(default_factory=list)
    keep_text: bool = False

    def record(self, statement: str) -> None:
        self.count += 1
        if self.keep_text:
            self.statements.append(statement)


_current: ContextVar[StatementCounter | None] = ContextVar("statement_counter", default=None)


@contextlib.contextmanager
def count_statements(keep_text: bool = False) -> Iterator[StatementCounter]:
    counter = StatementCounter(keep_text=keep_text)
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


def instrument(engine: AsyncEngine) -> None:
    def _before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counter = _current.get()
        if counter is not None:
            counter.record(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", _before)
