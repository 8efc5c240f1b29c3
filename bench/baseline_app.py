"""The trivial baseline the front door is measured against, in the same run.

Same server (uvicorn, one process), same request (path shape, headers, JSON body), one
Redis round trip (an XADD of the raw body), a small JSON answer: everything the door does
beyond this is its own cost.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn bench.baseline_app:app --no-access-log
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import redis.asyncio as aredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STREAM = "bench:baseline"


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.redis = aredis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        yield
    finally:
        await app.state.redis.aclose()


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def accept(request: Request) -> JSONResponse:
    body = await request.body()
    entry_id = await request.app.state.redis.xadd(STREAM, {"data": body})
    return JSONResponse({"entry_id": entry_id.decode(), "status": "queued"})


app = Starlette(
    routes=[
        Route("/", ping, methods=["GET"]),
        Route("/api/v2/agents/{agent_id}/remember", accept, methods=["POST"]),
    ],
    lifespan=lifespan,
)
