"""Swarm facts: short-lived facts every agent can read, each a Redis hash with a TTL.

The key's TTL is the only thing that removes a fact: no sweeper runs. Redis deletes an
expired key lazily or in its expiry cycle, which may be a moment after the deadline, so
every read also filters on the stored expiry (the same instant, to the millisecond) and
a fact is never listed or found after it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from redis.asyncio import Redis
from redisvl.index import AsyncSearchIndex
from redisvl.query import CountQuery, FilterQuery
from redisvl.query.filter import FilterExpression, Num
from redisvl.schema import IndexSchema

from memanto_redis.shared.agent_memory import swarm_scope
from memanto_redis.shared.auth.scope import Principal
from memanto_redis.shared.errors import Conflict, Forbidden
from memanto_redis.shared.infra import hybrid, keys, scripts
from memanto_redis.shared.infra.hybrid import SearchMode

# What every fact holds, and what a read returns: those and who wrote it (which facts
# written before it was recorded lack).
WHOLE = ["fact_id", "source_agent", "content", "created_at", "expires_at"]
FACT_FIELDS = [*WHOLE, "written_by"]
_CLEAR_CHUNK = 1000


def swarm_schema(dims: int) -> IndexSchema:
    return IndexSchema.from_dict({
        "index": {"name": keys.SWARM_INDEX, "prefix": keys.SWARM_PREFIX,
                  "storage_type": "hash"},
        "fields": [
            {"name": "source_agent", "type": "tag", "attrs": {"case_sensitive": True}},
            {"name": "content", "type": "text"},
            # Indexed twins of created_at / expires_at, which results read exactly (a
            # RETURN of a numeric attribute loses digits; see shared/schema.py).
            {"name": "created_ts", "type": "numeric"},
            {"name": "expires_ts", "type": "numeric"},
            {"name": "embedding", "type": "vector",
             "attrs": {"dims": dims, "algorithm": "flat", "distance_metric": "cosine",
                       "datatype": "float32"}},
        ],
    })


async def ensure_swarm_index(client: Redis, dims: int) -> AsyncSearchIndex:
    """Create the index unless it exists; several processes may race here harmlessly."""
    index = AsyncSearchIndex(swarm_schema(dims), redis_client=client)
    if not await index.exists():
        try:
            await index.create(overwrite=False)
        except Exception as exc:  # RedisVL wraps the server's reply in its own error types
            if "already exists" not in str(exc).lower():
                raise
    return index


def _live(now: float) -> FilterExpression:
    return Num("expires_ts") > now


@dataclass(frozen=True, slots=True)
class Fact:
    """A swarm fact as read at one moment: `ttl_seconds` is what was left of it then, and
    `similarity` is set when a search found it."""

    id: int
    source_agent: str
    content: str
    created_at: float
    expires_at: float
    ttl_seconds: int
    similarity: float | None = None
    # Who wrote it: the agent of a session, or the name of an API key ("" when unknown).
    written_by: str = ""

    @classmethod
    def from_hit(cls, hit: Mapping[str, Any], now: float) -> Fact:
        """An index hit (or the fields just written), as of `now`."""
        expires = float(hit["expires_at"])
        return cls(id=int(hit["fact_id"]), source_agent=str(hit["source_agent"]),
                   content=str(hit["content"]), created_at=float(hit["created_at"]),
                   expires_at=expires, ttl_seconds=max(0, math.ceil(expires - now)),
                   written_by=str(hit.get("written_by") or ""))


class SwarmStore:
    """Takes an asyncio Redis client and the swarm index."""

    def __init__(self, redis: Redis, index: AsyncSearchIndex, default_ttl: int,
                 max_ttl: int, max_per_agent: int = 0) -> None:
        self.redis = redis
        self.index = index
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        # Live facts one agent may have in its name (0: no cap).
        self.max_per_agent = max_per_agent
        self._add = redis.register_script(scripts.SWARM_ADD)

    def ttl_for(self, asked: int | None) -> int:
        """The configured default when none is asked for; never more than the maximum."""
        return min(self.default_ttl if asked is None else asked, self.max_ttl)

    @staticmethod
    def source_for(asked: str | None, principal: Principal) -> str:
        """Who a new fact is from: as asked, else the caller (a session's agent, a key's
        name). Decided by the principal's scope, never by a key's name: an admin key may
        name any agent, a tenant key any agent its scope covers (a read-only one none), a
        session only its own agent."""
        source = asked or principal.agent or principal.name
        if principal.agent is not None:
            if source != principal.agent:
                raise Forbidden(f"source_agent must be this session's agent "
                                f"{principal.agent!r}, not {source!r}")
        elif not principal.covers_agent(source):
            raise Forbidden(f"source_agent {source!r} is outside this API key's scope: a "
                            "tenant key names only agents its scope covers")
        principal.check_write()
        return source

    async def add(self, content: str, source_agent: str, ttl_seconds: int | None,
                  vector: bytes, written_by: str = "") -> Fact:
        """A new fact in `source_agent`'s name, unless that agent has its most live facts
        (Conflict)."""
        ttl = self.ttl_for(ttl_seconds)
        fact_id = await self.redis.incr(keys.SWARM_SEQ)
        now = time.time()
        expires_ms = int((now + ttl) * 1000)
        expires = expires_ms / 1000
        fields: dict[str, Any] = {
            "fact_id": fact_id, "source_agent": source_agent, "written_by": written_by,
            "content": content, "created_at": repr(now), "expires_at": repr(expires),
            "created_ts": repr(now), "expires_ts": repr(expires), "embedding": vector,
        }
        # One script: the fact never exists without its TTL, nor past its agent's cap.
        added = await self._add(
            keys=[keys.swarm_fact(fact_id), keys.swarm_written(source_agent)],
            args=[repr(now), repr(expires), expires_ms, self.max_per_agent, fact_id,
                  *[part for pair in fields.items() for part in pair]])
        if not added:
            raise Conflict(f"{source_agent!r} already has {self.max_per_agent} live swarm "
                           "facts, the most allowed; wait for some to expire")
        return Fact(id=fact_id, source_agent=source_agent, content=content, created_at=now,
                    expires_at=expires, ttl_seconds=max(0, math.ceil(expires - now)),
                    written_by=written_by)

    async def newest(self, limit: int, sources: Sequence[str] | None = None) -> list[Fact]:
        """Live facts, newest first; only those from agents `sources` (patterns) cover,
        when given (a tenant key's scope)."""
        now = time.time()
        where, fetch = _scoped(_live(now), limit, sources)
        query = FilterQuery(filter_expression=where, return_fields=FACT_FIELDS,
                            num_results=fetch)
        query.sort_by("created_ts", asc=False)
        return [Fact.from_hit(hit, now) for hit in await self.index.query(query)
                if _whole(hit) and _seen(hit, sources)][:limit]

    async def search(self, vector: bytes, limit: int, threshold: float | None = None,
                     text: str = "", mode: SearchMode = "hybrid",
                     sources: Sequence[str] | None = None) -> list[Fact]:
        """Live facts related to a query (`text`, and `vector`, its embedding), ranked as
        `mode` says, each with its cosine similarity; `sources` as for `newest`."""
        now = time.time()
        found: list[Fact] = []
        where, fetch = _scoped(_live(now), limit, sources)
        for result in await hybrid.search(self.index, self.redis, where, vector, text,
                                          fetch, mode, FACT_FIELDS):
            if not _whole(result.hit) or not _seen(result.hit, sources) or len(found) >= limit:
                continue
            if threshold is None or result.similarity >= threshold:
                found.append(replace(Fact.from_hit(result.hit, now),
                                     similarity=result.similarity))
        return found

    async def count(self, sources: Sequence[str] | None = None) -> int:
        """Live facts; only those from agents `sources` (patterns) cover, when given (a
        tenant key's scope; then counted from at most OVERFETCH of them)."""
        if sources is None:
            return int(await self.index.query(CountQuery(_live(time.time()))))
        where, _ = _scoped(_live(time.time()), swarm_scope.OVERFETCH, sources)
        query = FilterQuery(filter_expression=where, return_fields=["source_agent"],
                            num_results=swarm_scope.OVERFETCH)
        return sum(1 for hit in await self.index.query(query) if _seen(hit, sources))

    async def clear(self) -> int:
        """Remove every fact (expired ones not yet reaped too); returns how many were live."""
        live = await self.count()
        previous: list[str] = []
        while True:
            query = FilterQuery(filter_expression=FilterExpression("*"),
                                num_results=_CLEAR_CHUNK).no_content()
            found = [hit["id"] for hit in await self.index.query(query)]
            # The same keys again would mean the index lists keys Redis no longer holds.
            if not found or found == previous:
                return live
            await self.redis.unlink(*found)
            previous = found


def _scoped(live: FilterExpression, limit: int,
            sources: Sequence[str] | None) -> tuple[FilterExpression, int]:
    """The filter and how many to fetch for facts from `sources` (None: every fact)."""
    if sources is None:
        return live, limit
    narrowed = swarm_scope.narrowing("source_agent", sources)
    if narrowed is None:
        return live, max(limit, swarm_scope.OVERFETCH)
    return live & narrowed, limit


def _seen(hit: Mapping[str, Any], sources: Sequence[str] | None) -> bool:
    return sources is None or swarm_scope.covered(sources, str(hit["source_agent"]))


def _whole(hit: Mapping[str, Any]) -> bool:
    # A fact whose key vanished between matching and loading comes back without fields.
    return all(hit.get(name) is not None for name in WHOLE)
