"""The real server as a subprocess: uvicorn on a free loopback port (one worker process, or a
supervisor and N workers), output captured to a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bench.http import LeanClient
from bench.load import BenchFailure, Case, clean_data, make_client, post_graphql, statement_count
from cockpit_graphql.ops.database import owner_connection

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
TCP_ESTABLISHED = "01"  # the st column of /proc/net/tcp
PIN_ATTEMPTS_PER_CONNECTION = 25
OURS_APP_NAME = "cockpit-graphql"  # our server's application_name (db/engine.py), counted only in the bench database
KEEP_ALIVE_S = 60  # the bench server's keep-alive (`cockpit serve --keep-alive`): pinned connections stay open
KEEPALIVE_REFRESH_S = 20.0  # a request on a pinned connection idle this long, well before KEEP_ALIVE_S


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def uvicorn_command(port: int, workers: int = 1) -> list[str]:
    """The deployed way: `cockpit serve` (uvicorn, with the TCP_NODELAY fix of cli._bind_tcp_sockets).
    With workers > 1, uvicorn's supervisor starts `workers` processes that accept on one shared
    socket; each has its own database pool."""
    cockpit = Path(sys.executable).parent / "cockpit"
    command = [str(cockpit), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    return [*command, "--keep-alive", str(KEEP_ALIVE_S)]


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (Linux /proc/stat: everything but idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0.0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_environment(database_url: str, dev_secret: str, dev_issuer: str) -> dict[str, str]:
    env = os.environ.copy()
    env.pop("APP_DATABASE_URL", None)  # the app role URL must derive from the bench database
    env.update(
        {
            "DATABASE_URL": database_url,
            "DEV_JWT_SECRET": dev_secret,
            "DEV_ISSUER": dev_issuer,
            "PLATFORM_ISSUERS": f'["{dev_issuer}"]',
            "LOG_LEVEL": "WARNING",
            # the bench is one principal at full speed: the limiter is checked (one EVALSHA) but never trips
            "RATE_LIMIT_CAPACITY": "1000000000",
            "RATE_LIMIT_REFILL_PER_SECOND": "1000000000",
        }
    )
    return env


class ServerProcess:
    """Start with `start()`, always `stop()` (idempotent). Its stdout/stderr go to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            uvicorn_command(self.port, self.workers),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        self._wait_healthy()

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself, or the supervisor's worker children."""
        if self._proc is None:
            return []
        if self.workers == 1:
            return [self._proc.pid]
        try:
            children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children if b"resource_tracker" not in _cmdline(int(pid))]

    def peak_rss_mb(self) -> float:
        """The largest worker's peak resident set since it started (VmHWM), in MiB."""
        return max((peak_rss_kib(pid) for pid in self.worker_pids()), default=0) / 1024

    def worker_cpu_seconds(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in self.worker_pids()}

    def connection_owners(self) -> dict[int, int]:
        """Every open client connection to this server: the client's port → the worker process that
        accepted it (Linux /proc: the established sockets on our port, and whose descriptors they are)."""
        by_inode = {inode: pid for pid in self.worker_pids() for inode in _socket_inodes(pid)}
        owners = {}
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if int(local.rsplit(":", 1)[1], 16) == self.port and state == TCP_ESTABLISHED and inode in by_inode:
                owners[int(remote.rsplit(":", 1)[1], 16)] = by_inode[inode]
        return owners

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                healthy = httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200
                if healthy and len(self.worker_pids()) == self.workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server was not healthy within {STARTUP_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        workers = self.worker_pids() if self.workers > 1 else []
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (lifespan disposes the pool)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                for pid in workers:  # the supervisor's children would outlive its SIGKILL
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines a bench-started process wrote to `path`."""
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(no output)"


def peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(int(link[8:-1]))
    except OSError:
        pass
    return inodes


@dataclass
class PinnedClients:
    """Single-connection clients spread evenly over a server's workers: client i's connection was
    accepted by worker owners[ports[i]]. A connection closed and reopened would be another port."""

    clients: list[LeanClient] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    owners: dict[int, int] = field(default_factory=dict)
    last_used: list[float] = field(default_factory=list)
    opened: int = 0

    def per_worker(self, pids: list[int]) -> list[int]:
        counts = Counter(self.owners.values())
        return [counts[pid] for pid in sorted(pids)]

    def check_unchanged(self, server: ServerProcess) -> None:
        now = server.connection_owners()
        moved = [p for p in self.ports if now.get(p) != self.owners[p]]
        if moved:
            raise BenchFailure(f"{len(moved)} pinned connection(s) were closed during the case: the spread is unknown")

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


async def _request(server: ServerProcess, client: LeanClient, case: Case) -> tuple[int, int | None]:
    """One request of `case` (checked like any other); the client's port and the worker it reached."""
    seq = case.next_seq()
    response = await post_graphql(client, case.payload(seq))
    case.check(clean_data(response), seq)
    statement_count(response)
    return response.local_port, server.connection_owners().get(response.local_port)


async def pin_connections(server: ServerProcess, token: str, case: Case, connections: int) -> PinnedClients:
    """`connections` clients of one keep-alive connection each, no worker holding more than its even
    share (rounded up). uvicorn's workers race to accept on one shared socket and the most recently
    busy one usually wins, so a burst of connections mostly lands on one worker: connections are
    opened one at a time (each with an unmeasured request of `case`), and one accepted by a worker
    that already has its share is closed and opened again."""
    share = -(-connections // server.workers)
    pinned = PinnedClients()
    try:
        while len(pinned.clients) < connections:
            if pinned.opened >= PIN_ATTEMPTS_PER_CONNECTION * connections:
                raise BenchFailure(
                    f"could not spread {connections} connections over {server.workers} workers in {pinned.opened} "
                    f"attempts (per worker: {pinned.per_worker(server.worker_pids())})"
                )
            pinned.opened += 1
            client = make_client(server.base_url, token, 1)
            try:
                port, owner = await _request(server, client, case)
            except BaseException:
                await client.aclose()
                raise
            if owner is not None and Counter(pinned.owners.values())[owner] < share:
                pinned.clients.append(client)
                pinned.ports.append(port)
                pinned.owners[port] = owner
                pinned.last_used.append(time.monotonic())
            else:
                await client.aclose()
            await _refresh(server, pinned, case)
    except BaseException:
        await pinned.aclose()
        raise
    return pinned


async def _refresh(server: ServerProcess, pinned: PinnedClients, case: Case) -> None:
    """A request on every pinned connection idle for a while, before the server's keep-alive timeout
    (oldest first: while batches of a cold server take long, a round must not outlast the timeout)."""
    for i in sorted(range(len(pinned.clients)), key=pinned.last_used.__getitem__):
        client = pinned.clients[i]
        idle = time.monotonic() - pinned.last_used[i]
        if idle > KEEPALIVE_REFRESH_S:
            port, _ = await _request(server, client, case)
            if port != pinned.ports[i]:
                raise BenchFailure(
                    f"a pinned connection was closed while the others were being opened (idle {idle:.1f} s, "
                    f"{len(pinned.clients)} pinned, {pinned.opened} opened)"
                )
            pinned.last_used[i] = time.monotonic()


class Backends:
    """CPU time of the PostgreSQL backends that serve one server (pg_stat_activity: the bench database and
    the server's application_name), read from /proc: only when PostgreSQL runs on this machine."""

    def __init__(self, owner_url: str) -> None:
        self.owner_url = owner_url

    async def cpu(self, application_name: str) -> dict[int, float] | None:
        conn = await owner_connection(self.owner_url)
        try:
            pids = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
                application_name,
            )
        finally:
            await conn.close()
        return _local_cpu([row["pid"] for row in pids])

    @staticmethod
    def spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        if before is None or after is None:
            return None
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _local_cpu(pids: list[int]) -> dict[int, float] | None:
    """CPU seconds of these PostgreSQL backends, None when none of them is a process of this machine."""
    found = {pid: cpu_seconds(pid) for pid in pids if _is_postgres(pid)}
    return None if pids and not found else found


def _is_postgres(pid: int) -> bool:
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
