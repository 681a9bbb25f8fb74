"""More API keys per account, their revocation, and webhook signing secret rotation.

Keys are stored as SHA-256 hashes and returned in full only when created. Nothing here
logs a key or a secret; logs name the key id and its 8-character prefix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row

from services.ledger import database
from services.ledger.accounts import (
    as_utc,
    hash_api_key,
    load_account,
    new_api_key,
    new_webhook_secret,
    utc_now,
)
from services.ledger.schema import api_keys, webhook_secrets
from services.shared.errors import InvalidRequest, NotFound

logger = logging.getLogger(__name__)

MAX_KEY_NAME_LENGTH = 100
# Maximum overlap accepted when rotating a webhook secret: 30 days.
MAX_OVERLAP_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: int
    account_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class RotatedSecret:
    # The new current secret, shown only this once.
    webhook_secret: str
    # When the previous secrets stop signing.
    previous_expires_at: datetime


def create_api_key(engine: Engine, account_id: str, name: str) -> tuple[ApiKeyInfo, str]:
    """Create another key for the account; return its listing entry and the key itself."""
    name = _validate_key_name(name)
    api_key = new_api_key()
    with database.write_transaction(engine) as connection:
        load_account(connection, account_id)
        row = connection.execute(
            insert(api_keys)
            .values(account_id=account_id, key_hash=hash_api_key(api_key), prefix=api_key[:8],
                    created_at=utc_now(), name=name)
            .returning(*api_keys.c)
        ).one()

    info = _key_info(row)
    logger.info("created API key %d (%s...) for account %s", info.key_id, info.prefix,
                account_id)
    return info, api_key


def list_api_keys(engine: Engine, account_id: str) -> list[ApiKeyInfo]:
    """Return the account's keys, revoked ones included, oldest first."""
    with database.read_transaction(engine) as connection:
        load_account(connection, account_id)
        rows = connection.execute(
            select(api_keys).where(api_keys.c.account_id == account_id).order_by(api_keys.c.id)
        ).all()
    return [_key_info(row) for row in rows]


def revoke_api_key(engine: Engine, account_id: str, key_id: int) -> ApiKeyInfo:
    """Revoke one of the account's keys; revoking a revoked key changes nothing."""
    with database.write_transaction(engine) as connection:
        load_account(connection, account_id)
        connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .where(api_keys.c.account_id == account_id)
            .where(api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )
        row = _load_key(connection, account_id, key_id)

    info = _key_info(row)
    logger.info("revoked API key %d (%s...) of account %s", key_id, info.prefix, account_id)
    return info


def rotate_webhook_secret(
    engine: Engine, account_id: str, overlap_seconds: int
) -> RotatedSecret:
    """Add a new current webhook secret; older secrets expire after `overlap_seconds`.

    A previous secret that would expire sooner keeps its earlier expiry. With an overlap
    of 0 the previous secrets stop signing at once.
    """
    if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise InvalidRequest(
            f"overlap_seconds must be from 0 to {MAX_OVERLAP_SECONDS} (30 days), "
            f"got {overlap_seconds}",
            field="overlap_seconds", value=overlap_seconds,
        )
    secret = new_webhook_secret()
    now = utc_now()
    previous_expires_at = now + timedelta(seconds=overlap_seconds)

    with database.write_transaction(engine) as connection:
        load_account(connection, account_id)
        connection.execute(
            update(webhook_secrets)
            .where(webhook_secrets.c.account_id == account_id)
            .where(or_(webhook_secrets.c.expires_at.is_(None),
                       webhook_secrets.c.expires_at > previous_expires_at))
            .values(expires_at=previous_expires_at)
        )
        connection.execute(
            insert(webhook_secrets).values(account_id=account_id, secret=secret, created_at=now)
        )

    logger.info("rotated the webhook secret of account %s; the previous secrets expire in %d s",
                account_id, overlap_seconds)
    return RotatedSecret(secret, previous_expires_at)


def _load_key(connection: Connection, account_id: str, key_id: int) -> Row:
    row = connection.execute(
        select(api_keys).where(api_keys.c.id == key_id).where(api_keys.c.account_id == account_id)
    ).first()
    if row is None:
        raise NotFound(
            f"API key {key_id} not found in account {account_id!r}; "
            "list the keys with `ferry keys list`",
            key_id=key_id,
        )
    return row


def _key_info(row: Row) -> ApiKeyInfo:
    revoked_at = as_utc(row.revoked_at) if row.revoked_at is not None else None
    return ApiKeyInfo(row.id, row.account_id, row.name, row.prefix, as_utc(row.created_at),
                      revoked_at)


def _validate_key_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_KEY_NAME_LENGTH:
        raise InvalidRequest(
            f"key name is {len(name)} characters long; use at most {MAX_KEY_NAME_LENGTH}",
            field="name",
        )
    return name
