"""Machine facts and the Markdown results table."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.load import CaseResult

COLUMNS = (
    "case",
    "concurrency",
    "workers",
    "requests",
    "req/s",
    "events/s",
    "p50 ms",
    "p99 ms",
    "SQL statements/request",
    "server peak RSS MB",
)


LOOP_STEPS = 10_000_000


def python_loop_seconds(steps: int = LOOP_STEPS) -> float:
    """How long this process takes for a fixed pure-Python loop: the machine's speed right now. This
    shared machine has run the same loop in 0.63 s and in 2.2 s on the same day, and every figure of
    a run moves with it: compare runs through it, and cases within a run."""
    started = time.perf_counter()
    total = 0
    for i in range(steps):
        total += i * i
    return time.perf_counter() - started


@functools.cache
def speed_at_start() -> float:
    """The loop timed once, when a bench starts (bench.harness); machine_facts times it again at the end."""
    return python_loop_seconds()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision(root: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}{' (uncommitted changes)' if dirty else ''}"


def machine_facts(pg_version: str, pg_where: str, root: Path) -> list[str]:
    start, end = speed_at_start(), python_loop_seconds()
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine speed: a {LOOP_STEPS:,}-step Python loop took {start:.2f} s when the bench started and "
        f"{end:.2f} s at its end (for comparison: 0.69 s at the 06:29 UTC run of 2026-11-27, 1.44 s at its 03:24 run)",
        f"- commit: {git_revision(root)}",
        f"- nproc: {os.cpu_count()} ({cpu_model()})",
        f"- python: {platform.python_version()} ({platform.python_implementation()})",
        f"- postgresql: {pg_version} at {pg_where}",
        "- server: uvicorn on loopback, with the number of worker processes in the `workers` column; "
        "client: bench.http.LeanClient (HTTP/1.1 keep-alive over asyncio streams) in the bench process "
        "(it shares the cores)",
    ]


def _statements_cell(result: CaseResult) -> str:
    if result.statements_identical:
        return str(result.statements[0])
    counts = ", ".join(f"{n} in {c} requests" for n, c in sorted(Counter(result.statements).items()))
    return f"{min(result.statements)}-{max(result.statements)} (VARIES: {counts})"


def _events_cell(result: CaseResult) -> str:
    rate = result.events_per_s
    return "–" if rate is None else f"{rate:,.0f}"


def _row(result: CaseResult) -> list[str]:
    return [
        result.case.name,
        str(result.case.concurrency),
        str(result.case.workers),
        str(result.requests),
        f"{result.throughput:.1f}",
        _events_cell(result),
        f"{result.percentile_ms(50):.1f}",
        f"{result.percentile_ms(99):.1f}",
        _statements_cell(result),
        "–" if result.server_rss_mb is None else f"{result.server_rss_mb:.0f}",
    ]


def as_json(result: CaseResult) -> dict[str, object]:
    """One case for bench/results/latest.json."""
    return {
        "case": result.case.name,
        "concurrency": result.case.concurrency,
        "workers": result.case.workers,
        "requests": result.requests,
        "wall_s": round(result.wall_s, 3),
        "req_per_s": round(result.throughput, 2),
        "events_per_s": None if result.events_per_s is None else round(result.events_per_s, 1),
        "p50_ms": round(result.percentile_ms(50), 2),
        "p99_ms": round(result.percentile_ms(99), 2),
        "sql_statements": sorted(set(result.statements)),
        "server_peak_rss_mb": None if result.server_rss_mb is None else round(result.server_rss_mb, 1),
    }


def markdown_table(results: list[CaseResult]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in results]
    return "\n".join(lines)


def render(facts: list[str], seeding: str, results: list[CaseResult], notes: list[str] | None = None) -> str:
    lines = ["# Cockpit GraphQL bench", "", *facts, f"- {seeding}", "", markdown_table(results), ""]
    if notes:
        lines += [*(f"- {note}" for note in notes), ""]
    return "\n".join(lines)
