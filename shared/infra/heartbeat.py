"""Liveness of the processes that have no port: each worker, scheduler and jobs process
rewrites a key with a TTL every few seconds (`memanto:heartbeat:<kind>:<name>`); a key that
is gone is a process that is dead, hung or cut off from Redis.

The beat runs in a daemon thread, so a loop busy embedding a large batch still beats, and a
process whose main thread is stuck in Redis calls stops beating only when Redis does. Each
beat may also run a `flush` (the workers write their metrics with it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from memanto_redis.shared.infra import keys

log = logging.getLogger("memanto.heartbeat")

# A heartbeat lives this many beats: one or two late beats (a GC pause, a Redis blip) do
# not make a live process look dead.
TTL_BEATS = 3
# Registry members not seen for this long are dropped from the sorted set.
FORGET_SECONDS = 3600


def member(kind: str, name: str) -> str:
    return f"{kind}:{name}"


class Heartbeat:
    """`start()` beats every `interval` seconds in a thread until `stop()`; `beat()` once."""

    def __init__(self, client: redis.Redis, kind: str, name: str, interval: float = 5.0,
                 info: Callable[[], Mapping[str, Any]] | None = None,
                 flush: Callable[[], None] | None = None) -> None:
        self.redis = client
        self.kind = kind
        self.name = name
        self.interval = interval
        self.info = info
        self.flush = flush
        self.started_at = time.time()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        now = time.time()
        note = {"kind": self.kind, "name": self.name, "pid": os.getpid(),
                "host": socket.gethostname(), "started_at": self.started_at, "beat_at": now}
        if self.info is not None:
            note |= dict(self.info())
        ttl_ms = max(1, int(self.interval * TTL_BEATS * 1000))
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.heartbeat(self.kind, self.name), orjson.dumps(note), px=ttl_ms)
            pipe.zadd(keys.HEARTBEATS, {member(self.kind, self.name): now})
            pipe.zremrangebyscore(keys.HEARTBEATS, "-inf", now - FORGET_SECONDS)
            pipe.execute()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                if self.flush is not None:
                    self.flush()
                self.beat()
            except redis.RedisError as exc:
                # The main loop reports an outage its own way; keep beating once it is over.
                log.debug("heartbeat failed: %s", exc)
            self._stopped.wait(self.interval)

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.kind}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and take the key away: a clean stop is not a death."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            if self.flush is not None:
                self.flush()
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.delete(keys.heartbeat(self.kind, self.name))
                pipe.zrem(keys.HEARTBEATS, member(self.kind, self.name))
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not remove the heartbeat: %s", exc)


@dataclass(frozen=True)
class Beat:
    """One live process, as its last heartbeat says."""

    kind: str
    name: str
    age: float  # seconds since its last beat
    note: dict[str, Any]


def decode(names: list[str], values: list[bytes | None], now: float) -> list[Beat]:
    """The live ones among registry `names` ("kind:name") and their keys' `values`."""
    beats = []
    for full, value in zip(names, values, strict=True):
        if value is None:
            continue
        kind, _, name = full.partition(":")
        note = orjson.loads(value)
        beats.append(Beat(kind, name, max(0.0, now - float(note.get("beat_at", now))), note))
    return sorted(beats, key=lambda b: (b.kind, b.name))


async def live(client: Any) -> list[Beat]:
    """Every live process's heartbeat (an asyncio client: the web process)."""
    raw = await client.zrange(keys.HEARTBEATS, 0, -1)
    names = [n.decode() if isinstance(n, bytes) else n for n in raw]
    if not names:
        return []
    values = await client.mget([keys.heartbeat(*n.split(":", 1)) for n in names])
    return decode(names, values, time.time())
