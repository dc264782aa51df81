"""`fhir-server client …` and `fhir-server token …`: register clients, mint tokens locally.

    fhir-server client add --id lus-kommun-0180 --organisation 0180 \\
        --jwks client-public.jwks.json --scope "system/*.rs system/Task.cruds"
    fhir-server client list
    fhir-server client remove --id lus-kommun-0180
    fhir-server token --client lus-kommun-0180            # an access token, printed
    fhir-server token --subject dev --organisation SE2321000016-A1B2 --scope system/*.cruds
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from fhir_server.auth.keys import load_or_create
from fhir_server.auth.registry import Client, ClientRegistry
from fhir_server.auth.scopes import parse_scope
from fhir_server.auth.tokens import mint

# HSA-id: SE + 10-digit organisation number + "-" + local part; kommunkod: 4 digits
_HSA_ID = re.compile(r"SE\d{10}-[A-Za-z0-9]+")
_KOMMUNKOD = re.compile(r"\d{4}")
DEFAULT_SCOPES = "system/*.rs"


def add_parsers(commands: Any) -> None:
    client = commands.add_parser("client", help="register clients of the authorization server")
    actions = client.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register a client (SMART Backend Services)")
    add.add_argument("--id", required=True, help="the client_id")
    add.add_argument(
        "--organisation", required=True, help="its organisation: HSA-id or kommunkod (4 digits)"
    )
    add.add_argument(
        "--jwks", required=True, help="its public keys: a JWKS file, or the JWKS JSON itself"
    )
    add.add_argument("--name", help="a readable name (default: the id)")
    add.add_argument(
        "--scope",
        default=DEFAULT_SCOPES,
        help=f"the scopes it may be given, space-separated (default {DEFAULT_SCOPES})",
    )
    _data_dir(add)
    listing = actions.add_parser("list", help="list registered clients")
    _data_dir(listing)
    remove = actions.add_parser("remove", help="remove a client")
    remove.add_argument("--id", required=True)
    _data_dir(remove)

    token = commands.add_parser("token", help="mint an access token with the server's key")
    token.add_argument("--client", help="a registered client: its organisation and scopes")
    token.add_argument("--subject", help="who the token is for, when not a registered client")
    token.add_argument(
        "--organisation",
        help="HSA-id or kommunkod (with --subject; without, not limited to one organisation)",
    )
    token.add_argument("--scope", help="space-separated scopes (default: the client's)")
    token.add_argument("--patient", help="the patient in context (patient/ scopes)")
    token.add_argument(
        "--base-url",
        help="the server's base URL, the token's audience (default FHIR_SERVER_BASE_URL,"
        " else http://HOST:PORT from the settings)",
    )
    token.add_argument("--lifetime", type=int, help="seconds (default: the server's setting)")
    _data_dir(token)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="the data dir (FHIR_SERVER_DATA_DIR)")


def _settings(args: argparse.Namespace) -> Any:
    from fhir_server.config import Settings

    return Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))


def run(args: argparse.Namespace) -> None:
    try:
        if args.command == "client":
            _client(args)
        elif args.command == "token":
            _token(args)
    except CommandError as exc:
        print(f"fhir-server {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


class CommandError(Exception):
    pass


def check_organisation(text: str) -> str:
    if not (_HSA_ID.fullmatch(text) or _KOMMUNKOD.fullmatch(text)):
        raise CommandError(
            f"organisation {text!r} is neither an HSA-id (SE0123456789-abc) nor a kommunkod (0180)"
        )
    return text


def read_jwks(text: str) -> dict[str, Any]:
    """Public keys from a file or inline JSON; a single JWK becomes a set of one."""
    candidate = Path(text)
    raw = candidate.read_text() if not text.lstrip().startswith("{") else text
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise CommandError(f"--jwks is neither a JWKS file nor JWKS JSON: {exc}") from exc
    if isinstance(document, dict) and "keys" not in document and "kty" in document:
        document = {"keys": [document]}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise CommandError("--jwks must hold a JWK Set ({'keys': [...]})")
    for key in document["keys"]:
        if not isinstance(key, dict) or not key.get("kid"):
            raise CommandError("every key needs a kid (SMART Backend Services names it)")
        if any(private in key for private in ("d", "p", "q", "k")):
            raise CommandError(f"key {key.get('kid')} holds private material: give public keys")
    try:
        KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise CommandError(f"the keys cannot be read: {exc}") from exc
    return document


def _client(args: argparse.Namespace) -> None:
    settings = _settings(args)
    registry = ClientRegistry(settings.auth_path)
    try:
        if args.action == "add":
            scopes = tuple(args.scope.split())
            unknown = [s for s in scopes if parse_scope(s) is None and s != "protected-identity"]
            if unknown:
                raise CommandError(f"not SMART clinical scopes: {' '.join(unknown)}")
            if registry.get(args.id) is not None:
                raise CommandError(f"client {args.id!r} exists; remove it first")
            client = Client(
                args.id,
                args.name or args.id,
                check_organisation(args.organisation),
                read_jwks(args.jwks),
                scopes,
            )
            registry.add(client)
            print(f"registered {client.client_id} ({client.organisation}): {' '.join(scopes)}")
        elif args.action == "list":
            for client in registry.all():
                kids = ",".join(k.get("kid", "?") for k in client.jwks["keys"])
                print(
                    f"{client.client_id}\t{client.organisation}\t{' '.join(client.scopes)}"
                    f"\tkeys {kids}"
                )
        elif args.action == "remove":
            if not registry.remove(args.id):
                raise CommandError(f"no client {args.id!r}")
            print(f"removed {args.id}")
    finally:
        registry.close()


def _token(args: argparse.Namespace) -> None:
    settings = _settings(args)
    organisation: str | None
    if args.client:
        registry = ClientRegistry(settings.auth_path)
        try:
            client = registry.get(args.client)
        finally:
            registry.close()
        if client is None:
            raise CommandError(f"no client {args.client!r} (fhir-server client add …)")
        subject, organisation = client.client_id, client.organisation
        scopes = args.scope.split() if args.scope else list(client.scopes)
    elif args.subject:
        # without --organisation the token is not limited to one organisation's patients
        organisation = check_organisation(args.organisation) if args.organisation else None
        subject = args.subject
        scopes = (args.scope or DEFAULT_SCOPES).split()
    else:
        raise CommandError("give --client, or --subject (and --organisation)")
    base = (args.base_url or settings.base_url or f"http://{settings.host}:{settings.port}").rstrip(
        "/"
    )
    key = load_or_create(settings.signing_key_path)
    extra = {"patient": args.patient} if args.patient else None
    print(
        mint(
            key,
            base,
            subject,
            scopes,
            organisation,
            args.lifetime or settings.access_token_lifetime,
            settings.auth_organisation_claim,
            extra,
        )
    )
