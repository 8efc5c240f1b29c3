"""Short-term memory: per agent and session, newest N entries, expiring when idle.

`StmWriter.append` queues the write on whatever client or pipeline it is given, sync or
asyncio, so the web process and the RQ jobs share one way of writing it; `ShortTermMemory`
reads, summarises and clears for the web process.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.times import iso

# STM session ids: the v2 session ids (UUIDs) and names like "sess_abc123". No ':' so a
# session's keys never collide with another's; "current" is the alias of the current one.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
CURRENT = "current"
Role = Literal["user", "assistant", "system", "tool"]


def check_session_id(value: str) -> str:
    if value == CURRENT or not SESSION_ID_RE.match(value):
        raise ValueError("session must be 1-128 letters, digits, '.', '_' or '-', and not "
                         f"{CURRENT!r} (which names the current session)")
    return value



class StmWriter:
    def __init__(self, redis: Any, max_entries: int, idle_seconds: int) -> None:
        self._script = redis.register_script(scripts.STM_APPEND)
        self.max_entries = max_entries
        self.idle_seconds = idle_seconds

    def append(self, agent_id: str, session_id: str, entries: list[tuple[str, str]],
               client: Any = None, now: float | None = None) -> Any:
        """Append (role, content) pairs; returns the script call (await it on asyncio, or
        read it from the pipeline's results)."""
        # To the millisecond, which the script's JSON keeps exactly (it keeps 14 digits).
        now = round(time.time() if now is None else now, 3)
        args: list[Any] = [self.max_entries, self.idle_seconds, session_id, repr(now)]
        for role, content in entries:
            args += [role, content]
        return self._script(
            keys=[keys.stm(agent_id, session_id), keys.stm_seq(agent_id, session_id),
                  keys.stm_current(agent_id), keys.stm_sessions(agent_id)],
            args=args, client=client,
        )


# How current.md names each role's speaker (the seed shows User and Agent).
SPEAKERS = {"user": "User", "assistant": "Agent", "system": "System", "tool": "Tool"}
DEFAULT_SESSION = "default"


def entry(raw: bytes | str) -> dict:
    """A stored entry in the seed's shape: {id, role, content, timestamp}."""
    stored = json.loads(raw)
    return {"id": int(stored["id"]), "role": stored["role"], "content": stored["content"],
            "timestamp": iso(stored["timestamp"])}


def current_md(session_id: str, entries: list[dict]) -> str:
    """The human-readable context file (current.md) of a session's recent messages."""
    parts = ["# Agent Short-Term Memory Context", f"## Session: {session_id}",
             "### Recent Messages"]
    parts += [f"**{SPEAKERS.get(e['role'], e['role'].title())}:** {e['content']}"
              for e in entries] or ["_No messages yet._"]
    return "\n\n".join(parts) + "\n"


class ShortTermMemory:
    """Reading, writing and clearing an agent's STM sessions; takes an asyncio client.

    The current session is the one most recently written, else the agent's live v2
    session, else "default"; a write without a session goes there.
    """

    def __init__(self, redis: Any, max_entries: int, idle_seconds: int) -> None:
        self.redis = redis
        self.writer = StmWriter(redis, max_entries, idle_seconds)

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
                     entries: list[tuple[str, str]]) -> dict:
        session_id = await self.resolve(agent_id, session)
        now = round(time.time(), 3)
        first = int(await self.writer.append(agent_id, session_id, entries, now=now))
        return {"session_id": session_id, "entries": [
            {"id": first + i, "role": role, "content": content, "timestamp": iso(now)}
            for i, (role, content) in enumerate(entries)]}

    async def read(self, agent_id: str, session: str | None, limit: int) -> dict:
        """The session's newest `limit` entries, oldest first."""
        session_id = await self.resolve(agent_id, session)
        raw = await self.redis.lrange(keys.stm(agent_id, session_id), -limit, -1)
        return {"session_id": session_id, "entries": [entry(item) for item in raw]}

    async def summary(self, agent_id: str) -> dict:
        session_id = await self.current_session(agent_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(keys.stm(agent_id, session_id))
            pipe.lindex(keys.stm(agent_id, session_id), -1)
            count, newest = await pipe.execute()
        return {"session_id": session_id, "entries_count": int(count),
                "last_updated": entry(newest)["timestamp"] if newest else None}

    async def clear(self, agent_id: str, session: str | None = None) -> int:
        """Remove one session (by id or "current"), or with None every session of the
        agent; returns how many sessions held entries."""
        if session is not None:
            sessions = [await self.resolve(agent_id, session)]
        else:
            members = await self.redis.smembers(keys.stm_sessions(agent_id))
            sessions = [m.decode() for m in members]
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
