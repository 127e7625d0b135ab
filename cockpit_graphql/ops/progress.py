"""Progress of long CLI work (bootstrap, demo seeding, model seeding, secret re-encryption) on stderr,
so stdout keeps only the result. On a terminal one line is redrawn (a bar); otherwise (logs, CI) a
plain line is written at most every `interval` seconds, plus the first and the last."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

ProgressCallback = Callable[[int, int], None]
"""(done, total): what domain loops call; they know nothing of terminals."""


class Progress:
    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        interval: float = 1.0,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.width = width
        self.clock = clock
        self.started = clock()
        self._last_write: float | None = None
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._open_line = False

    def _line(self, done: int, total: int) -> str:
        elapsed = self.clock() - self.started
        if total <= 0:
            return f"{self.label}: {done} done ({elapsed:.1f}s)"
        share = min(done / total, 1.0)
        if self._tty:
            filled = int(share * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            return f"{self.label} [{bar}] {done}/{total} {share:4.0%} ({elapsed:.1f}s)"
        return f"{self.label}: {done}/{total} ({share:.0%}, {elapsed:.1f}s)"

    def update(self, done: int, total: int) -> None:
        now = self.clock()
        last = done >= total
        if not last and self._last_write is not None and now - self._last_write < self.interval:
            return
        self._last_write = now
        if self._tty:
            self.stream.write("\r" + self._line(done, total))
            self._open_line = not last
            if last:
                self.stream.write("\n")
        else:
            self.stream.write(self._line(done, total) + "\n")
        self.stream.flush()

    __call__ = update

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False
