"""The v2 dialect, continued: editing, expiring, deleting, history, temporal recall and
the bootstrap card. Memory routes take the agent's session token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import agent_access, services, session_claims
from memanto_redis.api.body import parse
from memanto_redis.shared.auth.sessions import authorize
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import InvalidInput, NotFound
from memanto_redis.shared.memory import temporal
from memanto_redis.shared.memory.bootstrap import bootstrap
from memanto_redis.shared.memory.models import AllIn, AsOfIn, ChangedSinceIn, MemoryPatch, RecentIn


async def _live_session(request: Request) -> SessionClaims:
    claims = session_claims(request)
    authorize(claims, request.path_params["agent_id"])
    await services(request).sessions.check(claims)
    return claims


async def patch_memory(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse(request, MemoryPatch, svc.settings.max_body_bytes)
    changes = body.changes()
    if not changes:
        raise InvalidInput("nothing to change: send any of title, content, type, confidence, "
                           "tags, source")
    memory = await svc.editor.patch(claims.agent_id, request.path_params["memory_id"], changes)
    return JSONResponse(memory)


async def delete_memory(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    memory_id = request.path_params["memory_id"]
    if not await services(request).editor.delete(claims.agent_id, memory_id):
        raise NotFound(f"memory {memory_id!r} not found")
    return JSONResponse({"memory_id": memory_id, "status": "deleted"})


async def expire_memory(request: Request) -> JSONResponse:
    return await _set_lifecycle(request, "expired")


async def restore_memory(request: Request) -> JSONResponse:
    return await _set_lifecycle(request, "active")


async def _set_lifecycle(request: Request, lifecycle: str) -> JSONResponse:
    claims = await _live_session(request)
    memory = await services(request).editor.set_lifecycle(
        claims.agent_id, request.path_params["memory_id"], lifecycle)
    return JSONResponse(memory)


async def memory_history(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    return JSONResponse(await services(request).editor.history(
        claims.agent_id, request.path_params["memory_id"]))


async def recall_as_of(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse(request, AsOfIn, svc.settings.max_body_bytes)
    vector = await svc.embed(body.query) if body.query else None
    return JSONResponse(await temporal.as_of(svc.memories, claims.agent_id, body, vector))


async def recall_changed_since(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse(request, ChangedSinceIn, svc.settings.max_body_bytes)
    vector = await svc.embed(body.query) if body.query else None
    return JSONResponse(await temporal.changed_since(svc.memories, claims.agent_id, body,
                                                     vector))


async def recall_recent(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse(request, RecentIn, svc.settings.max_body_bytes, optional=True)
    return JSONResponse(await temporal.recent(svc.memories, claims.agent_id, body))


async def recall_all(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse(request, AllIn, svc.settings.max_body_bytes, optional=True)
    return JSONResponse(await temporal.all_memories(svc.memories, claims.agent_id, body))


async def agent_bootstrap(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    await agent_access(request, agent_id)
    svc = services(request)
    return JSONResponse(await bootstrap(svc.agents, svc.memories, agent_id))


MEMORY = "/api/v2/agents/{agent_id}/memories/{memory_id}"
RECALL = "/api/v2/agents/{agent_id}/recall"

routes = [
    Route(MEMORY, patch_memory, methods=["PATCH"]),
    Route(MEMORY, delete_memory, methods=["DELETE"]),
    Route(MEMORY + "/expire", expire_memory, methods=["POST"]),
    Route(MEMORY + "/restore", restore_memory, methods=["POST"]),
    Route(MEMORY + "/history", memory_history, methods=["GET"]),
    Route(RECALL + "/as-of", recall_as_of, methods=["POST"]),
    Route(RECALL + "/changed-since", recall_changed_since, methods=["POST"]),
    Route(RECALL + "/recent", recall_recent, methods=["POST"]),
    Route(RECALL + "/all", recall_all, methods=["POST"]),
    Route("/api/v2/agents/{agent_id}/bootstrap", agent_bootstrap, methods=["GET"]),
]

