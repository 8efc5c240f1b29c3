"""The `worker` process: ingest stream -> batch embed -> RedisVL index.

    python -m memanto_redis.workers.ingest

It joins the consumer group before loading the model (tens of seconds on a busy machine),
so a bad Redis or a missing model is reported at once, and the group exists for the door
and for other workers meanwhile. With MEMANTO_EMBEDDINGS_URL it loads no model: a service
embeds, and while that service is away the worker holds its batch and retries.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from memanto_redis.shared.infra import metrics
from memanto_redis.shared.infra.connection import connect
from memanto_redis.shared.infra.embeddings import check_model, make_vectorizer
from memanto_redis.shared.infra.heartbeat import Heartbeat
from memanto_redis.shared.infra.remote_embeddings import EmbeddingsUnavailable
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.ingest import Entry, Indexer, wait
from memanto_redis.shared.memory.schema import ensure_index
from memanto_redis.workers.process import StopFlag, run_main

log = logging.getLogger("memanto.ingest")


class Embedder:
    """The batch embedding the indexer calls; the model is handed over once loaded."""

    def __init__(self, tally: metrics.Tally | None = None) -> None:
        self.vectorizer: Any = None
        self.tally = tally

    def __call__(self, texts: list[str]) -> list[bytes]:
        started = time.perf_counter()
        vectors: list[bytes] = self.vectorizer.embed_many(texts, batch_size=len(texts),
                                                          as_buffer=True)
        if self.tally is not None:
            self.tally.observe(metrics.EMBED_SECONDS, time.perf_counter() - started)
            self.tally.observe(metrics.BATCH_SIZE, len(texts))
        return vectors


class CountingIndexer(Indexer):
    """The indexer, counting for /metrics what it claims, fails and dead-letters (what it
    indexes, `indexed`, is counted at each flush)."""

    def __init__(self, *args: Any, tally: metrics.Tally, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tally = tally
        self._flushed = 0

    def claim_stale(self) -> list[Entry]:
        entries = super().claim_stale()
        self.tally.inc(metrics.CLAIMS, len(entries))
        return entries

    def note_failure(self, entry_id: str, error: str) -> None:
        self.tally.inc(metrics.FAILURES)
        super().note_failure(entry_id, error)

    def dead_letter(self, entry_id: bytes | str, deliveries: int) -> None:
        self.tally.inc(metrics.DEAD_LETTERED)
        super().dead_letter(entry_id, deliveries)

    def flush(self) -> None:
        """Called by the heartbeat's thread: what was indexed since, then everything."""
        indexed = self.indexed
        self.tally.inc(metrics.INDEXED, indexed - self._flushed)
        self._flushed = indexed
        self.tally.flush()


def vectorizer(settings: Settings, stop: StopFlag) -> Any:
    """The local model, or the embedding service's client; a service that must tell its
    vectors' size (no MEMANTO_EMBEDDINGS_DIMS) is waited for. None if stopped meanwhile."""
    while not stop():
        try:
            return make_vectorizer(settings)
        except EmbeddingsUnavailable as exc:
            log.warning("%s; asking again in 2 s", exc)
            wait(2.0, stop)
    return None


def main(settings: Settings) -> None:
    stop = StopFlag()
    check_model(settings)  # a local model that is not there: one line, now
    client = connect(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    tally = metrics.Tally(client)
    embed = Embedder(tally)
    indexer = CountingIndexer(
        client,
        embed,
        tally=tally,
        batch_size=settings.batch_size,
        block_ms=settings.block_ms,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
    )
    indexer.ensure_group()
    beat = Heartbeat(client, "worker", indexer.consumer, settings.heartbeat_seconds,
                     info=lambda: {"state": "indexing" if embed.vectorizer else "loading",
                                   "indexed": indexer.indexed},
                     flush=indexer.flush).start()
    log.info("consumer %s joined the group; loading the model", indexer.consumer)
    started = time.monotonic()
    embed.vectorizer = vectorizer(settings, stop)
    if embed.vectorizer is None:  # stopped while waiting for the embedding service
        indexer.leave()
        beat.stop()
        return
    ensure_index(client, embed.vectorizer.dims)
    log.info("consumer %s ready (batch %d, model loaded in %.1f s)", indexer.consumer,
             settings.batch_size, time.monotonic() - started)
    if not stop():
        indexer.run(should_stop=stop)
    indexer.leave()
    beat.stop()
    log.info("stopped after indexing %d memories", indexer.indexed)


if __name__ == "__main__":
    run_main("worker", main)
