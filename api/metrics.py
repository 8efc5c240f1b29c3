"""GET /metrics: Prometheus's text format, for the whole service.

What this web process counted (api/observe.py; with PROMETHEUS_MULTIPROC_DIR set, what
every web process on the host counted, summed from their files), what the worker,
scheduler and jobs processes counted (the Redis hash shared/infra/metrics.py keeps), and
figures read from Redis at scrape time: the ingest backlog and its lag, the dead letters,
the live processes. With MEMANTO_METRICS_TOKEN set it asks for that token as a Bearer.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from memanto_redis.api.auth import bearer, services
from memanto_redis.shared.errors import Unauthorized
from memanto_redis.shared.infra import heartbeat, keys
from memanto_redis.shared.infra import metrics as worker_metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = ("worker", "scheduler", "jobs")


class _Families:
    """A collector that hands out families read beforehand (Redis is read asynchronously,
    collectors are called synchronously)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _own() -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _worker_families(raw: dict[bytes, bytes]) -> Iterator[Metric]:
    for name, samples in sorted(worker_metrics.parse(raw).items()):
        metric = worker_metrics.BY_NAME[name]
        if metric.kind == "counter":
            labelled = sorted({k for _, labels, _ in samples for k in labels})
            family = CounterMetricFamily(name, metric.help, labels=labelled)
            for _, labels, value in sorted(samples, key=lambda s: sorted(s[1].items())):
                family.add_metric([labels.get(k, "") for k in labelled], value)
            yield family
            continue
        buckets = {labels["le"]: value for sample, labels, value in samples
                   if sample.endswith("_bucket")}
        total = next((v for s, _, v in samples if s.endswith("_sum")), 0.0)
        ordered = sorted(buckets.items(), key=lambda b: float(b[0]))
        histogram = HistogramMetricFamily(name, metric.help)
        histogram.add_metric([], ordered, total)
        yield histogram


async def _live_families(redis: Any) -> list[Metric]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.METRICS)
        pipe.xlen(keys.INGEST_STREAM)
        pipe.xrange(keys.INGEST_STREAM, "-", "+", count=1)
        pipe.xlen(keys.DEAD_LETTER_STREAM)
        raw, backlog, oldest, dead = await pipe.execute()
    lag = 0.0
    if oldest:
        entry_id = oldest[0][0]
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        lag = max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)
    beats = await heartbeat.live(redis)
    processes = GaugeMetricFamily("memanto_processes", "worker processes whose heartbeat is "
                                  "alive, by kind", labels=["kind"])
    for kind in KINDS:
        processes.add_metric([kind], sum(1 for b in beats if b.kind == kind))
    return [
        *_worker_families(raw),
        GaugeMetricFamily("memanto_ingest_backlog", "memories accepted and not yet indexed "
                          "(ingest stream length)", value=backlog),
        GaugeMetricFamily("memanto_ingest_lag_seconds", "age of the oldest memory waiting to "
                          "be indexed (0 when none waits)", value=lag),
        GaugeMetricFamily("memanto_ingest_dead_letters", "entries in the dead-letter stream",
                          value=dead),
        processes,
    ]


async def metrics(request: Request) -> Response:
    """Prometheus metrics of the web, the workers, the scheduler and the jobs."""
    token = services(request).settings.metrics_token
    if token and not hmac.compare_digest((bearer(request) or "").encode(), token.encode()):
        raise Unauthorized("a valid MEMANTO_METRICS_TOKEN is needed (Authorization: Bearer)")
    families = await _live_families(services(request).redis)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return Response(_own() + generate_latest(registry), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
