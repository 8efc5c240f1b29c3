"""API keys for management routes: the admin key from the environment, and named keys kept
in Redis as SHA-256 digests (looked up in O(1), never stored or shown in clear)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from memanto_redis.shared.errors import Conflict, NotFound, Unauthorized
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.times import iso

ADMIN = "admin"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, redis: Any, admin_key: str) -> None:
        self.redis = redis
        self._admin_digest = digest(admin_key) if admin_key else None

    async def identify(self, presented: str | None) -> str:
        """The name of the key presented, or Unauthorized."""
        if not presented:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        key_digest = digest(presented)
        # Compare digests in constant time so the admin key cannot be guessed by timing.
        if self._admin_digest and hmac.compare_digest(key_digest, self._admin_digest):
            return ADMIN
        name = await self.redis.hget(keys.API_KEYS, key_digest)
        if name is None:
            raise Unauthorized("invalid API key")
        return name.decode()

    async def create(self, name: str) -> dict:
        """A new named key; its clear text is returned here and never again."""
        key = "mk_" + secrets.token_urlsafe(32)
        key_digest = digest(key)
        meta = json.dumps({"digest": key_digest, "created_at": time.time(), "prefix": key[:7]})
        if name == ADMIN or not await self.redis.hsetnx(keys.API_KEY_NAMES, name, meta):
            raise Conflict(f"an API key named {name!r} already exists")
        await self.redis.hset(keys.API_KEYS, key_digest, name)
        return {"name": name, "api_key": key, "created_at": iso(json.loads(meta)["created_at"]),
                "note": "store this key now: it is not shown again"}

    async def list(self) -> list[dict]:
        named = await self.redis.hgetall(keys.API_KEY_NAMES)
        listing = []
        for name, raw in sorted(named.items()):
            meta = json.loads(raw)
            listing.append({"name": name.decode(), "prefix": meta["prefix"],
                            "created_at": iso(meta["created_at"])})
        return listing

    async def revoke(self, name: str) -> None:
        raw = await self.redis.hget(keys.API_KEY_NAMES, name)
        if raw is None:
            raise NotFound(f"no API key named {name!r}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.API_KEYS, json.loads(raw)["digest"])
            pipe.hdel(keys.API_KEY_NAMES, name)
            await pipe.execute()
