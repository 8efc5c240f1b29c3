"""One error family for the core; api/errors.py maps it to HTTP answers."""

from __future__ import annotations


class MemantoError(Exception):
    """Base of every error the core raises on purpose."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MemantoError):
    status = 422

    def __init__(self, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Unauthorized(MemantoError):
    status = 401


class Forbidden(MemantoError):
    status = 403


class NotFound(MemantoError):
    status = 404


class Conflict(MemantoError):
    status = 409


class Busy(MemantoError):
    """The ingest backlog passed its bound: the client should retry later."""

    status = 503
    retry_after = 5


class Unavailable(MemantoError):
    """Redis is unreachable or lacks a module the service needs."""

    status = 503
