"""Scheduled prompts (seed 003, "Scheduled Jobs") and the inbox they are delivered to.

Every route takes an API key, or the agent's own session token.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.agent_memory import answers
from memanto_redis.api.agent_memory.models import ScheduleIn
from memanto_redis.api.auth import agent_access, services
from memanto_redis.api.body import parse
from memanto_redis.api.query import bounded, whole
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.schedule.inbox import MAX_COUNT, MAX_WAIT, STREAM_ID_RE


async def list_schedules(request: Request) -> JSONResponse:
    agent_id = request.path_params["name"]
    await agent_access(request, agent_id)
    schedules = await services(request).schedules.all(agent_id)
    return JSONResponse({"schedules": [answers.schedule(s) for s in schedules]})


async def create_schedule(request: Request) -> JSONResponse:
    agent_id = request.path_params["name"]
    caller = await agent_access(request, agent_id)
    svc = services(request)
    body = await parse(request, ScheduleIn, svc.settings.max_body_bytes)
    schedule = await svc.schedules.create(agent_id, body.name, body.cron, body.prompt,
                                          body.timezone, body.webhook_url,
                                          by_session=caller.claims is not None)
    return JSONResponse(answers.schedule(schedule), status_code=201)


async def get_schedule(request: Request) -> JSONResponse:
    agent_id = request.path_params["name"]
    await agent_access(request, agent_id)
    schedule = await services(request).schedules.get(agent_id, request.path_params["schedule"])
    return JSONResponse(answers.schedule(schedule))


async def delete_schedule(request: Request) -> JSONResponse:
    agent_id = request.path_params["name"]
    await agent_access(request, agent_id)
    schedule = request.path_params["schedule"]
    await services(request).schedules.delete(agent_id, schedule)
    return JSONResponse({"success": True, "name": schedule, "message": "Schedule deleted"})


async def list_runs(request: Request) -> JSONResponse:
    agent_id = request.path_params["name"]
    await agent_access(request, agent_id)
    svc = services(request)
    schedule = request.path_params["schedule"]
    limit = _limit(request, svc.settings.schedule_runs_kept)
    runs = await svc.schedules.runs(agent_id, schedule, limit)
    return JSONResponse({"schedule": schedule, "runs": [answers.run(r) for r in runs]})


async def read_inbox(request: Request) -> JSONResponse:
    agent_id = request.path_params["name"]
    await agent_access(request, agent_id)
    after = request.query_params.get("after", "0")
    if not STREAM_ID_RE.match(after) or any(int(part) >= 2**64 for part in after.split("-")):
        raise InvalidInput("after must be an inbox message id such as 1700000000000-0 "
                           "(or 0 for everything held)",
                           [{"field": "after", "message": "not a stream id",
                             "type": "value_error"}])
    wait = bounded(request.query_params.get("wait"), field="wait", default=0.0, low=0,
                   high=MAX_WAIT, parse=float, what="a number of seconds")
    limit = whole(request, "limit", 100, 1, MAX_COUNT)
    messages = await services(request).inbox.read(agent_id, after, wait, limit)
    return JSONResponse(answers.inbox(messages))


def _limit(request: Request, most: int) -> int:
    return whole(request, "limit", min(50, most), 1, most)


AGENT = "/api/agents/{name}"

routes = [
    Route(AGENT + "/schedules", list_schedules, methods=["GET"]),
    Route(AGENT + "/schedules", create_schedule, methods=["POST"]),
    Route(AGENT + "/schedules/{schedule}", get_schedule, methods=["GET"]),
    Route(AGENT + "/schedules/{schedule}", delete_schedule, methods=["DELETE"]),
    Route(AGENT + "/schedules/{schedule}/runs", list_runs, methods=["GET"]),
    Route(AGENT + "/inbox", read_inbox, methods=["GET"]),
]
