"""The /memories dialect (seed 004), as agno's AgentOSClient calls it. API key only."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from memanto_redis.api.auth import require_api_key, services
from memanto_redis.api.body import explain, parse
from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.memory.models import (
    DeleteMemoriesIn,
    MemoryListParams,
    StatsParams,
    UserMemoryIn,
    UserMemoryPatch,
)


def _query(request: Request, model: type[BaseModel]) -> BaseModel:
    values: dict = dict(request.query_params)
    # agno sends topics=a&topics=b; people type topics=a,b: take both.
    topics = [t.strip() for raw in request.query_params.getlist("topics")
              for t in raw.split(",") if t.strip()]
    values["topics"] = topics
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise explain(exc) from None


async def create_memory(request: Request) -> JSONResponse:
    await require_api_key(request)
    svc = services(request)
    body = await parse(request, UserMemoryIn, svc.settings.max_body_bytes)
    if body.agent_id:
        await svc.agents.require(body.agent_id)
    return JSONResponse(await svc.user_memories.create(body), status_code=201)


async def list_memories(request: Request) -> JSONResponse:
    await require_api_key(request)
    svc = services(request)
    params = _query(request, MemoryListParams)
    vector = await svc.embed(params.search_content) if params.search_content else None
    return JSONResponse(await svc.user_memories.list(params, vector))


async def get_memory(request: Request) -> JSONResponse:
    await require_api_key(request)
    memory = await services(request).user_memories.get(
        request.path_params["memory_id"], request.query_params.get("user_id"))
    return JSONResponse(memory)


async def update_memory(request: Request) -> JSONResponse:
    await require_api_key(request)
    svc = services(request)
    body = await parse(request, UserMemoryPatch, svc.settings.max_body_bytes)
    memory = await svc.user_memories.update(request.path_params["memory_id"], body.memory,
                                            body.topics, body.user_id)
    return JSONResponse(memory)


async def delete_memory(request: Request) -> Response:
    await require_api_key(request)
    memory_id = request.path_params["memory_id"]
    if not await services(request).user_memories.delete(memory_id,
                                                        request.query_params.get("user_id")):
        raise NotFound(f"memory {memory_id!r} not found")
    return Response(status_code=204)


async def delete_memories(request: Request) -> Response:
    await require_api_key(request)
    svc = services(request)
    body = await parse(request, DeleteMemoriesIn, svc.settings.max_body_bytes)
    for memory_id in body.memory_ids:
        await svc.user_memories.delete(memory_id, body.user_id)
    return Response(status_code=204)


async def topics(request: Request) -> JSONResponse:
    await require_api_key(request)
    params = _query(request, StatsParams)
    return JSONResponse(await services(request).user_memories.topics(params.user_id))


async def stats(request: Request) -> JSONResponse:
    await require_api_key(request)
    params = _query(request, StatsParams)
    return JSONResponse(await services(request).user_memories.stats(params))


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
