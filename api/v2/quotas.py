"""Write quotas per agent (an extension): the admin key reads, sets and removes an agent's
override of the settings' write rate and burst."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import require_api_key, services
from memanto_redis.api.body import parse
from memanto_redis.shared.memory.quotas import MAX_BURST, MAX_RATE, Override, QuotaOverrides


class QuotaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0, le=MAX_RATE, allow_inf_nan=False,
                        description="memories a second (0: unlimited)")
    burst: int = Field(ge=1, le=MAX_BURST, description="memories at once")


async def _admin(request: Request) -> QuotaOverrides:
    (await require_api_key(request)).check_admin("managing write quotas")
    return QuotaOverrides(services(request).redis)


def _answer(request: Request, agent_id: str, override: Override | None) -> JSONResponse:
    settings = services(request).settings
    rate, burst = ((override.rate, override.burst) if override
                   else (settings.write_rate, settings.write_burst))
    return JSONResponse({"agent_id": agent_id, "rate": rate, "burst": burst,
                         "override": override is not None})


async def get_quota(request: Request) -> JSONResponse:
    overrides = await _admin(request)
    agent_id = request.path_params["agent_id"]
    return _answer(request, agent_id, await overrides.get(agent_id))


async def set_quota(request: Request) -> JSONResponse:
    overrides = await _admin(request)
    agent_id = request.path_params["agent_id"]
    body = await parse(request, QuotaIn, services(request).settings.max_body_bytes)
    return _answer(request, agent_id, await overrides.set(agent_id, body.rate, body.burst))


async def delete_quota(request: Request) -> JSONResponse:
    overrides = await _admin(request)
    agent_id = request.path_params["agent_id"]
    await overrides.delete(agent_id)
    return _answer(request, agent_id, None)


async def list_quotas(request: Request) -> JSONResponse:
    overrides = await _admin(request)
    settings = services(request).settings
    return JSONResponse({
        "default": {"rate": settings.write_rate, "burst": settings.write_burst},
        "overrides": [{"agent_id": o.agent_id, "rate": o.rate, "burst": o.burst}
                      for o in await overrides.all()]})


QUOTA = "/api/v2/agents/{agent_id}/quota"

routes = [
    Route(QUOTA, get_quota, methods=["GET"]),
    Route(QUOTA, set_quota, methods=["PUT"]),
    Route(QUOTA, delete_quota, methods=["DELETE"]),
    Route("/api/v2/quotas", list_quotas, methods=["GET"]),
]
