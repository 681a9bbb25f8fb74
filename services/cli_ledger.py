"""`ferry` subcommands that manage accounts through the ledger's gRPC API.

Every command prints one JSON object on stdout. Keys and webhook secrets appear only in
the output of the command that creates them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.ledger import rendering
from services.shared import rpc
from services.shared.config import PeerSettings, load
from services.shared.errors import FerryError, Unavailable

# Command line option, field of ledger_pb2.LimitsUpdate and help text of each limit.
LIMIT_OPTIONS = (
    ("--imports-per-hour", "imports_per_hour", "POST /import requests per hour (default 240)."),
    ("--concurrent-imports", "concurrent_imports", "Imports running at once (default 2)."),
    ("--metadata-per-hour", "metadata_per_hour", "Metadata requests per hour (default 1000)."),
    ("--concurrent-metadata", "concurrent_metadata", "Metadata requests at once (default 5)."),
    ("--status-per-hour", "status_per_hour", "Status and other read requests per hour "
                                             "(default 3600)."),
    ("--max-file-megabytes", "max_file_megabytes", "Largest file one import may store, in "
                                                   "megabytes of 10^6 bytes (default 4000)."),
)


class CommandError(Exception):
    """A command failed; the message is printed as the one line on stderr."""


LedgerCall = Callable[[ledger_pb2_grpc.LedgerServiceStub, float], Awaitable[Any]]


def call_ledger(call: LedgerCall) -> Any:
    """Run `call` with a stub of the ledger at FERRY_LEDGER_ADDR and return its result."""
    peers = load(PeerSettings)
    return asyncio.run(_call(peers, call))


async def _call(peers: PeerSettings, call: LedgerCall) -> Any:
    async with rpc.open_channel(peers.ledger) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        try:
            return await call(stub, peers.timeout_seconds)
        except Unavailable as error:
            raise CommandError(
                f"could not reach the ledger at {peers.ledger} (FERRY_LEDGER_ADDR): "
                f"{error.message}; check that the ledger is running and that FERRY_LEDGER_ADDR "
                "points at it (`make run` prints the address)"
            ) from error
        except FerryError as error:
            raise CommandError(error.message) from error


def add_ledger_commands(commands: argparse._SubParsersAction) -> None:
    """Register the accounts, keys, credits and webhook-secrets command groups."""
    _add_accounts(commands)
    _add_keys(commands)
    _add_credits(commands)
    _add_webhook_secrets(commands)


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
    _add_limit_options(create)
    create.set_defaults(handler=_create_account)

    show = actions.add_parser(
        "show", help="Print the account's balance, held credits, limits and this month's usage."
    )
    show.add_argument("account_id", metavar="ACCOUNT_ID")
    show.set_defaults(handler=_show_account)

    set_limits = actions.add_parser(
        "limits", help="Change the account's limits; print all of them. Options left out keep "
                       "their value."
    )
    set_limits.add_argument("account_id", metavar="ACCOUNT_ID")
    _add_limit_options(set_limits)
    set_limits.set_defaults(handler=_set_limits)


def _add_keys(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="Create, list and revoke an account's API keys.")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="Create another API key; it is printed only once.")
    create.add_argument("account_id", metavar="ACCOUNT_ID")
    create.add_argument("--name", default="", help="A label for people, such as ci.")
    create.set_defaults(handler=_create_key)

    listing = actions.add_parser("list", help="List the account's keys by id and prefix.")
    listing.add_argument("account_id", metavar="ACCOUNT_ID")
    listing.set_defaults(handler=_list_keys)

    revoke = actions.add_parser(
        "revoke", help="Revoke a key; requests with it fail with 401 from then on."
    )
    revoke.add_argument("account_id", metavar="ACCOUNT_ID")
    revoke.add_argument("key_id", metavar="KEY_ID", type=int, help="The keyId from `keys list`.")
    revoke.set_defaults(handler=_revoke_key)


def _add_credits(commands: argparse._SubParsersAction) -> None:
    credits = commands.add_parser("credits", help="Grant, adjust and list an account's credits.")
    actions = credits.add_subparsers(dest="action", required=True, metavar="ACTION")

    grant = actions.add_parser("grant", help="Add credits to the balance as a grant entry.")
    grant.add_argument("account_id", metavar="ACCOUNT_ID")
    grant.add_argument("credits", metavar="CREDITS", type=int, help="Credits to add, 1 or more.")
    grant.add_argument("--reason", required=True, help="Why, stored with the entry.")
    grant.set_defaults(handler=_grant_credits)

    adjust = actions.add_parser(
        "adjust", help="Add (positive) or remove (negative) credits as an adjustment entry."
    )
    adjust.add_argument("account_id", metavar="ACCOUNT_ID")
    adjust.add_argument("credits", metavar="CREDITS", type=int,
                        help="Signed change, such as 25 or -25; the balance can't go below 0.")
    adjust.add_argument("--reason", required=True, help="Why, stored with the entry.")
    adjust.set_defaults(handler=_adjust_credits)

    entries = actions.add_parser("entries", help="List ledger entries, newest first.")
    entries.add_argument("account_id", metavar="ACCOUNT_ID")
    entries.add_argument("--limit", type=int, default=50, help="Entries per page, 1 to 200.")
    entries.add_argument("--cursor", default="", help="The nextCursor of the previous page.")
    entries.set_defaults(handler=_list_entries)


def _add_webhook_secrets(commands: argparse._SubParsersAction) -> None:
    secrets = commands.add_parser("webhook-secrets", help="Rotate an account's webhook secret.")
    actions = secrets.add_subparsers(dest="action", required=True, metavar="ACTION")

    rotate = actions.add_parser(
        "rotate", help="Create a new signing secret; the old ones keep signing for the overlap."
    )
    rotate.add_argument("account_id", metavar="ACCOUNT_ID")
    rotate.add_argument(
        "--overlap-seconds", type=int, default=None,
        help="Seconds the previous secrets keep signing; default "
             "FERRY_WEBHOOK_SECRET_OVERLAP_SECONDS of the ledger (1 day); 0 retires them now.",
    )
    rotate.set_defaults(handler=_rotate_webhook_secret)


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    for option, _field, help_text in LIMIT_OPTIONS:
        parser.add_argument(option, type=int, default=None, metavar="N", help=help_text)


def _limits_update(args: argparse.Namespace) -> ledger_pb2.LimitsUpdate:
    update = ledger_pb2.LimitsUpdate()
    for _option, field, _help in LIMIT_OPTIONS:
        value = getattr(args, field)
        if value is not None:
            setattr(update, field, value)
    return update


def _create_account(args: argparse.Namespace) -> int:
    request = ledger_pb2.CreateAccountRequest(
        name=args.name, credits=args.credits, limits=_limits_update(args)
    )
    response = call_ledger(lambda stub, timeout: stub.CreateAccount(request, timeout=timeout))
    _print({
        "accountId": response.account.account_id,
        "apiKey": response.api_key,
        "webhookSecret": response.webhook_secret,
        "credits": response.account.balance,
    })
    return 0


def _show_account(args: argparse.Namespace) -> int:
    request = ledger_pb2.GetAccountRequest(account_id=args.account_id)
    account = call_ledger(lambda stub, timeout: stub.GetAccount(request, timeout=timeout))
    _print(rendering.render_account(account))
    return 0


def _set_limits(args: argparse.Namespace) -> int:
    request = ledger_pb2.SetLimitsRequest(account_id=args.account_id,
                                          limits=_limits_update(args))
    limits = call_ledger(lambda stub, timeout: stub.SetLimits(request, timeout=timeout))
    _print({"accountId": args.account_id, "limits": rendering.render_limits(limits)})
    return 0


def _create_key(args: argparse.Namespace) -> int:
    request = ledger_pb2.CreateApiKeyRequest(account_id=args.account_id, name=args.name)
    response = call_ledger(lambda stub, timeout: stub.CreateApiKey(request, timeout=timeout))
    _print({**_render_key(response.key), "apiKey": response.api_key})
    return 0


def _list_keys(args: argparse.Namespace) -> int:
    request = ledger_pb2.ListApiKeysRequest(account_id=args.account_id)
    response = call_ledger(lambda stub, timeout: stub.ListApiKeys(request, timeout=timeout))
    _print({"accountId": args.account_id, "keys": [_render_key(key) for key in response.keys]})
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    request = ledger_pb2.RevokeApiKeyRequest(account_id=args.account_id, key_id=args.key_id)
    key = call_ledger(lambda stub, timeout: stub.RevokeApiKey(request, timeout=timeout))
    _print(_render_key(key))
    return 0


def _grant_credits(args: argparse.Namespace) -> int:
    request = ledger_pb2.ChangeCreditsRequest(
        account_id=args.account_id, credits=args.credits, reason=args.reason
    )
    change = call_ledger(lambda stub, timeout: stub.GrantCredits(request, timeout=timeout))
    _print(_render_change(change))
    return 0


def _adjust_credits(args: argparse.Namespace) -> int:
    request = ledger_pb2.ChangeCreditsRequest(
        account_id=args.account_id, credits=args.credits, reason=args.reason
    )
    change = call_ledger(lambda stub, timeout: stub.AdjustCredits(request, timeout=timeout))
    _print(_render_change(change))
    return 0


def _list_entries(args: argparse.Namespace) -> int:
    request = ledger_pb2.ListEntriesRequest(
        account_id=args.account_id, page_size=args.limit, cursor=args.cursor
    )
    page = call_ledger(lambda stub, timeout: stub.ListEntries(request, timeout=timeout))
    _print({
        "entries": [rendering.render_entry(entry) for entry in page.entries],
        "nextCursor": page.next_cursor or None,
    })
    return 0


def _rotate_webhook_secret(args: argparse.Namespace) -> int:
    request = ledger_pb2.RotateWebhookSecretRequest(account_id=args.account_id)
    if args.overlap_seconds is not None:
        request.overlap_seconds = args.overlap_seconds
    response = call_ledger(
        lambda stub, timeout: stub.RotateWebhookSecret(request, timeout=timeout)
    )
    _print({
        "accountId": args.account_id,
        "webhookSecret": response.webhook_secret,
        "previousExpiresAt": _time(response.previous_expires_at),
    })
    return 0


def _render_key(key: ledger_pb2.ApiKey) -> dict[str, Any]:
    return {
        "keyId": key.key_id,
        "accountId": key.account_id,
        "name": key.name,
        "prefix": key.prefix,
        "createdAt": _time(key.created_at),
        "revokedAt": _time(key.revoked_at) if key.HasField("revoked_at") else None,
    }


def _render_change(change: ledger_pb2.CreditChange) -> dict[str, Any]:
    return {
        "accountId": change.account.account_id,
        "balance": change.account.balance,
        "held": change.account.held,
        "entry": rendering.render_entry(change.entry),
    }


def _time(timestamp: Timestamp) -> str:
    return rendering.format_time(timestamp)


def _print(output: dict[str, Any]) -> None:
    print(json.dumps(output))
