"""Machine facts and the Markdown results table."""

from __future__ import annotations

import os
import platform
import subprocess
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
)


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
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- commit: {git_revision(root)}",
        f"- nproc: {os.cpu_count()} ({cpu_model()})",
        f"- python: {platform.python_version()} ({platform.python_implementation()})",
        f"- postgresql: {pg_version} at {pg_where}",
        "- server: uvicorn on loopback, with the number of worker processes in the `workers` column; "
        "client: httpx.AsyncClient in the bench process (it shares the cores)",
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
    ]


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
