"""Sessions: one live session per agent, a JWT to prove it, Redis to say it is still live."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from memanto_redis.shared.auth.tokens import SessionClaims, TokenSigner
from memanto_redis.shared.errors import (
    AgentNotFound,
    Forbidden,
    InvalidInput,
    InvalidSessionToken,
    SessionExpired,
    SessionNotFound,
)
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.replies import text, text_fields, text_or_none
from memanto_redis.shared.memory.rules import namespace

MAX_EXTEND_HOURS = 24 * 30
# A token this close to its session's end is renewed (MEMANTO's 30 minutes).
RENEW_WITHIN_SECONDS = 30 * 60


def new_session_id() -> str:
    """A session id in MEMANTO's form (`sess_` and 12 hex digits)."""
    return f"sess_{uuid.uuid4().hex[:12]}"


def ensure_live(claims: SessionClaims, live_sid: bytes | str | None) -> None:
    """Refuse a token whose session has expired, ended, or been replaced."""
    if text_or_none(live_sid) == claims.session_id:
        return
    if live_sid is None and claims.expires_at <= time.time():
        raise SessionExpired("session expired; activate the agent again")
    raise InvalidSessionToken("session is no longer active (expired, deactivated or replaced)")


def authorize(claims: SessionClaims, agent_id: str) -> None:
    if claims.agent_id != agent_id:
        raise Forbidden(f"this session belongs to agent {claims.agent_id!r}, not {agent_id!r}")


@dataclass(frozen=True, slots=True)
class Session:
    """An agent's live session (and, when just issued, the token that proves it)."""

    agent_id: str
    session_id: str
    started_at: float
    expires_at: float
    memories_created: int = 0
    token: str | None = None
    ended_at: float | None = None

    @property
    def namespace(self) -> str:
        return namespace(self.agent_id)


class SessionStore:
    def __init__(self, redis: Redis, signer: TokenSigner, default_hours: float,
                 max_hours: float = 7 * 24.0) -> None:
        self.redis = redis
        self.signer = signer
        self.default_hours = default_hours
        # A session's absolute lifetime from its start: a stolen token cannot keep itself
        # alive forever by extending; going further takes an API key.
        self.max_hours = max_hours
        self._activate = redis.register_script(scripts.ACTIVATE)
        self._extend = redis.register_script(scripts.EXTEND)
        self._renew = redis.register_script(scripts.RENEW_SESSION)
        self._deactivate = redis.register_script(scripts.DEACTIVATE)

    async def activate(self, agent_id: str, hours: float | None) -> Session:
        """A new session, replacing (and so revoking) any earlier one."""
        hours = self.default_hours if hours is None else hours
        now = time.time()
        expires = now + hours * 3600
        claims = SessionClaims(agent_id, new_session_id(), namespace(agent_id), now, expires)
        ok = await self._activate(
            keys=[keys.agent(agent_id), keys.session(agent_id)],
            args=[claims.session_id, repr(now), repr(expires), int(expires * 1000)],
        )
        if not ok:
            raise AgentNotFound(f"agent {agent_id!r} not found")
        await self.redis.set(keys.LAST_SESSION, agent_id)
        return Session(agent_id, claims.session_id, now, expires,
                       token=self.signer.issue(claims))

    async def latest(self) -> Session | None:
        """The session activated last, while it is live (MEMANTO has one active session;
        here each agent has its own, and this is the newest)."""
        agent_id = await self.redis.get(keys.LAST_SESSION)
        if agent_id is None:
            return None
        record = text_fields(await self.redis.hgetall(keys.session(text(agent_id))))
        if not record:
            return None
        return Session(text(agent_id), record["sid"], float(record["started_at"]),
                       float(record["expires_at"]), int(record.get("memories_created", 0)))

    async def check(self, claims: SessionClaims) -> None:
        ensure_live(claims, await self.redis.hget(keys.session(claims.agent_id), "sid"))

    async def info(self, claims: SessionClaims) -> Session:
        record = text_fields(await self.redis.hgetall(keys.session(claims.agent_id)))
        ensure_live(claims, record.get("sid"))
        return Session(claims.agent_id, claims.session_id, float(record["started_at"]),
                       float(record["expires_at"]), int(record.get("memories_created", 0)))

    async def extend(self, claims: SessionClaims, hours: float,
                     by_key: bool = False) -> tuple[float, Session]:
        """The live session pushed `hours` later: (its previous expiry, the session with a
        token carrying the new one). The old token keeps working. Past the session's
        absolute end (`max_hours` after its start) only an API-key caller (`by_key`) may
        extend it."""
        if not 0 < hours <= MAX_EXTEND_HOURS:
            raise InvalidInput(f"extend_hours must be > 0 and <= {MAX_EXTEND_HOURS}")
        record = text_fields(await self.redis.hgetall(keys.session(claims.agent_id)))
        ensure_live(claims, record.get("sid"))
        previous = float(record["expires_at"])
        expires = max(previous, time.time()) + hours * 3600
        end = float(record["started_at"]) + self.max_hours * 3600
        if expires > end and not by_key:
            raise Forbidden(f"a session lives at most {self.max_hours:g} hours from its start "
                            f"(until {end:.0f}); extending past that takes an API key")
        ok = await self._extend(keys=[keys.session(claims.agent_id)],
                                args=[claims.session_id, repr(expires), int(expires * 1000)])
        ensure_live(claims, claims.session_id if ok else None)
        renewed = SessionClaims(claims.agent_id, claims.session_id, claims.namespace,
                                time.time(), expires, float(record["started_at"]))
        return previous, Session(claims.agent_id, claims.session_id,
                                 float(record["started_at"]), expires,
                                 int(record.get("memories_created", 0)),
                                 token=self.signer.issue(renewed))

    async def renew(self, claims: SessionClaims) -> str | None:
        """MEMANTO's auto-renewal: a fresh token for a live session whose token ends within
        RENEW_WITHIN_SECONDS, its session pushed to `default_hours` from now (never past
        `max_hours` from its start). The session id stays, so the old token keeps working
        and concurrent requests renew once. None when the token is not near its end or its
        session is not live (the request itself then says why)."""
        now = time.time()
        if claims.expires_at - now > RENEW_WITHIN_SECONDS:
            return None
        stood = await self._renew(keys=[keys.session(claims.agent_id)],
                                  args=[claims.session_id, repr(now), RENEW_WITHIN_SECONDS,
                                        self.default_hours * 3600, self.max_hours * 3600])
        if stood is None:
            return None
        expires, started = (float(text(v)) for v in stood)
        return self.signer.issue(SessionClaims(claims.agent_id, claims.session_id,
                                               claims.namespace, now, expires, started))

    async def deactivate(self, agent_id: str, claims: SessionClaims | None = None) -> Session:
        """End the agent's session: any with an API key, only its own with a token."""
        if claims is not None:
            authorize(claims, agent_id)
        flat = await self._deactivate(keys=[keys.session(agent_id)],
                                      args=[claims.session_id if claims else ""])
        record = {text(k): text(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}
        if not record:
            if claims is not None:
                ensure_live(claims, None)
            raise SessionNotFound(f"agent {agent_id!r} has no active session")
        return Session(agent_id, record["sid"], float(record["started_at"]),
                       float(record["expires_at"]), int(record.get("memories_created", 0)),
                       ended_at=time.time())
