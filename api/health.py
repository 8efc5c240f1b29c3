"""Health probes, without credentials: GET /health and GET /live (the process answers),
GET /ready (it can serve everything: Redis answers, the memory index exists, the embedding
model is loaded), as MEMANTO has them and as a load balancer or Kubernetes asks.

/ready also lists the worker, scheduler and jobs processes whose heartbeat is alive (they
have no port of their own; shared/infra/heartbeat.py), which `memanto status` shows; their
absence does not make the web unready, since it still takes writes.
"""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import version
from typing import Any

import redis
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from memanto_redis.api.auth import services
from memanto_redis.api.responses import FastJSONResponse
from memanto_redis.shared.infra import heartbeat, keys

SERVICE = "memanto-redis"
STARTED = time.time()
# A probe answers within this, whatever Redis does.
CHECK_SECONDS = 2.0
# /health's look at Redis: short, since it answers a liveness probe.
PING_SECONDS = 0.5


def _alive() -> dict[str, Any]:
    return {"status": "healthy", "service": SERVICE, "version": version(SERVICE),
            "uptime_seconds": round(time.time() - STARTED, 1)}


async def health(request: Request) -> JSONResponse:
    """The process is up: always 200. As MEMANTO's HealthResponse it also says whether the
    storage behind it answers (`moorcheh_connected`, MEMANTO's name; Redis here, one PING
    of at most PING_SECONDS), and is "unhealthy" when it does not."""
    connected = await _redis_answers(request)
    return FastJSONResponse(_alive() | {"status": "healthy" if connected else "unhealthy",
                                        "moorcheh_connected": connected})


async def root(request: Request) -> JSONResponse:
    """What this is, as MEMANTO's GET / says it."""
    return FastJSONResponse({
        "service": "MEMANTO",
        "description": "A memory service for AI agents, over Redis: the MEMANTO API "
                       "(memanto-redis).",
        "version": version(SERVICE),
        "docs": "/docs",
    })


async def _redis_answers(request: Request) -> bool:
    try:
        async with asyncio.timeout(PING_SECONDS):
            await services(request).redis.ping()
    except (redis.RedisError, TimeoutError):
        return False
    return True


async def live(request: Request) -> JSONResponse:
    """The process is up and its event loop turns (nothing else is checked)."""
    return FastJSONResponse(_alive() | {"status": "alive"})


async def _index_present(client: Any) -> bool:
    try:
        await client.execute_command("FT.INFO", keys.MEMORY_INDEX)
    except redis.ResponseError:
        return False
    return True


async def _checks(request: Request) -> tuple[dict[str, str], list[heartbeat.Beat]]:
    svc = services(request)
    checks = {"redis": "ok", "index": "ok", "model": await svc.model.problem() or "ok"}
    beats: list[heartbeat.Beat] = []
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await svc.redis.ping()
            if not await _index_present(svc.redis):
                checks["index"] = f"the search index {keys.MEMORY_INDEX} is missing"
            beats = await heartbeat.live(svc.redis)
    except (redis.RedisError, TimeoutError) as exc:
        checks["redis"] = f"Redis does not answer ({type(exc).__name__})"
        checks["index"] = "unknown while Redis does not answer"
    return checks, beats


async def ready(request: Request) -> JSONResponse:
    """Ready to serve everything: Redis answers, the memory index exists, the embedding
    model is loaded; 503 naming what is missing otherwise."""
    checks, beats = await _checks(request)
    processes = [{"kind": b.kind, "name": b.name, "seconds_since_beat": round(b.age, 1)}
                 for b in beats]
    missing = {name: why for name, why in checks.items() if why != "ok"}
    if missing:
        return FastJSONResponse({
            "detail": "not ready: " + "; ".join(missing.values()),
            "errors": [{"field": name, "message": why, "type": "not_ready"}
                       for name, why in missing.items()],
        }, status_code=503, headers={"Retry-After": "2"})
    return FastJSONResponse({"status": "ready", "checks": checks, "processes": processes})


routes = [
    Route("/", root, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/live", live, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
]
