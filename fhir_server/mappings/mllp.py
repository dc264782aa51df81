"""The MLLP listener: HL7 v2 messages over TCP (HL7 v2 Minimal Lower Layer Protocol,
release 2: a frame is 0x0B, the message, 0x1C 0x0D), answered by their ACK on the same
connection, one message at a time per connection (their order is the sender's).

A background service (fhir_server/services.py), on when `mllp_port` is set. There is no
authentication on MLLP: the port must be reachable only from the hospital's PAS
integration network. Writes are the server's own, limited to what the feed needs (create,
read, update, search on Patient and Encounter, reading Organizations) and audited under
the principal `hl7v2-mllp` with the sender's address while security is on.

A frame larger than `mllp_max_frame_bytes` is answered AR and the connection closed; a
connection that sends no complete frame within `mllp_timeout` seconds is closed. When the
store cannot take writes for now (503), the message is not answered and the connection is
closed: the sender keeps it and sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from fhir_server.mappings.ack import acknowledgment
from fhir_server.mappings.adt import ERROR, REJECTED, decode, encode, process
from fhir_server.mappings.er7 import parse
from fhir_server.mappings.problems import MessageProblem
from fhir_server.mappings.rules import adt_mapping
from fhir_server.outcome import FhirError
from fhir_server.runtime import Runtime
from fhir_server.storage.port import RequestContext

log = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
PRINCIPAL = "hl7v2-mllp"
SCOPES = frozenset({"system/Patient.crus", "system/Encounter.crus", "system/Organization.rs"})
MAX_CONNECTIONS = 64


class StoreUnavailable(Exception):
    """The store cannot take writes for now (503): a message gets no ACK, so that it is
    sent again, rather than an AE that would make the sender drop it."""


def frame(message: bytes) -> bytes:
    return START_BLOCK + message + END_BLOCK


class MllpListener:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int | None:
        """The port it listens on (the one the system chose when configured as 0)."""
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if not self.settings.mllp_port:
            return
        adt_mapping()  # a broken mapping file fails the start, not the first message
        self._server = await asyncio.start_server(
            self._connection,
            self.settings.mllp_host,
            self.settings.mllp_port,
            # the separator must fit: the frame's end block follows its largest message
            limit=self.settings.mllp_max_frame_bytes + len(END_BLOCK) + 1,
            # each server process (`--workers`) listens; the kernel shares the connections
            reuse_port=hasattr(socket, "SO_REUSEPORT"),
        )
        log.info("HL7 v2 MLLP listener on %s:%s", self.settings.mllp_host, self.settings.mllp_port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) else None
        if len(self._connections) >= MAX_CONNECTIONS:
            log.warning("MLLP: refusing a connection from %s: %d open", host, MAX_CONNECTIONS)
            await _close(writer)
            return
        self._connections.add(task)
        try:
            await self._serve(reader, writer, host)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the sender went away
        except TimeoutError:
            log.info("MLLP: closing the idle connection from %s", host)
        finally:
            self._connections.discard(task)
            await _close(writer)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str | None
    ) -> None:
        timeout = self.settings.mllp_timeout
        limit = self.settings.mllp_max_frame_bytes
        context = RequestContext(
            principal=PRINCIPAL,
            scopes=SCOPES,
            enforced=not self.settings.insecure_no_auth,
            client_ip=host,
            interaction="operation",
            target="MLLP $hl7v2-adt",
        )
        while True:
            try:
                async with asyncio.timeout(timeout):
                    await _skip_to_start(reader, limit)
                    body = (await reader.readuntil(END_BLOCK))[: -len(END_BLOCK)]
            except asyncio.LimitOverrunError:
                await _answer_too_large(writer, limit)
                return
            if len(body) > limit:
                await _answer_too_large(writer, limit)
                return
            text = decode(body)
            try:
                ack = await self._ack(context, text)
            except StoreUnavailable as unavailable:
                # no ACK: the sender keeps the message and sends it again on a new connection
                log.warning("MLLP: the store is unavailable (%s); connection closed", unavailable)
                return
            writer.write(frame(encode(ack, text)))
            await writer.drain()

    async def _ack(self, context: RequestContext, text: str) -> str:
        try:
            outcome = await process(self.runtime, context, text)
        except Exception as failure:  # the sender must get an answer, not a dropped line
            if isinstance(failure, FhirError) and failure.status == 503:
                raise StoreUnavailable(str(failure)) from failure
            if isinstance(failure, FhirError):
                reason = str(failure)
            else:
                log.exception("MLLP: the message could not be applied")
                reason = "the server could not apply the message"
            problem = MessageProblem.error("", None, "207", f"{reason}; nothing was stored")
            message = None
            with contextlib.suppress(MessageProblem):  # it was read before it failed
                message = parse(text)
            return acknowledgment(message, ERROR, adt_mapping(), problem)
        return outcome.ack


async def _skip_to_start(reader: asyncio.StreamReader, limit: int) -> None:
    """Bytes before a frame's start block (line noise, keep-alive newlines) are dropped."""
    skipped = 0
    while True:
        byte = await reader.readexactly(1)
        if byte == START_BLOCK:
            return
        skipped += 1
        if skipped > limit:
            raise asyncio.LimitOverrunError("no start block", skipped)


async def _answer_too_large(writer: asyncio.StreamWriter, limit: int) -> None:
    problem = MessageProblem.reject(
        "",
        None,
        "100",
        f"The frame exceeds {limit} bytes (or has no end block); the connection is closed",
    )
    ack = acknowledgment(None, REJECTED, adt_mapping(), problem)
    writer.write(frame(ack.encode()))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


def create(runtime: Runtime) -> MllpListener:
    return MllpListener(runtime)
