"""The one map from errors to HTTP answers, so handlers never invent their own error JSON."""

from __future__ import annotations

import asyncio
import logging
import random

import redis
from redisvl.exceptions import RedisVLError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from memanto_redis.api.observe import REJECTED
from memanto_redis.shared.errors import (
    Busy,
    Conflict,
    Forbidden,
    InvalidInput,
    MemantoError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("memanto.api")


class MalformedJSON(MemantoError):
    """The body is not JSON at all."""


class PayloadTooLarge(MemantoError):
    """A body over `max_bytes`."""

    def __init__(self, message: str, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class FileTooLarge(PayloadTooLarge):
    """An uploaded file over `max_bytes`."""


class UnsupportedMediaType(MemantoError):
    pass


# Most specific first: the first class an error is an instance of decides.
STATUS: dict[type[MemantoError], int] = {
    MalformedJSON: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
    RateLimited: 429,
    Busy: 503,
    Unavailable: 503,
}


# MEMANTO's dialect, whose errors take MEMANTO's shapes (api/v2/errors.py).
V2_PREFIX = "/api/v2/"

# A Busy error's reason in memanto_http_rejections_total; any other Busy is the backlog's.
BUSY_REASONS = {"ModelLoading": "model_loading", "InboxBusy": "inbox_waiters",
                "EmbeddingsUnavailable": "embeddings_unavailable"}


def status_of(exc: MemantoError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)


async def memanto_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MemantoError)
    status = status_of(exc)
    body: dict[str, object] = {"detail": exc.message}
    headers = {}
    if isinstance(exc, InvalidInput) and exc.errors:
        body["errors"] = exc.errors
    if isinstance(exc, RateLimited):
        # The metrics count a 429 as "rate_limit" by itself (api/observe.py).
        headers["Retry-After"] = str(exc.retry_after)
        # Held a moment before it is answered: a client flooding over its quota through
        # many connections then sends few requests, and others' requests find the event
        # loop free (a held answer costs no CPU). The hold varies by half either way:
        # held alike, a flood's connections would all come back at once, a burst of work
        # that others' requests queue behind.
        hold = request.state.services.settings.rate_limit_hold
        await asyncio.sleep(hold * random.uniform(0.5, 1.5))
    if isinstance(exc, Busy):
        headers["Retry-After"] = str(exc.retry_after)
        # For the metrics: which bound turned the request away.
        request.scope[REJECTED] = BUSY_REASONS.get(type(exc).__name__, "backlog")
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    status, body = _in_dialect(request, exc, status, body)
    return JSONResponse(body, status_code=status, headers=headers)


def _in_dialect(request: Request, exc: MemantoError, status: int, body: dict[str, object]
                ) -> tuple[int, dict[str, object]]:
    """The answer as the request's dialect shapes it: MEMANTO's envelope on /api/v2
    (imported here: it reads bodies through api/body.py, which needs this module)."""
    if not request.url.path.startswith(V2_PREFIX):
        return status, body
    from memanto_redis.api.v2 import errors as v2_errors

    return v2_errors.answer(exc, status,
                            has_body=request.method not in ("GET", "HEAD", "DELETE"))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                        headers=exc.headers)


async def redis_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("Redis unavailable: %s", exc)
    message = "storage is unavailable; retry shortly"
    status, body = _in_dialect(request, Unavailable(message), 503, {"detail": message})
    return JSONResponse(body, status_code=status, headers={"Retry-After": "5"})


def lost_redis(exc: BaseException) -> bool:
    """Whether an error (RedisVL wraps the client's in its own) comes from losing Redis."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, redis.ConnectionError | redis.TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def wrapped(request: Request, exc: Exception) -> JSONResponse:
    """RedisVL's errors: losing Redis is a 503 like any other; the rest is unexpected."""
    if lost_redis(exc):
        return await redis_down(request, exc)
    return await unexpected(request, exc)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


EXCEPTION_HANDLERS = {
    MemantoError: memanto_error,
    HTTPException: http_error,
    redis.ConnectionError: redis_down,
    redis.TimeoutError: redis_down,
    RedisVLError: wrapped,
    Exception: unexpected,
}
