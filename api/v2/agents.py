"""The MEMANTO v2 dialect (seeds 000/001): agents, sessions and API keys."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import (
    agent_access,
    api_key,
    require_api_key,
    services,
    session_claims,
)
from memanto_redis.api.body import parse
from memanto_redis.api.errors import MalformedJSON
from memanto_redis.api.query import flag, hours
from memanto_redis.api.v2 import answers
from memanto_redis.api.v2.errors import Plain
from memanto_redis.api.v2.models import ActivateBody, AgentCreate, ApiKeyCreate
from memanto_redis.shared.auth import access
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.bootstrap import bootstrap


async def create_agent(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    principal.check_manage_agents()
    body = await parse(request, AgentCreate, services(request).settings.max_body_bytes)
    principal.check_manage_agents(body.agent_id)
    agent = await services(request).agents.create(body.agent_id, body.description,
                                                  body.pattern)
    return JSONResponse(answers.agent(agent), status_code=201)


async def list_agents(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    agents = [answers.agent(a) for a in await services(request).agents.all(principal)]
    return JSONResponse({"agents": agents, "count": len(agents)})


async def get_agent(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    agent_id = request.path_params["agent_id"]
    principal.check_agent(agent_id, write=False)
    agent = await services(request).agents.get(agent_id)
    return JSONResponse(answers.agent(agent))


async def delete_agent(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    agent_id = request.path_params["agent_id"]
    principal.check_manage_agents(agent_id)
    # MEMANTO keeps an agent's memories unless told (its namespace "backup").
    everything = flag(request, "delete-backup-too")
    removed = await services(request).agents.delete(agent_id, memories=everything)
    kept = "with all its memories" if everything else "(its memories are kept: creating " \
        "it again brings them back; ?delete-backup-too=true deletes them)"
    return JSONResponse({"message": f"Agent '{agent_id}' successfully deleted {kept}",
                         "agent_id": agent_id, "status": "deleted",
                         "memories_deleted": removed, "memories_kept": not everything})


async def agent_bootstrap(request: Request) -> JSONResponse:
    agent_id = request.path_params["agent_id"]
    await agent_access(request, agent_id)
    svc = services(request)
    return JSONResponse(answers.bootstrap(await bootstrap(svc.agents, svc.memories, agent_id)))


async def activate(request: Request) -> JSONResponse:
    principal = await require_api_key(request)
    svc = services(request)
    agent_id = request.path_params["agent_id"]
    await access.activate(principal, svc.agents, agent_id)
    try:
        body = await parse(request, ActivateBody, svc.settings.max_body_bytes, optional=True)
    except MalformedJSON:
        body = ActivateBody()  # MEMANTO's activate reads no body: one it cannot read is none
    duration = body.duration_hours
    if duration is None and "duration_hours" in request.query_params:
        duration = hours(request, "duration_hours")
    return JSONResponse(answers.activated(await svc.sessions.activate(agent_id, duration)))


async def deactivate(request: Request) -> JSONResponse:
    """Either an API key or the agent's own session token may end the session."""
    svc = services(request)
    agent_id = request.path_params["agent_id"]
    claims = None
    if "x-session-token" in request.headers and api_key(request) is None:
        claims = session_claims(request)
    else:
        (await require_api_key(request)).check_activate(agent_id)
    return JSONResponse(answers.deactivated(await svc.sessions.deactivate(agent_id, claims)))


async def session_info(request: Request) -> JSONResponse:
    session = await services(request).sessions.info(session_claims(request))
    return JSONResponse(answers.session_info(session))


async def status(request: Request) -> JSONResponse:
    """MEMANTO's current session: with an API key, the session activated last (of the
    agents the key covers); with only a session token, that token's own."""
    svc = services(request)
    if api_key(request) is None and "x-session-token" in request.headers:
        return JSONResponse(answers.status(await svc.sessions.info(session_claims(request))))
    principal = await require_api_key(request)
    session = await svc.sessions.latest()
    # Another agent's session is as absent as none to a key that does not cover it.
    if session is None or not principal.covers_agent(session.agent_id):
        raise Plain(404, "No active session")
    return JSONResponse(answers.status(session))


async def session_extend(request: Request) -> JSONResponse:
    """The session's own token; with an API key beside it, past the session's absolute end."""
    claims = session_claims(request)
    key = await require_api_key(request) if api_key(request) is not None else None
    extra = hours(request, "extend_hours", default=6.0)
    previous, session = await services(request).sessions.extend(claims, extra, key)
    return JSONResponse(answers.extended(previous, session, extra))


async def create_key(request: Request) -> JSONResponse:
    caller = await require_api_key(request)
    caller.check_admin("managing API keys")
    svc = services(request)
    body = await parse(request, ApiKeyCreate, svc.settings.max_body_bytes)
    key = await svc.api_keys.create(caller, body.name, body.scope())
    return JSONResponse({"name": key.name, "api_key": key.secret,
                         "created_at": iso(key.created_at)} | key.scope.to_dict()
                        | {"note": "store this key now: it is not shown again"},
                        status_code=201)


async def list_keys(request: Request) -> JSONResponse:
    caller = await require_api_key(request)
    keys = [{"name": k.name, "prefix": k.prefix, "created_at": iso(k.created_at)}
            | k.scope.to_dict() for k in await services(request).api_keys.all(caller)]
    return JSONResponse({"api_keys": keys, "count": len(keys)})


async def revoke_key(request: Request) -> JSONResponse:
    caller = await require_api_key(request)
    name = request.path_params["name"]
    await services(request).api_keys.revoke(caller, name)
    return JSONResponse({"name": name, "status": "revoked"})


AGENT = "/api/v2/agents/{agent_id}"

routes = [
    Route("/api/v2/agents", create_agent, methods=["POST"]),
    Route("/api/v2/agents", list_agents, methods=["GET"]),
    Route(AGENT, get_agent, methods=["GET"]),
    Route(AGENT, delete_agent, methods=["DELETE"]),
    Route(AGENT + "/activate", activate, methods=["POST"]),
    Route(AGENT + "/deactivate", deactivate, methods=["POST"]),
    Route(AGENT + "/bootstrap", agent_bootstrap, methods=["GET"]),
    Route("/api/v2/status", status, methods=["GET"]),
    Route("/api/v2/session/info", session_info, methods=["GET"]),
    Route("/api/v2/session/extend", session_extend, methods=["POST"]),
    Route("/api/v2/apikeys", create_key, methods=["POST"]),
    Route("/api/v2/apikeys", list_keys, methods=["GET"]),
    Route("/api/v2/apikeys/{name}", revoke_key, methods=["DELETE"]),
]
