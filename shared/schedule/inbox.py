"""An agent's inbox: a capped stream of the prompts its schedules fired, read by id.

Reading never removes anything: a client keeps the `last_id` it was given and passes it
back as `after`. A read may long-poll (`XREAD BLOCK`); each waiting request holds one
connection for its whole wait, so waits use their own small pool, bounded by
`max_waiters`, and never starve the connections the rest of the web process needs.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import redis.asyncio as aredis

from memanto_redis.shared.errors import Busy
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.times import iso

STREAM_ID_RE = re.compile(r"^\d{1,20}(-\d{1,20})?$")
MAX_WAIT = 30.0
MAX_COUNT = 1000


class InboxBusy(Busy):
    """Every long-poll slot of this web process is taken."""

    retry_after = 1


def entry_fields(schedule: str, prompt: str, scheduled_for: int, fired_at: float) -> list:
    """A fired prompt as stream field/value pairs (written by workers/jobs.py)."""
    return ["schedule", schedule, "prompt", prompt, "scheduled_for", scheduled_for,
            "fired_at", repr(fired_at)]


def shape(entry_id: bytes, fields: dict) -> dict:
    def text(name: str) -> str | None:
        value = fields.get(name.encode())
        return value.decode() if value is not None else None

    return {
        "id": entry_id.decode(),
        "schedule": text("schedule"),
        "prompt": text("prompt"),
        "scheduled_for": iso(text("scheduled_for")),
        "fired_at": iso(text("fired_at")),
    }


class Inbox:
    def __init__(self, redis: Any, url: str, max_waiters: int) -> None:
        self.redis = redis
        self._waiting = aredis.Redis.from_url(url, max_connections=max_waiters)
        self._slots = asyncio.Semaphore(max_waiters)

    async def read(self, agent_id: str, after: str, wait: float, limit: int) -> dict:
        stream = {keys.inbox(agent_id): after}
        reply = await self.redis.xread(stream, count=limit)
        if not reply and wait > 0:
            if self._slots.locked():
                raise InboxBusy("too many inbox requests are waiting; retry shortly")
            async with self._slots:
                # An id (not "$") makes XREAD BLOCK return at once for anything newer than
                # `after`, so a message that landed since the read above is not missed.
                reply = await self._waiting.xread(stream, count=limit,
                                                  block=max(1, int(wait * 1000)))
        entries = reply[0][1] if reply else []
        messages = [shape(entry_id, fields) for entry_id, fields in entries]
        return {"messages": messages, "last_id": messages[-1]["id"] if messages else after}

    async def close(self) -> None:
        await self._waiting.aclose()
