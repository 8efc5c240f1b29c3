"""Recall across time: what the agent held at a moment, what changed, what is newest,
and everything, paged."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, replace

from redisvl.query.filter import FilterExpression, Num

from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.infra.fulltext import Tag
from memanto_redis.shared.infra.hybrid import SearchMode
from memanto_redis.shared.memory.filters import Filters, live_filter
from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.memory.store import MemoryStore


@dataclass(frozen=True, slots=True)
class Page:
    memories: list[Memory]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def as_of_filter(agent_id: str, moment: float) -> FilterExpression:
    """Versions (live or archived) in force at `moment` and active then."""
    # A live document holds until further notice, however late `moment` is.
    in_force = (Num("valid_to_ts") > moment) | (Tag("kind") == "live")
    return ((Tag("agent_id") == agent_id) & (Num("valid_from_ts") <= moment) & in_force
            & (Num("created_ts") <= moment) & (Tag("lifecycle") == "active"))


async def as_of(store: MemoryStore, agent_id: str, moment: float, filters: Filters,
                limit: int, vector: bytes | None, text: str = "",
                mode: SearchMode = "hybrid") -> list[Memory]:
    """What the agent held at `moment`: newest first, or, with a query, ranked by it."""
    expression = as_of_filter(agent_id, moment) & filters.expression()
    if vector is not None:
        return await store.rank(expression, vector, text, limit, mode)
    return await store.newest(agent_id, expression, limit, filters, until=moment)


async def changed_since(store: MemoryStore, agent_id: str, since: float, filters: Filters,
                        limit: int, status: str, vector: bytes | None, text: str = "",
                        mode: SearchMode = "hybrid") -> list[Memory]:
    """What changed since `since`: most recently changed first, or ranked by a query."""
    expression = (live_filter(agent_id, status) & (Num("updated_ts") >= since)
                  & filters.expression())
    if vector is not None:
        return await store.rank(expression, vector, text, limit, mode)
    return await store.newest(agent_id, expression, limit, filters, status,
                              sort_by="updated_ts", since=since)


async def recent(store: MemoryStore, agent_id: str, filters: Filters, limit: int,
                 status: str) -> list[Memory]:
    return await store.newest(agent_id, live_filter(agent_id, status) & filters.expression(),
                              limit, filters, status)


def _decode_cursor(cursor: str) -> tuple[float, list[str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        moment, ids = float(data["t"]), data["ids"]
        if not math.isfinite(moment) or not isinstance(ids, list) \
                or not all(isinstance(i, str) for i in ids):
            raise ValueError("not a cursor")
        return moment, ids
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput("cursor: not a cursor this server handed out") from exc


def _encode_cursor(moment: float, ids: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"t": moment, "ids": ids}).encode()).decode()


async def all_memories(store: MemoryStore, agent_id: str, filters: Filters, limit: int,
                       status: str, cursor: str | None) -> Page:
    """Newest first, paged by a cursor on creation time (keyset paging: pages stay exact
    while memories are added or removed)."""
    expression = live_filter(agent_id, status) & filters.expression()
    seen: list[str] = []
    before = None
    if cursor:
        before, seen = _decode_cursor(cursor)
        expression &= Num("created_ts") <= before
        filters = replace(filters, created_before=min(before, filters.created_before or before))
    found = await store.newest(agent_id, expression, limit + len(seen), filters, status)
    page = [m for m in found if m.memory_id not in seen][:limit]
    next_cursor = None
    if len(page) == limit:
        last = page[-1].created_at
        ties = [m.memory_id for m in page if m.created_at == last]
        if cursor and last == before:
            ties += seen
        next_cursor = _encode_cursor(last, ties)
    return Page(page, next_cursor)
