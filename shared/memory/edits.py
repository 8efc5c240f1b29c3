"""Editing memories while keeping every earlier version.

Each change archives the memory's current state as a version document (`ver:` keys, in the
same index, valid over [valid_from, valid_to)) before writing the new state, so history and
as-of recall can see what the agent held at any moment. A content change goes back through
the ingest stream to be embedded again; other changes are written in place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis
from redisvl.query import FilterQuery
from redisvl.query.filter import Tag

from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.schema import MEMORY_FIELDS, indexed_times
from memanto_redis.shared.memory.store import MEMORY_ID_RE, public

T = TypeVar("T")
# A memory's current state: its record, its vector (None while queued), pipeline status.
State = tuple[dict, bytes | None, str]

# Fields of a live document that describe the memory (the rest is pipeline bookkeeping).
_FLOAT_FIELDS = ("confidence", "created_at", "updated_at")


def record_from_document(doc: dict[bytes, bytes]) -> dict:
    """A live document's hash back into the record shape the stream carries."""
    text = {k.decode(): v.decode() for k, v in doc.items() if k != b"embedding"}
    record: dict[str, Any] = {name: text.get(name) for name in (
        "memory_id", "agent_id", "namespace", "session_id", "content", "title", "type",
        "source", "provenance", "lifecycle", "event", "user_id", "team_id")}
    record["tags"] = [t for t in (text.get("tags") or "").split(",") if t]
    for name in _FLOAT_FIELDS:
        record[name] = float(text.get(name) or text["created_at"])
    record["version"] = int(float(text.get("version") or 1))
    record["lifecycle"] = record["lifecycle"] or "active"
    if text.get("metadata"):
        record["metadata"] = json.loads(text["metadata"])
    return record


def version_document(record: dict, valid_to: float, embedding: bytes | None,
                     status: str) -> dict[str, Any]:
    """The archived form of a state that held until `valid_to`."""
    fields: dict[str, Any] = {
        "memory_id": record["memory_id"], "agent_id": record["agent_id"],
        "namespace": record["namespace"], "session_id": record.get("session_id") or "",
        "content": record["content"], "title": record["title"], "type": record["type"],
        "tags": ",".join(record.get("tags") or []), "source": record["source"],
        "provenance": record["provenance"], "status": status, "kind": "version",
        "lifecycle": record.get("lifecycle", "active"), "event": record.get("event", "created"),
        "version": record.get("version", 1), "created_at": repr(record["created_at"]),
        "updated_at": repr(record.get("updated_at", record["created_at"])),
        "valid_from": repr(record.get("updated_at", record["created_at"])),
        "valid_to": repr(valid_to), "confidence": repr(record["confidence"]),
    }
    fields |= indexed_times(fields)
    if embedding is not None:
        fields["embedding"] = embedding
    if record.get("metadata"):
        fields["metadata"] = json.dumps(record["metadata"])
    return fields


