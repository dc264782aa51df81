"""The websocket channel (Backport IG): bind with a token, then notifications and heartbeats.

An app asks `Subscription/[id]/$get-ws-binding-token` (or `Subscription/$get-ws-binding-token
?id=…`) for a short-lived token and the websocket URL, connects, and sends
`bind-with-token: <token>`. The server answers with a handshake per subscription, then sends
each notification Bundle as a text message, and a heartbeat when idle. `ping` is answered with
`pong`. Events wait while no app is bound and are delivered in order when one binds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from fhir_server.outcome import error, not_found
from fhir_server.rest.operations import INSTANCE, TYPE, Invocation, Operation
from fhir_server.rest.responses import json_response
from fhir_server.subscriptions.channels import DeliveryFailed
from fhir_server.subscriptions.delivery import Delivery

if TYPE_CHECKING:
    from fhir_server.subscriptions.service import SubscriptionService

log = logging.getLogger(__name__)

PATH = "/websocket"  # under the server's base


@dataclass(frozen=True, slots=True)
class _Token:
    subscriptions: tuple[str, ...]
    expires: float  # time.monotonic()


class _Connection:
    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self.lock:
            await self.socket.send_text(text)


class Sockets:
    """Binding tokens and the connections bound to each subscription."""

    def __init__(self, token_seconds: int) -> None:
        self._token_seconds = token_seconds
        self._tokens: dict[str, _Token] = {}
        self._bound: dict[str, list[_Connection]] = {}

    def issue(self, subscriptions: list[str]) -> tuple[str, datetime]:
        now = time.monotonic()
        self._tokens = {k: t for k, t in self._tokens.items() if t.expires > now}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Token(tuple(subscriptions), now + self._token_seconds)
        return token, datetime.now(UTC) + timedelta(seconds=self._token_seconds)

    def redeem(self, token: str) -> tuple[str, ...] | None:
        found = self._tokens.pop(token, None)
        if found is None or found.expires < time.monotonic():
            return None
        return found.subscriptions

    def bind(self, sid: str, connection: _Connection) -> None:
        self._bound.setdefault(sid, []).append(connection)

    def unbind(self, connection: _Connection) -> None:
        for connections in self._bound.values():
            if connection in connections:
                connections.remove(connection)

    def connected(self, sid: str) -> bool:
        return bool(self._bound.get(sid))

    async def send(self, sid: str, text: str) -> None:
        connections = list(self._bound.get(sid, ()))
        if not connections:
            raise DeliveryFailed("no websocket is bound to the subscription")
        delivered = False
        for connection in connections:
            try:
                await connection.send(text)
                delivered = True
            except Exception:  # that app went away
                self.unbind(connection)
        if not delivered:
            raise DeliveryFailed("the bound websocket closed")


class SocketDelivery(Delivery):
    """A delivery that waits while no app is bound (waiting is not failing); it sends where
    the app's socket is, so it needs no lease."""

    needs_lease = False

    async def _step(self) -> None:
        sockets = self._sockets()
        if sockets is None or not sockets.connected(self.id):
            self._wake.clear()
            await self._wake.wait()
            return
        await super()._step()

    def _sockets(self) -> Sockets | None:
        return getattr(self._host, "sockets", None)


async def serve(scope: Scope, receive: Receive, send: Send, service: Any) -> None:
    """An app's websocket connection (the ASGI `websocket` scope)."""
    socket = WebSocket(scope, receive, send)
    if service is None or not scope["path"].rstrip("/").endswith(PATH):
        await socket.close(code=1008)
        return
    sockets: Sockets = service.sockets
    await socket.accept()
    connection = _Connection(socket)
    try:
        while True:
            text = (await socket.receive_text()).strip()
            if text.startswith("bind-with-token:"):
                subscriptions = sockets.redeem(text.partition(":")[2].strip())
                if subscriptions is None:
                    await connection.send("error: the token is unknown or expired")
                    continue
                for sid in subscriptions:
                    await _bind(service, sockets, sid, connection)
            elif text == "ping":
                await connection.send("pong")
    except WebSocketDisconnect:
        pass
    finally:
        sockets.unbind(connection)
        with contextlib.suppress(Exception):
            await socket.close()


async def _bind(
    service: SubscriptionService, sockets: Sockets, sid: str, connection: _Connection
) -> None:
    delivery = service.deliveries.get(sid)
    if delivery is None:
        await connection.send(f"error: Subscription/{sid} is not active")
        return
    status = service.status_of(delivery.spec, delivery)
    body = await service.notification_body(delivery.spec, status, "handshake", [])
    await connection.send((body or b"").decode())
    sockets.bind(sid, connection)
    delivery.wake()


async def binding_token(invocation: Invocation) -> Response:
    from fhir_server.subscriptions.service import running

    call = invocation.call
    service = running(call.runtime)
    if service is None:
        raise error(503, "transient", "the subscription service is not running")
    ids = [invocation.rid] if invocation.rid else [str(v) for v in invocation.values("id")]
    if not ids:
        raise error(400, "required", "$get-ws-binding-token needs the id of a Subscription", "id")
    for sid in ids:
        delivery = service.deliveries.get(sid)
        if delivery is None or delivery.spec.channel != "websocket":
            raise not_found(f"Subscription/{sid} is not an active websocket subscription")
    token, expires = service.sockets.issue(ids)
    base = call.base
    url = "ws" + base[4:] if base.startswith("http") else base
    parameters = [
        {"name": "token", "valueString": token},
        {"name": "expiration", "valueDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
        *({"name": "subscription", "valueString": sid} for sid in ids),
        {"name": "websocket-url", "valueUrl": url.rstrip("/") + PATH},
    ]
    return json_response({"resourceType": "Parameters", "parameter": parameters}, call.negotiated)


BINDING_TOKEN = Operation(
    name="get-ws-binding-token",
    handler=binding_token,
    levels=frozenset({TYPE, INSTANCE}),
    definition="http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"
    "backport-subscription-get-ws-binding-token",
    types=frozenset({"Subscription"}),
    documentation="A token to bind a websocket to subscriptions",
)
