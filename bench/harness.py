"""The shared shell of `make bench` and `make bench-peer`: resolve the PostgreSQL server, run the bench,
report a failure loudly (with the tail of each started process's log), stop what was started, drop the
bench database unless `--keep`, stop an embedded server."""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import database
from bench.database import BenchServer
from bench.load import BenchFailure
from bench.report import LOOP_STEPS, speed_at_start


def run_bench(label: str, db_name: str, keep: bool, bench: Callable[[BenchServer, list[Any]], int]) -> int:
    """Run `bench(server, started)`; `started` collects the processes it starts (each with stop(),
    log_path and log_tail()). Returns its exit status (1 on any exception)."""
    print(f"machine speed: a {LOOP_STEPS:,}-step Python loop in {speed_at_start():.2f} s", flush=True)
    began = time.perf_counter()
    server = BenchServer.resolve()
    started: list[Any] = []
    status = 1
    try:
        status = bench(server, started)
    except BenchFailure as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
    except Exception as exc:
        traceback.print_exc()
        print(f"\nBENCH FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        for process in started:
            process.stop()
            if status != 0:
                print(f"output (tail of {process.log_path}):\n{process.log_tail()}", file=sys.stderr)
        if keep:
            print(f"kept database {db_name} on {server.where()}")
        else:
            asyncio.run(database.drop(server, db_name))
        server.stop()
    print(f"total {label} time: {time.perf_counter() - began:.1f} s")
    return status
