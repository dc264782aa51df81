"""The rest-hook HTTP client (subscriptions/hook_client.py) against real servers on
127.0.0.1 that answer as receivers do, and as broken ones do."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_server.config import Settings
from fhir_server.subscriptions import channels
from fhir_server.subscriptions.hook_client import MAX_BODY, HookClient, HookError
from tests.support.tls import ThrowawayCA

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close after


class Server:
    """A raw HTTP/1.1 server: reads each request (head and Content-Length body), records
    it and lets `answer` write whatever it likes."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook?x=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.answer(request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()


def _ok(extra: bytes = b"") -> Answer:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + extra + b"\r\n")
        await writer.drain()
        return b"Connection: close" not in extra

    return answer


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_posts_reuse_one_kept_alive_connection() -> None:
    async def scenario() -> None:
        async with Server(_ok()) as server:
            client = HookClient()
            headers = [("Authorization", "Bearer abc"), ("Content-Type", "application/fhir+json")]
            for i in range(5):
                assert await client.post(server.url, headers, b'{"n":%d}' % i, 5) == 200
            await client.close()
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
        assert b"\r\nAuthorization: Bearer abc\r\n" in first
        assert b"\r\nContent-Length: 7\r\n" in first and first.endswith(b'{"n":0}')
        assert b"\r\nHost: 127.0.0.1:" in first

    _run(scenario)


def test_answers_with_bodies_chunked_or_closing() -> None:
    answers = [
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the connection closes",
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    ]

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        data = answers[len(server.requests) - 1]
        writer.write(data)
        await writer.drain()
        return b"HTTP/1.0" not in data

    async def scenario() -> None:
        client = HookClient()
        statuses = [await client.post(server.url, [], b"{}", 5) for _ in answers]
        assert statuses == [202, 201, 200, 503]
        await client.close()

    server = Server(answer)

    async def run() -> None:
        async with server:
            await scenario()

    _run(run)
    assert server.connections == 2  # the HTTP/1.0 answer ended its connection


def test_a_kept_alive_connection_closed_before_answering_is_replaced() -> None:
    first: list[asyncio.StreamWriter] = []

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if not first:
            first.append(writer)
        elif writer is first[0]:
            return False  # the receiver gave up the idle connection: closed, no answer
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return True

    server = Server(answer)

    async def scenario() -> None:
        async with server:
            client = HookClient()
            assert await client.post(server.url, [], b'{"n":1}', 5) == 200
            assert await client.post(server.url, [], b'{"n":2}', 5) == 200
            await client.close()

    _run(scenario)
    assert server.connections == 2
    assert [r.endswith(b'{"n":2}') for r in server.requests] == [False, True, True]


