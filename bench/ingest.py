"""Ingest benchmark: front door, raw embedding, end-to-end pipeline, accepted-to-recall lag.

    cd /work/main && .venv/bin/python bench/ingest.py [--duration 10] [--backlog 3000]

Starts its own embedded Redis (free port, temporary data dir) and one web process, later
one worker, and stops every process it started by PID, also on error. The machine is
small and noisy, so the front door is printed next to a trivial baseline app measured
with the same load in the same run, and the pipeline next to the raw model speed.

Phase 1  front door: remember requests accepted/s by one web process under 64 concurrent
         clients (wrk, a separate process), p50/p99; no worker runs meanwhile.
Phase 2  raw embedding: texts/s of the model alone (embed_many, batch 64) in a subprocess.
Phase 3  end-to-end: a queued backlog, one worker; memories indexed/s from its first to
         its last indexed memory, and the ratio to phase 2.
Phase 4  lag: with the worker idle, time from a remember's answer to recall finding it.

The exit code is 0 whether goals are met or missed (PASS/MISS is printed); it is 1 only
when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402

from bench.baseline_app import STREAM as BASELINE_STREAM  # noqa: E402
from bench.cpu import CpuMeter, CpuShare, proc_cpu  # noqa: E402
from bench.load import LoadResult, ensure_wrk, run_load  # noqa: E402
from bench.texts import TEXT_SEED, memory_texts  # noqa: E402
from memanto_redis.shared.infra import keys  # noqa: E402
from tests.support import (  # noqa: E402
    ADMIN_KEY,
    free_port,
    start_redis,
    start_web,
    start_worker,
    stop,
    wait_until,
)

MODEL = "all-MiniLM-L6-v2"
EMBED_BATCH = 64
# Goals.
DOOR_RPS_GOAL = 5_000.0
DOOR_P99_GOAL_MS = 25.0
PIPELINE_RATIO_GOAL = 0.85
POLL_S = 0.2  # phase 3: never poll Redis more often than this
PROBE_POLL_S = 0.02  # phase 4: recall polling interval
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
DOOR_TEXT = "The user prefers email over phone calls for billing questions, after 5 pm."


# -- small helpers -------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def banner(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


@dataclass
class Agent:
    agent_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Session-Token": self.token}


@dataclass
class Context:
    """Everything one run holds: the temp dir, the processes it started, its clients."""

    tmp: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    redis_url: str = ""
    web_url: str = ""
    web_proc: subprocess.Popen | None = None
    r: redis.Redis | None = None
    http: httpx.Client | None = None

    @property
    def redis(self) -> redis.Redis:
        assert self.r is not None
        return self.r

    @property
    def client(self) -> httpx.Client:
        assert self.http is not None
        return self.http

    def log(self, name: str) -> Path:
        path = self.tmp / f"{name}.log"
        self.logs.append(path)
        return path

    def live_pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def track(self, proc: subprocess.Popen) -> subprocess.Popen:
        self.procs.append(proc)
        return proc

    def stop_one(self, proc: subprocess.Popen) -> None:
        stop(proc)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        if self.http is not None:
            self.http.close()
        if self.r is not None:
            self.r.close()
        for proc in reversed(list(self.procs)):
            try:
                self.stop_one(proc)
            except Exception as exc:  # keep stopping the others
                print(f"could not stop pid {proc.pid}: {exc}", file=sys.stderr)


def start_stack(ctx: Context) -> None:
    """Embedded Redis on a free port in the temp dir, then one web process."""
    redis_port = free_port()
    ctx.redis_url = f"redis://127.0.0.1:{redis_port}/0"
    # start_redis waits for PING; register the process before anything else can fail.
    ctx.track(start_redis(redis_port, ctx.tmp / "redis-data"))
    ctx.r = redis.Redis.from_url(ctx.redis_url)
    web_port = free_port()
    ctx.web_url = f"http://127.0.0.1:{web_port}"
    started = time.perf_counter()
    ctx.web_proc = ctx.track(start_web(ctx.redis_url, web_port, ctx.log("web")))
    print(f"redis {ctx.redis_url} (pid {ctx.procs[0].pid}); web {ctx.web_url} "
          f"(pid {ctx.web_proc.pid}, ready after {time.perf_counter() - started:.1f} s)")
    ctx.http = httpx.Client(base_url=ctx.web_url, timeout=60)


def new_agent(ctx: Context, agent_id: str) -> Agent:
    reply = ctx.client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=ADMIN)
    reply.raise_for_status()
    reply = ctx.client.post(f"/api/v2/agents/{agent_id}/activate", json={}, headers=ADMIN)
    reply.raise_for_status()
    return Agent(agent_id, reply.json()["session_token"])


# -- phase 1: the front door -----------------------------------------------------------------

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
    return ctx.track(start_web(ctx.redis_url, port, ctx.log("baseline"),
                               app="bench.baseline_app:app", probe="/"))


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
    reply = ctx.client.delete(f"/api/v2/agents/{door.agent_id}", headers=ADMIN)
    reply.raise_for_status()
    # Deleting an agent leaves its stream entries behind (see the report); with no
    # consumer group yet, dropping the stream is the whole cleanup.
    ctx.redis.delete(keys.INGEST_STREAM, BASELINE_STREAM)
    print(f"cleanup: deleted {reply.json()['memories_deleted']} queued memories and the "
          f"streams in {time.perf_counter() - started:.1f} s")


# -- phase 2: raw embedding ------------------------------------------------------------------

@dataclass
class EmbedResult:
    texts: int
    seconds: float
    load_seconds: float
    torch_threads: int
    cpu: CpuShare

    @property
    def rate(self) -> float:
        return self.texts / self.seconds


def embed_child(count: int) -> None:
    """Runs in a subprocess: load the model, warm it up, time embed_many over the texts."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from memanto_redis.shared.infra.embeddings import load_vectorizer

    texts = memory_texts(count)
    started = time.perf_counter()
    vectorizer = load_vectorizer(MODEL)
    load_seconds = time.perf_counter() - started
    # Warm up on other texts, so no timed batch finds its exact shape already seen.
    vectorizer.embed_many(memory_texts(4 * EMBED_BATCH, seed=TEXT_SEED + 2),
                          batch_size=EMBED_BATCH, as_buffer=True)
    started = time.perf_counter()
    vectors = vectorizer.embed_many(texts, batch_size=EMBED_BATCH, as_buffer=True)
    seconds = time.perf_counter() - started
    assert len(vectors) == count and all(len(v) == 4 * vectorizer.dims for v in vectors)
    import torch

    print(json.dumps({"texts": count, "seconds": seconds, "load_seconds": load_seconds,
                      "torch_threads": torch.get_num_threads()}))


