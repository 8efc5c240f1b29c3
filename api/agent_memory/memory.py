"""The per-agent memory dialect of seed 003: short-term memory and current.md, long-term
memory, the overview and clearing. `{name}` is the v2 agent id.

Every route takes an API key (admin or named) or the agent's own session token. Thin
adapters: parse, authenticate, call the core, shape the answer.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.agent_memory import answers
from memanto_redis.api.agent_memory.models import LtmAddIn, LtmSearchIn, StmEntries, StmEntryIn
from memanto_redis.api.auth import Caller, agent_access, once, services
from memanto_redis.api.body import explain, parse, read_body
from memanto_redis.api.query import whole
from memanto_redis.shared.agent_memory.stm import CURRENT, check_session_id
from memanto_redis.shared.errors import InvalidInput

STM_DEFAULT_LIMIT = 50
STM_MAX_LIMIT = 1000


async def _caller(request: Request, *, write: bool | None = None) -> tuple[str, Caller]:
    name = request.path_params["name"]
    return name, await agent_access(request, name, write=write)


# -- overview and clearing ----------------------------------------------------------------

async def overview(request: Request) -> JSONResponse:
    name, caller = await _caller(request)
    svc = services(request)
    return JSONResponse({
        "short_term": answers.stm_summary(await svc.stm.summary(name)),
        "long_term": answers.ltm_stats(await svc.ltm.stats(name)),
        # A tenant key counts only the facts it may list.
        "swarm": {"shared_facts": await svc.swarm.count(caller.principal.key_agent_filter())},
    })


async def clear_all(request: Request) -> JSONResponse:
    name, _ = await _caller(request)
    svc = services(request)
    sessions = await svc.stm.clear(name)
    memories = await svc.ltm.clear(name)
    return JSONResponse({"success": True, "message": "All memory cleared",
                         "stm_sessions_cleared": sessions, "ltm_entries_deleted": memories})


# -- short-term memory --------------------------------------------------------------------

async def stm_append(request: Request) -> JSONResponse:
    name, _ = await _caller(request)
    svc = services(request)
    entries = await _stm_entries(request, svc.settings.max_body_bytes)
    sessions = {e.session for e in entries}
    if len(sessions) > 1:
        raise InvalidInput("session: the entries of one request must name the same session "
                           "(or none, for the current one)")
    written = await svc.stm.append(name, sessions.pop(),
                                   [(e.role, e.content) for e in entries])
    return JSONResponse({"success": True} | answers.stm_session(written), status_code=201)


async def stm_read(request: Request) -> JSONResponse:
    name, _ = await _caller(request)
    limit = whole(request, "limit", STM_DEFAULT_LIMIT, 1, STM_MAX_LIMIT)
    stm = await services(request).stm.read(name, _session(request), limit)
    return JSONResponse(answers.stm_session(stm))


async def stm_clear(request: Request) -> JSONResponse:
    """Every session of the agent, or only the one named by ?session= ("current" too)."""
    name, _ = await _caller(request)
    session = _session(request) if "session" in request.query_params else None
    cleared = await services(request).stm.clear(name, session)
    return JSONResponse({"success": True, "message": "Short-term memory cleared",
                         "sessions_cleared": cleared})


async def current(request: Request) -> JSONResponse:
    name, _ = await _caller(request)
    limit = whole(request, "limit", STM_DEFAULT_LIMIT, 1, STM_MAX_LIMIT)
    stm = await services(request).stm.read(name, _session(request), limit)
    return JSONResponse({"content": answers.current_md(stm)})


# -- long-term memory ---------------------------------------------------------------------

async def ltm_add(request: Request) -> JSONResponse:
    name, caller = await _caller(request)
    svc = services(request)
    body = await parse(request, LtmAddIn, svc.settings.max_body_bytes)
    memory = await svc.ltm.add(name, body.content, body.metadata, caller.claims,
                               once(request, caller.name))
    return JSONResponse({"success": True, "id": memory.memory_id, "message": "Memory added",
                         "status": "queued"})


async def ltm_search(request: Request) -> JSONResponse:
    name, _ = await _caller(request, write=False)
    svc = services(request)
    body = await parse(request, LtmSearchIn, svc.settings.max_body_bytes)
    vector = await svc.embed(body.query)
    found = await svc.ltm.search(name, vector, body.limit, body.threshold, body.query,
                                 body.search_mode)
    return JSONResponse({"results": [answers.ltm_found(m) for m in found]})


async def ltm_get(request: Request) -> JSONResponse:
    name, _ = await _caller(request)
    memory, dims = await services(request).ltm.get(name, request.path_params["id"])
    return JSONResponse(answers.ltm_memory(memory, dims))


async def ltm_delete(request: Request) -> JSONResponse:
    name, _ = await _caller(request)
    await services(request).ltm.delete(name, request.path_params["id"])
    return JSONResponse({"success": True, "message": "Memory entry deleted"})


# -- reading the request ------------------------------------------------------------------

async def _stm_entries(request: Request, limit: int) -> list[StmEntryIn]:
    """One entry, or a list of 1-100 of them."""
    raw = await read_body(request, limit)
    try:
        if raw.lstrip().startswith(b"["):
            return StmEntries.validate_json(raw)
        return [StmEntryIn.model_validate_json(raw)]
    except ValidationError as exc:
        raise explain(exc) from None


def _session(request: Request) -> str:
    session = request.query_params.get("session", CURRENT)
    if session == CURRENT:
        return session
    try:
        return check_session_id(session)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


MEMORY = "/api/agents/{name}/memory"

routes = [
    Route(MEMORY, overview, methods=["GET"]),
    Route(MEMORY, clear_all, methods=["DELETE"]),
    Route(MEMORY + "/stm", stm_append, methods=["POST"]),
    Route(MEMORY + "/stm", stm_read, methods=["GET"]),
    Route(MEMORY + "/stm", stm_clear, methods=["DELETE"]),
    Route(MEMORY + "/current", current, methods=["GET"]),
    Route(MEMORY + "/ltm", ltm_add, methods=["POST"]),
    Route(MEMORY + "/ltm/search", ltm_search, methods=["POST"]),
    Route(MEMORY + "/ltm/{id}", ltm_get, methods=["GET"]),
    Route(MEMORY + "/ltm/{id}", ltm_delete, methods=["DELETE"]),
]
