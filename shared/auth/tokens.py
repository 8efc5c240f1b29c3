"""Session tokens: JWTs signed HS256 with PyJWT.

The token proves who the caller is; whether the session is still live (not expired, not
revoked, perhaps extended) is decided by the session record in Redis, checked on every
request. That is why `exp` is carried but not enforced here: an extended session keeps
working with the token it already holds.

The claims carry MEMANTO's names (`agent_id`, `namespace`, `session_id`, `started_at`,
`expires_at`, the times in ISO 8601), so tools that decode MEMANTO's tokens read ours;
`iat`, `exp` and `typ` stand beside them. Tokens issued before (`sub`, `sid`, `ns`) are
still read until their session ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import jwt

from memanto_redis.shared.errors import InvalidSessionToken, MissingSessionToken
from memanto_redis.shared.infra.times import iso

ALGORITHM = "HS256"
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class SessionClaims:
    agent_id: str
    session_id: str
    namespace: str
    issued_at: float
    expires_at: float
    # When the session began (issued_at when not given: a fresh session's first token).
    started_at: float | None = None


def _epoch(moment: object) -> float | None:
    return datetime.fromisoformat(moment).timestamp() if isinstance(moment, str) else None


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        # Verified tokens, so the hot path skips the HMAC; revocation is still checked
        # against Redis on every request.
        self._verified: dict[str, SessionClaims] = {}

    def issue(self, claims: SessionClaims) -> str:
        payload = {
            "agent_id": claims.agent_id,
            "namespace": claims.namespace,
            "session_id": claims.session_id,
            "started_at": iso(claims.started_at or claims.issued_at),
            "expires_at": iso(claims.expires_at),
            "iat": int(claims.issued_at),
            "exp": int(claims.expires_at),
            "typ": "session",
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str | None) -> SessionClaims:
        if not token:
            raise MissingSessionToken("missing X-Session-Token header")
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["iat", "exp"], "verify_exp": False},
            )
            claims = SessionClaims(
                agent_id=str(payload.get("agent_id") or payload["sub"]),
                session_id=str(payload.get("session_id") or payload["sid"]),
                namespace=str(payload.get("namespace") or payload.get("ns", "")),
                issued_at=float(payload["iat"]),
                expires_at=float(payload["exp"]),
                started_at=_epoch(payload.get("started_at")),
            )
        except KeyError as exc:
            raise InvalidSessionToken(f"invalid session token: no {exc.args[0]!r} claim") from exc
        except (jwt.InvalidTokenError, TypeError, ValueError) as exc:
            raise InvalidSessionToken(f"invalid session token: {exc}") from exc
        if payload.get("typ") != "session":
            raise InvalidSessionToken("invalid session token: not a session token")
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = claims
        return claims
