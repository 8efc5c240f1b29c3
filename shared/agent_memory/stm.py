"""Short-term memory: per agent and session, newest N entries, expiring when idle.

`StmWriter` says how an append is written (the STM_APPEND script's keys and arguments), so
the web process (on its asyncio client) and the RQ jobs (in their sync pipeline) write
entries alike; `ShortTermMemory` writes, reads, summarises and clears for the web process.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.typing import EncodableT, KeyT

from memanto_redis.shared.errors import Conflict
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.replies import text

# STM session ids: the v2 session ids (UUIDs) and names like "sess_abc123". No ':' so a
# session's keys never collide with another's; "current" is the alias of the current one.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
CURRENT = "current"
# The session a write goes to when the agent has neither a recent one nor a live session.
DEFAULT_SESSION = "default"
Role = Literal["user", "assistant", "system", "tool"]


def check_session_id(value: str) -> str:
    if value == CURRENT or not SESSION_ID_RE.match(value):
        raise ValueError("session must be 1-128 letters, digits, '.', '_' or '-', and not "
                         f"{CURRENT!r} (which names the current session)")
    return value


@dataclass(frozen=True, slots=True)
class StmEntry:
    """One message of a session; `id` counts up from 1 within the session."""

    id: int
    role: str
    content: str
    timestamp: float

    @classmethod
    def from_json(cls, raw: bytes | str) -> StmEntry:
        """A stored entry, as STM_APPEND encodes it: {id, role, content, timestamp}."""
        stored = json.loads(raw)
        return cls(id=int(stored["id"]), role=stored["role"], content=stored["content"],
                   timestamp=float(stored["timestamp"]))


@dataclass(frozen=True, slots=True)
class StmSession:
    """A session's entries (all written, or the newest read), oldest first."""

    session_id: str
    entries: tuple[StmEntry, ...]


@dataclass(frozen=True, slots=True)
class StmSummary:
    """The current session: how many entries it holds and when the newest was written."""

    session_id: str
    entries_count: int
    last_updated: float | None


@dataclass(frozen=True, slots=True)
class StmWriter:
    """How an append is written: each session keeps its newest `max_entries` and expires
    `idle_seconds` after its last write; an agent holds at most `max_sessions` (0: no
    cap)."""

    max_entries: int
    idle_seconds: int
    max_sessions: int = 0

    def call(self, agent_id: str, session_id: str, entries: list[tuple[str, str]],
             now: float) -> tuple[list[KeyT], list[EncodableT]]:
        """The STM_APPEND keys and arguments that append (role, content) pairs at `now`;
        the script answers the first new entry's id."""
        # To the millisecond, which the script's JSON keeps exactly (it keeps 14 digits).
        args: list[EncodableT] = [self.max_entries, self.idle_seconds, session_id,
                                  repr(round(now, 3)), self.max_sessions]
        for role, content in entries:
            args += [role, content]
        return ([keys.stm(agent_id, session_id), keys.stm_seq(agent_id, session_id),
                 keys.stm_current(agent_id), keys.stm_sessions(agent_id)], args)


class ShortTermMemory:
    """Reading, writing and clearing an agent's STM sessions; takes an asyncio client.

    The current session is the one most recently written, else the agent's live v2
    session, else "default"; a write without a session goes there.
    """

    def __init__(self, redis: Redis, max_entries: int, idle_seconds: int,
                 max_sessions: int = 0) -> None:
        self.redis = redis
        self.writer = StmWriter(max_entries, idle_seconds, max_sessions)
        self._append = redis.register_script(scripts.STM_APPEND)

    async def current_session(self, agent_id: str) -> str:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.stm_current(agent_id))
            pipe.hget(keys.session(agent_id), "sid")
            pointer, live_sid = await pipe.execute()
        current = pointer or live_sid
        return current.decode() if current else DEFAULT_SESSION

    async def resolve(self, agent_id: str, session: str | None) -> str:
        """A session id from what the client named; None and "current" mean the current."""
        if session is None or session == CURRENT:
            return await self.current_session(agent_id)
        return session

    async def append(self, agent_id: str, session: str | None,
                     entries: list[tuple[str, str]]) -> StmSession:
        """Append (role, content) pairs; returns the entries as written."""
        session_id = await self.resolve(agent_id, session)
        now = round(time.time(), 3)
        call = self.writer.call(agent_id, session_id, entries, now)
        first = int(await self._append(*call))
        if first < 0 and await self._prune(agent_id):
            first = int(await self._append(*call))
        if first < 0:
            raise Conflict(f"agent {agent_id!r} already holds {self.writer.max_sessions} "
                           "short-term memory sessions, the most allowed; clear some first")
        return StmSession(session_id, tuple(
            StmEntry(id=first + i, role=role, content=content, timestamp=now)
            for i, (role, content) in enumerate(entries)))

    async def _prune(self, agent_id: str) -> int:
        """Forget the sessions that expired by themselves (their lists are gone); returns
        how many."""
        members = [text(m) for m in await self.redis.smembers(keys.stm_sessions(agent_id))]
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in members:
                pipe.exists(keys.stm(agent_id, session_id))
            held = await pipe.execute()
        gone = [sid for sid, exists in zip(members, held, strict=True) if not exists]
        if gone:
            await self.redis.srem(keys.stm_sessions(agent_id), *gone)
        return len(gone)

    async def read(self, agent_id: str, session: str | None, limit: int) -> StmSession:
        """The session's newest `limit` entries, oldest first."""
        session_id = await self.resolve(agent_id, session)
        raw = await self.redis.lrange(keys.stm(agent_id, session_id), -limit, -1)
        return StmSession(session_id, tuple(StmEntry.from_json(item) for item in raw))

    async def summary(self, agent_id: str) -> StmSummary:
        session_id = await self.current_session(agent_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(keys.stm(agent_id, session_id))
            pipe.lindex(keys.stm(agent_id, session_id), -1)
            count, newest = await pipe.execute()
        return StmSummary(session_id, int(count),
                          StmEntry.from_json(newest).timestamp if newest else None)

    async def clear(self, agent_id: str, session: str | None = None) -> int:
        """Remove one session (by id or "current"), or with None every session of the
        agent; returns how many sessions held entries."""
        if session is not None:
            sessions = [await self.resolve(agent_id, session)]
        else:
            members = await self.redis.smembers(keys.stm_sessions(agent_id))
            sessions = [m.decode() if isinstance(m, bytes) else m for m in members]
        async with self.redis.pipeline(transaction=True) as pipe:
            for session_id in sessions:
                pipe.unlink(keys.stm(agent_id, session_id))
            for session_id in sessions:
                pipe.unlink(keys.stm_seq(agent_id, session_id))
            if session is not None:
                pipe.srem(keys.stm_sessions(agent_id), *sessions)
            else:
                pipe.unlink(keys.stm_current(agent_id), keys.stm_sessions(agent_id))
            replies = await pipe.execute()
        return sum(replies[: len(sessions)])
