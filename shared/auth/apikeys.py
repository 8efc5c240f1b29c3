"""API keys: the admin key from the environment, and named keys kept in Redis as SHA-256
digests (looked up in O(1), never stored or shown in clear), each with its scope
(`scope.py`). Only an admin key manages keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from memanto_redis.shared.auth.scope import ADMIN_SCOPE, Principal, Scope
from memanto_redis.shared.errors import ApiKeyRefused, Conflict, NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.replies import text

# The environment's key's name (a named key cannot take it).
ADMIN = "admin"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    prefix: str
    created_at: float
    scope: Scope
    secret: str | None = None  # the clear key, only in the answer that creates it


def _principal(raw: str) -> Principal:
    """A stored digest's value: JSON {name, scope}; a bare name is a key made before keys
    had scopes, when every key was an admin (kept so, and listed so: revoke to change)."""
    if not raw.startswith("{"):
        return Principal(raw, ADMIN_SCOPE)
    record = json.loads(raw)
    return Principal(str(record["name"]), Scope.from_dict(record["scope"]))


class ApiKeys:
    def __init__(self, redis: Redis, admin_key: str) -> None:
        self.redis = redis
        self._admin_digest = digest(admin_key) if admin_key else None

    async def identify(self, presented: str | None) -> Principal:
        """Who presents this key, with its scope; ApiKeyRefused for none or an unknown one."""
        if not presented:
            raise ApiKeyRefused("missing API key: send 'Authorization: Bearer <key>'")
        key_digest = digest(presented)
        # Compare digests in constant time so the admin key cannot be guessed by timing.
        if self._admin_digest and hmac.compare_digest(key_digest, self._admin_digest):
            return Principal(ADMIN, ADMIN_SCOPE)
        raw = await self.redis.hget(keys.API_KEYS, key_digest)
        if raw is None:
            raise ApiKeyRefused("invalid API key")
        return _principal(text(raw))

    async def create(self, caller: Principal, name: str, scope: Scope) -> ApiKey:
        """A new named key; its clear text is returned here and never again."""
        caller.check_admin("managing API keys")
        key = "mk_" + secrets.token_urlsafe(32)
        key_digest = digest(key)
        created = time.time()
        meta = json.dumps({"digest": key_digest, "created_at": created, "prefix": key[:7],
                           "scope": scope.to_dict()})
        if name == ADMIN or not await self.redis.hsetnx(keys.API_KEY_NAMES, name, meta):
            raise Conflict(f"an API key named {name!r} already exists")
        await self.redis.hset(keys.API_KEYS, key_digest,
                              json.dumps({"name": name, "scope": scope.to_dict()}))
        return ApiKey(name, key[:7], created, scope, secret=key)

    async def all(self, caller: Principal) -> list[ApiKey]:
        caller.check_admin("managing API keys")
        named = await self.redis.hgetall(keys.API_KEY_NAMES)
        listing = []
        for name, raw in sorted(named.items()):
            meta = json.loads(raw)
            scope = Scope.from_dict(meta["scope"]) if "scope" in meta else ADMIN_SCOPE
            listing.append(ApiKey(text(name), meta["prefix"], float(meta["created_at"]),
                                  scope))
        return listing

    async def revoke(self, caller: Principal, name: str) -> None:
        caller.check_admin("managing API keys")
        raw = await self.redis.hget(keys.API_KEY_NAMES, name)
        if raw is None:
            raise NotFound(f"no API key named {name!r}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.API_KEYS, json.loads(raw)["digest"])
            pipe.hdel(keys.API_KEY_NAMES, name)
            await pipe.execute()
