"""Phase 1, the front door: remember requests accepted/s by one web process under load
from a separate process, next to a trivial baseline app measured the same way."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
from dataclasses import dataclass

import redis

from bench.baseline_app import STREAM as BASELINE_STREAM
from bench.cpu import CpuMeter, CpuShare, proc_cpu
from bench.load import LoadResult, run_load
from bench.stack import ROOT, Agent, Context, banner
from memanto_redis.cli.processes import free_port, start_web
from memanto_redis.shared.infra import keys

DOOR_TEXT = "The user prefers email over phone calls for billing questions, after 5 pm."


@dataclass
class DoorMeasure:
    name: str
    load: LoadResult
    stream_entries: int
    cpu: CpuShare
    app_us: float  # CPU time of the app process per request, microseconds
    redis_us: float  # CPU time of Redis per request

    @property
    def ok_responses(self) -> int:
        return self.load.requests - self.load.non_2xx

    @property
    def one_core_rps(self) -> float:
        """Requests/s the app would answer with one core all to itself, by its CPU cost:
        less sensitive to other load on the machine than the measured rate."""
        return 1e6 / self.app_us if self.app_us else math.nan


@dataclass
class DoorResult:
    baseline: DoorMeasure
    door: DoorMeasure
    connections: int
    duration: int
    generator: str

    @property
    def ratio(self) -> float:
        return self.door.load.rps / self.baseline.load.rps if self.baseline.load.rps else 0.0


def settled_xlen(client: redis.Redis, stream: str) -> int:
    """XLEN once the server has finished the requests still in flight."""
    last = client.xlen(stream)
    while True:
        time.sleep(0.2)
        now = client.xlen(stream)
        if now == last:
            return now
        last = now


def assert_no_consumer(client: redis.Redis) -> None:
    """The door is measured alone: nothing may be reading the ingest stream."""
    if client.exists(keys.INGEST_STREAM):
        groups = client.xinfo_groups(keys.INGEST_STREAM)
        if groups:
            raise RuntimeError(f"a consumer group reads {keys.INGEST_STREAM}: {groups}")


def measure_endpoint(ctx: Context, name: str, app_pid: int, url: str, stream: str,
                     body: str, headers: dict[str, str], args: argparse.Namespace
                     ) -> DoorMeasure:
    load = run_load(ctx.tmp, args.generator, url, body, headers, args.warmup,
                    args.connections, args.threads)
    print(f"{name:>8}: warm-up {load.requests} requests ({load.rps:,.0f}/s)", flush=True)
    before = settled_xlen(ctx.redis, stream)
    redis_pid = ctx.procs[0].pid
    meter = CpuMeter(ctx.live_pids)
    app_cpu, redis_cpu = proc_cpu(app_pid), proc_cpu(redis_pid)
    load = run_load(ctx.tmp, args.generator, url, body, headers, args.duration,
                    args.connections, args.threads)
    app_cpu, redis_cpu = proc_cpu(app_pid) - app_cpu, proc_cpu(redis_pid) - redis_cpu
    cpu = meter.share()
    entries = settled_xlen(ctx.redis, stream) - before
    per = 1e6 / max(load.requests, 1)
    measure = DoorMeasure(name, load, entries, cpu, app_cpu * per, redis_cpu * per)
    extra = entries - measure.ok_responses
    print(f"{name:>8}: {load.rps:,.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 "
          f"{load.p99_ms:.2f} ms; {load.requests} responses in {load.seconds:.2f} s, "
          f"non-2xx {load.non_2xx}, socket errors: {load.socket_errors}")
    print(f"{'':>8}  stream entries added {entries} vs 2xx {measure.ok_responses} "
          f"(difference {extra:+d}; up to +{args.connections} are requests still in flight "
          f"when the generator stopped counting)")
    print(f"{'':>8}  CPU per request: app {measure.app_us:.0f} us (~"
          f"{measure.one_core_rps:,.0f} req/s with a core to itself), Redis "
          f"{measure.redis_us:.0f} us")
    print(f"{'':>8}  {cpu.describe()}", flush=True)
    return measure


def start_baseline(ctx: Context, port: int) -> subprocess.Popen:
    """The baseline app, started exactly like the web process (uvicorn, no access log)."""
    return ctx.track(start_web(port, ctx.log("baseline"), env=ctx.env(),
                               app="bench.baseline_app:app", probe="/", cwd=ROOT))


def phase_door(ctx: Context, door: Agent, args: argparse.Namespace) -> DoorResult:
    banner(f"Phase 1: front door, {args.connections} connections, {args.duration} s "
           f"(generator: {args.generator_label})")
    assert_no_consumer(ctx.redis)
    path = f"/api/v2/agents/{door.agent_id}/remember"
    body = json.dumps({"content": DOOR_TEXT, "type": "fact"})
    headers = {"Content-Type": "application/json", **door.headers}
    # The door must answer a plain request before it is loaded.
    probe = ctx.client.post(path, content=body, headers=headers)
    probe.raise_for_status()
    assert probe.json()["status"] == "queued", probe.text
    base_port = free_port()
    baseline_proc = start_baseline(ctx, base_port)
    try:
        baseline = measure_endpoint(ctx, "baseline", baseline_proc.pid,
                                    f"http://127.0.0.1:{base_port}{path}",
                                    BASELINE_STREAM, body, headers, args)
    finally:
        ctx.stop_one(baseline_proc)
    assert ctx.web_proc is not None
    measured = measure_endpoint(ctx, "door", ctx.web_proc.pid, ctx.web_url + path,
                                keys.INGEST_STREAM, body, headers, args)
    assert_no_consumer(ctx.redis)
    result = DoorResult(baseline, measured, args.connections, args.duration,
                        args.generator_label)
    print(f"   ratio: door/baseline = {result.ratio:.2f}; no worker ran (the ingest stream "
          "has no consumer group)")
    return result


def reset_after_door(ctx: Context, door: Agent) -> None:
    """Drop phase 1's queued memories so the worker of phase 3 sees only its backlog."""
    started = time.perf_counter()
    reply = ctx.client.delete(f"/api/v2/agents/{door.agent_id}", headers=ctx.admin)
    reply.raise_for_status()
    # Deleting an agent leaves its stream entries behind (see the report); with no
    # consumer group yet, dropping the stream is the whole cleanup.
    ctx.redis.delete(keys.INGEST_STREAM, BASELINE_STREAM)
    print(f"cleanup: deleted {reply.json()['memories_deleted']} queued memories and the "
          f"streams in {time.perf_counter() - started:.1f} s")

