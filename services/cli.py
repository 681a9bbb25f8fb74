"""The `ferry` command: manage accounts through the ledger and migrate its database.

Each subcommand registers itself in `build_parser()` with a handler that returns the exit
status; a new command group is one more `_add_<group>` function.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence

from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from services.shared import rpc
from services.shared.config import ConfigError, PeerSettings, load
from services.shared.errors import FerryError, Unavailable


class CommandError(Exception):
    """A command failed; the message is printed as the one line on stderr."""


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
        prog="ferry", description="Manage a Ferry installation: accounts and the ledger database."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_accounts(commands)
    _add_db(commands)
    return parser


def _add_accounts(commands: argparse._SubParsersAction) -> None:
    accounts = commands.add_parser("accounts", help="Manage accounts through the ledger service.")
    actions = accounts.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="Create an account and print its id, API key and webhook secret as JSON.",
    )
    create.add_argument("--name", required=True, help="Name of the account, for people.")
    create.add_argument(
        "--credits", type=int, required=True,
        help="Starting credits; one credit buys one started megabyte (10^6 bytes).",
    )
    create.set_defaults(handler=_create_account)


def _add_db(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="Manage the ledger database named by FERRY_DATABASE_URL.")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")

    upgrade = actions.add_parser("upgrade", help="Upgrade the schema to the latest revision.")
    upgrade.set_defaults(handler=_upgrade_database)


def _create_account(args: argparse.Namespace) -> int:
    peers = load(PeerSettings)
    request = ledger_pb2.CreateAccountRequest(name=args.name, credits=args.credits)
    response = asyncio.run(_call_create_account(peers, request))
    output = {
        "accountId": response.account.account_id,
        "apiKey": response.api_key,
        "webhookSecret": response.webhook_secret,
        "credits": response.account.balance,
    }
    print(json.dumps(output))
    return 0


async def _call_create_account(
    peers: PeerSettings, request: ledger_pb2.CreateAccountRequest
) -> ledger_pb2.CreateAccountResponse:
    async with rpc.open_channel(peers.ledger) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        try:
            return await stub.CreateAccount(request, timeout=peers.timeout_seconds)
        except Unavailable as error:
            raise CommandError(
                f"could not reach the ledger at {peers.ledger} (FERRY_LEDGER_ADDR): "
                f"{error.message}; start it with `make run` or point FERRY_LEDGER_ADDR at it"
            ) from error
        except FerryError as error:
            raise CommandError(error.message) from error


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
