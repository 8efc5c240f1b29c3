"""The `worker` process: ingest stream -> batch embed -> RedisVL index.

    python -m memanto_redis.workers.ingest

It joins the consumer group before loading the model (tens of seconds on a busy machine),
so a bad Redis or a missing model is reported at once, and the group exists for the door
and for other workers meanwhile.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from memanto_redis.shared.infra.connection import connect
from memanto_redis.shared.infra.embeddings import load_vectorizer, model_path
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.ingest import Indexer
from memanto_redis.shared.memory.schema import ensure_index
from memanto_redis.workers.process import StopFlag, run_main

log = logging.getLogger("memanto.ingest")


class Embedder:
    """The batch embedding the indexer calls; the model is handed over once loaded."""

    def __init__(self) -> None:
        self.vectorizer: Any = None

    def __call__(self, texts: list[str]) -> list[bytes]:
        vectors: list[bytes] = self.vectorizer.embed_many(texts, batch_size=len(texts),
                                                          as_buffer=True)
        return vectors


def main() -> None:
    settings = Settings.from_env()
    stop = StopFlag()
    model_path(settings.embed_model)  # a model that is not there: one line, now
    client = connect(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    embed = Embedder()
    indexer = Indexer(
        client,
        embed,
        batch_size=settings.batch_size,
        block_ms=settings.block_ms,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
    )
    indexer.ensure_group()
    log.info("consumer %s joined the group; loading the model", indexer.consumer)
    started = time.monotonic()
    embed.vectorizer = load_vectorizer(settings.embed_model)
    ensure_index(client, embed.vectorizer.dims)
    log.info("consumer %s ready (batch %d, model loaded in %.1f s)", indexer.consumer,
             settings.batch_size, time.monotonic() - started)
    if not stop():
        indexer.run(should_stop=stop)
    indexer.leave()
    log.info("stopped after indexing %d memories", indexer.indexed)


if __name__ == "__main__":
    run_main("worker", main)
