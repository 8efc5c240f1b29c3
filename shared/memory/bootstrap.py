"""An agent's bootstrap card: what to load at session start (seed 000's `agent bootstrap`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest

from memanto_redis.shared.agents import Agent, AgentStore
from memanto_redis.shared.memory import pending
from memanto_redis.shared.memory.filters import NO_FILTERS, live_filter
from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.memory.schema import aggregate
from memanto_redis.shared.memory.store import MemoryStore

SAMPLE_SIZE = 5
# A memory's weight halves every this many days in the sample.
HALF_LIFE_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class Bootstrap:
    agent: Agent
    counts_by_type: dict[str, int]
    newest: Memory | None
    sample: list[Memory]


async def counts_by_type(redis: Redis, agent_id: str) -> dict[str, int]:
    """The agent's active memories by type, those still waiting for the worker included."""
    request = AggregateRequest(str(live_filter(agent_id))).group_by(
        "@type", reducers.count().alias("n"))
    result = await aggregate(redis, request)
    counts: dict[str, int] = {}
    for row in result.rows:
        fields = dict(zip(row[::2], row[1::2], strict=True))
        counts[fields[b"type"].decode()] = int(fields[b"n"])
    for memory in pending.matching(await pending.of_agent(redis, agent_id), NO_FILTERS):
        counts[memory.type] = counts.get(memory.type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def sample(candidates: list[Memory], now: float, size: int = SAMPLE_SIZE) -> list[Memory]:
    """The most telling memories: high confidence, recent, each counted once."""
    def weight(memory: Memory) -> float:
        age_days = max(0.0, now - memory.created_at) / 86_400
        return memory.confidence * math.pow(0.5, age_days / HALF_LIFE_DAYS)

    unique = {m.memory_id: m for m in candidates}.values()
    return sorted(unique, key=weight, reverse=True)[:size]


async def bootstrap(agents: AgentStore, store: MemoryStore, agent_id: str) -> Bootstrap:
    agent = await agents.get(agent_id)
    active = live_filter(agent_id)
    newest = await store.newest(agent_id, active, 50, NO_FILTERS)
    confident = await store.newest(agent_id, active, 50, NO_FILTERS, sort_by="confidence")
    return Bootstrap(
        agent=agent,
        counts_by_type=await counts_by_type(store.redis, agent_id),
        newest=newest[0] if newest else None,
        sample=sample(newest + confident, time.time()),
    )