def test_no_answer_in_time_is_a_timeout_and_the_connection_is_not_reused() -> None:
    async def slow(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if len(server.requests) == 1:
            await asyncio.sleep(2)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return True

    server = Server(slow)

    async def scenario() -> None:
        async with server:
            client = HookClient()
            with pytest.raises(TimeoutError):
                await client.post(server.url, [], b"{}", 0.3)
            assert await client.post(server.url, [], b"{}", 5) == 200
            await client.close()
        assert server.connections == 2

    _run(scenario)


def test_a_large_answer_is_not_read_to_its_end() -> None:
    async def big(request: bytes, writer: asyncio.StreamWriter) -> bool:
        size = 50 * MAX_BODY
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        writer.write(b"x" * size)
        await writer.drain()
        return True

    async def scenario() -> None:
        async with Server(big) as server:
            client = HookClient()
            assert await client.post(server.url, [], b"{}", 5) == 200
            assert all(not pool.idle for pool in client._pools.values())
            await client.close()

    _run(scenario)


def test_refused_garbled_and_unsendable() -> None:
    async def garbage(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        return False

    async def scenario() -> None:
        client = HookClient()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        with pytest.raises(HookError, match="could not connect"):
            await client.post(f"http://127.0.0.1:{free}/hook", [], b"{}", 5)
        async with Server(garbage) as server:
            with pytest.raises(HookError, match="not HTTP"):
                await client.post(server.url, [], b"{}", 5)
            with pytest.raises(HookError, match="cannot be sent"):
                await client.post(server.url, [("X-Evil", "a\r\nInjected: yes")], b"{}", 5)
            assert len(server.requests) == 1  # the unsendable never reached it
            with pytest.raises(HookError, match="not HTTP"):  # an IRI goes percent-encoded
                await client.post(server.url.replace("/hook", "/å b"), [], b"{}", 5)
            assert server.requests[-1].startswith(b"POST /%C3%A5%20b?x=1 HTTP/1.1\r\n")
        with pytest.raises(HookError, match="not an http"):
            await client.post("ftp://127.0.0.1/x", [], b"{}", 5)
        await client.close()

    _run(scenario)


def test_an_idle_connection_is_closed_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir_server.subscriptions import hook_client

    monkeypatch.setattr(hook_client, "IDLE_SECONDS", 0.2)

    async def scenario() -> None:
        async with Server(_ok()) as server:
            client = HookClient()
            assert await client.post(server.url, [], b"{}", 5) == 200
            (pool,) = client._pools.values()
            (connection,) = pool.idle
            await asyncio.sleep(0.5)
            assert pool.idle == [] and connection.closed
            assert await client.post(server.url, [], b"{}", 5) == 200  # a new one
            await client.close()
        assert server.connections == 2

    _run(scenario)


def _tls_server(ca: ThrowawayCA, *, require_client: bool) -> ssl.SSLContext:
    issued = ca.issue("receiver.test", ips=("127.0.0.1",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(issued.cert), str(issued.key))
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(ca.pem))
    return context


def test_https_endpoints_are_checked_against_the_configured_cas(tmp_path: Path) -> None:
    ca = ThrowawayCA(tmp_path)
    server_tls = _tls_server(ca, require_client=False)
    settings = Settings(data_dir=tmp_path, subscription_tls_ca_file=ca.pem)

    async def scenario() -> None:
        async with Server(_ok(), tls=server_tls) as server:
            url = server.url.replace("http://", "https://")
            untrusting = HookClient()  # the system's CAs only: our test CA is not among them
            with pytest.raises(HookError, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.post(url, [], b"{}", 5)
            trusting = channels.client(settings)
            assert await trusting.post(url, [], b"{}", 5) == 200
            wrong_name = url.replace("127.0.0.1", "localhost")  # not in the certificate
            with pytest.raises(HookError, match="CERTIFICATE_VERIFY_FAILED"):
                await trusting.post(wrong_name, [], b"{}", 5)
            await untrusting.close()
            await trusting.close()
        assert len(server.requests) == 1

    _run(scenario)


def test_a_client_certificate_for_endpoints_that_require_one(tmp_path: Path) -> None:
    ca = ThrowawayCA(tmp_path)
    server_tls = _tls_server(ca, require_client=True)
    ours = ca.issue("fhir-server.test", client=True)
    without = Settings(data_dir=tmp_path, subscription_tls_ca_file=ca.pem)
    with_cert = Settings(
        data_dir=tmp_path,
        subscription_tls_ca_file=ca.pem,
        subscription_tls_cert_file=ours.cert,
        subscription_tls_key_file=ours.key,
    )

    async def scenario() -> None:
        async with Server(_ok(), tls=server_tls) as server:
            url = server.url.replace("http://", "https://")
            anonymous = channels.client(without)
            with pytest.raises(HookError):
                await anonymous.post(url, [], b"{}", 5)
            known = channels.client(with_cert)
            assert await known.post(url, [], b"{}", 5) == 200
            await anonymous.close()
            await known.close()
        assert len(server.requests) == 1

    _run(scenario)
