"""Sessions: one live session per agent, a JWT to prove it, Redis to say it is still live."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace

from redis.asyncio import Redis

from memanto_redis.shared.auth.scope import Principal
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


async def check_live(redis: Redis, claims: SessionClaims) -> None:
    """Refuse a token whose session is not the agent's live one, by one read."""
    ensure_live(claims, await redis.hget(keys.session(claims.agent_id), "sid"))


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
    pattern: str | None = None  # the agent's, as MEMANTO's Session and SessionInfo show it

    @property
    def namespace(self) -> str:
        return namespace(self.agent_id)

    def claims(self) -> SessionClaims:
        return SessionClaims(self.agent_id, self.session_id, self.namespace,
                             self.started_at, self.expires_at, self.started_at)


def _recorded(agent_id: str, record: dict[str, str]) -> Session:
    """A session as its Redis hash holds it."""
    return Session(agent_id, record["sid"], float(record["started_at"]),
                   float(record["expires_at"]), int(record.get("memories_created", 0)),
                   pattern=record.get("pattern") or None)


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
        self._recreate = redis.register_script(scripts.RECREATE_SESSION)
        self._extend = redis.register_script(scripts.EXTEND)
        self._renew = redis.register_script(scripts.RENEW_SESSION)
        self._deactivate = redis.register_script(scripts.DEACTIVATE)

    async def activate(self, agent_id: str, hours: float | None) -> Session:
        """A new session, replacing (and so revoking) any earlier one."""
        hours = self.default_hours if hours is None else hours
        # Never past the absolute lifetime, however long a session was asked for.
        hours = min(hours, self.max_hours)
        session = await self._start(agent_id, hours)
        if session is None:
            raise AgentNotFound(f"agent {agent_id!r} not found")
        return session

    async def recreate(self, claims: SessionClaims, key: Principal) -> Session | None:
        """MEMANTO's auto-recreate (its SESSION_AUTO_RECREATE_ENABLED, on by default): the
        token of a session that lapsed, presented beside an API key that may activate its
        agent, gets a fresh session of `default_hours`. Only the agent's latest session is
        recreated, never one that was deactivated or replaced (logout is authoritative),
        and never a live one. None when it does not apply: the request then says why."""
        try:
            key.check_activate(claims.agent_id)
        except Forbidden:
            return None
        return await self._start(claims.agent_id, self.default_hours,
                                 lapsed=claims.session_id)

    async def _start(self, agent_id: str, hours: float, lapsed: str | None = None
                     ) -> Session | None:
        """A new session (None when the agent does not exist or, with `lapsed`, when
        that session may not be recreated): the agent's session count goes up."""
        now = time.time()
        expires = now + hours * 3600
        claims = SessionClaims(agent_id, new_session_id(), namespace(agent_id), now, expires)
        args: list[str | int] = [claims.session_id, repr(now), repr(expires),
                                 int(expires * 1000)]
        started = await (self._activate if lapsed is None else self._recreate)(
            keys=[keys.agent(agent_id), keys.session(agent_id)],
            args=args if lapsed is None else [*args, lapsed])
        if not started:
            return None
        await self.redis.set(keys.LAST_SESSION, agent_id)
        return Session(agent_id, claims.session_id, now, expires,
                       token=self.signer.issue(claims), pattern=text(started[0]) or None)

    async def latest(self) -> Session | None:
        """The session activated last, while it is live (MEMANTO has one active session;
        here each agent has its own, and this is the newest)."""
        agent_id = await self.redis.get(keys.LAST_SESSION)
        if agent_id is None:
            return None
        record = text_fields(await self.redis.hgetall(keys.session(text(agent_id))))
        if not record:
            return None
        return _recorded(text(agent_id), record)

    async def check(self, claims: SessionClaims) -> None:
        await check_live(self.redis, claims)

    async def info(self, claims: SessionClaims) -> Session:
        record = text_fields(await self.redis.hgetall(keys.session(claims.agent_id)))
        ensure_live(claims, record.get("sid"))
        return _recorded(claims.agent_id, record)

    async def extend(self, claims: SessionClaims, hours: float,
                     key: Principal | None = None) -> tuple[float, Session]:
        """The live session pushed `hours` later: (its previous expiry, the session with a
        token carrying the new one). The old token keeps working. Past the session's
        absolute end (`max_hours` after its start) only an API key sent beside the token
        may extend it, and only one that may activate this agent (going on past the end is
        activating it again)."""
        if key is not None:
            key.check_activate(claims.agent_id)
        if not 0 < hours <= MAX_EXTEND_HOURS:
            raise InvalidInput(f"extend_hours must be > 0 and <= {MAX_EXTEND_HOURS}")
        record = text_fields(await self.redis.hgetall(keys.session(claims.agent_id)))
        ensure_live(claims, record.get("sid"))
        previous = float(record["expires_at"])
        expires = max(previous, time.time()) + hours * 3600
        end = float(record["started_at"]) + self.max_hours * 3600
        if expires > end and key is None:
            raise Forbidden(f"a session lives at most {self.max_hours:g} hours from its start "
                            f"(until {end:.0f}); extending past that takes an API key")
        ok = await self._extend(keys=[keys.session(claims.agent_id)],
                                args=[claims.session_id, repr(expires), int(expires * 1000)])
        ensure_live(claims, claims.session_id if ok else None)
        renewed = SessionClaims(claims.agent_id, claims.session_id, claims.namespace,
                                time.time(), expires, float(record["started_at"]))
        return previous, replace(_recorded(claims.agent_id, record), expires_at=expires,
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
        flat = await self._deactivate(keys=[keys.session(agent_id), keys.agent(agent_id)],
                                      args=[claims.session_id if claims else ""])
        record = {text(k): text(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}
        if not record:
            if claims is not None:
                ensure_live(claims, None)
            raise SessionNotFound(f"agent {agent_id!r} has no active session")
        return Session(agent_id, record["sid"], float(record["started_at"]),
                       float(record["expires_at"]), int(record.get("memories_created", 0)),
                       ended_at=time.time())
