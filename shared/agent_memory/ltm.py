"""Long-term memory in the seed-003 dialect: the agent's v2 memories seen another way.

A write goes through the same stream and worker as remember, so the id is known at once
and the memory is searchable once indexed; reads, search and deletes are those of v2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.hybrid import SearchMode
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.filters import NO_FILTERS
from memanto_redis.shared.memory.record import Draft, Memory
from memanto_redis.shared.memory.store import MemoryStore, Once

# Records MEMORY USAGE is asked about to estimate an agent's size (see stats).
SIZE_SAMPLE = 16
FLOAT32_BYTES = 4


@dataclass(frozen=True, slots=True)
class LtmStats:
    """How many memories an agent holds, and about how much room they take."""

    entries_count: int
    size_kb: float


class LongTermMemory:
    def __init__(self, redis: Redis, memories: MemoryStore, editor: MemoryEditor,
                 agents: AgentStore) -> None:
        self.redis = redis
        self.memories = memories
        self.editor = editor
        self.agents = agents

    async def add(self, agent_id: str, content: str, metadata: dict[str, Any] | None = None,
                  session: SessionClaims | None = None, once: Once | None = None) -> Memory:
        """Queue the memory; metadata is kept verbatim and its `source` is the memory's."""
        draft = Draft(content=content, source=str((metadata or {}).get("source", "agent")),
                      metadata=metadata or None)
        (memory,) = await self.memories.remember(agent_id, [draft], session, once=once)
        return memory

    async def search(self, agent_id: str, vector: bytes, limit: int,
                     threshold: float | None = None, text: str = "",
                     mode: SearchMode = "hybrid") -> list[Memory]:
        return await self.memories.recall(agent_id, vector, limit, NO_FILTERS,
                                          min_similarity=threshold, text=text, mode=mode)

    async def get(self, agent_id: str, memory_id: str) -> tuple[Memory, int]:
        """The memory, and its vector's dimensions (0 while it waits to be embedded)."""
        memory = await self.memories.get(agent_id, memory_id)
        size = await self.redis.hstrlen(keys.memory(agent_id, memory_id), "embedding")
        return memory, int(size) // FLOAT32_BYTES

    async def delete(self, agent_id: str, memory_id: str) -> None:
        """As v2's delete: gone from the agent's memories, its history kept for as-of."""
        if not await self.editor.delete(agent_id, memory_id):
            raise NotFound(f"memory {memory_id!r} not found")

    async def stats(self, agent_id: str) -> LtmStats:
        """How many memories, and their size: MEMORY USAGE of a random sample of records
        (vector, text and metadata), scaled to the count. Index structures not included."""
        ids_key = keys.memory_ids(agent_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.scard(ids_key)
            pipe.srandmember(ids_key, SIZE_SAMPLE)
            count, sample = await pipe.execute()
        if not sample:
            return LtmStats(int(count), 0.0)
        async with self.redis.pipeline(transaction=False) as pipe:
            for raw in sample:
                memory_id = raw.decode()
                pipe.memory_usage(keys.memory(agent_id, memory_id), samples=0)
                pipe.memory_usage(keys.queued(agent_id, memory_id), samples=0)
            usages = await pipe.execute()
        # Each id is either indexed or queued; one gone meanwhile counts for neither.
        sizes = [a or b for a, b in zip(usages[::2], usages[1::2], strict=True) if a or b]
        average = sum(sizes) / len(sizes) if sizes else 0
        return LtmStats(int(count), round(average * count / 1024, 1))

    async def clear(self, agent_id: str) -> int:
        return await self.agents.delete_memories(agent_id)
