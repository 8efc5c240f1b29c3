"""Purges (an extension of MEMANTO's dialect): erasure for good, unlike DELETE, which keeps
a memory's history. A memory may be purged by its agent's session or an API key; an agent's
or a user's whole space only by the admin key."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import agent_access, require_api_key, services
from memanto_redis.shared.memory.erasure import Purged


def _answer(purged: Purged, **names: str) -> dict[str, object]:
    return {**names, "status": "purged", "memories_purged": purged.memories,
            "stream_entries_purged": purged.stream_entries,
            "replay_records_purged": purged.replay_records,
            "swarm_facts_purged": purged.swarm_facts}


async def purge_memory(request: Request) -> JSONResponse:
    agent_id, memory_id = request.path_params["agent_id"], request.path_params["memory_id"]
    await agent_access(request, agent_id)
    purged = await services(request).eraser.purge_memory(agent_id, memory_id)
    return JSONResponse(_answer(purged, agent_id=agent_id, memory_id=memory_id))


async def purge_agent(request: Request) -> JSONResponse:
    svc = services(request)
    (await require_api_key(request)).check_admin("purging an agent")
    agent_id = request.path_params["agent_id"]
    return JSONResponse(_answer(await svc.eraser.purge_agent(agent_id), agent_id=agent_id))


async def purge_user(request: Request) -> JSONResponse:
    svc = services(request)
    (await require_api_key(request)).check_admin("purging a user's memories")
    user_id = request.path_params["user_id"]
    return JSONResponse(_answer(await svc.eraser.purge_user(user_id), user_id=user_id))


routes = [
    Route("/api/v2/agents/{agent_id}/memories/{memory_id}/purge", purge_memory,
          methods=["POST"]),
    Route("/api/v2/agents/{agent_id}/purge", purge_agent, methods=["POST"]),
    Route("/api/v2/users/{user_id}/purge", purge_user, methods=["POST"]),
]
