"""Credentials as the HTTP layer carries them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from memanto_redis.api.services import Services
from memanto_redis.shared.auth.sessions import authorize
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.memory.store import Once


def services(request: Request) -> Services:
    services: Services = request.state.services
    return services


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def require_api_key(request: Request) -> str:
    return await services(request).api_keys.identify(bearer(request))


def session_claims(request: Request) -> SessionClaims:
    """Verify the X-Session-Token signature (liveness is checked with the request's work)."""
    return services(request).signer.verify(request.headers.get("x-session-token"))


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def once(request: Request, caller: str) -> Once | None:
    """The write's Idempotency-Key header, scoped to its caller; None without one."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1-255 printable ASCII characters",
                           [{"field": "Idempotency-Key", "message": "not a key",
                             "type": "value_error"}])
    return Once(caller, key)


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key (by name), or an agent through its live session."""

    key_name: str | None = None
    claims: SessionClaims | None = None

    @property
    def agent_id(self) -> str | None:
        return self.claims.agent_id if self.claims else None

    @property
    def name(self) -> str:
        """Who, for scoping what a caller leaves behind (idempotency keys)."""
        return f"agent.{self.claims.agent_id}" if self.claims else f"key.{self.key_name}"


async def key_or_session(request: Request) -> Caller:
    """An API key when one is sent, else the session token, checked live in Redis."""
    if bearer(request) is not None or "x-session-token" not in request.headers:
        return Caller(key_name=await require_api_key(request))
    claims = session_claims(request)
    await services(request).sessions.check(claims)
    return Caller(claims=claims)


async def agent_access(request: Request, agent_id: str) -> Caller:
    """An API key, or the session of this very agent (403 for another agent's token)."""
    caller = await key_or_session(request)
    if caller.claims is not None:
        authorize(caller.claims, agent_id)
    else:
        await services(request).agents.require(agent_id)
    return caller
