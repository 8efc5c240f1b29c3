"""Named API keys, managed with the admin key only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import require_api_key, services
from memanto_redis.api.body import parse
from memanto_redis.shared.auth.apikeys import ADMIN
from memanto_redis.shared.errors import Forbidden
from memanto_redis.shared.memory.models import ApiKeyCreate


async def _admin(request: Request) -> None:
    if await require_api_key(request) != ADMIN:
        raise Forbidden("only the admin key (MEMANTO_API_KEY) manages API keys")


async def create_key(request: Request) -> JSONResponse:
    await _admin(request)
    svc = services(request)
    body = await parse(request, ApiKeyCreate, svc.settings.max_body_bytes)
    return JSONResponse(await svc.api_keys.create(body.name), status_code=201)


async def list_keys(request: Request) -> JSONResponse:
    await _admin(request)
    keys = await services(request).api_keys.list()
    return JSONResponse({"api_keys": keys, "count": len(keys)})


async def revoke_key(request: Request) -> JSONResponse:
    await _admin(request)
    name = request.path_params["name"]
    await services(request).api_keys.revoke(name)
    return JSONResponse({"name": name, "status": "revoked"})


routes = [
    Route("/api/v2/apikeys", create_key, methods=["POST"]),
    Route("/api/v2/apikeys", list_keys, methods=["GET"]),
    Route("/api/v2/apikeys/{name}", revoke_key, methods=["DELETE"]),
]
