"""The load generator's HTTP client: HTTP/1.1 keep-alive POSTs over asyncio streams, nothing more.

The bench client shares the machine's two cores with the servers and PostgreSQL, so what it costs is
taken from the server being measured. httpx.AsyncClient cost 1.25 ms of CPU per effectiveAccess
request on a fast day and 4.6 ms on a slow one (2026-11-27 07:59: a fifth of the machine at c=16):
its connection pool, h11, and its request and response models. This client writes the request bytes
and reads the status line, the headers and a Content-Length or chunked body. It does no redirects,
no retries of a request the server may have seen, and no TLS: it only ever talks to 127.0.0.1.
Anything it cannot parse is a BenchFailure. The setup steps keep using httpx (they are not measured).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit


class HttpFailure(RuntimeError):
    """A response this client cannot read: the bench must fail loudly (bench.load wraps it)."""


@dataclass(slots=True)
class LeanResponse:
    status_code: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    content: bytes
    local_port: int  # the client's port: which keep-alive connection carried the request

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    local_port: int

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """At most `max_connections` keep-alive connections to one loopback server; `post` takes an idle
    one or opens one. Use as an async context manager (or call `aclose`)."""

    def __init__(self, base_url: str, headers: dict[str, str], max_connections: int, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"LeanClient speaks plain HTTP to host:port only, not {base_url!r}")
        self.host, self.port, self.timeout_s = parts.hostname, parts.port, timeout_s
        fixed = {"host": f"{self.host}:{self.port}", **{k.lower(): v for k, v in headers.items()}}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def post(self, path: str, content: bytes, headers: dict[str, str] | None = None) -> LeanResponse:
        extra = "".join(f"{k.lower()}: {v}\r\n" for k, v in (headers or {}).items())
        head = f"POST {path} HTTP/1.1\r\n{self._fixed}{extra}content-length: {len(content)}\r\n\r\n"
        async with self._slots:
            connection = self._take() or await self._open()
            try:
                response = await asyncio.wait_for(self._exchange(connection, head.encode() + content), self.timeout_s)
            except BaseException:
                connection.close()
                raise
            if response.headers.get("connection", "").lower() == "close":
                connection.close()
            else:
                self._idle.append(connection)
            return response

    def _take(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof():  # the server closed an idle one (keep-alive timeout)
                return connection
            connection.close()
        return None

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer, writer.get_extra_info("sockname")[1])

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes) -> LeanResponse:
        connection.writer.write(request)
        reader = connection.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise HttpFailure(f"the server closed the connection ({len(exc.partial)} bytes of a response)") from exc
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise HttpFailure(f"not an HTTP/1.x status line: {status_line!r}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            raise HttpFailure(f"a response without Content-Length or chunked encoding: {headers}")
        return LeanResponse(int(rest[:3]), headers, body, connection.local_port)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the blank line
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
