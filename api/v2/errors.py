"""How the MEMANTO v2 dialect reports errors, as MEMANTO does: a mapped error is
`{"detail": {"error", "message", "details"}}`; a body its models refuse is FastAPI's 422,
`{"detail": [{"loc", "msg", "type"}]}` (with our one-line `message` beside it); a limit of
its own keeps its status (k_too_large 400, query_too_long 413)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from memanto_redis.api.body import parse
from memanto_redis.api.errors import MalformedJSON
from memanto_redis.api.v2.models import MAX_QUERY
from memanto_redis.shared.errors import (
    Busy,
    Conflict,
    Forbidden,
    InvalidInput,
    MemantoError,
    NotFound,
    Unauthorized,
    Unavailable,
)

M = TypeVar("M", bound=BaseModel)

PREFIX = "/api/v2/"


class Refused(MemantoError):
    """A refusal MEMANTO answers with a status and an error code of its own."""

    def __init__(self, status: int, error: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.details = details


# MEMANTO's error names (its utils/errors.py) for our error family; most specific first.
NAMES: tuple[tuple[type[MemantoError], str], ...] = (
    (Unauthorized, "AuthenticationError"),
    (Forbidden, "AuthorizationError"),
    (NotFound, "NotFound"),
    (Conflict, "Conflict"),
    (InvalidInput, "ValidationError"),
    (Busy, "ServiceUnavailable"),
    (Unavailable, "ServiceUnavailable"),
)


def name_of(exc: MemantoError) -> str:
    return next((name for kind, name in NAMES if isinstance(exc, kind)),
                type(exc).__name__)


def answer(exc: MemantoError, status: int) -> tuple[int, dict[str, Any]]:
    """The status and body of an error answer on /api/v2."""
    if isinstance(exc, MalformedJSON):
        # FastAPI's answer to a body that is not JSON.
        return 422, {"detail": [{"loc": ["body"], "msg": "JSON decode error",
                                 "type": "json_invalid"}], "message": exc.message}
    if isinstance(exc, InvalidInput) and exc.errors:
        return status, {"detail": [_field_error(e) for e in exc.errors],
                        "message": exc.message}
    if isinstance(exc, Refused):
        return exc.status, {"detail": {"error": exc.error, "message": exc.message,
                                       "details": exc.details}}
    return status, {"detail": {"error": name_of(exc), "message": exc.message,
                               "details": {}}}


def _field_error(error: dict[str, str]) -> dict[str, Any]:
    loc: list[str | int] = ["body"]
    loc += [int(p) if p.isdigit() else p for p in error["field"].split(".") if p != "body"]
    return {"loc": loc, "msg": error["message"], "type": error["type"]}


def too_many(high: int) -> Refused:
    return Refused(400, "k_too_large", f"k exceeds maximum of {high}", max_k=high)


async def parse_body(request: Request, model: type[M], limit: int, *,
                     optional: bool = False) -> M:
    """body.parse, with MEMANTO's own statuses for its limits: a query over its length is
    413, a limit over its maximum 400; anything else the model refuses stays a 422."""
    try:
        return await parse(request, model, limit, optional=optional)
    except InvalidInput as exc:
        kinds = {(e["field"], e["type"]) for e in exc.errors}
        if ("query", "string_too_long") in kinds:
            raise Refused(413, "query_too_long", "Query exceeds maximum length of "
                          f"{MAX_QUERY} characters", max_length=MAX_QUERY) from None
        if ("limit", "less_than_equal") in kinds:
            raise too_many(_max_limit(model)) from None
        raise


def _max_limit(model: type[BaseModel]) -> int:
    return next(int(m.le) for m in model.model_fields["limit"].metadata
                if getattr(m, "le", None) is not None)
