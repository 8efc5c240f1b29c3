"""Operator commands that talk to Redis directly (REDIS_URL), not to the HTTP API."""

from __future__ import annotations

from memanto_redis.shared.errors import MemantoError
from memanto_redis.shared.infra.connection import connect
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.ingest import redrive as redrive_entries


def redrive(limit: int) -> None:
    settings = Settings.from_env()
    try:
        client = connect(settings.redis_url)
    except MemantoError as exc:
        raise SystemExit(f"Error: {exc}") from None
    moved = redrive_entries(client, limit)
    print(f"Sent {moved} dead-lettered entries back to the ingest stream")
