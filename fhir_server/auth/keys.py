"""The server's signing key: made on first start, kept in the data directory.

It signs the access tokens of the built-in authorization server. The file holds the private
JWK and is created with mode 0600 and O_EXCL, so a server and a `fhir-server token` command
started together cannot end up with two different keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey

# RS256: verification is the per-request cost, and RSA verifies faster than ECDSA
# (measured with joserfc: ~70-110 µs RS256 against ~210 µs ES256).
SIGNING_ALGORITHM = "RS256"


def load_or_create(path: Path) -> RSAKey:
    if not path.exists():
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": SIGNING_ALGORITHM})
        key.ensure_kid()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use that one
        else:
            with os.fdopen(fd, "w") as handle:
                json.dump(key.as_dict(private=True), handle)
            return key
    data = json.loads(path.read_text())
    key = RSAKey.import_key(data)
    key.ensure_kid()
    return key


def public_jwks(key: RSAKey) -> dict[str, Any]:
    public = key.as_dict(private=False)
    public.setdefault("use", "sig")
    public.setdefault("alg", SIGNING_ALGORITHM)
    return {"keys": [public]}


def public_key_set(key: RSAKey) -> KeySet:
    return KeySet.import_key_set(public_jwks(key))  # type: ignore[arg-type]
