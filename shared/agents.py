"""Agents: identities that own a memory namespace and sessions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from memanto_redis.shared.agent_memory.stm import ShortTermMemory
from memanto_redis.shared.auth.scope import Principal
from memanto_redis.shared.errors import AgentExists, AgentNotFound
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.memory.rules import AGENT_ID_RE, namespace
from memanto_redis.shared.schedule.store import ScheduleStore

# Memory ids taken per round trip when clearing an agent, and keys per UNLINK command.
_DELETE_CHUNK = 2000
_UNLINK_CHUNK = 1000


def _text(raw: dict[bytes, bytes], name: str) -> str | None:
    value = raw.get(name.encode())
    return text(value) if value else None


def _time(raw: dict[bytes, bytes], name: str) -> float | None:
    value = _text(raw, name)
    return float(value) if value else None


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str
    description: str | None
    pattern: str | None
    created_at: float | None
    memory_count: int
    last_active: float | None
    session_active: bool
    last_session_id: str | None = None
    last_session_at: float | None = None
    session_count: int = 0  # activations (MEMANTO does not count auto-recreations)

    @property
    def namespace(self) -> str:
        return namespace(self.agent_id)


class AgentStore:
    """Agent records in Redis; takes an asyncio Redis client."""

    def __init__(self, redis: Redis, stm: ShortTermMemory) -> None:
        self.redis = redis
        self.stm = stm
        self._create = redis.register_script(scripts.CREATE_AGENT)

    async def create(self, agent_id: str, description: str | None = None,
                     pattern: str = "support") -> Agent:
        now = time.time()
        fields = ["agent_id", agent_id, "created_at", repr(now),
                  "description", description or "", "pattern", pattern]
        created = await self._create(keys=[keys.agent(agent_id), keys.AGENTS],
                                     args=[agent_id, repr(now), *fields])
        if not created:
            raise AgentExists(f"agent {agent_id!r} already exists")
        # An agent deleted without its memories finds them again.
        count = await self.redis.scard(keys.memory_ids(agent_id))
        return self._shape(agent_id, {k.encode(): str(v).encode()
                                      for k, v in zip(fields[::2], fields[1::2],
                                                      strict=True)}, count, None)

    async def get(self, agent_id: str) -> Agent:
        if not AGENT_ID_RE.match(agent_id):
            raise AgentNotFound(f"agent {agent_id!r} not found")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.agent(agent_id))
            pipe.scard(keys.memory_ids(agent_id))
            pipe.hgetall(keys.session(agent_id))
            raw, count, session = await pipe.execute()
        if not raw:
            raise AgentNotFound(f"agent {agent_id!r} not found")
        return self._shape(agent_id, raw, count, session)

    async def require(self, agent_id: str) -> None:
        if not AGENT_ID_RE.match(agent_id) or not await self.redis.exists(keys.agent(agent_id)):
            raise AgentNotFound(f"agent {agent_id!r} not found")

    async def all(self, principal: Principal | None = None) -> list[Agent]:
        """Every agent, or those `principal`'s scope covers, newest first (as MEMANTO
        lists them)."""
        ids = [text(i) for i in cast(list[bytes],
                                     await self.redis.zrange(keys.AGENTS, 0, -1, desc=True))]
        if principal is not None:
            ids = [agent_id for agent_id in ids if principal.covers_agent(agent_id)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.hgetall(keys.agent(agent_id))
                pipe.scard(keys.memory_ids(agent_id))
                pipe.hgetall(keys.session(agent_id))
            replies = await pipe.execute()
        agents = []
        for i, agent_id in enumerate(ids):
            raw, count, session = replies[3 * i: 3 * i + 3]
            if raw:
                agents.append(self._shape(agent_id, raw, count, session))
        return agents

    async def delete(self, agent_id: str, memories: bool = True) -> int:
        """Remove the agent, its session, schedules, inbox, short-term memory and, with
        `memories`, every memory; returns how many memories were removed. Without, the
        memories stay where they are (MEMANTO keeps them as a backup) and an agent created
        again under the same id finds them."""
        await self.require(agent_id)
        await self.remove(agent_id)
        return await self.delete_memories(agent_id) if memories else 0

    async def remove(self, agent_id: str) -> None:
        """Remove the agent itself, its session, schedules, inbox and short-term memory
        (whether or not the agent is still there); its memories are left as they are."""
        # The session goes first so that no write is accepted while the rest is removed.
        await self.redis.unlink(keys.session(agent_id), keys.agent(agent_id),
                                keys.write_bucket(agent_id))
        await self.redis.zrem(keys.AGENTS, agent_id)
        # Its schedules stop firing, and its inbox goes with them.
        await ScheduleStore(self.redis).delete_all(agent_id)
        await self.stm.clear(agent_id)

    async def delete_memories(self, agent_id: str) -> int:
        """Remove every memory (queued, indexed or failed) and every earlier version and
        tombstone; returns how many memories. Chunked so Redis serves others in between."""
        removed = 0
        await self.redis.unlink(keys.pending(agent_id))
        while batch := cast(list[bytes], await self.redis.spop(keys.memory_ids(agent_id),
                                                               _DELETE_CHUNK)):
            ids = [text(i) for i in batch]
            await self._unlink([key for i in ids for key in (keys.memory(agent_id, i),
                                                             keys.queued(agent_id, i))])
            # Memories written through /memories are also found by id there.
            await self.redis.hdel(keys.MEMORY_OWNERS, *ids)
            removed += len(ids)
        while versions := cast(list[bytes | str], await self.redis.spop(
                keys.version_keys(agent_id), _DELETE_CHUNK)):
            await self._unlink(versions)
        return removed

    async def _unlink(self, names: list[bytes | str]) -> None:
        # One round trip; each UNLINK small enough that the index updates stay short.
        async with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(names), _UNLINK_CHUNK):
                pipe.unlink(*names[start:start + _UNLINK_CHUNK])
            await pipe.execute()

    @staticmethod
    def _shape(agent_id: str, raw: dict[bytes, bytes], count: int,
               session: dict[bytes, bytes] | None) -> Agent:
        return Agent(
            agent_id=agent_id,
            description=_text(raw, "description"),
            pattern=_text(raw, "pattern"),
            created_at=_time(raw, "created_at"),
            memory_count=int(count),
            last_active=_time(raw, "last_active") or _time(session or {}, "started_at"),
            session_active=bool(session),
            last_session_id=_text(raw, "last_session_id"),
            last_session_at=_time(raw, "last_session_at"),
            session_count=int(_text(raw, "session_count") or 0),
        )
