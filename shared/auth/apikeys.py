"""API keys: the admin key from the environment, and named keys kept in Redis as SHA-256
digests (looked up in O(1), never stored or shown in clear). Only the admin key manages
keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from memanto_redis.shared.errors import Conflict, Forbidden, NotFound, Unauthorized
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.replies import text

ADMIN = "admin"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    prefix: str
    created_at: float
    secret: str | None = None  # the clear key, only in the answer that creates it


class ApiKeys:
    def __init__(self, redis: Redis, admin_key: str) -> None:
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
        return text(name)

    @staticmethod
    def require_admin(caller: str) -> None:
        if caller != ADMIN:
            raise Forbidden("only the admin key (MEMANTO_API_KEY) manages API keys")

    async def create(self, caller: str, name: str) -> ApiKey:
        """A new named key; its clear text is returned here and never again."""
        self.require_admin(caller)
        key = "mk_" + secrets.token_urlsafe(32)
        key_digest = digest(key)
        created = time.time()
        meta = json.dumps({"digest": key_digest, "created_at": created, "prefix": key[:7]})
        if name == ADMIN or not await self.redis.hsetnx(keys.API_KEY_NAMES, name, meta):
            raise Conflict(f"an API key named {name!r} already exists")
        await self.redis.hset(keys.API_KEYS, key_digest, name)
        return ApiKey(name, key[:7], created, secret=key)

    async def all(self, caller: str) -> list[ApiKey]:
        self.require_admin(caller)
        named = await self.redis.hgetall(keys.API_KEY_NAMES)
        listing = []
        for name, raw in sorted(named.items()):
            meta = json.loads(raw)
            listing.append(ApiKey(text(name), meta["prefix"], float(meta["created_at"])))
        return listing

    async def revoke(self, caller: str, name: str) -> None:
        self.require_admin(caller)
        raw = await self.redis.hget(keys.API_KEY_NAMES, name)
        if raw is None:
            raise NotFound(f"no API key named {name!r}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.API_KEYS, json.loads(raw)["digest"])
            pipe.hdel(keys.API_KEY_NAMES, name)
            await pipe.execute()
