"""The HTTP/1.1 client that POSTs rest-hook notifications: kept-alive connections per
endpoint, a response parsed by httptools (the C parser uvicorn serves with).

Why not a general client: a notification is one POST whose answer only matters by its
status. Measured with a receiver on loopback, aiohttp spent ~190 µs of CPU per POST and
this client ~40 µs; at a thousand notifications a second that difference was most of
what subscriptions cost the server's writes (bench/subscriptions.py).

What it does: http and https (the system's trust store, the endpoint's host name checked);
up to `per_endpoint` connections per scheme, host and port, reused while the receiver
keeps them alive and closed after IDLE_SECONDS unused; the answer's body read and dropped
(at most MAX_BODY bytes, then the connection is closed); no redirects, no proxies, no
cookies. A kept-alive connection the
receiver closed before answering is retried once on a new one (delivery is at least once
anyway: receivers tell repeats by the event numbers).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

MAX_BODY = 64 * 1024
IDLE_SECONDS = 30.0  # a kept-alive connection unused this long is closed
_AGENT = b"User-Agent: fhir-server\r\n"
_KEEP = "/?#[]@!$&'()*+,;=:%~-._"  # reserved and unreserved characters of RFC 3986


class HookError(Exception):
    """The POST did not get an answer (the message says why)."""


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    request_line: bytes  # b"POST /path?query HTTP/1.1\r\nHost: …\r\n"


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HookError(f"'{url}' is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # an IRI's characters percent-encoded (what is already encoded stays), a name's IDNA
    path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _KEEP)
    host = parts.hostname
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    shown = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        shown += f":{parts.port}"
    if any(c in path + shown for c in " \t\r\n\0") or not (path + shown).isascii():
        raise HookError(f"'{url}' cannot be sent in a request line")
    line = f"POST {path} HTTP/1.1\r\nHost: {shown}\r\n"
    return _Target(parts.scheme, host, port, line.encode("ascii"))


def _head(target: _Target, headers: Sequence[tuple[str, str]], length: int) -> bytes:
    lines = [target.request_line, _AGENT]
    for name, value in headers:
        if any(c in name for c in " \t:\r\n\0") or any(c in value for c in "\r\n\0"):
            raise HookError(f"header '{name}' cannot be sent")
        lines.append(f"{name}: {value}\r\n".encode("latin-1", "strict"))
    lines.append(b"Content-Length: %d\r\n\r\n" % length)
    return b"".join(lines)


class _Connection(asyncio.Protocol):
    """One connection: one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[int] | None = None
        self.answered_any = False  # a byte of an answer arrived on this exchange
        self.body = 0
        self.closed = False
        self.keep = False
        self.headers_done = False
        self.idle_timer: asyncio.TimerHandle | None = None  # closes it when idle too long

    # protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.answered_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(HookError("the endpoint switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(HookError(f"the answer is not HTTP/1.1: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done:  # an answer whose body ends with the connection
            self._settle()
        self._fail(HookError(f"the connection closed{f': {exc}' if exc else ''}"))

    # parser callbacks ---------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body += len(body)
        if self.body > MAX_BODY:  # the status is known; the rest is not worth reading
            self.keep = False
            self._settle()
            self.close()

    def on_message_complete(self) -> None:
        self.keep = self.parser.should_keep_alive()
        self._settle()

    # ------------------------------------------------------------------------------------

    def _settle(self) -> None:
        answer = self.answer
        if answer is not None and not answer.done():
            answer.set_result(self.parser.get_status_code())

    def _fail(self, error: HookError) -> None:
        answer = self.answer
        if answer is not None and not answer.done():
            answer.set_exception(error)

    def send(self, data: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.answered_any = False
        self.headers_done = False
        self.body = 0
        self.keep = False
        self.transport.write(data)
        return self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _drop_idle(pool: _Pool, connection: _Connection) -> None:
    """A connection unused for IDLE_SECONDS is closed (the endpoint may not be used again)."""
    if connection in pool.idle:
        pool.idle.remove(connection)
    connection.close()


class _Pool:
    def __init__(self, size: int) -> None:
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(size)


class HookClient:
    def __init__(self, per_endpoint: int = 8, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: how https endpoints are checked (default: the system's trust store)."""
        self._per_endpoint = per_endpoint
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._targets: dict[str, _Target] = {}
        self._tls = tls

    async def post(
        self, url: str, headers: Sequence[tuple[str, str]], body: bytes, timeout: float
    ) -> int:
        """POST `body` to `url`; the answer's status code. Raises HookError when there is
        no answer, TimeoutError after `timeout` seconds."""
        target = self._targets.get(url)
        if target is None:
            target = _target(url)
            if len(self._targets) > 10_000:
                self._targets.clear()
            self._targets[url] = target
        request = _head(target, headers, len(body)) + body
        key = (target.scheme, target.host, target.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self._per_endpoint)
        async with asyncio.timeout(timeout), pool.slots:
            return await self._exchange(pool, target, request)

    async def _exchange(self, pool: _Pool, target: _Target, request: bytes) -> int:
        while pool.idle:
            connection = pool.idle.pop()
            if connection.idle_timer is not None:
                connection.idle_timer.cancel()
            if connection.closed:
                continue
            try:
                return await self._once(pool, connection, request)
            except HookError:
                if connection.answered_any:
                    raise
                # closed by the receiver while idle: once more on a new connection
                break
        return await self._once(pool, await self._connect(target), request)

    async def _once(self, pool: _Pool, connection: _Connection, request: bytes) -> int:
        try:
            status = await connection.send(request)
        except BaseException:
            connection.close()
            raise
        if connection.keep and not connection.closed:
            pool.idle.append(connection)
            connection.idle_timer = asyncio.get_running_loop().call_later(
                IDLE_SECONDS, _drop_idle, pool, connection
            )
        else:
            connection.close()
        return status

    async def _connect(self, target: _Target) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if target.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        try:
            _, connection = await loop.create_connection(
                _Connection,
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise HookError(f"could not connect: {exc}") from None
        return connection

    async def close(self) -> None:
        for pool in self._pools.values():
            for connection in pool.idle:
                if connection.idle_timer is not None:
                    connection.idle_timer.cancel()
                connection.close()
            pool.idle.clear()
        self._pools.clear()
