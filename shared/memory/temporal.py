"""Recall across time: what the agent held at a moment, what changed, what is newest,
and everything, paged."""

from __future__ import annotations

import base64
import binascii
import json

from redisvl.query.filter import FilterExpression, Num, Tag

from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.models import AllIn, AsOfIn, ChangedSinceIn, RecentIn, parse_time
from memanto_redis.shared.memory.store import MemoryStore, common_filter, live_filter


def as_of_filter(agent_id: str, moment: float) -> FilterExpression:
    """Versions (live or archived) in force at `moment` and active then."""
    return ((Tag("agent_id") == agent_id) & (Num("valid_from_ts") <= moment)
            & (Num("valid_to_ts") > moment) & (Num("created_ts") <= moment)
            & (Tag("lifecycle") == "active"))


async def as_of(store: MemoryStore, agent_id: str, body: AsOfIn,
                vector: bytes | None) -> dict:
    # A bare date means the end of that day (UTC): what was held once the day was over.
    moment = parse_time(body.as_of, end_of_day=True)
    memories = await store.search(as_of_filter(agent_id, moment) & common_filter(body), vector,
                                  body.limit)
    return {"temporal_mode": "as_of", "as_of": iso(moment), "query": body.query,
            "memories": memories, "count": len(memories)}


async def changed_since(store: MemoryStore, agent_id: str, body: ChangedSinceIn,
                        vector: bytes | None) -> dict:
    since = parse_time(body.since)
    expression = (live_filter(agent_id, body.status) & (Num("updated_ts") >= since)
                  & common_filter(body))
    memories = await store.search(expression, vector, body.limit, sort_by="updated_ts")
    return {"temporal_mode": "changed_since", "since": iso(since), "query": body.query,
            "memories": memories, "count": len(memories)}


async def recent(store: MemoryStore, agent_id: str, body: RecentIn) -> dict:
    memories = await store.search(live_filter(agent_id, body.status) & common_filter(body),
                                  None, body.limit)
    return {"temporal_mode": "recent", "memories": memories, "count": len(memories)}


def _decode_cursor(cursor: str) -> tuple[float, list[str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(data["t"]), [str(i) for i in data["ids"]]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidInput("cursor: not a cursor this server handed out") from exc


def _encode_cursor(moment: float, ids: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"t": moment, "ids": ids}).encode()).decode()


async def all_memories(store: MemoryStore, agent_id: str, body: AllIn) -> dict:
    """Newest first, paged by a cursor on creation time (keyset paging: pages stay exact
    while memories are added or removed)."""
    expression = live_filter(agent_id, body.status) & common_filter(body)
    seen: list[str] = []
    if body.cursor:
        before, seen = _decode_cursor(body.cursor)
        expression &= Num("created_ts") <= before
    page = await store.search(expression, None, body.limit + len(seen), keep_raw_times=True)
    page = [m for m in page if m["memory_id"] not in seen][: body.limit]
    cursor = None
    if len(page) == body.limit:
        last = page[-1]["_created"]
        ties = [m["memory_id"] for m in page if m["_created"] == last]
        if body.cursor and last == before:
            ties += seen
        cursor = _encode_cursor(last, ties)
    for memory in page:
        memory.pop("_created")
    return {"temporal_mode": "all", "memories": page, "count": len(page),
            "next_cursor": cursor, "has_more": cursor is not None}
