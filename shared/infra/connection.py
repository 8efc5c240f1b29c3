"""Redis connections, and the check that the server has what the service needs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
import redis.asyncio as aredis

from memanto_redis.shared.errors import Unavailable

REQUIRED_MODULES = {"search": "the Query Engine (RediSearch)", "ReJSON": "JSON"}


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
    client = redis.Redis.from_url(url, health_check_interval=30)
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
    # the clock before every command costs the write path measurable time.
    client = aredis.Redis.from_url(url)
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
