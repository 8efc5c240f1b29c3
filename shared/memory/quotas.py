"""Write quotas: each agent's token bucket (refilled at `rate` memories a second up to
`burst`) and its cap on memories held, checked inside the door's remember script; an admin
may give one agent another rate and burst (`memanto:quota:overrides`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from memanto_redis.shared.errors import InvalidInput, NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.replies import text

# The largest rate or burst an override may hold: beyond it, say 0 (unlimited).
MAX_RATE = 1_000_000.0
MAX_BURST = 10_000_000


@dataclass(frozen=True, slots=True)
class WriteQuota:
    """Memories a second (0: unlimited) and the burst; `max_memories` an agent may hold
    (0: no cap)."""

    rate: float = 0.0
    burst: int = 1
    max_memories: int = 0

    def args(self) -> list[str | int]:
        """The remember script's quota arguments."""
        return [repr(float(self.rate)), self.burst, self.max_memories]


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header: at least 1, never before the tokens are."""
    return max(1, math.ceil(seconds))


@dataclass(frozen=True, slots=True)
class Override:
    agent_id: str
    rate: float
    burst: int


def check_override(rate: float, burst: int) -> None:
    problems = []
    if not (math.isfinite(rate) and 0 <= rate <= MAX_RATE):
        problems.append({"field": "rate", "message": f"must be 0 (unlimited) to {MAX_RATE:g}",
                         "type": "value_error"})
    if not 1 <= burst <= MAX_BURST:
        problems.append({"field": "burst", "message": f"must be 1 to {MAX_BURST}",
                         "type": "value_error"})
    if problems:
        raise InvalidInput("invalid quota: " + "; ".join(
            f"{p['field']} {p['message']}" for p in problems), problems)


class QuotaOverrides:
    """Per-agent write quotas set by an admin, read by the remember script itself."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def set(self, agent_id: str, rate: float, burst: int) -> Override:
        check_override(rate, burst)
        # The script reads "rate burst"; the bucket keeps its tokens (capped at the burst).
        await self.redis.hset(keys.QUOTA_OVERRIDES, agent_id, f"{float(rate)!r} {burst}")
        return Override(agent_id, float(rate), burst)

    async def get(self, agent_id: str) -> Override | None:
        raw = await self.redis.hget(keys.QUOTA_OVERRIDES, agent_id)
        return _parse(agent_id, raw) if raw is not None else None

    async def all(self) -> list[Override]:
        held = await self.redis.hgetall(keys.QUOTA_OVERRIDES)
        return sorted((_parse(text(k), v) for k, v in held.items()),
                      key=lambda o: o.agent_id)

    async def delete(self, agent_id: str) -> None:
        if not await self.redis.hdel(keys.QUOTA_OVERRIDES, agent_id):
            raise NotFound(f"agent {agent_id!r} has no quota override")


def _parse(agent_id: str, raw: bytes | str) -> Override:
    rate, burst = text(raw).split()
    return Override(agent_id, float(rate), int(burst))
