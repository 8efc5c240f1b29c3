"""Cron schedules of prompts fired at an agent: validation, storage, runs (seed 003).

A schedule is a hash; its next fire time also sits in one global sorted set (the due set)
that the scheduler process reads. Each fire is a run record, kept newest-first per
schedule. This store serves the web process (asyncio client); the scheduler and the jobs
write runs with their own sync clients (workers/scheduler.py, workers/jobs.py).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import WatchError

from memanto_redis.shared.errors import Conflict, InvalidInput, NotFound
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.schedule import cron

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_PROMPT = 10_000
MAX_URL = 2048


def due_member(agent_id: str, name: str) -> str:
    """The due set's member for a schedule; neither part can hold a slash."""
    return f"{agent_id}/{name}"


def split_member(member: bytes | str) -> tuple[str, str]:
    text = member.decode() if isinstance(member, bytes) else member
    agent_id, _, name = text.partition("/")
    return agent_id, name


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in url):
        raise ValueError("webhook_url must be an absolute http:// or https:// URL")
    return url


def _text(raw: dict, name: str) -> str | None:
    value = raw.get(name.encode())
    return value.decode() if value else None


def shape(raw: dict) -> dict:
    """A schedule as the API shows it; the webhook secret never leaves after creation."""
    return {
        "name": _text(raw, "name"),
        "cron": _text(raw, "cron"),
        "prompt": _text(raw, "prompt"),
        "timezone": _text(raw, "timezone"),
        "webhook_url": _text(raw, "webhook_url"),
        "next_run": iso(_text(raw, "next_run")),
        "last_run": iso(_text(raw, "last_run")),
        "run_count": int(_text(raw, "run_count") or 0),
        "created_at": iso(_text(raw, "created_at")),
    }


def shape_run(raw: dict) -> dict:
    webhook = None
    if _text(raw, "webhook_status"):
        http_status = _text(raw, "webhook_http_status")
        webhook = {
            "status": _text(raw, "webhook_status"),
            "attempts": int(_text(raw, "webhook_attempts") or 0),
            "http_status": int(http_status) if http_status else None,
            "error": _text(raw, "webhook_error"),
            "last_attempt_at": iso(_text(raw, "webhook_last_attempt_at")),
            "delivered_at": iso(_text(raw, "webhook_delivered_at")),
        }
    return {
        "scheduled_for": iso(_text(raw, "scheduled_for")),
        "fired_at": iso(_text(raw, "fired_at")),
        "status": _text(raw, "status"),
        "delivered_at": iso(_text(raw, "delivered_at")),
        "inbox_id": _text(raw, "inbox_id"),
        "webhook": webhook,
    }


class ScheduleStore:
    """Schedules in Redis; takes an asyncio Redis client."""

    def __init__(self, redis: Any, max_schedules: int = 100) -> None:
        self.redis = redis
        self.max_schedules = max_schedules
        self._create = redis.register_script(scripts.CREATE_SCHEDULE)

    async def create(self, agent_id: str, name: str, cron_expr: str, prompt: str,
                     timezone: str = "UTC", webhook_url: str | None = None) -> dict:
        now = time.time()
        try:
            next_run = cron.next_slot(cron_expr, timezone, now)
        except ValueError as exc:
            raise InvalidInput(f"invalid request: cron: {exc}", [
                {"field": "cron", "message": str(exc), "type": "value_error"}]) from None
        secret = "whsec_" + secrets.token_urlsafe(32) if webhook_url else ""
        fields = {"name": name, "cron": cron_expr, "prompt": prompt,
                  "timezone": timezone, "webhook_url": webhook_url or "",
                  "secret": secret, "created_at": repr(now), "next_run": next_run,
                  "run_count": 0}
        flat = [part for pair in fields.items() for part in pair]
        created = await self._create(
            keys=[keys.schedule(agent_id, name), keys.schedules(agent_id),
                  keys.SCHEDULES_DUE],
            args=[name, due_member(agent_id, name), repr(now), next_run,
                  self.max_schedules, *flat],
        )
        if created == 0:
            raise Conflict(f"schedule {name!r} already exists")
        if created == 2:
            raise Conflict(f"agent {agent_id!r} already has {self.max_schedules} schedules, "
                           "the most allowed")
        record = shape({k.encode(): str(v).encode() for k, v in fields.items()})
        if secret:
            # Shown once: receivers need it to verify signatures; no later answer holds it.
            record["webhook_secret"] = secret
        return record

    async def list(self, agent_id: str) -> list[dict]:
        names = await self.redis.zrange(keys.schedules(agent_id), 0, -1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.schedule(agent_id, name.decode()))
            replies = await pipe.execute()
        return [shape(raw) for raw in replies if raw]

    async def get(self, agent_id: str, name: str) -> dict:
        raw = await self.redis.hgetall(keys.schedule(agent_id, name)) if NAME_RE.match(
            name) else None
        if not raw:
            raise NotFound(f"schedule {name!r} not found")
        return shape(raw)

    async def runs(self, agent_id: str, name: str, limit: int) -> list[dict]:
        """The schedule's newest runs first."""
        await self.get(agent_id, name)
        stamps = await self.redis.zrevrange(keys.schedule_runs(agent_id, name), 0, limit - 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for stamp in stamps:
                pipe.hgetall(keys.schedule_run(agent_id, name, int(stamp)))
            replies = await pipe.execute()
        return [shape_run(raw) for raw in replies if raw]

    async def delete(self, agent_id: str, name: str) -> None:
        if not NAME_RE.match(name) or not await self._delete(agent_id, name):
            raise NotFound(f"schedule {name!r} not found")

    async def delete_all(self, agent_id: str) -> int:
        """Remove every schedule of the agent (and its inbox); returns how many schedules."""
        removed = 0
        for name in await self.redis.zrange(keys.schedules(agent_id), 0, -1):
            removed += await self._delete(agent_id, name.decode())
        await self.redis.unlink(keys.schedules(agent_id), keys.inbox(agent_id))
        return removed

    async def _delete(self, agent_id: str, name: str) -> bool:
        key, runs_key = keys.schedule(agent_id, name), keys.schedule_runs(agent_id, name)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    # A fire changes the schedule hash: if one lands while we read the
                    # runs, EXEC fails and we read again, so no run record is left behind.
                    await pipe.watch(key, runs_key)
                    if not await pipe.exists(key):
                        return False
                    stamps = await pipe.zrange(runs_key, 0, -1)
                    pipe.multi()
                    pipe.delete(key, runs_key, *[keys.schedule_run(agent_id, name, int(s))
                                                 for s in stamps])
                    pipe.zrem(keys.schedules(agent_id), name)
                    pipe.zrem(keys.SCHEDULES_DUE, due_member(agent_id, name))
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
