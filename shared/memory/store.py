"""Memories as the front door sees them: accept into the stream, read back, recall."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from redisvl.query import FilterQuery, VectorQuery
from redisvl.query.filter import FilterExpression, Num, Tag

from memanto_redis.shared.agents import namespace
from memanto_redis.shared.auth.sessions import ensure_live
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import Busy, NotFound
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.hot_script import HotScript
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.models import MemoryIn, RecallIn, derive_title, parse_time
from memanto_redis.shared.memory.schema import MEMORY_FIELDS

MEMORY_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_SESSION_GONE, _SESSION_REPLACED, _BACKLOG_FULL, _NO_AGENT = 1, 2, 3, 4


# What a caller may set beyond the remember body: metadata, and for imports and the
# /memories dialect the id, the times and the owning user and team.
EXTRA_FIELDS = ("metadata", "memory_id", "created_at", "updated_at", "user_id", "team_id")


def new_record(agent_id: str, session_id: str | None, item: MemoryIn, now: float,
               extra: dict | None = None) -> dict:
    """The memory as it travels through the stream to the worker."""
    record = {
        "memory_id": str(uuid.uuid4()),
        "agent_id": agent_id,
        "namespace": namespace(agent_id),
        "session_id": session_id or "",
        "content": item.content,
        "title": item.title or derive_title(item.content),
        "type": item.type,
        "tags": item.tags,
        "confidence": item.confidence,
        "source": item.source,
        "provenance": item.provenance,
        "created_at": now,
        "updated_at": now,
        "lifecycle": "active",
        "version": 1,
        "event": "created",
    }
    for name, value in (extra or {}).items():
        if name in EXTRA_FIELDS and value not in (None, "", {}):
            record[name] = value
    return record


def public(record: dict, status: str) -> dict:
    """A stored memory in the shape the v2 API answers with."""
    tags = record.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    return {
        "memory_id": record["memory_id"],
        "agent_id": record["agent_id"],
        "namespace": record["namespace"],
        "session_id": record.get("session_id"),
        "content": record["content"],
        "title": record["title"],
        "type": record["type"],
        "confidence": float(record["confidence"]),
        "tags": tags,
        "source": record["source"],
        "provenance": record["provenance"],
        "created_at": iso(record["created_at"]),
        "updated_at": iso(record.get("updated_at") or record["created_at"]),
        "status": status,
        "lifecycle": record.get("lifecycle") or "active",
        "version": int(float(record.get("version") or 1)),
    } | ({"metadata": _metadata(record["metadata"])} if record.get("metadata") else {}) | {
        name: record[name] for name in ("user_id", "team_id") if record.get(name)}


def _metadata(value: dict | str) -> dict:
    return json.loads(value) if isinstance(value, str) else value


class MemoryStore:
    """Front-door operations on memories; takes an asyncio Redis client and the index."""

    def __init__(self, redis: Any, index: Any, max_backlog: int) -> None:
        self.redis = redis
        self.index = index
        self.max_backlog = max_backlog
        self._remember = HotScript(redis, scripts.REMEMBER)

    async def remember(
        self,
        agent_id: str,
        items: list[MemoryIn],
        session: SessionClaims | None = None,
        metadata: list[dict | None] | None = None,
        extras: list[dict] | None = None,
        owner_exists: bool = True,
    ) -> list[dict]:
        """Queue memories in one round trip that also checks the caller's session (or, for
        an API-key caller, that the agent exists) and the backlog bound. `extras` set
        fields of EXTRA_FIELDS per item; `owner_exists=False` skips the agent check for
        owners that are not agents (the users of the /memories dialect)."""
        now = time.time()
        session_id = session.session_id if session else None
        if extras is None:
            extras = [{"metadata": m} for m in metadata] if metadata else [{}] * len(items)
        # A microsecond apart, so that the newest-first order of a batch is well defined.
        records = [new_record(agent_id, session_id, item, now + i * 1e-6, extra)
                   for i, (item, extra) in enumerate(zip(items, extras, strict=True))]
        script_keys = [keys.session(agent_id), keys.agent(agent_id),
                       keys.memory_ids(agent_id), keys.INGEST_STREAM]
        check = session_id or ("" if owner_exists else "*")
        args: list[Any] = [check, repr(now), self.max_backlog, agent_id]
        for record in records:
            script_keys.append(keys.queued(agent_id, record["memory_id"]))
            args += [record["memory_id"], orjson.dumps(record)]
        code = await self._remember(script_keys, args)
        if code == _SESSION_GONE and session:
            ensure_live(session, None)
        elif code == _SESSION_REPLACED and session:
            ensure_live(session, "")
        elif code == _BACKLOG_FULL:
            raise Busy("the ingest backlog is full; retry shortly")
        elif code == _NO_AGENT:
            raise NotFound(f"agent {agent_id!r} not found")
        return records

    async def close(self) -> None:
        await self._remember.close()

    async def delete(self, agent_id: str, memory_id: str) -> bool:
        """Remove one memory, queued or indexed; False when the agent holds no such id."""
        if not MEMORY_ID_RE.match(memory_id):
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.memory_ids(agent_id), memory_id)
            pipe.unlink(keys.memory(agent_id, memory_id), keys.queued(agent_id, memory_id))
            held, _ = await pipe.execute()
        return bool(held)

    async def get(self, agent_id: str, memory_id: str,
                  session: SessionClaims | None = None) -> dict:
        """One memory, queued or indexed; with a session, its liveness is checked in the
        same round trip."""
        if not MEMORY_ID_RE.match(memory_id):
            raise NotFound(f"memory {memory_id!r} not found")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.memory(agent_id, memory_id), MEMORY_FIELDS)
            pipe.hgetall(keys.queued(agent_id, memory_id))
            if session:
                pipe.hget(keys.session(agent_id), "sid")
            indexed, queued, *live_sid = await pipe.execute()
        if session:
            ensure_live(session, live_sid[0])
        if indexed[0] is not None:
            doc = {name: (v.decode() if v is not None else None)
                   for name, v in zip(MEMORY_FIELDS, indexed, strict=True)}
            return public(doc, doc.get("status") or "indexed")
        if queued:
            status = queued[b"status"].decode()
            try:
                memory = public(json.loads(queued[b"data"]), status)
            except (ValueError, KeyError, TypeError):
                # A record too broken to show whole (it was dead-lettered for that).
                memory = {"memory_id": memory_id, "agent_id": agent_id, "status": status}
            if b"error" in queued:
                memory["error"] = queued[b"error"].decode()
            return memory
        raise NotFound(f"memory {memory_id!r} not found")

    async def recall(self, agent_id: str, body: RecallIn, vector: bytes) -> dict:
        expression = live_filter(agent_id, body.status) & common_filter(body)
        memories = await self.search(expression, vector, body.limit, body.min_similarity)
        return {"query": body.query, "memories": memories, "count": len(memories)}

    async def search(self, expression: FilterExpression, vector: bytes | None, limit: int,
                     min_similarity: float | None = None, sort_by: str = "created_ts",
                     offset: int = 0, keep_raw_times: bool = False,
                     shaper: Callable[[dict, float | None], dict] | None = None) -> list[dict]:
        """Memories matching the filter: by meaning when a vector is given (best first),
        else newest first by `sort_by`."""
        if vector is not None:
            query: Any = VectorQuery(
                vector=vector, vector_field_name="embedding", return_fields=MEMORY_FIELDS,
                filter_expression=expression, num_results=limit, dtype="float32",
            )
        else:
            query = FilterQuery(filter_expression=expression, return_fields=MEMORY_FIELDS,
                                num_results=limit)
            query.sort_by(sort_by, asc=False)
            query.paging(offset, limit)
        found = []
        for hit in await self.index.query(query):
            similarity = None
            if vector is not None:
                # Cosine distance is 1 - cosine similarity; opposite meanings count as 0.
                similarity = round(min(1.0, max(0.0, 1.0 - float(hit["vector_distance"]))), 6)
                if min_similarity is not None and similarity < min_similarity:
                    continue
            found.append((shaper or recalled)(hit, similarity))
        if not keep_raw_times:
            for memory in found:
                memory.pop("_created", None)
        return found


RECALL_FIELDS = ("memory_id", "content", "title", "type", "confidence", "tags", "source",
                 "provenance", "created_at")


def recalled(hit: dict, similarity: float | None) -> dict:
    """A found memory in recall's shape, labelled with its lifecycle status."""
    memory = public(hit, hit.get("status") or "indexed")
    shaped = {key: memory[key] for key in RECALL_FIELDS}
    shaped["status"] = memory["lifecycle"]
    shaped["updated_at"] = memory["updated_at"]
    shaped["version"] = memory["version"]
    shaped["_created"] = float(hit["created_at"])
    if similarity is not None:
        shaped["similarity"] = similarity
    return shaped


def live_filter(agent_id: str, status: str = "active") -> FilterExpression:
    """The agent's current memories (not earlier versions), by lifecycle status."""
    expression = (Tag("agent_id") == agent_id) & (Tag("kind") == "live")
    if status != "all":
        expression &= Tag("lifecycle") == status
    return expression


def common_filter(body: Any) -> FilterExpression:
    """Type, tags and creation-time filters shared by every kind of recall."""
    expression = FilterExpression("*")
    if getattr(body, "type", None):
        expression &= Tag("type") == list(body.type)
    if getattr(body, "tags", None):
        expression &= Tag("tags") == list(body.tags)
    if getattr(body, "created_after", None) is not None:
        expression &= Num("created_ts") >= parse_time(body.created_after)
    if getattr(body, "created_before", None) is not None:
        expression &= Num("created_ts") <= parse_time(body.created_before, end_of_day=True)
    return expression
