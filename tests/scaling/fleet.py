"""Separate OS processes of the product against the test database and Redis: API replicas (`cockpit serve`)
and arq workers (`cockpit worker`), configured through the environment as deployed, from a Settings object."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
COCKPIT = str(Path(sys.executable).parent / "cockpit")
HOST = "127.0.0.1"
START_TIMEOUT_S = 180.0  # four interpreters importing the app on 2 busy cores: ~15 s when quiet, minutes when not
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def environment(settings: Any, **overrides: Any) -> dict[str, str]:
    """Every setting as the environment variable pydantic-settings reads (lists and dicts as JSON)."""
    env = dict(os.environ)
    for name, value in settings.model_copy(update=overrides).model_dump().items():
        if value is None:
            env.pop(name.upper(), None)
        elif isinstance(value, list | dict):
            env[name.upper()] = json.dumps(value)
        elif isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        else:
            env[name.upper()] = str(value)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]
    base_url: str | None = None  # API replicas only

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def output(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return f"--- {self.name} (pid {self.pid}) ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.resume()  # a paused process would not act on the signal
                self.popen.send_signal(signal.SIGINT)  # uvicorn and arq shut down gracefully
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT_S)
        self.log.close()


@dataclass
class Fleet:
    apis: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str], logs: Path, port: int | None = None) -> Process:
        log_path = logs / f"{name}.log"
        log = log_path.open("wb")
        popen = subprocess.Popen([COCKPIT, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process = Process(name, popen, log_path, log, f"http://{HOST}:{port}" if port else None)
        (self.apis if port else self.workers).append(process)
        return process

    def wait_healthy(self) -> None:
        """Every API answers /healthz (the workers need no wait: a job waits in the queue until one polls)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        pending = list(self.apis)
        while pending:
            for process in self.all:
                assert process.popen.poll() is None, f"{process.name} exited:\n{self.output()}"
            for api in list(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{api.base_url}/healthz", timeout=1.0).status_code == 200:
                        pending.remove(api)
            assert time.monotonic() < deadline, f"not healthy within {START_TIMEOUT_S:.0f} s:\n{self.output()}"
            time.sleep(0.2)

    @property
    def all(self) -> list[Process]:
        return [*self.apis, *self.workers]

    def output(self) -> str:
        return "\n".join(p.output() for p in self.all)

    def stop(self) -> None:
        for process in self.all:
            process.stop()


def start_fleet(settings: Any, logs: Path, *, apis: int, workers: int, queue_name: str) -> Fleet:
    """`apis` × `cockpit serve` (one uvicorn worker each, own port) and `workers` × `cockpit worker` on
    `queue_name`, started together; returns once every API is healthy. Small pools: four processes
    share the test server's connections with other test runs."""
    env = environment(settings, worker_queue_name=queue_name, db_pool_size=4, db_max_overflow=4)
    fleet = Fleet()
    try:
        for i in range(apis):
            port = free_port()
            fleet.start(f"api-{i}", ["serve", "--host", HOST, "--port", str(port)], env, logs, port)
        for i in range(workers):
            fleet.start(f"worker-{i}", ["worker"], env, logs)
        fleet.wait_healthy()
    except BaseException:
        fleet.stop()
        raise
    return fleet
