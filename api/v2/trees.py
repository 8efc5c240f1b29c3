"""Markdown memory trees (seed 002): the index an agent loads at every session start, and
the export and import the `memanto memory export|import` commands are built on. Each takes
an API key or the agent's own session."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import agent_access, once, services
from memanto_redis.api.body import parse
from memanto_redis.api.query import whole
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.imports import ImportIn
from memanto_redis.shared.memory.rules import MAX_RECALL_LIMIT
from memanto_redis.shared.trees import store as trees
from memanto_redis.shared.trees.markdown import seed_type


async def memory_index(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    await agent_access(request, agent_id)
    limit = whole(request, "limit", trees.INDEX_PAGE, 1, trees.INDEX_MAX_PAGE)
    page = await trees.memory_index(services(request).memories, agent_id, limit,
                                    request.query_params.get("cursor") or None)
    entries = [{"slug": p.slug, "path": p.path, "name": p.entry.name,
                "description": p.entry.description, "type": seed_type(p.entry.memory_type),
                "memory_type": p.entry.memory_type, "topic": p.folder,
                "memory_id": p.entry.memory_id} for p in page.entries]
    return JSONResponse({"agent_id": agent_id, "entries": entries, "count": len(entries),
                         "total": page.total, "next_cursor": page.next_cursor,
                         "has_more": page.next_cursor is not None})


async def memory_export(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    await agent_access(request, agent_id)
    limit = whole(request, "limit", MAX_RECALL_LIMIT, 1, MAX_RECALL_LIMIT)
    cursor = request.query_params.get("cursor") or None
    page = await trees.export_page(services(request).memories, agent_id, limit, cursor)
    memories = [{
        "memory_id": e.memory.memory_id, "title": e.memory.title,
        "description": e.description, "content": e.memory.content,
        "type": e.memory.type, "tags": e.memory.tags,
        "confidence": e.memory.confidence, "source": e.memory.source,
        "provenance": e.memory.provenance, "created_at": iso(e.memory.created_at),
        "updated_at": iso(e.memory.updated_at),
    } | ({"metadata": e.metadata} if e.metadata else {}) for e in page.memories]
    answer = {"agent_id": agent_id, "memories": memories, "count": len(memories),
              "next_cursor": page.next_cursor, "has_more": page.next_cursor is not None}
    if page.total is not None:
        answer["total"] = page.total
    return JSONResponse(answer)


async def import_memories(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    caller = await agent_access(request, agent_id)
    svc = services(request)
    body = await parse(request, ImportIn, svc.settings.max_body_bytes)
    memories = await trees.import_memories(svc.memories, agent_id, body.memories,
                                           caller.claims, once(request, caller.name))
    return JSONResponse({
        "agent_id": agent_id, "status": "queued", "count": len(memories),
        "memories": [{"memory_id": m.memory_id, "status": "queued"} for m in memories],
    })


AGENT = "/api/v2/agents/{agent_id}"

routes = [
    Route(AGENT + "/memory-index", memory_index, methods=["GET"]),
    Route(AGENT + "/memory-export", memory_export, methods=["GET"]),
    Route(AGENT + "/import", import_memories, methods=["POST"]),
]
