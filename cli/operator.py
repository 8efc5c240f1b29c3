"""Operator commands that talk to Redis directly (REDIS_URL), not to the HTTP API."""

from __future__ import annotations

from shared.config import Settings
from shared.errors import MemantoError
from shared.indexing import redrive as redrive_entries
from shared.redis_conn import connect


def redrive(limit: int) -> None:
    settings = Settings.from_env()
    try:
        client = connect(settings.redis_url)
    except MemantoError as exc:
        raise SystemExit(f"Error: {exc}") from None
    moved = redrive_entries(client, limit)
    print(f"Sent {moved} dead-lettered entries back to the ingest stream")
