"""How /api/v2 reports errors: MEMANTO's envelope, even when Redis is lost (the one error
that does not come from our error family); the other dialects keep their plain detail."""

from __future__ import annotations

import asyncio
import json

import redis
from starlette.requests import Request

from memanto_redis.api.errors import redis_down


def _answer_to(path: str) -> tuple[int, dict[str, object], str | None]:
    request = Request({"type": "http", "method": "GET", "path": path, "headers": [],
                       "query_string": b""})
    reply = asyncio.run(redis_down(request, redis.ConnectionError("connection refused")))
    return reply.status_code, json.loads(bytes(reply.body)), reply.headers.get("Retry-After")


def test_losing_redis_on_v2_answers_memanto_envelope():
    status, body, retry = _answer_to("/api/v2/agents/a/recall")
    assert (status, retry) == (503, "5")
    assert body == {"detail": {"error": "ServiceUnavailable",
                               "message": "storage is unavailable; retry shortly",
                               "details": {}}}


def test_losing_redis_elsewhere_keeps_the_plain_detail():
    status, body, retry = _answer_to("/api/agents/a/memory")
    assert (status, retry) == (503, "5")
    assert body == {"detail": "storage is unavailable; retry shortly"}
