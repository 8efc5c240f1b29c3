"""The workers' Prometheus figures, kept in Redis so that the web's /metrics serves them.

Worker, scheduler and jobs processes have no port (a Heroku worker dyno cannot be scraped),
so each adds what it counted to one Redis hash (`memanto:metrics`), summed over every
process: counters as `name|label=value` fields, histograms as cumulative `name_bucket|le=X`
fields with `name_sum` and `name_count`. A Tally gathers them in memory and writes them in
one pipelined round trip per flush (each heartbeat), so counting costs the loops nothing.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Literal

import redis
from redis.client import Pipeline

from memanto_redis.shared.infra import keys

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "histogram"]
    help: str
    buckets: tuple[float, ...] = ()


INDEXED = Metric("memanto_ingest_indexed", "counter", "memories embedded and indexed")
FAILURES = Metric("memanto_ingest_failures", "counter",
                  "stream entries whose processing failed (retried, then dead-lettered)")
DEAD_LETTERED = Metric("memanto_ingest_dead_lettered", "counter",
                       "stream entries moved to the dead-letter stream")
CLAIMS = Metric("memanto_ingest_claimed", "counter",
                "stale pending entries taken over from another consumer")
BATCH_SIZE = Metric("memanto_ingest_batch_size", "histogram", "texts embedded per batch",
                    SIZE_BUCKETS)
EMBED_SECONDS = Metric("memanto_ingest_embed_seconds", "histogram",
                       "seconds spent embedding one batch", SECONDS_BUCKETS)
FIRES = Metric("memanto_scheduler_fires", "counter", "schedules fired")
LATE_FIRES = Metric("memanto_scheduler_late_fires", "counter",
                    "schedules fired more than a second after their time")
FIRE_DELAY = Metric("memanto_scheduler_fire_delay_seconds", "histogram",
                    "seconds between a schedule's time and its fire", SECONDS_BUCKETS)
LEADER_CHANGES = Metric("memanto_scheduler_leader_changes", "counter",
                        "times a scheduler process took the lead")
WEBHOOKS = Metric("memanto_webhook_attempts", "counter",
                  "webhook attempts by outcome (delivered, retrying, failed)")
DELIVERIES = Metric("memanto_jobs_deliveries", "counter",
                    "fired prompts delivered to an inbox and short-term memory")

ALL = (INDEXED, FAILURES, DEAD_LETTERED, CLAIMS, BATCH_SIZE, EMBED_SECONDS, FIRES, LATE_FIRES,
       FIRE_DELAY, LEADER_CHANGES, WEBHOOKS, DELIVERIES)
BY_NAME = {m.name: m for m in ALL}
# Scheduled times more than this late make a late fire.
LATE_SECONDS = 1.0


def field(name: str, **labels: str) -> str:
    return name + "".join(f"|{k}={v}" for k, v in sorted(labels.items()))


class Tally:
    """Counts kept in this process until `flush` adds them to the Redis hash."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._lock = threading.Lock()
        self._counts: dict[str, float] = {}

    def _add(self, key: str, amount: float) -> None:
        self._counts[key] = self._counts.get(key, 0) + amount

    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None:
        if amount:
            with self._lock:
                self._add(field(metric.name + "_total", **labels), amount)

    def observe(self, metric: Metric, value: float) -> None:
        with self._lock:
            for bound in (*metric.buckets, math.inf):
                if value <= bound:
                    self._add(field(metric.name + "_bucket", le=_le(bound)), 1)
            self._add(metric.name + "_sum", value)
            self._add(metric.name + "_count", 1)

    def flush(self) -> None:
        """Add what was counted since the last flush to Redis; kept for the next flush when
        Redis is away (RedisError propagates)."""
        with self._lock:
            counts, self._counts = self._counts, {}
        if not counts:
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for key, amount in counts.items():
                    if float(amount).is_integer():
                        pipe.hincrby(keys.METRICS, key, int(amount))
                    else:
                        pipe.hincrbyfloat(keys.METRICS, key, amount)
                pipe.execute()
        except redis.RedisError:
            with self._lock:
                for key, amount in counts.items():
                    self._add(key, amount)
            raise


def count_now(client: redis.Redis | Pipeline, metric: Metric, amount: int = 1,
              **labels: str) -> None:
    """Add to a counter in Redis at once (or in the caller's transaction): for work horses,
    which live for one job and have no flush of their own."""
    client.hincrby(keys.METRICS, field(metric.name + "_total", **labels), amount)


def _le(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(float(bound))


def parse(raw: dict[bytes, bytes]) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """The hash as samples (sample name, labels, value) grouped by metric name; fields of
    metrics this version does not know are left out."""
    families: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for key, value in raw.items():
        sample, *pairs = key.decode().split("|")
        labels = dict(p.split("=", 1) for p in pairs if "=" in p)
        base = next((sample.removesuffix(s) for s in ("_total", "_bucket", "_sum", "_count")
                     if sample.endswith(s) and sample.removesuffix(s) in BY_NAME), None)
        if base is not None:
            families.setdefault(base, []).append((sample, labels, float(value)))
    return families
