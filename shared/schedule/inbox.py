"""An agent's inbox: a capped stream of the prompts its schedules fired, read by id.

Reading never removes anything: a client keeps the `last_id` it was given and passes it
back as `after`. A read may long-poll (`XREAD BLOCK`); each waiting request holds one
connection for its whole wait, so waits use their own small pool, bounded by
`max_waiters`, and never starve the connections the rest of the web process needs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aredis
from redis.typing import EncodableT, KeyT, StreamIdT

from memanto_redis.shared.errors import Busy
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.connection import client_options
from memanto_redis.shared.infra.replies import text, text_fields

STREAM_ID_RE = re.compile(r"^\d{1,20}(-\d{1,20})?$")
MAX_WAIT = 30.0
MAX_COUNT = 1000
# Long-polls one agent may hold in one web process: one agent (or one key looping over it)
# cannot take every slot of the process from the others.
MAX_WAITERS_PER_AGENT = 5

# XREAD's reply: per stream, its name and its entries (id, field/value pairs).
_StreamReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]


class InboxBusy(Busy):
    """Every long-poll slot of this web process is taken."""

    retry_after = 1


def entry_fields(schedule: str, prompt: str, scheduled_for: int,
                 fired_at: float) -> list[EncodableT]:
    """A fired prompt as stream field/value pairs (written by workers/jobs.py)."""
    return ["schedule", schedule, "prompt", prompt, "scheduled_for", scheduled_for,
            "fired_at", repr(fired_at)]


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """A prompt one of the agent's schedules fired; `id` is its stream entry id."""

    id: str
    schedule: str
    prompt: str
    scheduled_for: float
    fired_at: float

    @classmethod
    def from_entry(cls, entry_id: bytes | str, raw: Mapping[Any, Any]) -> InboxMessage:
        """A stream entry, as `entry_fields` wrote it."""
        fields = text_fields(raw)
        return cls(id=text(entry_id), schedule=fields["schedule"], prompt=fields["prompt"],
                   scheduled_for=float(fields["scheduled_for"]),
                   fired_at=float(fields["fired_at"]))


@dataclass(frozen=True, slots=True)
class InboxRead:
    """Messages after the id a client passed, oldest first, and the id to pass next."""

    messages: tuple[InboxMessage, ...]
    last_id: str


class Inbox:
    def __init__(self, redis: aredis.Redis, url: str, max_waiters: int,
                 per_agent: int = MAX_WAITERS_PER_AGENT) -> None:
        self.redis = redis
        self.per_agent = per_agent
        self._agent_waits: dict[str, int] = {}
        # The same retry and keepalive as the web's own client: a long-poll cut by a Redis
        # restart is sent again on a new connection.
        self._waiting = aredis.Redis.from_url(url, max_connections=max_waiters,
                                              **client_options(asynchronous=True))
        self._slots = asyncio.Semaphore(max_waiters)

    async def read(self, agent_id: str, after: str, wait: float, limit: int) -> InboxRead:
        stream: dict[KeyT, StreamIdT] = {keys.inbox(agent_id): after}
        reply = cast(_StreamReply, await self.redis.xread(stream, count=limit))
        if not reply and wait > 0:
            if self._slots.locked():
                raise InboxBusy("too many inbox requests are waiting; retry shortly")
            if self._agent_waits.get(agent_id, 0) >= self.per_agent:
                raise InboxBusy(f"agent {agent_id!r} already has {self.per_agent} inbox "
                                "requests waiting; retry shortly")
            self._agent_waits[agent_id] = self._agent_waits.get(agent_id, 0) + 1
            try:
                async with self._slots:
                    # An id (not "$") makes XREAD BLOCK return at once for anything newer
                    # than `after`, so a message that landed since the read above is not
                    # missed.
                    reply = cast(_StreamReply, await self._waiting.xread(
                        stream, count=limit, block=max(1, int(wait * 1000))))
            finally:
                self._agent_waits[agent_id] -= 1
                if not self._agent_waits[agent_id]:
                    del self._agent_waits[agent_id]
        entries = reply[0][1] if reply else []
        messages = tuple(InboxMessage.from_entry(entry_id, fields)
                         for entry_id, fields in entries)
        return InboxRead(messages, messages[-1].id if messages else after)

    async def close(self) -> None:
        await self._waiting.aclose()
