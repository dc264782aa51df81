"""The `fhir-server` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from fhir_server.audit import export as audit_export
from fhir_server.auth import commands as client_commands


def serve_command(
    port: int, data_dir: Path, host: str = "127.0.0.1", workers: int = 1
) -> list[str]:
    """The command line that runs a server with this interpreter (tests, benchmarks)."""
    workers_args = ["--workers", str(workers)] if workers != 1 else []
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
        *workers_args,
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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port; more than one needs PostgreSQL"
        " (FHIR_SERVER_DATABASE_URL)",
    )
    load = commands.add_parser(
        "import",
        help="load NDJSON files and transaction/batch Bundles (files, directories, .tgz)",
    )
    load.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    load.add_argument("--data-dir", type=Path, help="the SQLite store's directory")
    load.add_argument("--database-url", help="postgresql://… (FHIR_SERVER_DATABASE_URL)")
    load.add_argument(
        "--batch-size", type=int, default=2000, help="resources per transaction (2000)"
    )
    load.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes checking and indexing resources (CPU count; 0: in this process)",
    )
    demo = commands.add_parser(
        "demo", help="play a complete LUS stay and print what each party received"
    )
    demo.add_argument("--data-dir", type=Path, help="keep the demo's store here (default: temp)")
    commands.add_parser(
        "subscriptions-worker",
        help="(started by `serve` on the SQLite store) send rest-hook notifications;"
        " reads its settings and wake-ups on standard input",
    )
    client_commands.add_parsers(commands)
    audit_export.add_parser(commands)
    args = parser.parse_args(argv)

    if args.command == "serve":
        _serve(args)
    elif args.command == "import":
        sys.exit(_import(args))
    elif args.command == "demo":
        from fhir_server.transitions.demo import run

        run(args.data_dir)
    elif args.command == "subscriptions-worker":
        from fhir_server.subscriptions.worker import main as worker_main

        worker_main()
    elif args.command == "audit":
        sys.exit(audit_export.main(args))
    else:
        client_commands.run(args)


def _import(args: argparse.Namespace) -> int:
    from fhir_server.bulkload.command import main as import_main
    from fhir_server.config import Settings

    overrides = {
        key: value
        for key, value in (("data_dir", args.data_dir), ("database_url", args.database_url))
        if value is not None
    }
    settings = Settings(**overrides)
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s %(message)s")
    return import_main(settings, args.paths, args.batch_size, args.workers)


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from fhir_server.app import create_app
    from fhir_server.config import Settings
    from fhir_server.storage.configured import uses_postgres

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
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    if not uses_postgres(settings):
        sys.exit(
            "fhir-server: --workers above 1 needs PostgreSQL (FHIR_SERVER_DATABASE_URL="
            "postgresql://…): the embedded SQLite store serialises every change in one"
            " process's writer thread"
        )
    # each worker process builds the app from the environment: hand the overrides over
    for key, value in overrides.items():
        os.environ[f"FHIR_SERVER_{key.upper()}"] = str(value)
    uvicorn.run(
        "fhir_server.app:create_app",
        factory=True,
        workers=args.workers,
        **options,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()
