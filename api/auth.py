"""Credentials as the HTTP layer carries them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from starlette.requests import Request

from memanto_redis.api.renewal import hand_over
from memanto_redis.api.services import Services
from memanto_redis.shared.auth import access
from memanto_redis.shared.auth.scope import Principal
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import InvalidInput, MemantoError, MissingSessionToken
from memanto_redis.shared.memory.store import Once


def services(request: Request) -> Services:
    services: Services = request.state.services
    return services


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def api_key(request: Request) -> str | None:
    """The API key presented: `X-Api-Key` or `Authorization: Bearer`, as MEMANTO takes it
    (X-Api-Key first)."""
    return request.headers.get("x-api-key", "").strip() or bearer(request)


async def require_api_key(request: Request) -> Principal:
    """The key presented and its scope; what it may do is checked by the core call."""
    return await services(request).api_keys.identify(api_key(request))


def writes(request: Request) -> bool:
    """Whether a request changes something, by its method: a route that only reads by POST
    (a search) says so to `agent_access`."""
    return request.method not in ("GET", "HEAD")


def session_claims(request: Request) -> SessionClaims:
    """Verify the X-Session-Token signature (liveness is checked with the request's work)."""
    return services(request).signer.verify(request.headers.get("x-session-token"))


async def live_session(request: Request, claims: SessionClaims) -> SessionClaims:
    """The claims to serve the request with: these, or, when their token has lapsed and an
    API key that may activate the agent is sent beside it, those of a session recreated in
    its place (MEMANTO's auto-recreate), whose token goes back in the X-Session-Token
    header. A bad key changes nothing: the lapsed token is then refused as it would be."""
    if claims.expires_at > time.time():  # the hot path: a token in its time
        return claims
    try:
        key = await require_api_key(request)  # none sent, or not a key: refused below
    except MemantoError:
        return claims
    session = await services(request).sessions.recreate(claims, key)
    if session is None or session.token is None:
        return claims
    hand_over(request, session.token)
    return session.claims()


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
    """Who is calling: an API key (with its scope), or an agent through its live session."""

    principal: Principal
    claims: SessionClaims | None = None

    @property
    def agent_id(self) -> str | None:
        return self.claims.agent_id if self.claims else None

    @property
    def name(self) -> str:
        """Who, for scoping what a caller leaves behind (idempotency keys)."""
        return self.principal.who


async def key_or_session(request: Request, *, session_route: bool = False) -> Caller:
    """An API key when one is sent, else the session token, checked live in Redis. With
    neither, the refusal asks for what the route's dialect asks for: a key, or (for a
    `session_route`, one MEMANTO serves to sessions only) the session token."""
    key_sent = api_key(request) is not None
    token_sent = "x-session-token" in request.headers
    if session_route and not (key_sent or token_sent):
        raise MissingSessionToken("send the agent's session token (X-Session-Token)")
    if key_sent or not token_sent:
        return Caller(await require_api_key(request))
    claims = session_claims(request)
    await services(request).sessions.check(claims)
    return Caller(Principal.session(claims.agent_id), claims)


async def agent_access(request: Request, agent_id: str, *, write: bool | None = None,
                       session_route: bool = False) -> Caller:
    """An API key whose scope covers this agent, or the session of this very agent (403
    otherwise, the same whether the agent exists or not); a read-only key may only read.
    `write` defaults to what the method says."""
    caller = await key_or_session(request, session_route=session_route)
    svc = services(request)
    await access.agent(caller.principal, svc.agents, agent_id,
                       write=writes(request) if write is None else write)
    return caller
