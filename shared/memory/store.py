"""Memories as the front door sees them: accept into the stream, read back, search."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redisvl.index import AsyncSearchIndex
from redisvl.query import FilterQuery, VectorQuery
from redisvl.query.filter import FilterExpression

from memanto_redis.shared.auth.sessions import check_live, ensure_live
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import (
    AgentNotFound,
    Busy,
    Conflict,
    InvalidInput,
    MemoryNotFound,
    RateLimited,
)
from memanto_redis.shared.infra import hybrid, keys, scripts
from memanto_redis.shared.infra.hot_script import HotScript
from memanto_redis.shared.infra.hybrid import SearchMode
from memanto_redis.shared.memory import pending
from memanto_redis.shared.memory.filters import Filters, live_filter
from memanto_redis.shared.memory.quotas import WriteQuota, retry_after
from memanto_redis.shared.memory.record import HASH_FIELDS, Draft, Memory
from memanto_redis.shared.memory.rules import MEMORY_ID_RE

_SESSION_GONE, _SESSION_REPLACED, _BACKLOG_FULL, _NO_AGENT = 1, 2, 3, 4
# The script's answers that carry a value: a retry's records, a refusal's figure.
_REPLAY, _RATE_LIMITED, _OVER_BURST, _AT_CAP = 5, 6, 7, 8
# Refused agents one process remembers at most.
_MAX_NOTED = 10_000
# A memory still waiting for its vector that holds this share of a query's words ranks
# before the indexed ones.
STRONG_MATCH = 0.5
# The record field each index sort field mirrors.
_RECORD_FIELD = {"created_ts": "created_at", "updated_ts": "updated_at",
                 "confidence": "confidence"}


def rate_limited(agent_id: str, seconds: float) -> RateLimited:
    """The refusal of a write that must wait `seconds` for the agent's next token."""
    wait = retry_after(seconds)
    return RateLimited(f"agent {agent_id!r} is writing faster than its quota allows; "
                       f"retry in {wait} s", wait)


def refused(agent_id: str, count: int, code: int, figure: bytes) -> None:
    """Raise the quota refusal the script answered, if it was one."""
    if code == _RATE_LIMITED:
        raise rate_limited(agent_id, float(figure))
    if code == _OVER_BURST:
        raise InvalidInput(f"a batch of {count} memories is more than agent {agent_id!r}'s "
                           f"write burst of {int(figure)}; send smaller batches",
                           [{"field": "memories", "message": "more than the write burst",
                             "type": "value_error"}])
    if code == _AT_CAP:
        raise Conflict(f"agent {agent_id!r} would hold more than {int(figure)} memories, "
                       "the most allowed; delete some first")


@dataclass(frozen=True, slots=True)
class Once:
    """A write's Idempotency-Key, scoped to the caller that sent it (an agent's session, an
    API key): the same key from another caller is another write."""

    caller: str
    key: str

    def key_for(self, agent_id: str) -> str:
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:32]
        return keys.idempotent(agent_id, self.caller, digest)


