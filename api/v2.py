"""The MEMANTO v2 dialect (seeds 000/001): agents, sessions, remember, recall.

Thin adapters: parse, authenticate, call the core, shape the answer.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import require_api_key, services, session_claims
from memanto_redis.api.body import explain, parse
from memanto_redis.api.responses import FastJSONResponse
from memanto_redis.shared.auth.sessions import authorize
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.memory.models import (
    ActivateBody,
    AgentCreate,
    BatchIn,
    MemoryIn,
    RecallIn,
)

_MEMORY_IN = MemoryIn.model_validate


async def create_agent(request: Request) -> JSONResponse:
    await require_api_key(request)
    body = await parse(request, AgentCreate, services(request).settings.max_body_bytes)
    return JSONResponse(await services(request).agents.create(body), status_code=201)


async def list_agents(request: Request) -> JSONResponse:
    await require_api_key(request)
    agents = await services(request).agents.list()
    return JSONResponse({"agents": agents, "count": len(agents)})


async def get_agent(request: Request) -> JSONResponse:
    await require_api_key(request)
    return JSONResponse(await services(request).agents.get(request.path_params["agent_id"]))


async def delete_agent(request: Request) -> JSONResponse:
    await require_api_key(request)
    agent_id = request.path_params["agent_id"]
    removed = await services(request).agents.delete(agent_id)
    return JSONResponse({"agent_id": agent_id, "status": "deleted", "memories_deleted": removed})


async def activate(request: Request) -> JSONResponse:
    await require_api_key(request)
    svc = services(request)
    agent_id = request.path_params["agent_id"]
    await svc.agents.require(agent_id)
    body = await parse(request, ActivateBody, svc.settings.max_body_bytes, optional=True)
    hours = body.duration_hours
    if hours is None and "duration_hours" in request.query_params:
        hours = _query_hours(request, "duration_hours")
    return JSONResponse(await svc.sessions.activate(agent_id, hours))


async def deactivate(request: Request) -> JSONResponse:
    """Either the admin key or the agent's own session token may end the session."""
    svc = services(request)
    agent_id = request.path_params["agent_id"]
    claims = None
    if "x-session-token" in request.headers and "authorization" not in request.headers:
        claims = session_claims(request)
        authorize(claims, agent_id)
    else:
        await require_api_key(request)
    return JSONResponse(await svc.sessions.deactivate(agent_id, claims))


async def session_info(request: Request) -> JSONResponse:
    return JSONResponse(await services(request).sessions.info(session_claims(request)))


async def session_extend(request: Request) -> JSONResponse:
    claims = session_claims(request)
    hours = _query_hours(request, "extend_hours", default=6.0)
    return JSONResponse(await services(request).sessions.extend(claims, hours))


def _agent_session(request: Request) -> SessionClaims:
    claims = session_claims(request)
    authorize(claims, request.path_params["agent_id"])
    return claims


async def remember(request: Request) -> JSONResponse:
    claims = _agent_session(request)
    svc = services(request)
    item = await parse(request, MemoryIn, svc.settings.max_body_bytes)
    (record,) = await svc.memories.remember(claims.agent_id, [item], claims)
    return FastJSONResponse(_queued(record))


async def batch_remember(request: Request) -> JSONResponse:
    claims = _agent_session(request)
    svc = services(request)
    batch = await parse(request, BatchIn, svc.settings.max_body_bytes)
    valid: list[tuple[int, MemoryIn]] = []
    results: list[dict] = []
    for i, raw in enumerate(batch.memories):
        try:
            valid.append((i, _MEMORY_IN(raw)))
        except ValidationError as exc:
            problem = explain(exc, prefix=f"memories.{i}.")
            results.append({"index": i, "status": "failed", "error": problem.message,
                            "errors": problem.errors})
    if not valid:
        errors = [e for r in results for e in r["errors"]]
        raise InvalidInput("no valid memory in the batch: "
                           + "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    records = await svc.memories.remember(claims.agent_id, [item for _, item in valid],
                                           claims)
    results += [{"index": i} | _queued(record)
                for (i, _), record in zip(valid, records, strict=True)]
    results.sort(key=lambda r: r["index"])
    return FastJSONResponse({
        "total_submitted": len(batch.memories),
        "successful": len(records),
        "failed": len(batch.memories) - len(records),
        "results": results,
    })


async def get_memory(request: Request) -> JSONResponse:
    claims = _agent_session(request)
    memory = await services(request).memories.get(claims.agent_id,
                                                   request.path_params["memory_id"], claims)
    return JSONResponse(memory)


async def recall(request: Request) -> JSONResponse:
    claims = _agent_session(request)
    svc = services(request)
    body = await parse(request, RecallIn, svc.settings.max_body_bytes)
    await svc.sessions.check(claims)
    vector = await svc.embed(body.query)
    return JSONResponse(await svc.memories.recall(claims.agent_id, body, vector))


def _queued(record: dict) -> dict:
    return {
        "memory_id": record["memory_id"],
        "agent_id": record["agent_id"],
        "session_id": record["session_id"],
        "namespace": record["namespace"],
        "status": "queued",
        "confidence": record["confidence"],
        "provenance": record["provenance"],
    }


def _query_hours(request: Request, name: str, default: float | None = None) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise InvalidInput(f"{name} is required")
        return default
    try:
        hours = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number of hours, got {raw!r}") from None
    if not 0 < hours <= 24 * 30:
        raise InvalidInput(f"{name} must be > 0 and <= 720")
    return hours


AGENT = "/api/v2/agents/{agent_id}"

routes = [
    # The hot path first: Starlette tries routes in order.
    Route(AGENT + "/remember", remember, methods=["POST"]),
    Route(AGENT + "/batch-remember", batch_remember, methods=["POST"]),
    Route("/api/v2/agents", create_agent, methods=["POST"]),
    Route("/api/v2/agents", list_agents, methods=["GET"]),
    Route(AGENT, get_agent, methods=["GET"]),
    Route(AGENT, delete_agent, methods=["DELETE"]),
    Route(AGENT + "/activate", activate, methods=["POST"]),
    Route(AGENT + "/deactivate", deactivate, methods=["POST"]),
    Route("/api/v2/session/info", session_info, methods=["GET"]),
    Route("/api/v2/session/extend", session_extend, methods=["POST"]),
    Route(AGENT + "/memories/{memory_id}", get_memory, methods=["GET"]),
    Route(AGENT + "/recall", recall, methods=["POST"]),
]
