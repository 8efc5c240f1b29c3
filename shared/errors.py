"""One error family for the core: each class says what went wrong, not how a protocol
reports it (api/errors.py is the one map from these to HTTP answers)."""

from __future__ import annotations


class MemantoError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MemantoError):
    """The caller sent something the rules refuse; `errors` names each field at fault."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Unauthorized(MemantoError):
    """No credentials, or credentials that prove nothing (bad key, dead session)."""


class Forbidden(MemantoError):
    """Known credentials, but not for this."""


class NotFound(MemantoError):
    pass


class Conflict(MemantoError):
    """The thing exists already, or a limit on how many is reached."""


class Busy(MemantoError):
    """The service is at a bound (the ingest backlog, the long-poll slots): retry later."""

    retry_after = 5


class RateLimited(MemantoError):
    """The caller wrote faster than its quota refills: retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(MemantoError):
    """Redis is unreachable or lacks a module the service needs."""


# Meaning-level kinds of the errors above: a dialect that names errors (MEMANTO v2 does)
# tells them apart by class; every other dialect answers them as their base class.


class MissingSessionToken(Unauthorized):
    """No session token was sent."""


class InvalidSessionToken(Unauthorized):
    """The token does not verify, or its session was ended or replaced."""


class SessionExpired(Unauthorized):
    """The token's session ran out of time."""


class ApiKeyRefused(Unauthorized):
    """No API key was sent, or one that is not known."""


class AgentNotFound(NotFound):
    pass


class SessionNotFound(NotFound):
    """The agent has no live session."""


class MemoryNotFound(NotFound):
    def __init__(self, memory_id: str) -> None:
        super().__init__(f"memory {memory_id!r} not found")
        self.memory_id = memory_id


class AgentExists(Conflict):
    pass
