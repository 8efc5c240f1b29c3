"""`memanto embed-server`: the local model (MEMANTO_EMBED_MODEL, the bundled one by default)
served at /v1/embeddings in OpenAI's dialect, for web and worker processes installed without
torch (MEMANTO_EMBEDDINGS_URL). MEMANTO_EMBEDDINGS_API_KEY, when set, is the Bearer token it
asks for. Needs the `local` extra.
"""

from __future__ import annotations

import logging
import sys

from memanto_redis.shared.infra import logs
from memanto_redis.shared.infra.settings import ConfigError, Settings

log = logging.getLogger("memanto.embed")


def run(host: str, port: int, max_batch: int, max_wait_ms: float) -> None:
    import uvicorn

    from memanto_redis.api.embed_server import ServedModel, create_app
    from memanto_redis.shared.infra.embeddings import load_vectorizer

    try:
        settings = Settings.from_env()
        if max_batch < 1 or max_wait_ms < 0:
            raise ConfigError("--max-batch must be >= 1 and --max-wait-ms >= 0")
        logs.setup("embed", settings.log_format, settings.log_level)
        # The model loads before the port opens: a client that gets an answer gets vectors.
        vectorizer = load_vectorizer(settings.embed_model)
    except ConfigError as exc:
        print(f"embed-server: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    def embed_many(texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = vectorizer.embed_many(texts, batch_size=len(texts))
        return vectors

    model = ServedModel(settings.embed_model, int(vectorizer.dims), embed_many)
    app = create_app(model, settings.embeddings_api_key, max_batch, max_wait_ms / 1000)
    log.info("embed-server: %s (%d dimensions) on http://%s:%d/v1/embeddings%s", model.name,
             model.dims, host, port, " (API key required)" if settings.embeddings_api_key else "")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                server_header=False)
