"""The `worker` process: ingest stream -> batch embed -> RedisVL index.

    python -m workers.ingest
"""

from __future__ import annotations

import logging

from shared.config import Settings
from shared.embeddings import load_vectorizer
from shared.indexing import Indexer
from shared.redis_conn import connect
from shared.schema import ensure_index
from workers.process import StopFlag, run_main

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
