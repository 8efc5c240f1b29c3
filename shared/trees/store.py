"""An agent's memories as a Markdown tree sees them: the headers of the index, pages to
export, and imports that keep ids and times. Only active memories belong to a tree."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from redisvl.query import CountQuery, FilterQuery
from redisvl.query.filter import Num

from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import Conflict, InvalidInput
from memanto_redis.shared.infra import cursors, keys
from memanto_redis.shared.infra.replies import text_or_none
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory import pending, temporal
from memanto_redis.shared.memory.filters import NO_FILTERS, live_filter
from memanto_redis.shared.memory.imports import ImportItem
from memanto_redis.shared.memory.record import Draft, Memory
from memanto_redis.shared.memory.rules import split_tags
from memanto_redis.shared.memory.store import MemoryStore, Once
from memanto_redis.shared.trees.markdown import Entry, Placed, derive_description, layout

# The index reads this many memories per query.
_CHUNK = 1000
# What the layout needs of every memory; the content and metadata (for descriptions) are
# read for one page's memories only, and the content never leaves the server.
_HEADER_FIELDS = ["memory_id", "title", "type", "tags", "created_at"]
# Entries in one page of the memory index: by default, and at most.
INDEX_PAGE = 500
INDEX_MAX_PAGE = 2000


def _metadata(raw: str | bytes | dict[str, Any] | None) -> dict[str, Any]:
    if not raw:
        return {}
    return dict(raw) if isinstance(raw, dict) else dict(json.loads(raw))


def _split(metadata: dict[str, Any], content: str) -> tuple[str, dict[str, Any]]:
    """(description, the rest of the metadata): a stored description, else derived."""
    rest = dict(metadata)
    return rest.pop("description", None) or derive_description(content), rest


async def _active_hits(store: MemoryStore, agent_id: str) -> list[dict[str, Any]]:
    """Every active memory's header fields, oldest first, keyset-paged on creation time
    (offset paging would stop at the engine's result cap)."""
    hits: list[dict[str, Any]] = []
    after: float | None = None
    seen: set[str] = set()
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


@dataclass(frozen=True, slots=True)
class Exported:
    """A memory as an export carries it: its one-line description apart from the rest of
    its metadata."""

    memory: Memory
    description: str
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExportPage:
    memories: list[Exported]
    next_cursor: str | None
    total: int | None  # counted on the first page only (for a progress bar)


@dataclass(frozen=True, slots=True)
class IndexPage:
    entries: list[Placed]
    next_cursor: str | None  # where the next page starts; None on the last
    total: int  # entries in the whole index


async def memory_index(store: MemoryStore, agent_id: str, limit: int = INDEX_PAGE,
                       cursor: str | None = None) -> IndexPage:
    """A page of the tree's headers, in the tree's order (oldest first): where each memory
    lives, its name, description and type. Slugs and folders depend on the whole tree, so
    every page lays out all the headers; descriptions are read for this page only. Keyset-
    paged on (created_at, memory_id): a memory added meanwhile lands on the last page."""
    if not 1 <= limit <= INDEX_MAX_PAGE:
        raise InvalidInput(f"limit must be a whole number from 1 to {INDEX_MAX_PAGE}",
                           [{"field": "limit", "message": "out of range",
                             "type": "value_error"}])
    after = _index_after(cursor) if cursor else None
    waiting = {m.memory_id: m for m in
               pending.matching(await pending.of_agent(store.redis, agent_id), NO_FILTERS)}
    entries = []
    for hit in await _active_hits(store, agent_id):
        if hit["memory_id"] in waiting:  # an edit waiting for the worker is the newer state
            continue
        entries.append(Entry(
            name=hit["title"], description="", memory_type=hit["type"],
            memory_id=hit["memory_id"], tags=tuple(split_tags(hit.get("tags"))),
            created_at=iso(hit["created_at"])))
    for memory in waiting.values():
        entries.append(Entry(
            name=memory.title, description="", memory_type=memory.type,
            memory_id=memory.memory_id, tags=tuple(memory.tags),
            created_at=iso(memory.created_at)))
    placed = layout(entries)
    rest = [p for p in placed if _position(p.entry) > after] if after else placed
    page = rest[:limit]
    next_cursor = None
    if len(rest) > limit:
        last_at, last_id = _position(page[-1].entry)
        next_cursor = cursors.encode({"t": last_at, "id": last_id})
    described = await _described(store, agent_id, page, waiting)
    return IndexPage(described, next_cursor, len(placed))


def _position(entry: Entry) -> tuple[str, str]:
    """Where an entry stands in the tree's order (layout sorts on these first)."""
    return entry.created_at or "", entry.memory_id or ""


def _index_after(cursor: str) -> tuple[str, str]:
    position = cursors.decode(cursor)
    at, memory_id = position.get("t"), position.get("id")
    if not isinstance(at, str) or not isinstance(memory_id, str):
        raise cursors.refused()
    return at, memory_id


async def _described(store: MemoryStore, agent_id: str, page: list[Placed],
                     waiting: dict[str, Memory]) -> list[Placed]:
    """The page's entries with their descriptions: stored in the metadata, else derived
    from the content (of the indexed document, or of the queued record)."""
    indexed = [p.entry.memory_id for p in page if p.entry.memory_id not in waiting]
    async with store.redis.pipeline(transaction=False) as pipe:
        for memory_id in indexed:
            pipe.hmget(keys.memory(agent_id, memory_id or ""), ["content", "metadata"])
        read = dict(zip(indexed, await pipe.execute(), strict=True))
    described = []
    for p in page:
        memory_id = p.entry.memory_id or ""
        if memory_id in waiting:
            memory = waiting[memory_id]
            metadata, content = memory.metadata or {}, memory.content
        else:
            # A memory edited since the headers were read has no document for a moment:
            # its name stands in.
            raw_content, raw_metadata = read[memory_id]
            content = text_or_none(raw_content) or p.entry.name
            metadata = _metadata(text_or_none(raw_metadata))
        description, _ = _split(metadata, content)
        described.append(Placed(replace(p.entry, description=description), p.slug, p.folder))
    return described


async def export_page(store: MemoryStore, agent_id: str, limit: int,
                      cursor: str | None) -> ExportPage:
    """A page of the agent's active memories, newest first, with what a restore needs."""
    page = await temporal.all_memories(store, agent_id, NO_FILTERS, limit, "active", cursor)
    shaped = []
    for memory in page.memories:
        description, rest = _split(memory.metadata or {}, memory.content)
        shaped.append(Exported(memory, description, rest))
    total = None
    if cursor is None:
        indexed = await store.index.query(CountQuery(live_filter(agent_id, "active")))
        waiting = pending.matching(await pending.of_agent(store.redis, agent_id), NO_FILTERS)
        total = int(indexed) + len(waiting)
    return ExportPage(shaped, page.next_cursor, total)


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


def _draft(item: ImportItem) -> Draft:
    draft = item.draft()
    if item.description is not None:
        metadata = dict(draft.metadata or {})
        # Stored only when it says more than the content's first line would.
        if item.description == derive_description(item.content):
            metadata.pop("description", None)
        else:
            metadata["description"] = item.description
        draft.metadata = metadata or None
    return draft


async def import_memories(store: MemoryStore, agent_id: str, items: list[ImportItem],
                          session: SessionClaims | None = None,
                          once: Once | None = None) -> list[Memory]:
    """Queue the items through the same stream as remember, keeping given ids and times.
    An id the agent already holds refuses the whole request (409), unless this is the retry
    of an import whose Idempotency-Key queued them. The check and the write are two round
    trips: two imports racing with the same new id end with one."""
    if once is not None and (first := await store.replayed(agent_id, once)) is not None:
        return first
    ids = [item.memory_id for item in items if item.memory_id]
    if ids:
        await _refuse_held(store, agent_id, ids)
    return await store.remember(agent_id, [_draft(item) for item in items], session,
                                once=once)
