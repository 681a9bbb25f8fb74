"""Accounts, their API keys and their webhook signing secrets.

Functions here are synchronous and run one database transaction each. The gRPC servicer
calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.engine import Connection, Engine

from services.ledger import database, limits
from services.ledger.limits import Limits, RateLimitState
from services.ledger.schema import accounts, api_keys, entries, webhook_secrets
from services.shared.errors import InvalidRequest, NotFound, Unauthenticated

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "fry_"
FIRST_KEY_NAME = "default"
WEBHOOK_SECRET_PREFIX = "whsec_"
MAX_NAME_LENGTH = 200
# Random bytes in a webhook secret (192 bits), base64-encoded after the whsec_ prefix.
WEBHOOK_SECRET_BYTES = 24

INVALID_KEY_MESSAGE = (
    "invalid or revoked API key; pass Authorization: Bearer <key> with a current key "
    "from `ferry accounts create` or `ferry keys create`"
)


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    balance: int
    held: int
    created_at: datetime
    limits: Limits


@dataclass(frozen=True)
class Authenticated:
    account_id: str
    # Set when the request was counted against a rate limit.
    rate_limit: RateLimitState | None


@dataclass(frozen=True)
class NewAccount:
    """A created account with the API key and webhook secret, shown only this once."""

    account: Account
    api_key: str
    webhook_secret: str


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Attach UTC to a timestamp that SQLite returned without a time zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(
        secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    ).decode()


def create_account(
    engine: Engine, name: str, credits: int, limit_changes: dict[str, int] | None = None
) -> NewAccount:
    """Create an account holding `credits`, with its first API key and webhook secret.

    `limit_changes` overrides some of the default limits, by column name.
    """
    name = _validate_name(name)
    if credits < 0:
        raise InvalidRequest(
            f"credits must be 0 or more, got {credits}", field="credits", value=credits
        )
    account_limits = dataclasses.replace(
        Limits.defaults(), **limits.validate_limits(limit_changes or {})
    )

    account_id = "acc_" + secrets.token_hex(12)
    api_key = new_api_key()
    webhook_secret = new_webhook_secret()
    now = utc_now()

    with database.write_transaction(engine) as connection:
        connection.execute(
            insert(accounts).values(
                id=account_id, name=name, balance=credits, held=0, created_at=now,
                **dataclasses.asdict(account_limits),
            )
        )
        connection.execute(
            insert(entries).values(
                account_id=account_id, kind="grant", amount=credits,
                reason="credits granted when the account was created", created_at=now,
            )
        )
        connection.execute(
            insert(api_keys).values(
                account_id=account_id, key_hash=hash_api_key(api_key),
                prefix=api_key[:8], created_at=now, name=FIRST_KEY_NAME,
            )
        )
        connection.execute(
            insert(webhook_secrets).values(
                account_id=account_id, secret=webhook_secret, created_at=now
            )
        )

    logger.info("created account %s with %d credits", account_id, credits)
    account = Account(account_id, name, credits, 0, now, account_limits)
    return NewAccount(account, api_key, webhook_secret)


def get_account(engine: Engine, account_id: str) -> Account:
    """Return the account, or raise NotFound."""
    with database.read_transaction(engine) as connection:
        return load_account(connection, account_id)


def load_account(connection: Connection, account_id: str) -> Account:
    row = connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise NotFound(
            f"account {account_id!r} not found; check the account id", account_id=account_id
        )
    return Account(row.id, row.name, row.balance, row.held, as_utc(row.created_at),
                   Limits.from_row(row))


def authenticate(
    engine: Engine,
    api_key: str,
    limit: str = "",
    *,
    endpoint: str = "",
    slot_id: str = "",
    slot_lease_seconds: float = 0,
) -> Authenticated:
    """Resolve `api_key` to its account, or raise Unauthenticated.

    The key is looked up by its SHA-256 hash on every call, without a cache, so a revoked
    key fails on the next request whichever gateway sends it. With `limit`, the request
    is also counted against that rate limit and, with `slot_id`, takes a concurrency slot
    in the same transaction. Both raise RateLimited when the account is at its limit.
    """
    if not limit:
        with database.read_transaction(engine) as connection:
            return Authenticated(_account_of_key(connection, api_key), None)

    now = utc_now()
    with database.write_transaction(engine) as connection:
        account_id = _account_of_key(connection, api_key)
        account = load_account(connection, account_id)
        state = limits.count_request(connection, account_id, account.limits, limit, endpoint,
                                     now)
        if slot_id:
            limits.take_slot(connection, account_id, limit, slot_id, endpoint,
                             slot_lease_seconds, now)
    return Authenticated(account_id, state)


def _account_of_key(connection: Connection, api_key: str) -> str:
    key_hash = hash_api_key(api_key)
    row = connection.execute(
        select(api_keys.c.account_id, api_keys.c.key_hash, api_keys.c.revoked_at)
        .where(api_keys.c.key_hash == key_hash)
    ).first()

    # The lookup by hash already matched; the constant-time comparison keeps the check
    # free of timing differences should the lookup ever change.
    if row is None or not hmac.compare_digest(row.key_hash, key_hash):
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    if row.revoked_at is not None:
        logger.info("rejected a revoked API key of account %s", row.account_id)
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    return row.account_id


def get_webhook_secrets(engine: Engine, account_id: str) -> list[str]:
    """Return the account's unexpired webhook secrets, the newest (current) one first."""
    now = utc_now()
    with database.read_transaction(engine) as connection:
        load_account(connection, account_id)
        rows = connection.execute(
            select(webhook_secrets.c.secret)
            .where(webhook_secrets.c.account_id == account_id)
            .where(or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > now))
            .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
        ).all()
    return [row.secret for row in rows]


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest("name is missing; pass a name for the account", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(
            f"name is {len(name)} characters long; use at most {MAX_NAME_LENGTH}", field="name"
        )
    return name
