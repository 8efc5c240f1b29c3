"""Markdown memory trees (seed 002): the index an agent loads at every session start, and
the export and import the `memanto memory export|import` commands are built on. Each takes
an API key or the agent's own session."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import agent_access, services
from memanto_redis.api.body import explain, parse
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.memory.imports import ImportIn
from memanto_redis.shared.memory.models import MAX_RECALL_LIMIT, AllIn
from memanto_redis.shared.trees import store as tree_store


async def memory_index(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    await agent_access(request, agent_id)
    entries = await tree_store.memory_index(services(request).memories, agent_id)
    return JSONResponse({"agent_id": agent_id, "entries": entries, "count": len(entries)})


async def memory_export(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    await agent_access(request, agent_id)
    raw = request.query_params.get("limit", str(MAX_RECALL_LIMIT))
    if not raw.isdigit():
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_RECALL_LIMIT}")
    try:
        page = AllIn(limit=int(raw), cursor=request.query_params.get("cursor") or None,
                     status="active")
    except ValidationError as exc:
        raise explain(exc) from None
    return JSONResponse(await tree_store.export_page(services(request).memories, agent_id,
                                                     page))


async def import_memories(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    caller = await agent_access(request, agent_id)
    svc = services(request)
    body = await parse(request, ImportIn, svc.settings.max_body_bytes)
    records = await tree_store.import_memories(svc.memories, agent_id, body.memories,
                                               caller.claims)
    return JSONResponse({
        "agent_id": agent_id, "status": "queued", "count": len(records),
        "memories": [{"memory_id": r["memory_id"], "status": "queued"} for r in records],
    })


AGENT = "/api/v2/agents/{agent_id}"

routes = [
    Route(AGENT + "/memory-index", memory_index, methods=["GET"]),
    Route(AGENT + "/memory-export", memory_export, methods=["GET"]),
    Route(AGENT + "/import", import_memories, methods=["POST"]),
]
