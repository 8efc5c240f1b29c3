"""MEMANTO's session auto-renewal, as ASGI middleware: a request whose X-Session-Token ends
within 30 minutes gets its session renewed and the new token back in the X-Session-Token
response header, whatever route it reached (MEMANTO renews in its session dependency).

Only the token's own `exp` is looked at on the way in (its signature check is cached), so
a request far from its end costs nothing; near it, the renewal is one script call, made
as the answer starts, after the route's own work: an extend just made is kept, a session
just ended is not renewed. A token that proves nothing is left to the route to refuse.

A session the route recreated (MEMANTO's auto-recreate, `api.auth.live_session`) hands its
token over here (`hand_over`), and that token is the one sent back.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memanto_redis.api.services import Services
from memanto_redis.shared.auth.sessions import RENEW_WITHIN_SECONDS
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import MemantoError

HEADER = b"x-session-token"
# Where a route leaves the token of a session it recreated, in the request's state.
RECREATED = "recreated_session_token"


def hand_over(request: Request, token: str) -> None:
    """Send `token` back in the X-Session-Token header of this request's answer."""
    setattr(request.state, RECREATED, token)


class Renewal:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        near = _near_its_end(scope) if scope["type"] == "http" else None
        if near is None:
            await self.app(scope, receive, send)
            return
        svc, claims = near

        async def send_renewed(message: Message) -> None:
            if message["type"] == "http.response.start":
                state: dict[str, Any] = scope.get("state") or {}
                token = state.get(RECREATED) or await _renew(svc, claims)
                if token is not None:
                    headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                    message = {**message, "headers": [*headers, (HEADER, token.encode())]}
            await send(message)

        await self.app(scope, receive, send_renewed)


def _near_its_end(scope: Scope) -> tuple[Services, SessionClaims] | None:
    token = next((v for k, v in scope["headers"] if k == HEADER), None)
    state: dict[str, Any] = scope.get("state") or {}
    svc: Services | None = state.get("services")
    if token is None or svc is None:
        return None
    try:
        claims = svc.signer.verify(token.decode("latin-1"))
    except MemantoError:
        return None
    return (svc, claims) if claims.expires_at - time.time() <= RENEW_WITHIN_SECONDS else None


async def _renew(svc: Services, claims: SessionClaims) -> str | None:
    try:
        return await svc.sessions.renew(claims)
    except (MemantoError, redis.RedisError):
        # Redis gone: the answer goes out without a renewal; the next request tries again.
        return None
