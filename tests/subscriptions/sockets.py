"""A websocket app's first step: a binding token for a subscription, over HTTP."""

from __future__ import annotations

import time

import httpx


def binding(http: httpx.Client, sid: str) -> tuple[str, str]:
    """The websocket URL and the token of `Subscription/$get-ws-binding-token`, once the
    subscription runs (the matcher has read its creation)."""
    deadline = time.monotonic() + 10
    while True:
        response = http.get(f"/Subscription/{sid}/$get-ws-binding-token")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            break
        time.sleep(0.05)
    parameters = response.json()["parameter"]
    url = next(p["valueUrl"] for p in parameters if p["name"] == "websocket-url")
    token = next(p["valueString"] for p in parameters if p["name"] == "token")
    return str(url), str(token)
