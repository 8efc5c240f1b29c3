"""An agent's memories as a Markdown tree sees them: the headers of the index, pages to
export, and imports that keep ids and times. Only active memories belong to a tree."""

from __future__ import annotations

import json

from redisvl.query import CountQuery, FilterQuery
from redisvl.query.filter import Num

from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import Conflict, InvalidInput
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory import temporal
from memanto_redis.shared.memory.imports import ImportItem
from memanto_redis.shared.memory.models import AllIn
from memanto_redis.shared.memory.store import MemoryStore, common_filter, live_filter
from memanto_redis.shared.trees.markdown import Entry, derive_description, layout, seed_type

# The index reads this many memories per query; the content is read only to derive
# descriptions and never leaves the server.
_CHUNK = 1000
_HEADER_FIELDS = ["memory_id", "title", "type", "tags", "created_at", "content", "metadata"]


def _metadata(raw: str | bytes | dict | None) -> dict:
    if not raw:
        return {}
    return dict(raw) if isinstance(raw, dict) else json.loads(raw)


def _split(metadata: dict, content: str) -> tuple[str, dict]:
    """(description, the rest of the metadata): a stored description, else derived."""
    rest = dict(metadata)
    return rest.pop("description", None) or derive_description(content), rest


async def _active_hits(store: MemoryStore, agent_id: str) -> list[dict]:
    """Every active memory's header fields, oldest first, keyset-paged on creation time
    (offset paging would stop at the engine's result cap)."""
    hits: list[dict] = []
    after, seen = None, set()
    while True:
        expression = live_filter(agent_id)
        if after is not None:
            expression &= Num("created_ts") >= after
        query = FilterQuery(expression, return_fields=_HEADER_FIELDS,
                            num_results=_CHUNK + len(seen))
        query.sort_by("created_ts", asc=True)
        page = await store.index.query(query)
        fresh = [h for h in page if h["memory_id"] not in seen]
        hits += fresh
        if len(page) < _CHUNK + len(seen) or not fresh:
            return hits
        after = float(fresh[-1]["created_at"])
        seen = {h["memory_id"] for h in page if float(h["created_at"]) == after}


async def memory_index(store: MemoryStore, agent_id: str) -> list[dict]:
    """The tree's headers: where each memory lives, its name, description and type."""
    entries = []
    for hit in await _active_hits(store, agent_id):
        description, _ = _split(_metadata(hit.get("metadata")), hit.get("content") or "")
        entries.append(Entry(
            name=hit["title"], description=description, memory_type=hit["type"],
            memory_id=hit["memory_id"], tags=tuple(t for t in (hit.get("tags") or
                                                               "").split(",") if t),
            created_at=iso(hit["created_at"])))
    return [{"slug": p.slug, "path": p.path, "name": p.entry.name,
             "description": p.entry.description, "type": seed_type(p.entry.memory_type),
             "memory_type": p.entry.memory_type, "topic": p.folder,
             "memory_id": p.entry.memory_id} for p in layout(entries)]


async def export_page(store: MemoryStore, agent_id: str, body: AllIn) -> dict:
    """A page of the memories `body` asks for, newest first, with what a restore needs;
    the first page also counts them all (for a progress bar)."""
    page = await temporal.all_memories(store, agent_id, body)
    memories = page["memories"]
    async with store.redis.pipeline(transaction=False) as pipe:
        for memory in memories:
            pipe.hget(keys.memory(agent_id, memory["memory_id"]), "metadata")
        stored = await pipe.execute()
    shaped = []
    for memory, raw in zip(memories, stored, strict=True):
        description, rest = _split(_metadata(raw), memory["content"])
        shaped.append({
            "memory_id": memory["memory_id"], "title": memory["title"],
            "description": description, "content": memory["content"],
            "type": memory["type"], "tags": memory["tags"],
            "confidence": memory["confidence"], "source": memory["source"],
            "provenance": memory["provenance"], "created_at": memory["created_at"],
            "updated_at": memory["updated_at"],
        } | ({"metadata": rest} if rest else {}))
    answer = {"agent_id": agent_id, "memories": shaped, "count": len(shaped),
              "next_cursor": page["next_cursor"], "has_more": page["has_more"]}
    if body.cursor is None:
        answer["total"] = await store.index.query(
            CountQuery(live_filter(agent_id, body.status) & common_filter(body)))
    return answer


def _extra(item: ImportItem) -> dict:
    created, updated = item.times()
    metadata = dict(item.metadata or {})
    if item.description is not None:
        # Stored only when it says more than the content's first line would.
        if item.description == derive_description(item.content):
            metadata.pop("description", None)
        else:
            metadata["description"] = item.description
    return {"memory_id": item.memory_id, "created_at": created, "updated_at": updated,
            "metadata": metadata or None}


async def _refuse_held(store: MemoryStore, agent_id: str, ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInput(f"memory ids given twice: {', '.join(twice)}")
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.smismember(keys.memory_ids(agent_id), ids)
        for memory_id in ids:
            pipe.exists(keys.tombstone(agent_id, memory_id))
        held, *deleted = await pipe.execute()
    # A deleted id keeps its history under that id: reusing it would mix two memories.
    taken = [i for i, h, d in zip(ids, held, deleted, strict=True) if h or d]
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise Conflict(f"agent {agent_id!r} already holds (or held) memory {shown}")


async def import_memories(store: MemoryStore, agent_id: str, items: list[ImportItem],
                          session: SessionClaims | None = None) -> list[dict]:
    """Queue the items through the same stream as remember, keeping given ids and times.
    An id the agent already holds refuses the whole request (409). The check and the
    write are two round trips: two imports racing with the same new id end with one."""
    ids = [item.memory_id for item in items if item.memory_id]
    if ids:
        await _refuse_held(store, agent_id, ids)
    return await store.remember(agent_id, list(items), session,
                                extras=[_extra(item) for item in items])
