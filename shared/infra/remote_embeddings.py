"""Embeddings from a service: any OpenAI-compatible `POST /v1/embeddings` (`memanto
embed-server`, or a hosted one), behind RedisVL's vectorizer interface.

With MEMANTO_EMBEDDINGS_URL set, the web and the workers embed through this and never import
torch; one machine with the model serves many of them. A service that does not answer, or
fails on its side, is `EmbeddingsUnavailable` (a Busy: the web answers 503 with Retry-After,
the worker holds its batch and retries); a text the service refuses is `EmbeddingRefused`,
which fails that text alone.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import Field, PrivateAttr
from redisvl.utils.vectorize import BaseVectorizer

from memanto_redis.shared.errors import Busy, InvalidInput
from memanto_redis.shared.infra.settings import Settings

# httpx logs each request at INFO: a line per batch and per recall would drown the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)

ENDPOINT = "/v1/embeddings"
# Texts per request: OpenAI's own limit is 2048; smaller requests keep each one's latency
# and body size modest.
MAX_TEXTS_PER_REQUEST = 256
# A success this recent answers /ready without asking the service again.
FRESH_SECONDS = 5.0
PROBE_TIMEOUT = 2.0


class EmbeddingsUnavailable(Busy):
    """The embedding service does not answer, or answers with a failure of its own (or
    refuses our credentials or model): nothing the caller sent is at fault, so retry."""

    retry_after = 2


class EmbeddingRefused(InvalidInput):
    """The embedding service refused the text itself (400, 413, 422)."""


def shown(url: str) -> str:
    """The URL as it may appear in logs and errors: without any credentials in it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RemoteVectorizer(BaseVectorizer):  # type: ignore[misc]  # redisvl ships no types
    """RedisVL's vectorizer over an OpenAI-compatible embeddings endpoint, sync (the worker)
    and async (the web), with httpx. `dims` is discovered with one call when not given."""

    url: str
    api_key: str = Field("", repr=False)
    timeout: float = 30.0
    _client: httpx.Client | None = PrivateAttr(None)
    _aclient: httpx.AsyncClient | None = PrivateAttr(None)
    _last_success: float = PrivateAttr(0.0)

    @classmethod
    def from_settings(cls, settings: Settings, discover: bool = True) -> RemoteVectorizer:
        """The settings' service; its vector size asked of it (one call) unless
        MEMANTO_EMBEDDINGS_DIMS gives it or `discover` is False."""
        vectorizer = cls(url=settings.embeddings_url, model=settings.embed_model,
                         api_key=settings.embeddings_api_key,
                         timeout=settings.embeddings_timeout, dims=settings.embeddings_dims)
        if vectorizer.dims is None and discover:
            vectorizer.dims = len(vectorizer._embed("dimensions"))
        return vectorizer

    async def adiscover(self) -> int:
        """The vector size, asked of the service (the web's start, without a thread)."""
        dims: int | None = self.dims  # type: ignore[has-type]
        if dims is None:
            dims = self.dims = len(await self._aembed("dimensions"))
        return dims

    @property
    def type(self) -> str:
        return "openai-compatible"

    # -- RedisVL's four hooks ----------------------------------------------------------

    def _embed(self, content: Any, **kwargs: Any) -> list[float]:
        return self._embed_many([content])[0]

    def _embed_many(self, contents: list[Any], batch_size: int = 10,
                    **kwargs: Any) -> list[list[float]]:
        vectors: list[list[float]] = []
        for chunk in self.batchify(contents, MAX_TEXTS_PER_REQUEST):
            vectors += self._answer(chunk, self._post(chunk))
        return vectors

    async def _aembed(self, content: Any, **kwargs: Any) -> list[float]:
        return (await self._aembed_many([content]))[0]

    async def _aembed_many(self, contents: list[Any], batch_size: int = 10,
                           **kwargs: Any) -> list[list[float]]:
        vectors: list[list[float]] = []
        for chunk in self.batchify(contents, MAX_TEXTS_PER_REQUEST):
            vectors += self._answer(chunk, await self._apost(chunk))
        return vectors

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
        if self._client is not None:
            self._client.close()

    # -- /ready ---------------------------------------------------------------------------

    async def acheck(self) -> str | None:
        """None when the service answered lately or answers now; else what is wrong."""
        if time.monotonic() - self._last_success < FRESH_SECONDS:
            return None
        try:
            await self._apost(["ready"], timeout=min(PROBE_TIMEOUT, self.timeout))
        except EmbeddingsUnavailable as exc:
            return exc.message
        except EmbeddingRefused:  # it answered: it is there
            pass
        return None

    # -- HTTP -----------------------------------------------------------------------------

    def _request(self, texts: list[Any]) -> dict[str, Any]:
        for text in texts:
            if not isinstance(text, str) or not text:
                raise EmbeddingRefused("only non-empty texts can be embedded")
        return {"input": texts, "model": self.model}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _post(self, texts: list[Any]) -> httpx.Response:
        if self._client is None:
            # retries=1: a connection the service closed while idle is opened again.
            self._client = httpx.Client(transport=httpx.HTTPTransport(retries=1),
                                        headers=self._headers(), timeout=self.timeout)
        try:
            return self._client.post(self.url + ENDPOINT, json=self._request(texts))
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    async def _apost(self, texts: list[Any], timeout: float | None = None) -> httpx.Response:
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(retries=1),
                                              headers=self._headers(), timeout=self.timeout)
        try:
            response = await self._aclient.post(self.url + ENDPOINT, json=self._request(texts),
                                                timeout=timeout or self.timeout)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if timeout is not None:  # a probe: only whether it answers
            self._judge(response)
            self._last_success = time.monotonic()
        return response

    def _unreachable(self, exc: httpx.HTTPError) -> EmbeddingsUnavailable:
        return EmbeddingsUnavailable(f"the embedding service at {shown(self.url)} does not "
                                     f"answer ({type(exc).__name__})")

    def _judge(self, response: httpx.Response) -> None:
        """Raise what a failed answer means: the text's fault, or the service's (or ours:
        a wrong key, URL or model needs fixing, not the text)."""
        if response.is_success:
            return
        why = _message(response)
        if response.status_code in (400, 413, 422):
            raise EmbeddingRefused(f"the embedding service refused the text: {why}")
        raise EmbeddingsUnavailable(f"the embedding service at {shown(self.url)} answered "
                                    f"{response.status_code}: {why}")

    def _answer(self, texts: list[Any], response: httpx.Response) -> list[list[float]]:
        """The vectors in the order of `texts`, checked: one per text, each of `dims`."""
        self._judge(response)
        try:
            data = sorted(response.json()["data"], key=lambda item: int(item["index"]))
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingsUnavailable(f"the embedding service at {shown(self.url)} gave an "
                                        f"answer that is not OpenAI's shape ({exc})") from exc
        sizes = {len(vector) for vector in vectors}
        if len(vectors) != len(texts) or len(sizes) > 1 or (
                self.dims is not None and sizes != {self.dims}):
            raise EmbeddingsUnavailable(
                f"the embedding service at {shown(self.url)} gave {len(vectors)} vectors of "
                f"{sorted(sizes)} dimensions for {len(texts)} texts; this index expects "
                f"{self.dims} (MEMANTO_EMBED_MODEL={self.model!r})")
        self._last_success = time.monotonic()
        return vectors


def _message(response: httpx.Response) -> str:
    """The error an OpenAI-compatible service gives ({"error": {"message"}}), or the start
    of its body."""
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(body, dict) and body.get("detail"):
            return str(body["detail"])[:300]
    except ValueError:
        pass
    return response.text[:300] or response.reason_phrase
