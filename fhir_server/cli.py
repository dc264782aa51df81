"""The `fhir-server` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from fhir_server.auth import commands as client_commands


def serve_command(port: int, data_dir: Path, host: str = "127.0.0.1") -> list[str]:
    """The command line that runs a server with this interpreter (tests, benchmarks)."""
    return [
        sys.executable,
        "-m",
        "fhir_server",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fhir-server", description="FHIR R4 server (LUS)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (FHIR_SERVER_HOST)")
    serve.add_argument("--port", type=int, help="port (FHIR_SERVER_PORT)")
    serve.add_argument("--data-dir", type=Path, help="where the data lives (FHIR_SERVER_DATA_DIR)")
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="LOCAL DEVELOPMENT ONLY: no tokens, scopes or audit (FHIR_SERVER_INSECURE_NO_AUTH)",
    )
    client_commands.add_parsers(commands)
    args = parser.parse_args(argv)

    if args.command == "serve":
        _serve(args)
    else:
        client_commands.run(args)


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from fhir_server.app import create_app
    from fhir_server.config import Settings

    overrides = {
        key: value
        for key, value in (
            ("host", args.host),
            ("port", args.port),
            ("data_dir", args.data_dir),
            ("insecure_no_auth", args.insecure_no_auth),
        )
        if value is not None
    }
    settings = Settings(**overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    os.makedirs(settings.data_dir, exist_ok=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
