"""A PAS's side of MLLP in tests: frames out, ACKs in, over a real TCP socket."""

from __future__ import annotations

import socket

START, END = b"\x0b", b"\x1c\x0d"


class MllpClient:
    def __init__(self, port: int, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self, body: bytes) -> bytes:
        """Sends one frame and returns the body of the answering frame."""
        self.sock.sendall(START + body + END)
        return self.read_frame()

    def send(self, text: str, charset: str = "utf-8") -> str:
        return self.frame(text.encode(charset)).decode(charset)

    def read_frame(self) -> bytes:
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before a whole frame: {self.buffer!r}")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(END)
        assert frame.startswith(START), frame
        return frame[1:]

    def closed_by_server(self) -> bool:
        """True when the server closes the connection (before the socket's timeout)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
