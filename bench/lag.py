"""Phase 4, accepted -> found by recall: with the worker idle, the time from a remember's
answer to a recall that finds it."""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

from bench.cpu import CpuMeter, CpuShare
from bench.stack import Agent, Context, banner
from bench.texts import TEXT_SEED, memory_texts
from memanto_redis.cli.processes import wait_until
from memanto_redis.shared.infra import keys

PROBE_POLL_S = 0.02  # recall polling interval


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


@dataclass
class LagResult:
    lags_ms: list[float]
    polls: list[int]
    recall_ms: list[float]  # how long the recall that found each memory took
    cpu: CpuShare

    @property
    def p50(self) -> float:
        return percentile(self.lags_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.lags_ms, 95)


def phase_lag(ctx: Context, agent: Agent, args: argparse.Namespace) -> LagResult:
    banner(f"Phase 4: accepted -> found by recall, {args.probes} memories one at a time, "
           f"recall every {PROBE_POLL_S * 1000:.0f} ms")
    wait_until(lambda: ctx.redis.xlen(keys.INGEST_STREAM) == 0
               and ctx.redis.xpending(keys.INGEST_STREAM, keys.INGEST_GROUP)["pending"] == 0,
               30, 0.1, what="an idle worker")
    base = f"/api/v2/agents/{agent.agent_id}"
    texts = [f"Probe {i}: {text}" for i, text in
             enumerate(memory_texts(args.probes, seed=TEXT_SEED + 1))]
    lags: list[float] = []
    polls: list[int] = []
    recalls: list[float] = []
    meter = CpuMeter(ctx.live_pids)
    for text in texts:
        reply = ctx.client.post(f"{base}/remember", headers=agent.headers,
                                json={"content": text, "type": "fact"})
        accepted = time.perf_counter()
        reply.raise_for_status()
        memory_id = reply.json()["memory_id"]
        count = 0
        while True:
            count += 1
            asked = time.perf_counter()
            found = ctx.client.post(f"{base}/recall", headers=agent.headers,
                                    json={"query": text, "limit": 5})
            now = time.perf_counter()
            found.raise_for_status()
            if any(m["memory_id"] == memory_id for m in found.json()["memories"]):
                lags.append((now - accepted) * 1000)
                polls.append(count)
                recalls.append((now - asked) * 1000)
                break
            if now - accepted > 30:
                raise RuntimeError(f"memory {memory_id} not found by recall after 30 s")
            time.sleep(max(0.0, PROBE_POLL_S - (now - asked)))
    result = LagResult(lags, polls, recalls, meter.share())
    print(f"lag: p50 {result.p50:.0f} ms, p95 {result.p95:.0f} ms, min {min(lags):.0f} ms, "
          f"max {max(lags):.0f} ms; recalls per probe: median "
          f"{percentile([float(p) for p in polls], 50):.0f}, max {max(polls)}; the recall "
          f"that found it took p50 {percentile(recalls, 50):.0f} ms, p95 "
          f"{percentile(recalls, 95):.0f} ms")
    print(f"     {result.cpu.describe()}")
    return result

