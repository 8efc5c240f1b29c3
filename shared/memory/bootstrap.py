"""An agent's bootstrap card: what to load at session start (seed 000's `agent bootstrap`)."""

from __future__ import annotations

import math
import time
from typing import Any

from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest

from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.store import MemoryStore, live_filter

SAMPLE_SIZE = 5
# A memory's weight halves every this many days in the sample.
HALF_LIFE_DAYS = 30.0


async def counts_by_type(redis: Any, agent_id: str) -> dict[str, int]:
    request = AggregateRequest(str(live_filter(agent_id))).group_by(
        "@type", reducers.count().alias("n"))
    result = await redis.ft(keys.MEMORY_INDEX).aggregate(request)
    counts = {}
    for row in result.rows:
        fields = dict(zip(row[::2], row[1::2], strict=True))
        counts[_text(fields[b"type"])] = int(fields[b"n"])
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def sample(candidates: list[dict], now: float, size: int = SAMPLE_SIZE) -> list[dict]:
    """The most telling memories: high confidence, recent, each counted once."""
    def weight(memory: dict) -> float:
        age_days = max(0.0, now - memory["_created"]) / 86_400
        return memory["confidence"] * math.pow(0.5, age_days / HALF_LIFE_DAYS)

    unique = {m["memory_id"]: m for m in candidates}.values()
    return sorted(unique, key=weight, reverse=True)[:size]


async def bootstrap(agents: AgentStore, store: MemoryStore, agent_id: str) -> dict:
    agent = await agents.get(agent_id)
    raw = await agents.redis.hgetall(keys.agent(agent_id))
    active = live_filter(agent_id)
    newest = await store.search(active, None, 50, keep_raw_times=True)
    confident = await store.search(active, None, 50, sort_by="confidence", keep_raw_times=True)
    picked = sample(newest + confident, time.time())
    last = newest[0] if newest else None
    return {
        "agent_id": agent_id,
        "namespace": agent["namespace"],
        "description": agent["description"],
        "created_at": agent["created_at"],
        "total_memories": agent["memory_count"],
        "memory_breakdown": await counts_by_type(agents.redis, agent_id),
        "last_session": {
            "session_id": _text(raw.get(b"last_session_id")),
            "started_at": iso(raw.get(b"last_session_at")),
            "active": agent["session_active"],
        },
        "last_memory": {"created_at": last["created_at"], "type": last["type"],
                        "memory_id": last["memory_id"]} if last else None,
        "sample_memories": [
            {key: m[key] for key in ("memory_id", "title", "content", "type", "confidence",
                                     "created_at")} for m in picked
        ],
    }


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
