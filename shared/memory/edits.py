"""Editing memories while keeping every earlier version.

Each change archives the memory's current state as a version document (`ver:` keys, in the
same index, valid over [valid_from, valid_to)) before writing the new state, so history and
as-of recall can see what the agent held at any moment. A content change goes back through
the ingest stream to be embedded again; other changes are written in place.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery
from redisvl.query.filter import Num

from memanto_redis.shared.errors import Busy, InvalidInput, MemoryNotFound
from memanto_redis.shared.infra import cursors, keys
from memanto_redis.shared.infra.fulltext import Tag
from memanto_redis.shared.infra.replies import raw_hash
from memanto_redis.shared.memory.record import HASH_FIELDS, Memory
from memanto_redis.shared.memory.rules import MEMORY_ID_RE, derive_title

T = TypeVar("T")
# A memory's current state and its vector (None while queued).
State = tuple[Memory, bytes | None]
EDITABLE = ("content", "title", "type", "confidence", "tags", "source")
# Versions in one page of a history: by default, and at most.
HISTORY_PAGE = 100
HISTORY_MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class History:
    """One page of a memory's versions, oldest first; on the last page the last version is
    the current one unless the memory was deleted."""

    memory_id: str
    agent_id: str
    versions: list[Memory]
    deleted_at: float | None
    next_cursor: str | None = None  # where the next page starts; None on the last

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


# Fields a change may clear (the expiry stamp, on restore).
_STAMPS = ("expired_at", "expired_by")


class MemoryEditor:
    """Edits, expiry, deletion and history; takes an asyncio Redis client and the index."""

    def __init__(self, redis_client: Redis, index: AsyncSearchIndex,
                 max_backlog: int = 0, versions_kept: int = 0) -> None:
        self.redis = redis_client
        self.index = index
        # The door's backlog bound holds for re-queued edits too (0: none).
        self.max_backlog = max_backlog
        # Archived versions kept per memory, the newest (0: all).
        self.versions_kept = versions_kept

    async def patch(self, agent_id: str, memory_id: str, changes: dict[str, Any]) -> Memory:
        """Change any of the EDITABLE fields; a new content derives a new title unless one
        is given."""
        def apply(memory: Memory) -> tuple[Memory, str] | None:
            changed = {k: v for k, v in changes.items() if getattr(memory, k) != v}
            if not changed:
                return None
            if "content" in changed and "title" not in changes:
                changed["title"] = derive_title(changed["content"])
            return memory.evolve(**changed), "updated"

        return await self._change(agent_id, memory_id, apply,
                                  reembed=lambda old, new: old.content != new.content)

    async def set_lifecycle(self, agent_id: str, memory_id: str, lifecycle: str,
                            reason: str | None = None) -> Memory:
        """Expire (stamped with when, and `reason` as expired_by: "manual" when none is
        given, as MEMANTO does) or restore (the stamp cleared); a memory already so is left
        as it is."""
        event = "expired" if lifecycle == "expired" else "restored"

        def apply(memory: Memory) -> tuple[Memory, str] | None:
            if memory.lifecycle == lifecycle:
                return None
            if lifecycle == "expired":
                return memory.evolve(lifecycle=lifecycle, expired_at=time.time(),
                                     expired_by=reason or "manual"), event
            return memory.evolve(lifecycle=lifecycle, expired_at=None, expired_by=None), event

        return await self._change(agent_id, memory_id, apply)

    async def delete(self, agent_id: str, memory_id: str) -> bool:
        """Remove a memory from the agent's current memories, keeping its history."""
        if not MEMORY_ID_RE.match(memory_id):
            return False

        async def write(pipe: Pipeline, state: State | None) -> bool:
            if state is None:
                return False
            memory, embedding = state
            now = time.time()
            pipe.multi()
            self._archive(pipe, memory, now, embedding)
            pipe.hset(keys.tombstone(agent_id, memory_id),
                      mapping={"deleted_at": repr(now), "version": memory.version})
            pipe.sadd(keys.version_keys(agent_id), keys.tombstone(agent_id, memory_id))
            pipe.unlink(keys.memory(agent_id, memory_id), keys.queued(agent_id, memory_id))
            pipe.srem(keys.memory_ids(agent_id), memory_id)
            pipe.zrem(keys.pending(agent_id), memory_id)
            await pipe.execute()
            return True

        return await self._watched(agent_id, memory_id, write)

    async def history(self, agent_id: str, memory_id: str, limit: int = HISTORY_PAGE,
                      cursor: str | None = None) -> History:
        """A page of the memory's versions, oldest first, keyset-paged by version number
        (numbers only grow, so a page never repeats or skips one while edits go on)."""
        if not 1 <= limit <= HISTORY_MAX_PAGE:
            raise InvalidInput(f"limit must be a whole number from 1 to {HISTORY_MAX_PAGE}",
                               [{"field": "limit", "message": "out of range",
                                 "type": "value_error"}])
        after = _version_after(cursor) if cursor else 0
        if not MEMORY_ID_RE.match(memory_id):
            raise MemoryNotFound(memory_id)
        # The current state first: the archived versions read next are all older than it,
        # so an edit landing in between cannot show one version twice.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.memory(agent_id, memory_id))
            pipe.hgetall(keys.queued(agent_id, memory_id))
            pipe.hgetall(keys.tombstone(agent_id, memory_id))
            live, queued, tomb = await pipe.execute()
        current = _current_state(agent_id, memory_id, live, queued)
        expression = ((Tag("agent_id") == agent_id) & (Tag("memory_id") == memory_id)
                      & (Tag("kind") == "version") & (Num("version") > after))
        if current is not None:
            expression &= Num("version") < current[0].version
        # One more than a page tells whether another follows.
        query = FilterQuery(filter_expression=expression, return_fields=HASH_FIELDS,
                            num_results=limit + 1)
        query.sort_by("version", asc=True)
        versions = [Memory.from_hash(hit) for hit in await self.index.query(query)]
        if current is not None and current[0].version > after:
            versions.append(current[0])
        if current is None and not tomb and not versions:
            raise MemoryNotFound(memory_id)
        page = versions[:limit]
        next_cursor = cursors.encode({"v": page[-1].version}) if len(versions) > limit \
            else None
        deleted_at = float(tomb[b"deleted_at"]) if tomb and current is None else None
        return History(memory_id, agent_id, page, deleted_at, next_cursor)

    # -- the one way every change is made ------------------------------------------------

    async def _change(
        self,
        agent_id: str,
        memory_id: str,
        apply: Callable[[Memory], tuple[Memory, str] | None],
        reembed: Callable[[Memory, Memory], bool] = lambda old, new: False,
    ) -> Memory:
        if not MEMORY_ID_RE.match(memory_id):
            raise MemoryNotFound(memory_id)

        async def write(pipe: Pipeline, state: State | None) -> Memory:
            if state is None:
                raise MemoryNotFound(memory_id)
            memory, embedding = state
            outcome = apply(memory)
            if outcome is None:  # nothing changes: no new version
                await pipe.reset()
                return memory
            new, event = outcome
            now = time.time()
            new = new.evolve(version=memory.version + 1, updated_at=now, event=event)
            in_place = memory.status == "indexed" and not reembed(memory, new)
            if not in_place and self.max_backlog \
                    and await pipe.xlen(keys.INGEST_STREAM) >= self.max_backlog:
                await pipe.reset()
                raise Busy("the ingest backlog is full; retry shortly")
            pipe.multi()
            self._archive(pipe, memory, now, embedding)
            if in_place:
                pipe.hset(keys.memory(agent_id, memory_id), mapping=new.to_hash())
                # A hash keeps what is not written again: a cleared stamp is removed.
                cleared = [name for name in _STAMPS
                           if getattr(memory, name) is not None and getattr(new, name) is None]
                if cleared:
                    pipe.hdel(keys.memory(agent_id, memory_id), *cleared)
                await pipe.execute()
                return new
            # Embedded again by the worker; until then it reads as queued.
            new = new.evolve(status="queued", error=None)
            queued_key = keys.queued(agent_id, memory_id)
            data = new.to_json()
            pipe.unlink(keys.memory(agent_id, memory_id))
            pipe.hset(queued_key, mapping={"data": data, "status": "queued",
                                           "version": new.version})
            pipe.hdel(queued_key, "error")
            pipe.zadd(keys.pending(agent_id), {memory_id: now})
            pipe.xadd(keys.INGEST_STREAM, {"id": memory_id, "agent": agent_id, "data": data})
            await pipe.execute()
            return new

        return await self._watched(agent_id, memory_id, write)

    async def _watched(self, agent_id: str, memory_id: str,
                       write: Callable[[Pipeline, State | None], Awaitable[T]]) -> T:
        """Read the memory's state under WATCH and let `write` change it in MULTI; start
        over whenever someone else changed it in between (optimistic locking)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(keys.memory(agent_id, memory_id),
                                     keys.queued(agent_id, memory_id))
                    live = await pipe.hgetall(keys.memory(agent_id, memory_id))
                    queued = await pipe.hgetall(keys.queued(agent_id, memory_id))
                    state = _current_state(agent_id, memory_id, raw_hash(live),
                                           raw_hash(queued))
                    return await write(pipe, state)
                except redis.WatchError:
                    continue

    def _archive(self, pipe: Pipeline, memory: Memory, now: float,
                 embedding: bytes | None) -> None:
        """Archive the memory's current state; beyond `versions_kept`, the oldest archived
        version goes (its key, and with it its index document). Versions are numbered
        1, 2, ... with no gaps, so each change drops exactly the one that fell out."""
        key = keys.version(memory.agent_id, memory.memory_id, memory.version)
        pipe.hset(key, mapping=memory.to_version(now, embedding))
        pipe.sadd(keys.version_keys(memory.agent_id), key)
        dropped = memory.version - self.versions_kept
        if self.versions_kept and dropped >= 1:
            old = keys.version(memory.agent_id, memory.memory_id, dropped)
            pipe.unlink(old)
            pipe.srem(keys.version_keys(memory.agent_id), old)


def _version_after(cursor: str) -> int:
    """The version number a history cursor says the page before ended at."""
    after = cursors.decode(cursor).get("v")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise cursors.refused()
    return after


def _current_state(agent_id: str, memory_id: str, live: dict[bytes, bytes],
                   queued: dict[bytes, bytes]) -> State | None:
    if live:
        return Memory.from_hash(live), live.get(b"embedding")
    if queued:
        return Memory.from_queued(agent_id, memory_id, queued), None
    return None
