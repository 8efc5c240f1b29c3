"""Phase 3, end to end: a queued backlog, one worker; memories indexed/s from its first to
its last indexed memory."""

from __future__ import annotations

import argparse
import math
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter, CpuShare, proc_cpu
from bench.embed import EMBED_BATCH
from bench.stack import ROOT, Agent, Context, banner, log_tail
from bench.texts import memory_texts
from memanto_redis.cli.processes import start_worker
from memanto_redis.shared.infra import keys

POLL_S = 0.2  # never poll Redis more often than this


@dataclass
class PipelineResult:
    backlog: int
    rate: float  # from the first to the last indexed memory, by the documents' own times
    polled_rate: float  # the same from XLEN polls every 200 ms, as a cross-check
    seconds: float
    first_batch: int
    startup_seconds: float
    indexed: int
    dead_letters: int
    cpu: CpuShare


def queue_backlog(ctx: Context, agent: Agent, texts: list[str]) -> list[str]:
    """Accept the backlog through batch-remember, 100 memories a request."""
    ids: list[str] = []
    url = f"/api/v2/agents/{agent.agent_id}/batch-remember"
    for start in range(0, len(texts), 100):
        chunk = texts[start:start + 100]
        reply = ctx.client.post(url, headers=agent.headers, json={
            "memories": [{"content": text, "type": "fact"} for text in chunk]})
        reply.raise_for_status()
        body = reply.json()
        if body["successful"] != len(chunk):
            raise RuntimeError(f"batch-remember refused items: {body}")
        ids += [item["memory_id"] for item in body["results"]]
    return ids


def wait_drained(ctx: Context, worker: subprocess.Popen, backlog: int, log: Path,
                 timeout: float, on_first: Callable[[], None]) -> tuple[float, int, float]:
    """Poll XLEN (entries are XDELed on ack) every 200 ms until the backlog is gone;
    `on_first` is called once it starts shrinking (the model is loaded by then).
    Returns (time of the first poll that saw it shrink, remaining then, time it hit 0)."""
    started = time.perf_counter()
    first: tuple[float, int] | None = None
    while True:
        remaining = ctx.redis.xlen(keys.INGEST_STREAM)
        now = time.perf_counter()
        if first is None and remaining < backlog:
            first = (now, remaining)
            on_first()
            print(f"backlog started shrinking {now - started:.1f} s after the worker "
                  f"started ({remaining} left)", flush=True)
        if remaining == 0:
            assert first is not None
            return first[0], first[1], now
        if worker.poll() is not None:
            raise RuntimeError(f"worker exited ({worker.returncode}): {log_tail(log)}")
        if now - started > timeout:
            raise RuntimeError(f"backlog not drained after {timeout:.0f} s ({remaining} "
                               "left)")
        time.sleep(POLL_S)


def phase_pipeline(ctx: Context, agent: Agent, args: argparse.Namespace
                   ) -> tuple[PipelineResult, subprocess.Popen]:
    banner(f"Phase 3: end to end, backlog of {args.backlog}, one worker "
           f"(MEMANTO_BATCH_SIZE={EMBED_BATCH})")
    if ctx.redis.xlen(keys.INGEST_STREAM) != 0:
        raise RuntimeError("the ingest stream is not empty before phase 3")
    texts = memory_texts(args.backlog)
    started = time.perf_counter()
    ids = queue_backlog(ctx, agent, texts)
    queued = ctx.redis.xlen(keys.INGEST_STREAM)
    print(f"queued {len(ids)} memories in {time.perf_counter() - started:.1f} s "
          f"(stream length {queued})")
    if queued != args.backlog:
        raise RuntimeError(f"expected {args.backlog} stream entries, found {queued}")

    log = ctx.log("worker")
    spawned_wall = time.time()
    worker = ctx.track(start_worker(log, env=ctx.env(MEMANTO_BATCH_SIZE=str(EMBED_BATCH)),
                                    cwd=ROOT))
    print(f"worker pid {worker.pid} started", flush=True)
    redis_pid = ctx.procs[0].pid
    marks: dict[str, Any] = {}

    def on_first() -> None:  # from here on the worker is past its start-up
        marks.update(meter=CpuMeter(ctx.live_pids), worker=proc_cpu(worker.pid),
                      redis=proc_cpu(redis_pid))

    t_first, left_then, t_done = wait_drained(ctx, worker, args.backlog, log, 900, on_first)
    cpu = marks["meter"].share()
    worker_cpu = proc_cpu(worker.pid) - marks["worker"]
    redis_cpu = proc_cpu(redis_pid) - marks["redis"]
    polled_rate = left_then / (t_done - t_first) if t_done > t_first else math.nan

    # Each commit stamps its documents with the worker's clock (indexed_at; updated_at in
    # the first schema), so the span from the first to the last indexed memory is read
    # exactly, not to the poll interval.
    with ctx.redis.pipeline(transaction=False) as pipe:
        for memory_id in ids:
            pipe.hmget(keys.memory(agent.agent_id, memory_id),
                       ["status", "indexed_at", "updated_at"])
        rows = pipe.execute()
    stamps = sorted(float(row[1] or row[2]) for row in rows if row[0] == b"indexed")
    indexed = len(stamps)
    dead = ctx.redis.xlen(keys.DEAD_LETTER_STREAM)
    first_stamp, last_stamp = stamps[0], stamps[-1]
    first_batch = sum(1 for s in stamps if s == first_stamp)
    span = last_stamp - first_stamp
    rate = (indexed - first_batch) / span if span > 0 else math.nan
    result = PipelineResult(args.backlog, rate, polled_rate, span, first_batch,
                            first_stamp - spawned_wall, indexed, dead, cpu)
    print(f"indexed {indexed}/{args.backlog} (dead letters {dead}); worker start-up incl. "
          f"model load and first batch: {result.startup_seconds:.1f} s")
    print(f"pipeline: {rate:,.1f} memories/s from the first indexed memory to the last "
          f"({indexed - first_batch} after the first batch of {first_batch}, in "
          f"{span:.2f} s); by XLEN polls: {polled_rate:,.1f}/s")
    print(f"          CPU per memory once started: worker {worker_cpu / left_then * 1000:.1f} "
          f"ms, Redis {redis_cpu / left_then * 1000:.2f} ms")
    print(f"          {cpu.describe()}")
    if indexed != args.backlog:
        raise RuntimeError(f"only {indexed} of {args.backlog} memories were indexed")
    return result, worker

