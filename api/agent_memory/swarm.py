"""Swarm facts (seed 003): short-lived facts shared by every agent, found by meaning.

Any API key or any agent's live session may read and add (a session only in its own
agent's name); clearing the swarm takes an API key.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.agent_memory import answers
from memanto_redis.api.agent_memory.models import SwarmFactIn, SwarmSearchIn
from memanto_redis.api.auth import key_or_session, services
from memanto_redis.api.body import parse
from memanto_redis.api.query import whole
from memanto_redis.shared.errors import Forbidden

LIST_DEFAULT_LIMIT = 100
LIST_MAX_LIMIT = 1000


async def add_fact(request: Request) -> JSONResponse:
    caller = await key_or_session(request)
    svc = services(request)
    body = await parse(request, SwarmFactIn, svc.settings.max_body_bytes)
    source = svc.swarm.source_for(body.source_agent, caller.principal)
    vector = await svc.embed(body.content)
    fact = await svc.swarm.add(body.content, source, body.ttl_seconds, vector,
                               caller.principal.name)  # its agent, or the key's name
    return JSONResponse({"success": True, "message": "Fact added"} | answers.fact(fact),
                        status_code=201)


async def list_facts(request: Request) -> JSONResponse:
    caller = await key_or_session(request)
    limit = whole(request, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT)
    return JSONResponse(answers.facts(await services(request).swarm.newest(
        limit, caller.principal.key_agent_filter())))


async def search(request: Request) -> JSONResponse:
    caller = await key_or_session(request)
    svc = services(request)
    body = await parse(request, SwarmSearchIn, svc.settings.max_body_bytes)
    vector = await svc.embed(body.query)
    found = await svc.swarm.search(vector, body.limit, body.threshold, body.query,
                                   body.search_mode, caller.principal.key_agent_filter())
    return JSONResponse(answers.facts(found, query=body.query))


async def clear(request: Request) -> JSONResponse:
    caller = await key_or_session(request)
    if caller.claims is not None:
        raise Forbidden("clearing the swarm takes an API key, not a session token")
    # Every tenant's facts would go: only an admin key may.
    caller.principal.check_admin("clearing the swarm")
    deleted = await services(request).swarm.clear()
    return JSONResponse({"success": True, "message": "Swarm cleared", "facts_deleted": deleted})


routes = [
    Route("/api/swarm/facts", add_fact, methods=["POST"]),
    Route("/api/swarm/facts", list_facts, methods=["GET"]),
    Route("/api/swarm/facts", clear, methods=["DELETE"]),
    Route("/api/swarm/search", search, methods=["POST"]),
]
