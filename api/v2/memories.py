"""The MEMANTO v2 dialect: remember, recall, and a memory's life (edit, expire, restore,
delete, history, recall across time). Memory routes take the agent's session token.

Thin adapters: parse, authenticate, call the core, shape the answer.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import live_session, once, services, session_claims
from memanto_redis.api.body import parse
from memanto_redis.api.query import whole
from memanto_redis.api.responses import FastJSONResponse
from memanto_redis.api.v2 import answers
from memanto_redis.api.v2.errors import Plain, parse_body
from memanto_redis.api.v2.models import (
    AllIn,
    AsOfIn,
    BatchIn,
    ChangedSinceIn,
    ExpireIn,
    MemoryIn,
    MemoryPatch,
    RecallIn,
    RecentIn,
    whole_batch,
)
from memanto_redis.shared.auth.sessions import authorize
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.infra.times import iso, parse_time, stated
from memanto_redis.shared.memory import temporal
from memanto_redis.shared.memory.edits import HISTORY_MAX_PAGE, HISTORY_PAGE


async def _agent_session(request: Request) -> SessionClaims:
    """The session token of the agent in the path (its liveness is checked with the
    request's work); a lapsed one may be recreated (`live_session`)."""
    claims = session_claims(request)
    authorize(claims, request.path_params["agent_id"])
    return await live_session(request, claims)


async def _live_session(request: Request) -> SessionClaims:
    claims = await _agent_session(request)
    await services(request).sessions.check(claims)
    return claims


async def remember(request: Request) -> JSONResponse:
    claims = await _agent_session(request)
    svc = services(request)
    # A refused flood is turned away before its body is read.
    await svc.memories.ensure_may_write(claims.agent_id, claims)
    item = await parse_body(request, MemoryIn, svc.settings.max_body_bytes)
    (memory,) = await svc.memories.remember(claims.agent_id, [item.draft()], claims,
                                            once=once(request, f"agent.{claims.agent_id}"))
    return FastJSONResponse(answers.queued(memory))


async def batch_remember(request: Request) -> JSONResponse:
    claims = await _agent_session(request)
    svc = services(request)
    await svc.memories.ensure_may_write(claims.agent_id, claims)
    batch = await parse(request, BatchIn, svc.settings.max_body_bytes)
    outcomes = await svc.memories.remember_valid(
        claims.agent_id, whole_batch(batch.memories), claims,
        once=once(request, f"agent.{claims.agent_id}"))
    return FastJSONResponse(answers.batch(outcomes, claims))


async def get_memory(request: Request) -> JSONResponse:
    claims = await _agent_session(request)
    memory = await services(request).memories.get(claims.agent_id,
                                                   request.path_params["memory_id"], claims)
    return JSONResponse(answers.memory(memory))


async def recall(request: Request) -> JSONResponse:
    claims = await _agent_session(request)
    svc = services(request)
    body = await parse_body(request, RecallIn, svc.settings.max_body_bytes)
    await svc.sessions.check(claims)
    vector = await svc.embed(body.query)
    found = await svc.memories.recall(claims.agent_id, vector, body.limit, body.filters(),
                                      body.status, body.min_similarity, body.query,
                                      body.search_mode)
    return JSONResponse(answers.found(found, claims, query=body.query))


async def patch_memory(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse_body(request, MemoryPatch, svc.settings.max_body_bytes)
    changes = body.changes()
    if not changes:
        raise Plain(400, "Provide at least one field to update.")
    if "content" in changes and not str(changes["content"]).strip():
        raise Plain(400, "Memory content must be a non-empty string.")
    memory = await svc.editor.patch(claims.agent_id, request.path_params["memory_id"], changes)
    return JSONResponse(answers.patched(memory, claims, list(changes)))


async def delete_memory(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    memory_id = request.path_params["memory_id"]
    if not await services(request).editor.delete(claims.agent_id, memory_id):
        raise Plain(404, f"Memory '{memory_id}' was not found for agent "
                         f"'{claims.agent_id}'")
    return JSONResponse({"agent_id": claims.agent_id, "memory_id": memory_id,
                         "namespace": claims.namespace, "status": "deleted"})


async def expire_memory(request: Request) -> JSONResponse:
    return await _set_lifecycle(request, "expired")


async def restore_memory(request: Request) -> JSONResponse:
    return await _set_lifecycle(request, "active")


async def _set_lifecycle(request: Request, lifecycle: str) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    # Expire takes MEMANTO's optional {reason}; restore takes no body (one sent is ignored).
    reason = (await parse_body(request, ExpireIn, svc.settings.max_body_bytes,
                               optional=True)).reason if lifecycle == "expired" else None
    memory = await svc.editor.set_lifecycle(
        claims.agent_id, request.path_params["memory_id"], lifecycle, reason)
    return JSONResponse(answers.lifecycle(memory, claims))


async def memory_history(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    limit = whole(request, "limit", HISTORY_PAGE, 1, HISTORY_MAX_PAGE)
    history = await services(request).editor.history(
        claims.agent_id, request.path_params["memory_id"], limit,
        request.query_params.get("cursor") or None)
    return JSONResponse(answers.history(history))


async def recall_as_of(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse_body(request, AsOfIn, svc.settings.max_body_bytes)
    vector = await svc.embed(body.query) if body.query else None
    # A bare date means the end of that day (UTC): what was held once the day was over.
    moment = parse_time(body.as_of, end_of_day=True)
    found = await temporal.as_of(svc.memories, claims.agent_id, moment, body.filters(),
                                 body.limit, vector, body.query or "", body.search_mode)
    return JSONResponse(answers.found(found, claims, temporal_mode="as_of", as_of=iso(moment),
                                      as_of_date=stated(body.as_of, end_of_day=True),
                                      total_available=None,
                                      since_date=None, query=body.query))


async def recall_changed_since(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse_body(request, ChangedSinceIn, svc.settings.max_body_bytes)
    vector = await svc.embed(body.query) if body.query else None
    since = parse_time(body.since)
    found = await temporal.changed_since(svc.memories, claims.agent_id, since, body.filters(),
                                         body.limit, body.status, vector, body.query or "",
                                         body.search_mode)
    return JSONResponse(answers.found(found, claims, changed_since=since,
                                      temporal_mode="changed_since", since=iso(since),
                                      since_date=iso(since),
                                      as_of_date=None, total_available=None,
                                      query=body.query))


async def recall_recent(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse_body(request, RecentIn, svc.settings.max_body_bytes, optional=True)
    found = await temporal.recent(svc.memories, claims.agent_id, body.filters(), body.limit,
                                  body.status)
    return JSONResponse(answers.found(found, claims, temporal_mode="recent",
                                      total_available=None, as_of_date=None, since_date=None))


async def recall_all(request: Request) -> JSONResponse:
    claims = await _live_session(request)
    svc = services(request)
    body = await parse_body(request, AllIn, svc.settings.max_body_bytes, optional=True)
    page = await temporal.all_memories(svc.memories, claims.agent_id, body.filters(),
                                       body.limit, body.status, body.cursor)
    # MEMANTO's recall/all is its recent read without a limit, and says so.
    return JSONResponse(answers.found(page.memories, claims, temporal_mode="recent",
                                      total_available=None, as_of_date=None, since_date=None)
                        | {"next_cursor": page.next_cursor, "has_more": page.has_more})


AGENT = "/api/v2/agents/{agent_id}"
MEMORY = AGENT + "/memories/{memory_id}"
RECALL = AGENT + "/recall"

routes = [
    # The hot path first: Starlette tries routes in order.
    Route(AGENT + "/remember", remember, methods=["POST"]),
    Route(AGENT + "/batch-remember", batch_remember, methods=["POST"]),
    Route(MEMORY, get_memory, methods=["GET"]),
    Route(RECALL, recall, methods=["POST"]),
    Route(MEMORY, patch_memory, methods=["PATCH"]),
    Route(MEMORY, delete_memory, methods=["DELETE"]),
    Route(MEMORY + "/expire", expire_memory, methods=["POST"]),
    Route(MEMORY + "/restore", restore_memory, methods=["POST"]),
    Route(MEMORY + "/history", memory_history, methods=["GET"]),
    Route(RECALL + "/as-of", recall_as_of, methods=["POST"]),
    Route(RECALL + "/changed-since", recall_changed_since, methods=["POST"]),
    Route(RECALL + "/recent", recall_recent, methods=["POST"]),
    Route(RECALL + "/all", recall_all, methods=["POST"]),
]
