"""One small ASGI middleware per request: its request id, its Prometheus figures and its
access-log line.

Cheap on the hot path: the route's path template is read from the scope after the router
matched it (Starlette leaves the Route there), the labelled children of the counters are
kept in a dict rather than looked up by `labels()` each time, and the access line is
formatted only when the logger is on.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memanto_redis.shared.infra import logs

access = logging.getLogger("memanto.access")

# Set in the scope by api/errors.py when a request is turned away for a bound: why.
REJECTED = "memanto.rejected"
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A request id the client sends is kept when it looks like one (no log injection).
REQUEST_ID = re.compile(rb"^[\w.:-]{1,128}$")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("memanto_http_requests", "HTTP requests answered, by route template and "
                   "status", ["method", "route", "status"])
LATENCY = Histogram("memanto_http_request_duration_seconds", "seconds from a request's "
                    "arrival to the end of its answer, by route template",
                    ["method", "route"], buckets=BUCKETS)
REJECTIONS = Counter("memanto_http_rejections", "requests turned away at a bound: 503 for the "
                     "ingest backlog, the model still loading or the inbox's long-poll "
                     "slots, 429 for a rate limit", ["reason"])


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", request_id)]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started)

    def _record(self, scope: Scope, request_id: bytes, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED
        # Methods a client makes up must not become label values (nor dict keys) each.
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        key = (method, template, status)
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(method, template, str(status)),
                        LATENCY.labels(method, template))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        reason = scope.get(REJECTED) or ("rate_limit" if status == 429 else None)
        if reason:
            REJECTIONS.labels(reason).inc()
        if logs.access is not None or access.isEnabledFor(logging.INFO):
            params = scope.get("path_params") or {}
            # Seed 003's paths name the agent {name}; elsewhere {name} is an API key's name.
            agent = params.get("agent_id") or (params.get("name")
                                               if template.startswith("/api/agents/") else None)
            fields = {"event": f"{method} {template} {status}",
                      "request_id": request_id.decode(), "agent_id": agent, "method": method,
                      "route": template, "status": status,
                      "duration_ms": round(seconds * 1000, 2)}
            if logs.access is not None:
                logs.access.write(fields)
            else:
                access.info("%s", fields.pop("event"), extra=fields)


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and REQUEST_ID.match(value):
            return bytes(value)
    # Unique without a random draw per request: this process's random prefix and a count.
    return b"%s%x" % (_PREFIX, next(_COUNT))


_PREFIX = uuid.uuid4().hex[:16].encode()
_COUNT = itertools.count(1)
