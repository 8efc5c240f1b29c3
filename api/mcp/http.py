"""MCP's Streamable HTTP transport on the web process, at `/mcp`: the SDK's session manager
(session ids for the initialize-handshake protocol versions, the single-request exchanges
of the newer ones), behind the same credentials as every other dialect.

Every HTTP request to /mcp is checked before the SDK sees it: an `Origin` header, when
sent, must be a loopback origin (403 otherwise: a web page elsewhere must not drive a
local server, as by DNS rebinding); then an API key (`Authorization: Bearer`) or an
agent's live session token (`X-Session-Token`), as everywhere (401 without). The caller
rides in the ASGI scope to the tool calls, and an MCP session is bound to the caller that
opened it (another caller gets 404 for its id).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from memanto_redis.api.auth import Caller, key_or_session
from memanto_redis.api.mcp import server
from memanto_redis.api.mcp.tools import Answer, Call, Tool
from memanto_redis.api.services import Services
from memanto_redis.shared.errors import Forbidden, Unauthorized

PATH = "/mcp"
# The lifespan state's name for the running session manager.
SESSIONS = "mcp_sessions"
# Origins a browser may call from: pages served on this machine (an MCP inspector, say).
LOOPBACK_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$")


class McpUser(AuthenticatedUser):
    """The caller as the SDK knows a principal: it binds each MCP session to the one that
    opened it. The credentials themselves are not kept."""

    def __init__(self, caller: Caller) -> None:
        super().__init__(AccessToken(token="", client_id=caller.name, scopes=[]))
        self.caller = caller


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and not LOOPBACK_ORIGIN.match(origin):
        raise Forbidden(f"Origin {origin!r} may not use this MCP endpoint (only clients "
                        "without an Origin, or on this machine's loopback, may)")


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """Check the request, then hand it to the session manager. Errors raised here are
    answered by the app's exception handlers, as every route's are."""
    request = Request(scope, receive)
    _check_origin(request)
    if not {"authorization", "x-api-key", "x-session-token"} & set(request.headers):
        raise Unauthorized("send an API key ('Authorization: Bearer <key>') or an agent's "
                           "session token ('X-Session-Token: <token>')")
    scope["user"] = McpUser(await key_or_session(request))
    sessions: StreamableHTTPSessionManager = scope["state"][SESSIONS]
    await sessions.handle_request(scope, receive, send)


async def execute(ctx: server.Context, tool: Tool[Any],
                  arguments: dict[str, Any] | None) -> Answer:
    """Run a tool in this process: the core call, as the request's caller."""
    request = ctx.request
    # The HTTP transport hands each message the request that carried it.
    assert isinstance(request, Request)
    user: McpUser = request.user
    services: Services = request.state.services
    return await tool.run(Call(services, user.caller), arguments)


class Endpoint(BaseRoute):
    """/mcp exactly, whatever the method (the transport answers each). Not a `Route`: it
    speaks JSON-RPC rather than this API's JSON, so the OpenAPI document leaves it out."""

    def __init__(self, path: str) -> None:
        self.path = path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"] == self.path:
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await endpoint(scope, receive, send)


route = Endpoint(PATH)

State = Mapping[str, Any]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[State]]


def with_sessions(lifespan: Lifespan) -> Lifespan:
    """The app's lifespan with the MCP session manager running inside it: started once
    the services are, stopped (its sessions with it) before they close."""

    @contextlib.asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[State]:
        async with lifespan(app) as state:
            services: Services = state["services"]
            sessions = StreamableHTTPSessionManager(
                app=server.build(execute), json_response=True,
                max_request_body_size=services.settings.max_body_bytes)
            async with sessions.run():
                yield {**state, SESSIONS: sessions}

    return run
