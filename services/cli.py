"""The `ferry` command: run a service, manage accounts, migrate the database, set up streams.

The account, key and credit commands are in `cli_ledger.py`.

Each subcommand registers itself in `build_parser()` with a handler that returns the exit
status; a new command group is one more `_add_<group>` function.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Sequence

import nats.errors

from services.cli_ledger import CommandError, add_ledger_commands
from services.shared import bus
from services.shared.config import ConfigError, NatsSettings, RetentionSettings, load

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]) and return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (CommandError, ConfigError) as exc:
        print(f"ferry: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferry",
        description="Run and manage a Ferry installation: services, accounts, database, streams.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands)
    add_ledger_commands(commands)
    _add_db(commands)
    _add_streams(commands)
    return parser


SERVICES = ("gateway", "importer", "ledger", "notifier")


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="Run one service in the foreground, configured by FERRY_* variables."
    )
    serve.add_argument("service", choices=SERVICES, help="The service to run.")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    # The same entry point as `python -m services.<name>`.
    importlib.import_module(f"services.{args.service}.__main__").main()
    return 0


def _add_streams(commands: argparse._SubParsersAction) -> None:
    streams = commands.add_parser("streams", help="Manage the NATS JetStream streams and buckets.")
    actions = streams.add_subparsers(dest="action", required=True, metavar="ACTION")

    ensure = actions.add_parser(
        "ensure", help="Create or update the streams and key-value buckets at FERRY_NATS_URL."
    )
    ensure.set_defaults(handler=_ensure_streams)


def _ensure_streams(_args: argparse.Namespace) -> int:
    nats_settings = load(NatsSettings)
    retention = load(RetentionSettings)
    try:
        asyncio.run(
            _call_ensure_streams(nats_settings.url, retention.seconds, nats_settings.replicas)
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise CommandError(
            f"could not set up streams at {nats_settings.url} (FERRY_NATS_URL): {exc}; "
            "check that NATS is running with JetStream enabled and that "
            f"FERRY_NATS_REPLICAS={nats_settings.replicas} is at most the number of NATS servers"
        ) from exc
    print(f"streams and buckets are in place at {nats_settings.url}")
    return 0


async def _call_ensure_streams(url: str, retention_seconds: int, replicas: int) -> None:
    client = await bus.connect(url, "ferry-cli", max_reconnect_attempts=1)
    try:
        await bus.ensure_streams(client.jetstream(), retention_seconds, replicas)
    finally:
        await client.close()


def _add_db(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="Manage the ledger database named by FERRY_DATABASE_URL.")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")

    upgrade = actions.add_parser("upgrade", help="Upgrade the schema to the latest revision.")
    upgrade.set_defaults(handler=_upgrade_database)


def _upgrade_database(_args: argparse.Namespace) -> int:
    # Imported here so `ferry accounts` does not load SQLAlchemy and Alembic.
    from alembic.util import CommandError as AlembicError
    from sqlalchemy.exc import SQLAlchemyError

    from services.ledger import database, migrate
    from services.ledger.config import LedgerSettings

    url = load(LedgerSettings).resolved_database_url()
    try:
        engine = database.create_engine(url)
        try:
            revision = migrate.upgrade(engine)
        finally:
            engine.dispose()
    except (SQLAlchemyError, AlembicError, OSError) as exc:
        reason = str(exc).splitlines()[0]
        raise CommandError(
            f"could not upgrade the database at {database.display_url(url)}: {reason}; "
            "check FERRY_DATABASE_URL and that the database server is running"
        ) from exc

    print(f"database {database.display_url(url)} is at schema revision {revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