class MemoryEditor:
    """Edits, expiry, deletion and history; takes an asyncio Redis client and the index."""

    def __init__(self, redis_client: Any, index: Any) -> None:
        self.redis = redis_client
        self.index = index

    async def patch(self, agent_id: str, memory_id: str, changes: dict) -> dict:
        def apply(record: dict) -> tuple[dict, str] | None:
            changed = {k: v for k, v in changes.items() if record.get(k) != v}
            if not changed:
                return None
            if "content" in changed and "title" not in changes:
                from memanto_redis.shared.memory.models import derive_title

                changed["title"] = derive_title(changed["content"])
            return record | changed, "updated"

        return await self._change(agent_id, memory_id, apply,
                                  reembed=lambda old, new: old["content"] != new["content"])

    async def set_lifecycle(self, agent_id: str, memory_id: str, lifecycle: str) -> dict:
        event = "expired" if lifecycle == "expired" else "restored"

        def apply(record: dict) -> tuple[dict, str] | None:
            if record.get("lifecycle", "active") == lifecycle:
                return None
            return record | {"lifecycle": lifecycle}, event

        return await self._change(agent_id, memory_id, apply)

    async def delete(self, agent_id: str, memory_id: str) -> bool:
        """Remove a memory from the agent's current memories, keeping its history."""
        if not MEMORY_ID_RE.match(memory_id):
            return False

        async def write(pipe: Any, state: State | None) -> bool:
            if state is None:
                return False
            record, embedding, status = state
            now = time.time()
            pipe.multi()
            self._archive(pipe, record, now, embedding, status)
            pipe.hset(keys.tombstone(agent_id, memory_id),
                      mapping={"deleted_at": repr(now), "version": record["version"]})
            pipe.sadd(keys.version_keys(agent_id), keys.tombstone(agent_id, memory_id))
            pipe.unlink(keys.memory(agent_id, memory_id), keys.queued(agent_id, memory_id))
            pipe.srem(keys.memory_ids(agent_id), memory_id)
            await pipe.execute()
            return True

        return await self._watched(agent_id, memory_id, write)

    async def history(self, agent_id: str, memory_id: str) -> dict:
        if not MEMORY_ID_RE.match(memory_id):
            raise NotFound(f"memory {memory_id!r} not found")
        query = FilterQuery(
            filter_expression=(Tag("agent_id") == agent_id) & (Tag("memory_id") == memory_id)
            & (Tag("kind") == "version"),
            return_fields=MEMORY_FIELDS, num_results=10_000,
        )
        query.sort_by("version", asc=True)
        archived = [self._version_entry(hit) for hit in await self.index.query(query)]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.memory(agent_id, memory_id))
            pipe.hgetall(keys.queued(agent_id, memory_id))
            pipe.hgetall(keys.tombstone(agent_id, memory_id))
            live, queued, tomb = await pipe.execute()
        current = _current_state(live, queued)
        if current is None and not archived:
            raise NotFound(f"memory {memory_id!r} not found")
        versions = archived
        if current is not None:
            record, _, status = current
            entry = public(record, status)
            entry |= {"valid_from": iso(record.get("updated_at")), "valid_to": None,
                      "event": record.get("event", "created"), "current": True}
            versions.append(entry)
        deleted_at = iso(tomb[b"deleted_at"]) if tomb and current is None else None
        return {
            "memory_id": memory_id,
            "agent_id": agent_id,
            "versions": versions,
            "count": len(versions),
            "deleted_at": deleted_at,
        }

    # -- the one way every change is made ------------------------------------------------

    async def _change(
        self,
        agent_id: str,
        memory_id: str,
        apply: Callable[[dict], tuple[dict, str] | None],
        reembed: Callable[[dict, dict], bool] = lambda old, new: False,
    ) -> dict:
        if not MEMORY_ID_RE.match(memory_id):
            raise NotFound(f"memory {memory_id!r} not found")

        async def write(pipe: Any, state: State | None) -> dict:
            if state is None:
                raise NotFound(f"memory {memory_id!r} not found")
            record, embedding, status = state
            outcome = apply(dict(record))
            if outcome is None:  # nothing changes: no new version
                await pipe.reset()
                return public(record, status)
            new, event = outcome
            now = time.time()
            new |= {"version": record["version"] + 1, "updated_at": now, "event": event}
            pipe.multi()
            self._archive(pipe, record, now, embedding, status)
            if status == "indexed" and not reembed(record, new):
                pipe.hset(keys.memory(agent_id, memory_id), mapping=_live_changes(new))
                await pipe.execute()
                return public(new, "indexed")
            # Embedded again by the worker; until then it reads as queued.
            queued_key = keys.queued(agent_id, memory_id)
            data = json.dumps(new, separators=(",", ":"))
            pipe.unlink(keys.memory(agent_id, memory_id))
            pipe.hset(queued_key, mapping={"data": data, "status": "queued",
                                           "version": new["version"]})
            pipe.hdel(queued_key, "error")
            pipe.xadd(keys.INGEST_STREAM, {"id": memory_id, "agent": agent_id, "data": data})
            await pipe.execute()
            return public(new, "queued")

        return await self._watched(agent_id, memory_id, write)

    async def _watched(self, agent_id: str, memory_id: str,
                       write: Callable[[Any, State | None], Awaitable[T]]) -> T:
        """Read the memory's state under WATCH and let `write` change it in MULTI; start
        over whenever someone else changed it in between (optimistic locking)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(keys.memory(agent_id, memory_id),
                                     keys.queued(agent_id, memory_id))
                    return await write(pipe, await self._state(pipe, agent_id, memory_id))
                except redis.WatchError:
                    continue

    @staticmethod
    async def _state(pipe: Any, agent_id: str, memory_id: str) -> State | None:
        live = await pipe.hgetall(keys.memory(agent_id, memory_id))
        queued = await pipe.hgetall(keys.queued(agent_id, memory_id))
        return _current_state(live, queued)

    @staticmethod
    def _archive(pipe: Any, record: dict, now: float, embedding: bytes | None,
                 status: str) -> None:
        agent_id, memory_id = record["agent_id"], record["memory_id"]
        key = keys.version(agent_id, memory_id, record["version"])
        pipe.hset(key, mapping=version_document(record, now, embedding, status))
        pipe.sadd(keys.version_keys(agent_id), key)

    @staticmethod
    def _version_entry(hit: dict) -> dict:
        entry = public(hit, hit.get("status") or "indexed")
        entry |= {"valid_from": iso(hit.get("valid_from")), "valid_to": iso(hit.get("valid_to")),
                  "event": hit.get("event") or "created", "current": False}
        return entry


def _current_state(live: dict, queued: dict) -> State | None:
    if live:
        return record_from_document(live), live.get(b"embedding"), "indexed"
    if queued:
        record = json.loads(queued[b"data"])
        record.setdefault("updated_at", record["created_at"])
        record.setdefault("version", 1)
        record.setdefault("lifecycle", "active")
        return record, None, queued[b"status"].decode()
    return None


def _live_changes(record: dict) -> dict[str, Any]:
    """The fields of a live document that an in-place change rewrites."""
    fields = {
        "title": record["title"], "type": record["type"],
        "tags": ",".join(record.get("tags") or []), "source": record["source"],
        "confidence": repr(float(record["confidence"])), "lifecycle": record["lifecycle"],
        "event": record["event"], "version": record["version"],
        "updated_at": repr(record["updated_at"]), "valid_from": repr(record["updated_at"]),
    }
    return fields | indexed_times(fields)
