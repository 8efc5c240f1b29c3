"""Erasure: removing memories for good, history and all.

Deleting a memory keeps its history by design (versions, tombstone, as-of recall). A purge is
the other thing a service holding people's data must offer: afterwards no key, index entry or
stream entry holds what was purged. It reaches everything that may carry a memory's content:
the live and queued records, every version document (with its vector; the index forgets a
document when its hash goes), the tombstone, the pending and id sets, the /memories owner map,
entries still waiting in the ingest stream or parked in the dead-letter stream (with their
noted errors), and idempotency records that replay a write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.errors import InvalidInput, NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.memory.rules import AGENT_ID_RE, MEMORY_ID_RE, USER_ID_RE

# Stream entries read per round trip while looking for what to scrub.
_STREAM_PAGE = 1000
_SCAN_PAGE = 500


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed."""

    memories: int = 0
    stream_entries: int = 0
    replay_records: int = 0
    swarm_facts: int = 0


def _glob(literal: str) -> str:
    """`literal` safe inside a SCAN/SSCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in literal)


class Eraser:
    def __init__(self, redis: Redis, agents: AgentStore,
                 swarm_prefix: str = keys.SWARM_PREFIX) -> None:
        self.redis = redis
        self.agents = agents
        self.swarm_prefix = swarm_prefix

    async def purge_memory(self, agent_id: str, memory_id: str) -> Purged:
        """Remove one memory of `agent_id` with every version; NotFound when nothing of it
        is left (never held, or purged already)."""
        if not MEMORY_ID_RE.match(memory_id):
            raise NotFound(f"memory {memory_id!r} not found")
        prefix = keys.versions_of(agent_id, memory_id)
        held = [keys.memory(agent_id, memory_id), keys.queued(agent_id, memory_id),
                keys.tombstone(agent_id, memory_id)]
        versions = [name async for name in self.redis.sscan_iter(
            keys.version_keys(agent_id), match=_glob(prefix) + "*", count=_SCAN_PAGE)]
        # Nothing of it here: answered before the scans of the streams and the keyspace
        # below, which a caller looping over made-up ids must not get to run.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(*held, *versions)
            pipe.hget(keys.MEMORY_OWNERS, memory_id)
            found, owner = await pipe.execute()
        if not found:
            raise NotFound(f"memory {memory_id!r} not found")
        # The queued record goes first: a worker holding this memory's entry then finds
        # nothing to index (its script writes only while the queued version is there).
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.unlink(*held, *versions)
            if versions:
                pipe.srem(keys.version_keys(agent_id), *versions)
            pipe.srem(keys.version_keys(agent_id), keys.tombstone(agent_id, memory_id))
            pipe.srem(keys.memory_ids(agent_id), memory_id)
            pipe.zrem(keys.pending(agent_id), memory_id)
            if owner is not None and text(owner) == agent_id:  # never another owner's entry
                pipe.hdel(keys.MEMORY_OWNERS, memory_id)
            await pipe.execute()
        entries = await self._scrub_streams(
            lambda agent, memory: agent == agent_id and memory == memory_id)
        replays = await self._drop_replays(agent_id, {memory_id})
        return Purged(memories=1, stream_entries=entries, replay_records=replays)

    async def purge_agent(self, agent_id: str) -> Purged:
        """Remove the agent and everything it holds: profile, session, schedules and inbox,
        short-term memory, every memory with its history, its entries in the streams, its
        replay records, and the swarm facts it wrote. Works on what is left of an agent
        deleted earlier with its memories kept."""
        if not AGENT_ID_RE.match(agent_id):
            raise InvalidInput(f"{agent_id!r} is not an agent id",
                               [{"field": "agent_id", "message": "not an agent id",
                                 "type": "value_error"}])
        await self.agents.remove(agent_id)  # its session first: no write is accepted meanwhile
        await self.redis.hdel(keys.QUOTA_OVERRIDES, agent_id)
        return await self._purge_space(agent_id, swarm=True)

    async def purge_user(self, user_id: str) -> Purged:
        """Remove a user's own space of /memories memories (those written for no agent)."""
        if not USER_ID_RE.match(user_id):
            raise InvalidInput(f"{user_id!r} is not a user id",
                               [{"field": "user_id", "message": "not a user id",
                                 "type": "value_error"}])
        return await self._purge_space(keys.user_owner(user_id), swarm=False)

    async def _purge_space(self, owner: str, swarm: bool) -> Purged:
        removed = await self.agents.delete_memories(owner)
        entries = await self._scrub_streams(lambda agent, memory: agent == owner)
        replays = await self._drop_replays(owner, None)
        facts = await self._drop_swarm_facts(owner) if swarm else 0
        return Purged(memories=removed, stream_entries=entries, replay_records=replays,
                      swarm_facts=facts)

    async def _scrub_streams(self, matches: Callable[[str, str], bool]) -> int:
        """Delete the matching entries of the ingest and dead-letter streams (acknowledged
        too, so no consumer keeps a claim on an entry that is gone)."""
        scrubbed = 0
        for stream in (keys.INGEST_STREAM, keys.DEAD_LETTER_STREAM):
            start = "-"
            while True:
                page = cast(list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrange(
                    stream, start, "+", count=_STREAM_PAGE))
                doomed = [entry_id for entry_id, fields in page
                          if matches(text(fields.get(b"agent", b"")),
                                     text(fields.get(b"id", b"")))]
                if doomed:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        if stream == keys.INGEST_STREAM:
                            pipe.xack(stream, keys.INGEST_GROUP, *doomed)
                            pipe.hdel(keys.INGEST_ERRORS, *doomed)
                        pipe.xdel(stream, *doomed)
                        await pipe.execute()
                    scrubbed += len(doomed)
                if len(page) < _STREAM_PAGE:
                    break
                start = "(" + text(page[-1][0])
        return scrubbed

    async def _drop_replays(self, owner: str, memory_ids: set[str] | None) -> int:
        """Idempotency records hold the memories their write queued, to replay them; drop
        the owner's records (those naming one of `memory_ids`, when given). A rare operator
        action, so a SCAN over the keyspace is acceptable here."""
        pattern = _glob(keys.idempotent(owner, "", "")[:-1]) + "*"
        dropped = 0
        async for name in self.redis.scan_iter(match=pattern, count=_SCAN_PAGE):
            if memory_ids is not None:
                record = await self.redis.get(name)
                if record is None or not any(i.encode() in record for i in memory_ids):
                    continue
            dropped += int(await self.redis.unlink(name))
        return dropped

    async def _drop_swarm_facts(self, agent_id: str) -> int:
        # The facts written in the agent's name are listed, but a SCAN also finds those
        # posted under it as source_agent by someone else.
        dropped = 0
        members = cast(list[bytes], await self.redis.zrange(keys.swarm_written(agent_id), 0, -1))
        written = [keys.swarm_fact(text(i)) for i in members]
        if written:
            dropped += int(await self.redis.unlink(*written))
        await self.redis.unlink(keys.swarm_written(agent_id))
        async for name in self.redis.scan_iter(match=_glob(self.swarm_prefix) + "*",
                                               count=_SCAN_PAGE):
            if text(await self.redis.hget(name, "source_agent") or b"") == agent_id:
                dropped += int(await self.redis.unlink(name))
        return dropped
