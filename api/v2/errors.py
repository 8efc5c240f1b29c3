"""How the MEMANTO v2 dialect reports errors, as MEMANTO 0.2.30 does (its utils/errors.py,
utils/validation.py and routes):

- a mapped error is `{"detail": {"error", "message", "details"}}`, `error` one of
  MEMANTO's names (SessionExpired, InvalidSessionToken, AgentNotFound, ...);
- where MEMANTO raises `HTTPException(detail="<text>")` the answer is `{"detail": "<text>"}`
  with its very text (a missing token or key, a memory not found, an empty PATCH, ...);
- a limit of its CostGuard is flat: `{"detail": {"error": "k_too_large", "message",
  "actual_k", "max_k"}}`, and its status (k_too_large 400, query_too_long and
  text_too_long 413, ...);
- a body its models refuse is FastAPI's 422, `{"detail": [{"loc", "msg", "type"}]}` (with
  our one-line `message` beside it).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from memanto_redis.api.body import parse
from memanto_redis.api.errors import FileTooLarge, MalformedJSON, PayloadTooLarge
from memanto_redis.api.v2.models import MAX_QUERY
from memanto_redis.shared.errors import (
    AgentExists,
    AgentNotFound,
    ApiKeyRefused,
    Busy,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidSessionToken,
    MemantoError,
    MemoryNotFound,
    MissingSessionToken,
    NotFound,
    RateLimited,
    SessionExpired,
    SessionNotFound,
    Unauthorized,
    Unavailable,
)
from memanto_redis.shared.memory.files import UnsupportedFile
from memanto_redis.shared.memory.policy_presets import UnknownPreset
from memanto_redis.shared.memory.rules import MAX_CONTENT

M = TypeVar("M", bound=BaseModel)

# MEMANTO's texts for its bare-string refusals (routes/auth_deps.py).
MISSING_TOKEN = "Missing session token. Use X-Session-Token header."
# MEMANTO's own says "either a loopback client or ...": this server trusts no caller by its
# address, so that part is left out (a client reads the status, not the words).
NO_MANAGEMENT_KEY = ("Unauthorized. Agent management endpoints require a valid management "
                     "credential (Authorization: Bearer <key> or X-Api-Key).")


class Plain(MemantoError):
    """A refusal MEMANTO answers with a bare string: `{"detail": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Refused(MemantoError):
    """A limit of MEMANTO's CostGuard: its code and figures beside the message, flat."""

    def __init__(self, status: int, error: str, message: str, **figures: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.figures = figures


# MEMANTO's error names (its map_error_to_http_exception) for our error family; the first
# class an error is an instance of decides, so the most specific come first.
NAMES: tuple[tuple[type[MemantoError], str], ...] = (
    (SessionExpired, "SessionExpired"),
    (InvalidSessionToken, "InvalidSessionToken"),
    (SessionNotFound, "SessionNotFound"),
    (AgentNotFound, "AgentNotFound"),
    (AgentExists, "AgentAlreadyExists"),
    (Unauthorized, "AuthenticationError"),
    (Forbidden, "AuthorizationError"),
    (InvalidInput, "ValidationError"),
    (NotFound, "NotFound"),
    (Conflict, "Conflict"),
    (RateLimited, "RateLimited"),
    (Busy, "ServiceUnavailable"),
    (Unavailable, "ServiceUnavailable"),
)

# What an error of none of those kinds is called, by its status: a name of MEMANTO's, or a
# generic one, never a Python class name.
BY_STATUS = {401: "AuthenticationError", 403: "AuthorizationError", 404: "NotFound",
             409: "Conflict", 429: "RateLimited", 500: "InternalServerError",
             503: "ServiceUnavailable"}


def name_of(exc: MemantoError, status: int) -> str:
    return next((name for kind, name in NAMES if isinstance(exc, kind)),
                BY_STATUS.get(status, "ValidationError"))


def plain(exc: MemantoError, status: int) -> tuple[int, str] | None:
    """The status and text of an error MEMANTO answers with a bare string, if it is one."""
    if isinstance(exc, Plain):
        return exc.status, exc.message
    if isinstance(exc, MissingSessionToken):
        return 401, MISSING_TOKEN
    if isinstance(exc, ApiKeyRefused):
        return 401, NO_MANAGEMENT_KEY
    if isinstance(exc, MemoryNotFound):
        return 404, f"Memory '{exc.memory_id}' was not found."
    if isinstance(exc, UnknownPreset | UnsupportedFile):
        return status, exc.message
    return None


def answer(exc: MemantoError, status: int, *, has_body: bool = True
           ) -> tuple[int, dict[str, Any]]:
    """The status and body of an error answer on /api/v2; a request without a body
    (`has_body` False: GET, DELETE) can only be wrong in its query."""
    if isinstance(exc, MalformedJSON):
        # FastAPI's answer to a body that is not JSON.
        return 422, {"detail": [{"loc": ["body"], "msg": "JSON decode error",
                                 "type": "json_invalid"}], "message": exc.message}
    if isinstance(exc, InvalidInput) and exc.errors:
        where = "body" if has_body else "query"
        return status, {"detail": [_field_error(e, where) for e in exc.errors],
                        "message": exc.message}
    if isinstance(exc, Refused):
        return exc.status, {"detail": {"error": exc.error, "message": exc.message,
                                       **exc.figures}}
    if isinstance(exc, FileTooLarge):
        return 413, {"detail": {"error": "file_too_large", "message": exc.message,
                                "max_bytes": exc.max_bytes}}
    if isinstance(exc, PayloadTooLarge):
        # MEMANTO's validate_request_size (the size of a streamed body is not known).
        return 413, {"detail": {"error": "request_too_large", "message": exc.message,
                                "max_size": exc.max_bytes}}
    bare = plain(exc, status)
    if bare is not None:
        return bare[0], {"detail": bare[1]}
    return status, {"detail": {"error": name_of(exc, status), "message": exc.message,
                               "details": {}}}


def _field_error(error: dict[str, str], where: str) -> dict[str, Any]:
    # FastAPI's loc: where the value was ("body", "query", "path"), then the field's path.
    loc: list[str | int] = [error.get("in", where)]
    loc += [int(p) if p.isdigit() else p for p in error["field"].split(".") if p != "body"]
    return {"loc": loc, "msg": error["message"], "type": error["type"]}


def too_many(asked: int | None, high: int) -> Refused:
    return Refused(400, "k_too_large", f"k exceeds maximum of {high}", actual_k=asked,
                   max_k=high)


def text_too_long(length: int) -> Refused:
    return Refused(413, "text_too_long",
                   f"Memory content exceeds maximum length of {MAX_CONTENT} characters",
                   actual_length=length, max_length=MAX_CONTENT)


def query_too_long(length: int) -> Refused:
    return Refused(413, "query_too_long",
                   f"Query exceeds maximum length of {MAX_QUERY} characters",
                   actual_length=length, max_length=MAX_QUERY)


async def parse_body(request: Request, model: type[M], limit: int, *,
                     optional: bool = False) -> M:
    """body.parse, with MEMANTO's own answers for its limits: a query or a content over
    its length is 413, a limit over its maximum 400; anything else the model refuses stays
    a 422."""
    return await parse(request, model, limit, optional=optional, refine=_memanto_limits)


def _memanto_limits(exc: ValidationError) -> None:
    for error in exc.errors(include_url=False):
        where = error["loc"]
        if where == ("query",) and error["type"] == "string_too_long":
            raise query_too_long(len(error["input"])) from None
        if where == ("content",) and error["type"] == "string_too_long":
            raise text_too_long(len(error["input"])) from None
        if where == ("limit",) and error["type"] == "less_than_equal":
            raise too_many(_whole(error["input"]), int(error["ctx"]["le"])) from None


def _whole(value: Any) -> int | None:
    """The limit asked for, as a number (the model took it for one: 101, 101.0, "101"),
    or None for one Python will not convert (thousands of digits)."""
    for convert in (int, float):
        try:
            return int(convert(value))
        except (TypeError, ValueError, OverflowError):
            continue
    return None

