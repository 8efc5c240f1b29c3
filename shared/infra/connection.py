"""Redis connections, and the check that the server has what the service needs.

Every client is built with `client_options`: a short retry budget, TCP keepalive and a
connect timeout, so that a process notices a lost Redis within seconds and takes up its
work again as soon as Redis answers (each command that finds its connection broken
reconnects; nothing has to be restarted).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from memanto_redis.shared.errors import Unavailable

REQUIRED_MODULES = {"search": "the Query Engine (RediSearch)", "ReJSON": "JSON"}

# A command that finds Redis gone is tried again this many times, 50 ms to 0.5 s apart
# (about 0.4 s in all): a blip is ridden out, and an outage reaches the caller (a 503, a
# worker's own retry loop) quickly instead of after redis-py's default ~4 s.
RETRIES = 3
BACKOFF_BASE = 0.05
BACKOFF_CAP = 0.5
# Probe an idle connection after 10 s, every 5 s, 3 times: a Redis that vanished without
# closing its sockets (a host gone, a partition) is noticed in ~25 s, not hours.
_KEEPALIVE = {getattr(socket, name): value for name, value in
              (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
              if hasattr(socket, name)}
CONNECT_TIMEOUT = 5.0
# Sync clients (workers, scheduler, CLI) PING a connection idle this long before using it.
HEALTH_CHECK_SECONDS = 30
# The web process's pool is bounded: a burst of requests waits up to POOL_WAIT_SECONDS for
# one of POOL_MAX_CONNECTIONS connections (then 503, Redis unavailable) instead of opening
# a connection per request until Redis's maxclients refuses every process. Inbox
# long-polls hold connections of their own (shared/schedule/inbox.py).
POOL_MAX_CONNECTIONS = 128
POOL_WAIT_SECONDS = 5.0


def client_options(*, asynchronous: bool = False) -> dict[str, Any]:
    """Keyword arguments for `Redis.from_url` shared by every client of the service."""
    backoff = ExponentialWithJitterBackoff(base=BACKOFF_BASE, cap=BACKOFF_CAP)
    return {
        "retry": AsyncRetry(backoff, RETRIES) if asynchronous else Retry(backoff, RETRIES),
        "socket_keepalive": True,
        "socket_keepalive_options": dict(_KEEPALIVE),
        "socket_connect_timeout": CONNECT_TIMEOUT,
    }


def _describe(url: str) -> str:
    # Never echo a password that may sit in the URL.
    parsed = redis.connection.parse_url(url)
    return f"{parsed.get('host', 'localhost')}:{parsed.get('port', 6379)}"


def _missing_modules(modules: list[dict[Any, Any]]) -> list[str]:
    names = {(m.get(b"name") or m.get("name") or b"") for m in modules}
    names = {n.decode() if isinstance(n, bytes) else n for n in names}
    return [label for name, label in REQUIRED_MODULES.items() if name not in names]


def _unreachable(url: str, exc: Exception) -> Unavailable:
    return Unavailable(f"cannot reach Redis at {_describe(url)}: {exc}")


def _check_modules(url: str, modules: list[dict[Any, Any]]) -> None:
    """Refuse a Redis without the Query Engine or JSON, naming what is missing."""
    missing = _missing_modules(modules)
    if missing:
        raise Unavailable(
            f"Redis at {_describe(url)} lacks {', '.join(missing)}; use Redis 8, Redis Stack "
            ">= 7.2, or the embedded server (`memanto redis-server`)"
        )


def _check_eviction(url: str, memory: dict[str, Any]) -> None:
    """Refuse a Redis that may evict keys: an evicted queued record would be acked as a
    deleted memory, an accepted write silently lost."""
    policy = memory.get("maxmemory_policy", "noeviction")
    if policy != "noeviction":
        raise Unavailable(
            f"Redis at {_describe(url)} evicts keys (maxmemory-policy {policy}); set "
            "maxmemory-policy to noeviction, or an accepted memory could be lost"
        )


def connect(url: str, wait_seconds: float = 0.0) -> redis.Redis:
    """A checked synchronous client; waits up to `wait_seconds` for Redis to come up."""
    client = redis.Redis.from_url(url, health_check_interval=HEALTH_CHECK_SECONDS,
                                  **client_options())
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            modules = client.module_list()
            break
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise _unreachable(url, exc) from exc
            time.sleep(0.25)
        except redis.ResponseError as exc:
            raise Unavailable(f"Redis at {_describe(url)} refused MODULE LIST: {exc}") from exc
    _check_modules(url, modules)
    _check_eviction(url, client.info("memory"))
    return client


async def connect_async(url: str, wait_seconds: float = 0.0) -> aredis.Redis:
    """A checked asyncio client for the web process; the same checks as `connect`."""
    # No health_check_interval here: the web process's connections are busy, and checking
    # the clock before every command costs the write path measurable time. The pool checks
    # a connection it hands out anyway (a stale one is reconnected), and keepalive costs
    # nothing per command.
    pool = aredis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_MAX_CONNECTIONS, timeout=POOL_WAIT_SECONDS,
        **client_options(asynchronous=True))
    client = aredis.Redis.from_pool(pool)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                modules = await client.module_list()
                break
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    raise _unreachable(url, exc) from exc
                await asyncio.sleep(0.25)
            except redis.ResponseError as exc:
                raise Unavailable(
                    f"Redis at {_describe(url)} refused MODULE LIST: {exc}") from exc
        _check_modules(url, modules)
        _check_eviction(url, await client.info("memory"))
    except Unavailable:
        await client.aclose()
        raise
    return client
