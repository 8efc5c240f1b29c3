"""The `worker` process: ingest stream -> batch embed -> RedisVL index.

    python -m memanto_redis.workers.ingest
"""

from __future__ import annotations

import logging

from memanto_redis.shared.infra.connection import connect
from memanto_redis.shared.infra.embeddings import load_vectorizer
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.ingest import Indexer
from memanto_redis.shared.memory.schema import ensure_index
from memanto_redis.workers.process import StopFlag, run_main

log = logging.getLogger("memanto.ingest")


def main() -> None:
    settings = Settings.from_env()
    stop = StopFlag()
    client = connect(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    vectorizer = load_vectorizer(settings.embed_model)
    ensure_index(client, vectorizer.dims)
    indexer = Indexer(
        client,
        lambda texts: vectorizer.embed_many(texts, batch_size=len(texts), as_buffer=True),
        batch_size=settings.batch_size,
        block_ms=settings.block_ms,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
    )
    log.info("consumer %s ready (batch %d)", indexer.consumer, settings.batch_size)
    indexer.run(should_stop=stop)
    indexer.leave()
    log.info("stopped after indexing %d memories", indexer.indexed)


if __name__ == "__main__":
    run_main("worker", main)
