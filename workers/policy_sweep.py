"""The nightly memory-policy sweep, an RQ job the scheduler queues once a day
(workers/scheduler.py, Nightly) and the `jobs` process runs: every agent with a policy has
its policy applied, as `POST /api/v2/agents/{agent_id}/policy/apply` does on demand."""

from __future__ import annotations

import asyncio
import logging
import time

from redisvl.index import AsyncSearchIndex

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.connection import connect_async
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.policy_sweep import PolicyStore, PolicySweeper
from memanto_redis.shared.memory.store import MemoryStore
from memanto_redis.workers.jobs import settings as jobs_settings

log = logging.getLogger("memanto.jobs")


def sweep_policies() -> str:
    """The RQ job: sweep as of now."""
    expired = asyncio.run(sweep(jobs_settings(), time.time()))
    return f"swept {len(expired)} agents, expired {sum(expired.values())} memories"


async def sweep(settings: Settings, now: float) -> dict[str, int]:
    """Apply every agent's policy as of `now`; what each agent had expired."""
    redis = await connect_async(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    try:
        # No agent has a policy (a new deployment, whose index the web may not have made
        # yet): nothing to sweep.
        if not await redis.scard(keys.POLICIES):
            return {}
        # A policy was set through a web process, which made the index: read its schema.
        index = await AsyncSearchIndex.from_existing(keys.MEMORY_INDEX, redis_client=redis)
        store = MemoryStore(redis, index, settings.max_backlog)
        try:
            editor = MemoryEditor(redis, index, settings.max_backlog, settings.versions_kept)
            expired = await PolicySweeper(store, editor, PolicyStore(redis)).apply_all(now)
        finally:
            await store.close()
    finally:
        await redis.aclose()
    for agent_id, count in expired.items():
        if count:
            log.info("policy sweep: expired %d memories of %s", count, agent_id)
    return expired
