"""`memanto embed-server`'s web app: one local model served in OpenAI's embeddings dialect,
so that web and worker processes elsewhere embed without torch (MEMANTO_EMBEDDINGS_URL).

    POST /v1/embeddings  {"input": "text" | ["text", ...], "model"?, "encoding_format"?,
                          "dimensions"?}  ->  {"object": "list", "data": [{"object":
                          "embedding", "index", "embedding"}], "model", "usage"}
    GET  /v1/models      the one model served
    GET  /health         the model, its size, and the batcher's counts

Concurrent requests share model calls (shared/infra/embed_batcher.py). Errors are OpenAI's
shape, {"error": {"message", "type", "param", "code"}}, so OpenAI clients read them.
`usage` counts words, not the model's tokens (it is informational here).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from memanto_redis.shared.infra.embed_batcher import Batcher, Vectors

# What one request may ask: OpenAI's count limit, and far more text than a memory holds.
MAX_TEXTS = 2048
MAX_CHARS = 100_000
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ServedModel:
    name: str
    dims: int
    embed_many: Callable[[list[str]], Vectors]


class Refused(Exception):
    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type="application/json")


def _error(exc: Refused) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _json({"error": {"message": exc.message, "type": exc.code, "param": exc.param,
                            "code": exc.code}}, exc.status, headers)


def _texts(body: Any) -> list[str]:
    """The request's input as a list of texts, or Refused naming what is wrong."""
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise Refused(400, "input must be a string or a list of strings (token arrays are "
                      "not accepted)", "input")
    if not texts:
        raise Refused(400, "input must not be empty", "input")
    if len(texts) > MAX_TEXTS:
        raise Refused(400, f"input holds {len(texts)} texts; at most {MAX_TEXTS} a request",
                      "input")
    for i, text in enumerate(texts):
        if not text.strip():
            raise Refused(400, f"input[{i}] is empty", "input")
        if len(text) > MAX_CHARS:
            raise Refused(400, f"input[{i}] has {len(text)} characters; at most {MAX_CHARS}",
                          "input")
    return texts


def _options(body: dict[str, Any], model: ServedModel) -> str:
    """The encoding asked for, once `model`, `dimensions` and `encoding_format` are checked."""
    asked = body.get("model")
    if asked is not None and asked != model.name:
        raise Refused(404, f"the model {asked!r} is not served here; this serves "
                      f"{model.name!r}", "model", "model_not_found")
    dims = body.get("dimensions")
    if dims is not None and dims != model.dims:
        raise Refused(400, f"dimensions must be {model.dims} for {model.name!r}", "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise Refused(400, "encoding_format must be 'float' or 'base64'", "encoding_format")
    return str(encoding)


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    # OpenAI's base64: the float32 values, little-endian.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def create_app(model: ServedModel, api_key: str = "", max_batch: int = 64,
               max_wait: float = 0.005) -> Starlette:
    batcher = Batcher(model.embed_many, max_batch, max_wait)

    def authorize(request: Request) -> None:
        if not api_key:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 api_key.encode()):
            raise Refused(401, "a valid API key is needed: Authorization: Bearer <key>",
                          code="invalid_api_key")

    async def embeddings(request: Request) -> Response:
        try:
            authorize(request)
            raw = await _body(request)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise Refused(400, "the body is not valid JSON") from None
            texts = _texts(body)
            encoding = _options(body, model)
        except Refused as exc:
            return _error(exc)
        vectors = await batcher.embed(texts)
        words = sum(len(text.split()) for text in texts)
        return _json({
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": _encoded(v, encoding)}
                     for i, v in enumerate(vectors)],
            "model": model.name,
            "usage": {"prompt_tokens": words, "total_tokens": words},
        })

    async def models(request: Request) -> Response:
        try:
            authorize(request)
        except Refused as exc:
            return _error(exc)
        return _json({"object": "list", "data": [
            {"id": model.name, "object": "model", "created": 0, "owned_by": "memanto"}]})

    async def health(request: Request) -> Response:
        return _json({"status": "healthy", "model": model.name, "dims": model.dims,
                      "max_batch": max_batch, "max_wait_ms": max_wait * 1000,
                      **asdict(batcher.counts)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await batcher.close()

    return Starlette(routes=[
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ], lifespan=lifespan)


async def _body(request: Request) -> bytes:
    """The body, refused once it passes MAX_BODY_BYTES (whatever Content-Length says)."""
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
