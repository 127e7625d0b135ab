"""The bench's load client (bench/http.py) against a real socket server: the framings it reads,
keep-alive reuse, a connection the server closed, and a response it must refuse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from bench.http import HttpFailure, LeanClient

Reply = Callable[[bytes], bytes]


async def _serve(reply: Reply, close_after: int | None = None) -> tuple[asyncio.Server, list[bytes]]:
    """A loopback server answering each request with reply(request); it closes a connection after
    `close_after` answers. Returns the server and every request it read (head and body)."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                request = head + await reader.readexactly(length)
                seen.append(request)
                writer.write(reply(request))
                await writer.drain()
                answered += 1
                if close_after is not None and answered >= close_after:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[asyncio.Server], LeanClient]]:
    made: list[LeanClient] = []
    servers: list[asyncio.Server] = []

    def make(server: asyncio.Server) -> LeanClient:
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        client = LeanClient(f"http://127.0.0.1:{port}", {"Authorization": "Bearer t"}, 2, 5.0)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
    for server in servers:
        server.close()


def _length_framed(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\nx-sql-statements: 3\r\n{extra}\r\n".encode() + body


async def test_a_keep_alive_connection_carries_request_after_request(client_for) -> None:  # type: ignore[no-untyped-def]
    server, seen = await _serve(lambda request: _length_framed(b'{"data":{}}'))
    client = client_for(server)
    first = await client.post("/graphql", b'{"query":"{a}"}', {"content-type": "application/json"})
    second = await client.post("/graphql", b"{}")
    assert (first.status_code, first.content, first.headers["x-sql-statements"]) == (200, b'{"data":{}}', "3")
    assert first.local_port == second.local_port  # the same connection
    assert seen[0].startswith(b"POST /graphql HTTP/1.1\r\n")
    assert b"authorization: Bearer t\r\n" in seen[0] and b"content-type: application/json\r\n" in seen[0]
    assert seen[0].endswith(b'\r\n\r\n{"query":"{a}"}')


async def test_a_chunked_body_is_read_whole(client_for) -> None:  # type: ignore[no-untyped-def]
    chunked = b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n"
    server, _ = await _serve(lambda request: chunked)
    response = await client_for(server).post("/graphql", b"{}")
    assert (response.status_code, response.text) == (201, "hello world")


async def test_a_connection_the_server_closed_is_replaced(client_for) -> None:  # type: ignore[no-untyped-def]
    server, seen = await _serve(lambda request: _length_framed(b"ok"), close_after=1)
    client = client_for(server)
    first = await client.post("/graphql", b"{}")
    await asyncio.sleep(0.05)  # the server has closed it by now
    second = await client.post("/graphql", b"{}")
    assert (first.content, second.content, len(seen)) == (b"ok", b"ok", 2)
    assert first.local_port != second.local_port


async def test_a_response_it_cannot_frame_is_a_failure(client_for) -> None:  # type: ignore[no-untyped-def]
    for reply in (b"HTTP/1.1 200 OK\r\nx: y\r\n\r\nbody", b"SMTP ready\r\n\r\n"):
        server, _ = await _serve(lambda request, reply=reply: reply)
        with pytest.raises(HttpFailure):
            await client_for(server).post("/graphql", b"{}")