def phase_embed(ctx: Context, args: argparse.Namespace, again: bool = False) -> EmbedResult:
    if again:
        banner("Phase 2, again after phase 3: raw embedding, to show how much the machine "
               "drifted")
    else:
        banner(f"Phase 2: raw embedding, {args.embed_texts} texts, embed_many(batch_size="
               f"{EMBED_BATCH}, as_buffer=True), model alone in a subprocess")
    log = ctx.log("embed")
    meter = CpuMeter(ctx.live_pids)
    with log.open("ab") as err:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--embed-child",
             "--embed-texts", str(args.embed_texts)],
            cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=subprocess.PIPE,
            stderr=err, text=True, timeout=900, check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"embedding subprocess failed: {log_tail(log)}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    result = EmbedResult(data["texts"], data["seconds"], data["load_seconds"],
                         data["torch_threads"], meter.share())
    print(f"raw: {result.rate:,.1f} texts/s ({result.texts} texts in {result.seconds:.2f} s; "
          f"model load {result.load_seconds:.1f} s; torch threads {result.torch_threads})")
    print(f"     {result.cpu.describe()} (model load included)")
    return result


# -- phase 3: end to end ---------------------------------------------------------------------

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
    worker = ctx.track(start_worker(ctx.redis_url, log, MEMANTO_BATCH_SIZE=str(EMBED_BATCH)))
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


# -- phase 4: accepted -> found by recall ----------------------------------------------------

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


# -- summary ---------------------------------------------------------------------------------

def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False)
    return {
        "nproc": nproc.stdout.strip() or str(os.cpu_count()),
        "cpu": model,
        "python": f"{platform.python_version()} ({sys.executable})",
        "kernel": platform.release(),
    }


@dataclass
class Results:
    door: DoorResult
    embed: EmbedResult
    pipe: PipelineResult
    lag: LagResult
    embed_again: EmbedResult | None = None


NOISY_PERCENT = 25.0  # other processes using more than this share of one core


