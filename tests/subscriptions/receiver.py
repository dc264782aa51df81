"""A real HTTP receiver of notifications on 127.0.0.1 (stdlib http.server in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    at: float  # time.time() on receipt
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    refused: int = 0  # requests answered with an error
    fail_next: int = 0  # answer this many requests with 503
    delay: float = 0.0  # seconds to wait before answering
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bundles(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json() for r in self.received if r.body]

    def wait_for(
        self, test: Callable[[Receiver], bool], timeout: float = 15.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                pass
            if test(self):
                return
            time.sleep(0.02)
        raise AssertionError(f"receiver: not seen within {timeout}s: {what}")

    def events(self) -> list[int]:
        """Event numbers of every event-notification received, in order of receipt."""
        return [number for bundle in self.bundles() for number in event_numbers(bundle)]


def status_of(bundle: dict[str, Any]) -> dict[str, Any]:
    """The SubscriptionStatus parameters of a notification, by name."""
    parameters = bundle["entry"][0]["resource"]["parameter"]
    out: dict[str, Any] = {}
    for p in parameters:
        value = next((v for k, v in p.items() if k.startswith("value")), p.get("part"))
        out.setdefault(p["name"], []).append(value)
    return {k: v[0] if len(v) == 1 and k != "notification-event" else v for k, v in out.items()}


def event_numbers(bundle: dict[str, Any]) -> list[int]:
    status = status_of(bundle)
    if status.get("type") != "event-notification":
        return []
    return [
        int(next(part["valueString"] for part in parts if part["name"] == "event-number"))
        for parts in status.get("notification-event", [])
    ]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = state["r"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if rec.delay:
                time.sleep(rec.delay)
            with rec.lock:
                failing = rec.fail_next > 0
                if failing:
                    rec.fail_next -= 1
                    rec.refused += 1
                else:
                    rec.received.append(
                        Received(time.time(), "POST", self.path, dict(self.headers), body)
                    )
            self.send_response(503 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()