class MemoryStore:
    """Front-door operations on memories; takes an asyncio Redis client and the index."""

    def __init__(self, redis: Redis, index: AsyncSearchIndex, max_backlog: int,
                 idempotency_seconds: int = 86_400, quota: WriteQuota | None = None) -> None:
        self.redis = redis
        self.index = index
        self.max_backlog = max_backlog
        self.idempotency_seconds = idempotency_seconds
        # The script's quota arguments, the same for every write.
        self._quota_args = (quota or WriteQuota()).args()
        # Agents this process saw refused for want of a token, until when (monotonic): their
        # next writes are refused here, before the body is read or Redis asked, so a flood
        # of refused writes costs the door little (other processes learn on their own).
        self._refused_until: dict[str, float] = {}
        self._remember = HotScript(redis, scripts.REMEMBER)

    async def remember(self, agent_id: str, drafts: list[Draft],
                       session: SessionClaims | None = None,
                       owner_exists: bool = True, once: Once | None = None) -> list[Memory]:
        """Queue memories in one round trip that also checks the caller's session (or, for
        an API-key caller, that the agent exists), the agent's write quota (each memory
        takes a token) and memory cap, and the backlog bound.
        `owner_exists=False` skips the agent check for owners that are not agents (the
        users of the /memories dialect). With `once` (a caller's Idempotency-Key), a retry
        within the window gets the memories of the first request, stored once."""
        if agent_id in self._refused_until:
            await self.ensure_may_write(agent_id, session)
        now = time.time()
        session_id = session.session_id if session else None
        # A microsecond apart, so that the newest-first order of a batch is well defined.
        memories = [Memory.create(draft, agent_id, session_id, now + i * 1e-6)
                    for i, draft in enumerate(drafts)]
        records = [memory.to_json() for memory in memories]
        idem_key = once.key_for(agent_id) if once else keys.agent(agent_id)
        script_keys = [keys.session(agent_id), keys.agent(agent_id),
                       keys.memory_ids(agent_id), keys.INGEST_STREAM, idem_key,
                       keys.pending(agent_id), keys.write_bucket(agent_id),
                       keys.QUOTA_OVERRIDES]
        check = session_id or ("" if owner_exists else "*")
        args: list[Any] = [check, repr(now), self.max_backlog, agent_id,
                           self.idempotency_seconds if once else 0,
                           b"[" + b",".join(records) + b"]" if once else "",
                           *self._quota_args]
        for memory, record in zip(memories, records, strict=True):
            script_keys.append(keys.queued(agent_id, memory.memory_id))
            args += [memory.memory_id, record]
        code = await self._remember(script_keys, args)
        if isinstance(code, list):
            if int(code[0]) == _RATE_LIMITED and len(drafts) == 1:
                # Exactly when one token is back: no write of this agent passes before.
                self._note_refusal(agent_id, float(code[1]))
            refused(agent_id, len(drafts), int(code[0]), code[1])
            # A retry: the first request's memories.
            return [Memory.from_dict(record) for record in json.loads(code[1])]
        if code == _SESSION_GONE and session:
            ensure_live(session, None)
        elif code == _SESSION_REPLACED and session:
            ensure_live(session, "")
        elif code == _BACKLOG_FULL:
            raise Busy("the ingest backlog is full; retry shortly")
        elif code == _NO_AGENT:
            raise AgentNotFound(f"agent {agent_id!r} not found")
        return memories

    async def ensure_may_write(self, agent_id: str,
                               session: SessionClaims | None = None) -> None:
        """RateLimited while this process knows the agent has no token yet. The caller's
        session is checked first (one read, on the refusal only), so a revoked or lapsed
        token is told so rather than told to wait."""
        until = self._refused_until.get(agent_id)
        if until is None:
            return
        wait = until - time.monotonic()
        if wait <= 0:
            del self._refused_until[agent_id]
            return
        if session is not None:
            await check_live(self.redis, session)
        raise rate_limited(agent_id, wait)

    def _note_refusal(self, agent_id: str, wait: float) -> None:
        if len(self._refused_until) >= _MAX_NOTED:
            self._refused_until.clear()  # only a shortcut: the script still decides
        self._refused_until[agent_id] = time.monotonic() + wait

    async def replayed(self, agent_id: str, once: Once) -> list[Memory] | None:
        """The memories a write with this key queued, while the window lasts."""
        first = await self.redis.get(once.key_for(agent_id))
        if first is None:
            return None
        return [Memory.from_dict(record) for record in json.loads(first)]

    async def remember_valid(self, agent_id: str, items: list[Draft | InvalidInput],
                             session: SessionClaims | None = None, once: Once | None = None
                             ) -> list[Memory | InvalidInput]:
        """A batch whose items were checked one by one: the valid ones are queued, the
        others answered with their problem, in order. A batch with nothing valid is
        refused whole."""
        drafts = [item for item in items if isinstance(item, Draft)]
        if not drafts:
            problems = [item for item in items if isinstance(item, InvalidInput)]
            errors = [e for p in problems for e in p.errors]
            raise InvalidInput("no valid memory in the batch: "
                               + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                               errors)
        queued = await self.remember(agent_id, drafts, session, once=once)
        if len(queued) != len(drafts):
            raise Conflict("this Idempotency-Key came with a different batch")
        remembered = iter(queued)
        return [next(remembered) if isinstance(item, Draft) else item for item in items]

    async def close(self) -> None:
        await self._remember.close()

    async def get(self, agent_id: str, memory_id: str,
                  session: SessionClaims | None = None) -> Memory:
        """One memory, queued or indexed; with a session, its liveness is checked in the
        same round trip."""
        if not MEMORY_ID_RE.match(memory_id):
            raise MemoryNotFound(memory_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.memory(agent_id, memory_id), HASH_FIELDS)
            pipe.hgetall(keys.queued(agent_id, memory_id))
            if session:
                pipe.hget(keys.session(agent_id), "sid")
            indexed, queued, *live_sid = await pipe.execute()
        if session:
            ensure_live(session, live_sid[0])
        if indexed[0] is not None:
            return Memory.from_hash(dict(zip(HASH_FIELDS, indexed, strict=True)))
        if queued:
            return Memory.from_queued(agent_id, memory_id, queued)
        raise MemoryNotFound(memory_id)

    async def recall(self, agent_id: str, vector: bytes, limit: int, filters: Filters,
                     status: str = "active", min_similarity: float | None = None,
                     text: str = "", mode: SearchMode = "hybrid") -> list[Memory]:
        """The agent's memories most related to a query (`text`, and `vector`, its
        embedding), ranked as `mode` says, each with its cosine similarity."""
        expression = live_filter(agent_id, status) & filters.expression()
        ranked = await self.rank(expression, vector, text, limit, mode, min_similarity)
        if mode == "semantic" or (min_similarity or 0.0) > 0.0:
            return ranked
        # What waits for its vector still matches by words: one holding most of the query's
        # words comes before the ranked memories, one holding fewer after them (but within
        # the limit, so it is never cut for want of a vector).
        waiting = pending.scored_by_words(pending.matching(
            await pending.of_agent(self.redis, agent_id), filters, status), text)
        if not waiting:
            return ranked
        held = {m.memory_id for _, m in waiting}
        strong = [m for share, m in waiting if share >= STRONG_MATCH]
        weak = [m for share, m in waiting if share < STRONG_MATCH]
        rest = [m for m in ranked if m.memory_id not in held]
        return (strong + rest[:max(0, limit - len(strong) - len(weak))] + weak)[:limit]

    async def newest(self, agent_id: str, expression: FilterExpression, limit: int,
                     filters: Filters, status: str = "active", sort_by: str = "created_ts",
                     since: float | None = None, until: float | None = None) -> list[Memory]:
        """The agent's memories matching `expression`, newest first by `sort_by`: the
        indexed ones and those still waiting for the worker (matched by the same `filters`,
        `status`, `since` and `until`), so a read shows every acknowledged write."""
        indexed = await self.search(expression, None, limit, sort_by=sort_by)
        waiting = pending.matching(await pending.of_agent(self.redis, agent_id), filters,
                                   status, since=since, until=until)
        return pending.newest_first(indexed, waiting, limit, _RECORD_FIELD[sort_by])

    async def rank(self, expression: FilterExpression, vector: bytes, text: str, limit: int,
                   mode: SearchMode = "hybrid", min_similarity: float | None = None
                   ) -> list[Memory]:
        """Memories matching the filter, by meaning and words as `mode` says."""
        found = []
        for result in await hybrid.search(self.index, self.redis, expression, vector, text,
                                          limit, mode, HASH_FIELDS):
            if min_similarity is not None and result.similarity < min_similarity:
                continue
            memory = Memory.from_hash(result.hit)
            memory.similarity = result.similarity
            memory.by_words = result.by_words
            found.append(memory)
        return found

    async def search(self, expression: FilterExpression, vector: bytes | None, limit: int,
                     min_similarity: float | None = None, sort_by: str = "created_ts",
                     ) -> list[Memory]:
        """Memories matching the filter: by meaning when a vector is given (best first),
        else newest first by `sort_by`."""
        query: VectorQuery | FilterQuery
        if vector is not None:
            query = VectorQuery(
                vector=vector, vector_field_name="embedding", return_fields=HASH_FIELDS,
                filter_expression=expression, num_results=limit, dtype="float32",
            )
        else:
            query = FilterQuery(filter_expression=expression, return_fields=HASH_FIELDS,
                                num_results=limit)
            query.sort_by(sort_by, asc=False)
        found = []
        for hit in await self.index.query(query):
            memory = Memory.from_hash(hit)
            if vector is not None:
                memory.similarity = hybrid.cosine_similarity(hit["vector_distance"])
                if min_similarity is not None and memory.similarity < min_similarity:
                    continue
            found.append(memory)
        return found

