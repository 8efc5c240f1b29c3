"""API keys for management routes: the admin key from the environment, and named keys kept
in Redis as SHA-256 digests (looked up in O(1), never stored or shown in clear)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from shared import keys
from shared.errors import Unauthorized

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
