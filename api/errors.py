"""One map from errors to HTTP answers, so handlers never invent their own error JSON."""

from __future__ import annotations

import logging

import redis
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from memanto_redis.shared.errors import Busy, InvalidInput, MemantoError

log = logging.getLogger("memanto.api")


async def memanto_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MemantoError)
    body: dict = {"detail": exc.message}
    headers = {}
    if isinstance(exc, InvalidInput) and exc.errors:
        body["errors"] = exc.errors
    if isinstance(exc, Busy):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=exc.headers)


async def redis_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("Redis unavailable: %s", exc)
    return JSONResponse({"detail": "storage is unavailable; retry shortly"}, status_code=503,
                        headers={"Retry-After": "5"})


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


EXCEPTION_HANDLERS = {
    MemantoError: memanto_error,
    HTTPException: http_error,
    redis.ConnectionError: redis_down,
    redis.TimeoutError: redis_down,
    Exception: unexpected,
}
