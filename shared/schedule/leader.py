"""Leadership among processes of which one at a time may act (the scheduler's clock).

A Redis key set with NX and an expiry holds the leader's token. The leader renews it well
before it expires, with a compare-and-set script so that it never extends a lock another
process has taken since; a standby keeps trying SET NX and takes over within one expiry
of the leader's death. A leader that stops cleanly gives the lock up at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from redis import Redis
from redis.client import Pipeline

from memanto_redis.shared.infra import scripts

log = logging.getLogger("memanto.leader")


class Leadership:
    def __init__(self, redis: Redis, key: str, ttl_ms: int) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = ttl_ms
        # Host and pid make `GET <key>` tell an operator who leads.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        self._renewed = 0.0
        self._renew = redis.register_script(scripts.RENEW_LOCK)
        self._release = redis.register_script(scripts.RELEASE_LOCK)

    def hold(self) -> bool:
        """Take or keep the lead; True while this process leads. Renews after a quarter of
        the expiry, so a leader stays ahead of its lock by three quarters of it."""
        now = time.monotonic()
        if self.leading:
            if now - self._renewed < self.ttl_ms / 4000:
                return True
            if self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
                self._renewed = now
                return True
            self.leading = False
            log.warning("lost the lead (lock expired or taken); standing by")
            return False
        if self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self.leading, self._renewed = True, now
            log.info("leading as %s", self.token)
        return self.leading

    def holds_lock(self, reader: Redis | Pipeline) -> bool:
        """Whether the lock holds this process's token now, read through `reader` (a
        pipeline that WATCHes the lock makes a transaction depend on it)."""
        return bool(reader.get(self.key) == self.token.encode())

    def release(self) -> None:
        if self.leading:
            self._release(keys=[self.key], args=[self.token])
            self.leading = False
