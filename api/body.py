"""Reading request bodies: size limit, JSON, and validation into a core model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from memanto_redis.api.errors import MalformedJSON, PayloadTooLarge, UnsupportedMediaType
from memanto_redis.shared.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def explain(exc: ValidationError, prefix: str = "", where: str = "") -> InvalidInput:
    """A validation failure as one message naming every field at fault; `where` says what
    held them when not the body ("query")."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in err["loc"]) or "body"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        error = {"field": prefix + field, "message": message, "type": err["type"]}
        if where:
            error["in"] = where
        errors.append(error)
    if any(e["type"] == "json_invalid" for e in errors):
        raise MalformedJSON(f"malformed JSON body: {errors[0]['message']}")
    text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return InvalidInput(f"invalid request: {text}", errors)


async def read_body(request: Request, limit: int) -> bytes:
    # curl -d sends a form type by default; the body is parsed as JSON all the same, and
    # only a multipart upload is refused outright.
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise UnsupportedMediaType("send the body as JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes", limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def parse(request: Request, model: type[M], limit: int, *, optional: bool = False,
                refine: Callable[[ValidationError], None] | None = None) -> M:
    """The body validated into `model`. A refusal is InvalidInput naming each field, unless
    `refine` (a dialect's own answers for some refusals) raises something else first."""
    raw = await read_body(request, limit)
    if optional and not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if refine is not None:
            refine(exc)
        raise explain(exc) from None