def print_summary(res: Results, args: argparse.Namespace) -> None:
    info = machine_info()
    door, pipe, lag = res.door, res.pipe, res.lag
    d, b = door.door.load, door.baseline.load
    ratio = pipe.rate / res.embed.rate
    rows: list[tuple[str, str, str, str]] = [
        ("door accepted/s", f"{d.rps:,.0f}", f">= {DOOR_RPS_GOAL:,.0f}",
         verdict(d.rps >= DOOR_RPS_GOAL)),
        ("door p50 / p99 latency", f"{d.p50_ms:.2f} / {d.p99_ms:.2f} ms",
         f"p99 <= {DOOR_P99_GOAL_MS:.0f} ms", verdict(d.p99_ms <= DOOR_P99_GOAL_MS)),
        ("door non-2xx; stream entries",
         f"{d.non_2xx}; {door.door.stream_entries} for {door.door.ok_responses} 2xx",
         "non-2xx = 0", verdict(d.non_2xx == 0 and 0 <= door.door.stream_entries
                                - door.door.ok_responses <= door.connections)),
        ("baseline (one XADD) req/s", f"{b.rps:,.0f} (p50 {b.p50_ms:.2f} / p99 "
         f"{b.p99_ms:.2f} ms)", "", ""),
        ("door / baseline", f"{door.ratio:.2f}", "", ""),
        ("CPU per request, door / base", f"{door.door.app_us:.0f} / {door.baseline.app_us:.0f}"
         f" us (one core: ~{door.door.one_core_rps:,.0f} / "
         f"~{door.baseline.one_core_rps:,.0f} req/s)", "", ""),
        ("raw embedding texts/s", f"{res.embed.rate:,.1f}", "", ""),
        ("pipeline indexed/s", f"{pipe.rate:,.1f} (XLEN polls: {pipe.polled_rate:,.1f})",
         "", ""),
        ("pipeline / raw", f"{ratio:.2f}", f">= {PIPELINE_RATIO_GOAL}",
         verdict(ratio >= PIPELINE_RATIO_GOAL)),
    ]
    if res.embed_again is not None:
        mean = (res.embed.rate + res.embed_again.rate) / 2
        rows.append(("raw again after phase 3", f"{res.embed_again.rate:,.1f} (pipeline / "
                     f"it: {pipe.rate / res.embed_again.rate:.2f}; / mean of both: "
                     f"{pipe.rate / mean:.2f})", "", ""))
    rows.append(("accepted -> recall p50 / p95", f"{lag.p50:.0f} / {lag.p95:.0f} ms", "", ""))
    banner("Summary")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    for name, value, goal, mark in rows:
        print(f"  {name:<{width}}  {value:<{value_width}}  {goal:<16} {mark}".rstrip())
    shares = [("baseline", door.baseline.cpu), ("door", door.door.cpu),
              ("raw", res.embed.cpu), ("pipeline", pipe.cpu), ("lag", lag.cpu)]
    if res.embed_again is not None:
        shares.insert(4, ("raw again", res.embed_again.cpu))
    print("  other processes' CPU (% of one core): "
          + ", ".join(f"{name} {cpu.others:.0f}%" for name, cpu in shares))
    noisy = [name for name, cpu in shares if cpu.others > NOISY_PERCENT]
    if noisy:
        print(f"  WARNING: other processes took over {NOISY_PERCENT:.0f}% of a core during "
              f"{', '.join(noisy)}: those figures are depressed; rerun on a quiet machine")
    print(f"  load: {door.generator}, {door.connections} connections, {door.duration} s "
          f"(+{args.warmup} s warm-up) per target; pipeline backlog {pipe.backlog}, "
          f"batch {EMBED_BATCH}; raw over {res.embed.texts} texts, torch threads "
          f"{res.embed.torch_threads}; {len(lag.lags_ms)} probes")
    print(f"  machine: nproc {info['nproc']}, CPU {info['cpu']}, kernel {info['kernel']}")
    print(f"  python: {info['python']}")
    python = Path(sys.executable)
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    print(f"  command: cd {ROOT} && {' '.join([str(python), *sys.argv])}")


# -- main ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--backlog", type=int, default=3000, help="phase 3 memories")
    parser.add_argument("--embed-texts", type=int, default=2000, help="phase 2 texts")
    parser.add_argument("--probes", type=int, default=40, help="phase 4 memories")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator (auto: wrk if available, else the Python one)")
    parser.add_argument("--raw-again", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the raw embedding rate again after phase 3")
    parser.add_argument("--embed-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def choose_generator(args: argparse.Namespace) -> None:
    """Resolve --generator to a wrk path or 'python', and a label for the report."""
    wrk = None if args.generator == "python" else ensure_wrk()
    if wrk:
        version = subprocess.run([wrk, "--version"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()
        args.generator = wrk
        args.generator_label = f"{version[0].split(' [')[0] if version else 'wrk'}, " \
                               f"{args.threads} threads"
        return
    if args.generator == "wrk":
        raise RuntimeError("wrk is not available")
    args.generator = "python"
    args.generator_label = "bench/loadgen.py (Python fallback; wrk not available)"


def run(ctx: Context, args: argparse.Namespace) -> None:
    choose_generator(args)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average at start: {' '.join(load)} on {os.cpu_count()} cores")
    start_stack(ctx)
    stamp = f"{int(time.time())}-{os.getpid()}"
    door_agent = new_agent(ctx, f"bench-door-{stamp}")
    pipe_agent = new_agent(ctx, f"bench-pipe-{stamp}")
    door = phase_door(ctx, door_agent, args)
    reset_after_door(ctx, door_agent)
    embed = phase_embed(ctx, args)
    pipe, _worker = phase_pipeline(ctx, pipe_agent, args)
    # The idle worker blocks on the stream; it does not compete with this.
    embed_again = phase_embed(ctx, args, again=True) if args.raw_again else None
    lag = phase_lag(ctx, pipe_agent, args)
    print_summary(Results(door, embed, pipe, lag, embed_again), args)


def _raise_on_sigterm() -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    return handler


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.embed_child:
        embed_child(args.embed_texts)
        return 0
    signal.signal(signal.SIGTERM, _raise_on_sigterm())
    with tempfile.TemporaryDirectory(prefix="memanto-bench-") as tmp:
        ctx = Context(Path(tmp))
        try:
            run(ctx, args)
        except (Exception, KeyboardInterrupt):
            traceback.print_exc()
            for log in ctx.logs:
                tail = log_tail(log, 1500)
                if tail:
                    print(f"\n--- tail of {log.name} ---\n{tail}", file=sys.stderr)
            return 1
        finally:
            ctx.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
