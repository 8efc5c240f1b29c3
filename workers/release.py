"""The release phase (Procfile `release:`, run once per deploy before the new processes
start, as Heroku runs it; compose.yaml's `release` service): checks Redis (reachable, the
Query Engine and JSON there, no eviction), creates the memory and swarm indexes, and trims
archived versions beyond MEMANTO_VERSIONS_KEPT (a lowered setting holds from this deploy).

    python -m memanto_redis.workers.release

The web process and the worker create the indexes too when they are missing; doing it here
makes a bad REDIS_URL fail the deploy instead of the new processes.
"""

from __future__ import annotations

import asyncio
import logging

from memanto_redis.shared.agent_memory.swarm import ensure_swarm_index
from memanto_redis.shared.infra.connection import connect, connect_async
from memanto_redis.shared.infra.embeddings import known_dims, make_vectorizer
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory import versions
from memanto_redis.shared.memory.schema import ensure_index
from memanto_redis.workers.process import run_main

log = logging.getLogger("memanto.release")


def dimensions(settings: Settings) -> int:
    """The model's vector size: from MEMANTO_EMBEDDINGS_DIMS or the local model's folder, or
    by asking the service or loading the model when neither says."""
    dims = known_dims(settings)
    if dims is None:
        dims = int(make_vectorizer(settings).dims)
    return dims


async def _swarm(settings: Settings, dims: int) -> None:
    client = await connect_async(settings.redis_url, settings.redis_wait_seconds)
    try:
        await ensure_swarm_index(client, dims)
    finally:
        await client.aclose()


def main(settings: Settings) -> None:
    dims = dimensions(settings)
    client = connect(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    ensure_index(client, dims)
    asyncio.run(_swarm(settings, dims))
    trimmed = versions.trim(client, settings.versions_kept)
    client.close()
    log.info("release: Redis checked; memory and swarm indexes ready (%d dimensions); "
             "%d archived versions beyond the %d kept per memory removed", dims, trimmed,
             settings.versions_kept)


if __name__ == "__main__":
    run_main("release", main)
