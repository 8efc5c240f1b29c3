"""The /memories dialect (seed 004), as agno's AgentOSClient calls it. API key only; a
tenant key names a user of its own in every call (the core checks it)."""

from __future__ import annotations

import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from memanto_redis.api.agno.models import (
    DeleteMemoriesIn,
    MemoryListParams,
    StatsParams,
    UserMemoryIn,
    UserMemoryPatch,
)
from memanto_redis.api.auth import once, require_api_key, services
from memanto_redis.api.body import parse
from memanto_redis.api.query import model
from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.memory.user_memories import owner_agent


def shape(m: Memory) -> dict[str, Any]:
    """A memory in agno's UserMemorySchema shape (plus created_at)."""
    return {
        "memory_id": m.memory_id,
        "memory": m.content,
        "topics": m.tags,
        "agent_id": owner_agent(m),
        "team_id": m.team_id,
        "user_id": m.user_id,
        "updated_at": iso(m.updated_at or m.created_at),
        "created_at": iso(m.created_at),
    }


def _page_meta(page: int, limit: int, total: int, started: float) -> dict[str, Any]:
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return {"page": page, "limit": limit, "total_pages": math.ceil(total / limit),
            "total_count": total, "search_time_ms": elapsed_ms}


async def create_memory(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    principal.check_write()
    svc = services(request)
    body = await parse(request, UserMemoryIn, svc.settings.max_body_bytes)
    memory = await svc.user_memories.create(principal, body.user_id, body.memory,
                                            body.topics, body.agent_id, body.team_id,
                                            once=once(request, principal.who))
    return JSONResponse(shape(memory), status_code=201)


async def list_memories(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    started = time.perf_counter()
    svc = services(request)
    params = model(request, MemoryListParams)
    # Checked before the query is embedded: a tenant key lists one user of its own.
    principal.check_user(params.user_id, write=False)
    vector = await svc.embed(params.search_content) if params.search_content else None
    page, total = await svc.user_memories.page(principal, params.listing(), vector)
    return JSONResponse({"data": [shape(m) for m in page],
                         "meta": _page_meta(params.page, params.limit, total, started)})


async def get_memory(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    memory = await services(request).user_memories.get(
        principal, request.path_params["memory_id"], request.query_params.get("user_id"))
    return JSONResponse(shape(memory))


async def update_memory(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    principal.check_write()
    svc = services(request)
    body = await parse(request, UserMemoryPatch, svc.settings.max_body_bytes)
    memory = await svc.user_memories.update(
        principal, request.path_params["memory_id"], body.memory, body.topics,
        body.user_id or request.query_params.get("user_id"))
    return JSONResponse(shape(memory))


async def delete_memory(request: Request) -> Response:
    principal = await require_api_key(request)
    memory_id = request.path_params["memory_id"]
    if not await services(request).user_memories.delete(
            principal, memory_id, request.query_params.get("user_id")):
        raise NotFound(f"memory {memory_id!r} not found")
    return Response(status_code=204)


async def delete_memories(request: Request) -> Response:
    principal = await require_api_key(request)
    principal.check_write()
    svc = services(request)
    body = await parse(request, DeleteMemoriesIn, svc.settings.max_body_bytes)
    user_id = body.user_id or request.query_params.get("user_id")
    for memory_id in body.memory_ids:
        await svc.user_memories.delete(principal, memory_id, user_id)
    return Response(status_code=204)


async def topics(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    params = model(request, StatsParams)
    return JSONResponse(await services(request).user_memories.topics(principal,
                                                                     params.user_id))


async def stats(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    started = time.perf_counter()
    params = model(request, StatsParams)
    rows = await services(request).user_memories.stats(principal, params.user_id)
    start = (params.page - 1) * params.limit
    return JSONResponse({
        "data": [{"user_id": r.user_id, "total_memories": r.total_memories,
                  "last_memory_updated_at": iso(r.last_memory_updated_at)}
                 for r in rows[start:start + params.limit]],
        "meta": _page_meta(params.page, params.limit, len(rows), started),
    })


routes = [
    Route("/memories", create_memory, methods=["POST"]),
    Route("/memories", list_memories, methods=["GET"]),
    Route("/memories", delete_memories, methods=["DELETE"]),
    # Before /memories/{memory_id}, which would otherwise take these names as ids.
    Route("/memories/topics", topics, methods=["GET"]),
    Route("/memory_topics", topics, methods=["GET"]),
    Route("/memories/stats", stats, methods=["GET"]),
    Route("/user_memory_stats", stats, methods=["GET"]),
    Route("/memories/{memory_id}", get_memory, methods=["GET"]),
    Route("/memories/{memory_id}", update_memory, methods=["PATCH"]),
    Route("/memories/{memory_id}", delete_memory, methods=["DELETE"]),
]
