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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import WatchError

from memanto_redis.shared.errors import Conflict, InvalidInput, NotFound
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.replies import text, text_fields
from memanto_redis.shared.schedule import cron, egress, fire_rate

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
    """What a webhook URL must be whatever the server's policy (which `ScheduleStore.create`
    applies): http(s), with a host and a valid port, and no credentials (they would sit in
    the schedule, shown to every reader; the signature authenticates the sender)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in url):
        raise ValueError("webhook_url must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise ValueError("webhook_url must not hold credentials (user:password@)")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port when it is read)
    except ValueError:
        raise ValueError("webhook_url has an invalid port") from None
    return url


def _text(fields: Mapping[str, str], name: str) -> str | None:
    """A field of a hash; absent and empty alike are None."""
    return fields.get(name) or None


def _time(fields: Mapping[str, str], name: str) -> float | None:
    value = _text(fields, name)
    return float(value) if value else None


def _count(fields: Mapping[str, str], name: str) -> int:
    return int(_text(fields, name) or 0)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron schedule. Its webhook secret is set only on the schedule `create` returns:
    receivers need it once, to verify signatures, and no later read holds it."""

    name: str
    cron: str
    prompt: str
    timezone: str
    webhook_url: str | None
    next_run: float
    last_run: float | None
    run_count: int
    created_at: float
    webhook_secret: str | None = None

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Schedule:
        """A schedule hash as HGETALL gives it (the secret left out)."""
        f = text_fields(raw)
        return cls(name=f["name"], cron=f["cron"], prompt=f["prompt"], timezone=f["timezone"],
                   webhook_url=_text(f, "webhook_url"), next_run=float(f["next_run"]),
                   last_run=_time(f, "last_run"), run_count=_count(f, "run_count"),
                   created_at=float(f["created_at"]))


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """Where a run's webhook stands: pending, retrying, delivered or failed."""

    status: str
    attempts: int
    http_status: int | None
    error: str | None
    last_attempt_at: float | None
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class Run:
    """One fire of a schedule: queued by the scheduler, delivered by the jobs process."""

    scheduled_for: float
    fired_at: float
    status: str  # queued | delivered
    delivered_at: float | None
    inbox_id: str | None
    webhook: WebhookOutcome | None

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Run:
        """A run hash as HGETALL gives it."""
        f = text_fields(raw)
        webhook = None
        status = _text(f, "webhook_status")
        if status:
            http_status = _text(f, "webhook_http_status")
            webhook = WebhookOutcome(
                status=status, attempts=_count(f, "webhook_attempts"),
                http_status=int(http_status) if http_status else None,
                error=_text(f, "webhook_error"),
                last_attempt_at=_time(f, "webhook_last_attempt_at"),
                delivered_at=_time(f, "webhook_delivered_at"))
        return cls(scheduled_for=float(f["scheduled_for"]), fired_at=float(f["fired_at"]),
                   status=f["status"], delivered_at=_time(f, "delivered_at"),
                   inbox_id=_text(f, "inbox_id"), webhook=webhook)


class ScheduleStore:
    """Schedules in Redis; takes an asyncio Redis client."""

    def __init__(self, redis: Redis, max_schedules: int = 100,
                 webhook_allow: egress.Allow | None = None, min_interval: int = 0) -> None:
        self.redis = redis
        self.max_schedules = max_schedules
        self.webhook_allow = webhook_allow or egress.Allow()
        # The least interval a schedule made by an agent's own session may fire at (0: any).
        self.min_interval = min_interval
        self._create = redis.register_script(scripts.CREATE_SCHEDULE)

    async def create(self, agent_id: str, name: str, cron_expr: str, prompt: str,
                     timezone: str = "UTC", webhook_url: str | None = None,
                     by_session: bool = False) -> Schedule:
        """The new schedule, with its webhook secret when it has a webhook. Made by an
        agent's session (`by_session`), it may not fire faster than `min_interval`."""
        now = time.time()
        try:
            next_run = cron.next_slot(cron_expr, timezone, now)
        except ValueError as exc:
            raise InvalidInput(f"invalid request: cron: {exc}", [
                {"field": "cron", "message": str(exc), "type": "value_error"}]) from None
        if by_session:
            fire_rate.check(cron_expr, timezone, now, self.min_interval)
        if webhook_url:
            # A first, early answer for a plainly internal address; the real guard is the
            # check when it is sent (a name may resolve anywhere by then).
            try:
                egress.check_literal(urlsplit(webhook_url).hostname or "", self.webhook_allow)
            except ValueError as exc:
                raise InvalidInput(f"invalid request: webhook_url: {exc}", [
                    {"field": "webhook_url", "message": str(exc),
                     "type": "value_error"}]) from None
        secret = "whsec_" + secrets.token_urlsafe(32) if webhook_url else ""
        fields: dict[str, str | int] = {"name": name, "cron": cron_expr, "prompt": prompt,
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
        return Schedule(name=name, cron=cron_expr, prompt=prompt, timezone=timezone,
                        webhook_url=webhook_url or None, next_run=next_run, last_run=None,
                        run_count=0, created_at=now, webhook_secret=secret or None)

    async def all(self, agent_id: str) -> list[Schedule]:
        """The agent's schedules, oldest first."""
        names = await self._names(agent_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(keys.schedule(agent_id, name))
            replies = await pipe.execute()
        return [Schedule.from_hash(raw) for raw in replies if raw]

    async def get(self, agent_id: str, name: str) -> Schedule:
        raw = await self.redis.hgetall(keys.schedule(agent_id, name)) if NAME_RE.match(
            name) else None
        if not raw:
            raise NotFound(f"schedule {name!r} not found")
        return Schedule.from_hash(raw)

    async def runs(self, agent_id: str, name: str, limit: int) -> list[Run]:
        """The schedule's newest runs first."""
        await self.get(agent_id, name)
        stamps = cast(list[bytes], await self.redis.zrevrange(
            keys.schedule_runs(agent_id, name), 0, limit - 1))
        async with self.redis.pipeline(transaction=False) as pipe:
            for stamp in stamps:
                pipe.hgetall(keys.schedule_run(agent_id, name, int(stamp)))
            replies = await pipe.execute()
        return [Run.from_hash(raw) for raw in replies if raw]

    async def delete(self, agent_id: str, name: str) -> None:
        if not NAME_RE.match(name) or not await self._delete(agent_id, name):
            raise NotFound(f"schedule {name!r} not found")

    async def delete_all(self, agent_id: str) -> int:
        """Remove every schedule of the agent (and its inbox); returns how many schedules."""
        removed = 0
        for name in await self._names(agent_id):
            removed += await self._delete(agent_id, name)
        await self.redis.unlink(keys.schedules(agent_id), keys.inbox(agent_id))
        return removed

    async def _names(self, agent_id: str) -> list[str]:
        """The agent's schedule names, oldest first."""
        names = cast(list[bytes], await self.redis.zrange(keys.schedules(agent_id), 0, -1))
        return [text(name) for name in names]

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
                    stamps = cast(list[bytes], await pipe.zrange(runs_key, 0, -1))
                    pipe.multi()
                    pipe.delete(key, runs_key, *[keys.schedule_run(agent_id, name, int(s))
                                                 for s in stamps])
                    pipe.zrem(keys.schedules(agent_id), name)
                    pipe.zrem(keys.SCHEDULES_DUE, due_member(agent_id, name))
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
