"""Memories accepted but not yet indexed, for reads that must show every acknowledged write.

The index sees a memory only once a worker has embedded it; until then it is a queued
record (`q:` keys), listed per agent in a sorted set the door's script keeps (`qz:`), and
pending in the ingest stream. Lists, counts, filters and keyword matches merge these in, so
what a write acknowledged is in every read that follows; only ranking by meaning waits for
the vector.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from redis.asyncio import Redis

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.fulltext import terms
from memanto_redis.shared.infra.replies import RawHash, text
from memanto_redis.shared.memory.filters import Filters
from memanto_redis.shared.memory.record import Memory

# The most pending entries a cross-agent read looks at (the newest of the stream). Past it,
# under a backlog that large, such a read may miss the oldest of them.
SCAN_CAP = 10_000


async def of_agent(redis: Redis, agent_id: str) -> list[Memory]:
    """The agent's memories still waiting for the worker (queued or failed)."""
    ids = [text(i) for i in cast(list[bytes], await redis.zrange(keys.pending(agent_id), 0, -1))]
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for memory_id in ids:
            pipe.hgetall(keys.queued(agent_id, memory_id))
        records = await pipe.execute()
    return [Memory.from_queued(agent_id, memory_id, raw)
            for memory_id, raw in zip(ids, records, strict=True) if raw]


async def everywhere(redis: Redis) -> list[Memory]:
    """Memories of every agent (and user space) still in the ingest stream, newest last."""
    entries = cast(list[tuple[bytes, RawHash]],
                   await redis.xrevrange(keys.INGEST_STREAM, count=SCAN_CAP))
    found: dict[tuple[str, str], Memory] = {}
    for _, fields in reversed(entries):
        try:
            memory = Memory.from_json(fields[b"data"])
        except Exception:  # a malformed entry is the worker's to dead-letter, not a read's
            continue
        found[(memory.agent_id, memory.memory_id)] = memory  # the newest version wins
    if not found:
        return []
    # An entry outlives its memory until the worker acks it: keep those still queued.
    async with redis.pipeline(transaction=False) as pipe:
        for agent_id, memory_id in found:
            pipe.hget(keys.queued(agent_id, memory_id), "version")
        held = await pipe.execute()
    return [memory for memory, version in zip(found.values(), held, strict=True)
            if version is not None and int(version) == memory.version]


def matching(memories: Iterable[Memory], filters: Filters, status: str = "active",
             since: float | None = None, until: float | None = None) -> list[Memory]:
    """Those that pass the filters a read asks the index for: lifecycle, type, tags and
    creation bounds; changed at or after `since`; created and changed at or before `until`."""
    chosen = []
    for memory in memories:
        if until is not None and (memory.created_at > until or memory.updated_at > until):
            continue
        if status != "all" and memory.lifecycle != status:
            continue
        if filters.types and memory.type not in filters.types:
            continue
        if filters.tags and not set(filters.tags) & set(memory.tags):
            continue
        if filters.created_after is not None and memory.created_at < filters.created_after:
            continue
        if filters.created_before is not None and memory.created_at > filters.created_before:
            continue
        if since is not None and memory.updated_at < since:
            continue
        chosen.append(memory)
    return chosen


def by_words(memories: Iterable[Memory], query: str) -> list[Memory]:
    """Those holding words of the query, most words first; no vector yet, so no similarity
    (0.0)."""
    return [memory for _, memory in scored_by_words(memories, query)]


def scored_by_words(memories: Iterable[Memory], query: str) -> list[tuple[float, Memory]]:
    """Those holding words of the query, with the share of its words they hold, most first."""
    wanted = set(terms(query))
    if not wanted:
        return []
    scored = []
    for memory in memories:
        shared = wanted & set(terms(memory.content))
        if shared:
            memory.similarity, memory.by_words = 0.0, True
            scored.append((len(shared) / len(wanted), memory))
    scored.sort(key=lambda pair: -pair[0])
    return scored


def newest_first(indexed: list[Memory], pending: list[Memory], limit: int,
                 field: str = "created_at") -> list[Memory]:
    """Two lists merged newest first by `field`; a pending version replaces an indexed one
    (it is newer)."""
    waiting = {m.memory_id for m in pending}
    merged = [m for m in indexed if m.memory_id not in waiting] + pending
    merged.sort(key=lambda m: getattr(m, field), reverse=True)
    return merged[:limit]
