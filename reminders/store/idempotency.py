"""Answers kept for API requests sent with an Idempotency-Key, so a retry is not a second write.

A client that lost the answer to a request (a timeout, a dropped connection) sends it again
with the same key and gets the first answer back. The record is written in the transaction of
the work it answers for, so there is never a record without the work or work without a record;
the unique key (API key, client key) makes the second of two concurrent requests fail and,
run again, find the first's answer. Records are kept for LIFETIME, then forgotten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.models import IdempotencyRecord

LIFETIME = timedelta(hours=48)  # retries come within minutes or hours; two days is ample
KEY_MAX = 255


@dataclass(frozen=True)
class Kept:
    """A request answered before: the hash of what was asked and what was answered."""

    request_hash: str
    status: int
    body: dict[str, Any]


def request_hash(method: str, path: str, payload: dict[str, Any]) -> str:
    """The same request, whatever its key order or spacing, hashes the same."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def find_kept(session: Session, api_key_id: int, key: str, now: datetime) -> Kept | None:
    """The answer kept for this key of this API key, if it is younger than LIFETIME.

    Forgets the records that have aged first, so an old key may be used again.
    """
    session.execute(
        sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - LIFETIME)
    )
    query = select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
    )
    found = session.exec(query).first()
    if found is None:
        return None
    return Kept(found.request_hash, found.response_status, json.loads(found.response_body))


def keep(
    session: Session,
    api_key_id: int,
    key: str,
    *,
    request_hash: str,
    status: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Record the answer in the caller's transaction (a concurrent twin fails on the key)."""
    session.add(
        IdempotencyRecord(
            api_key_id=api_key_id,
            key=key,
            request_hash=request_hash,
            response_status=status,
            response_body=json.dumps(body),
            created_at=now,
        )
    )
    session.flush()
