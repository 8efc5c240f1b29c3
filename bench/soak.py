"""Fault soak: steady writes while the processes are killed, stopped and restarted.

    cd /work/main && .venv/bin/python bench/soak.py [--duration 240] [--rate 60]

Starts its own embedded Redis (free port, temporary data folder), one web process and two
ingest workers (cli/processes.py), and has `--writers` concurrent writers remember at a
bounded total `--rate` over `--agents` agents, on the loopback only. Meanwhile, one after
the other (each once the previous one has recovered): SIGKILL a worker and start a new
one; SIGSTOP the other worker for `--stop-seconds` (its pending entries must move to the
live worker after MEMANTO_CLAIM_IDLE_MS), then SIGCONT; SIGKILL Redis and start it again
from its data folder; SIGKILL the web process and start it again. Then the writers stop,
the backlog drains, and every acknowledged memory is checked: indexed exactly once, or
failed with a reason, and none lost but those acknowledged in the AOF's fsync window (1 s)
before Redis was killed, counted apart; no duplicates in the index; every 5xx answer a 503
with Retry-After. It prints that, each fault's recovery, and each process's start-up.

Exit code 0 when every check holds, 1 when one does not, 2 when the soak could not run.
Every process it started is stopped by its PID, also on error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from redis.commands.search.query import Query
from redisvl.query.filter import Tag

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from memanto_redis.cli import processes  # noqa: E402
from memanto_redis.shared.infra import keys  # noqa: E402

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.M)


@dataclass(frozen=True)
class Plan:
    duration: float = 240.0  # seconds of load
    writers: int = 32
    agents: int = 96
    rate: float = 60.0  # remembers per second, all writers together
    warmup: float = 15.0  # load before the first fault
    pause: float = 8.0  # between one fault's recovery and the next fault
    stop_seconds: float = 30.0  # how long a worker stays SIGSTOPped
    claim_idle_ms: int = 5000
    redis_down: float = 1.0  # seconds between Redis's SIGKILL and its restart
    fsync_window: float = 1.0  # appendfsync everysec
    recover_timeout: float = 180.0
    drain_timeout: float = 240.0


@dataclass
class Sent:
    """One remember: when it went and came back, and how it was answered."""

    agent: str
    token: str
    sent: float
    done: float
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    retry_after: bool = False
    memory_id: str | None = None


@dataclass
class Fault:
    name: str
    at: float = 0.0  # time.time() of the fault
    repaired: float = 0.0  # the process restarted or continued
    recovered: float = 0.0  # a probe written after the repair was indexed
    note: str = ""
    errors: Counter[str] = field(default_factory=Counter)
    door_out: float = 0.0  # seconds from the first to the last failed answer


@dataclass
class Start:
    """One start of one process, and how long it took to do what."""

    process: str
    occasion: str
    spawned: float  # time.time()
    figures: list[str] = field(default_factory=list)
    log: Path | None = None
    model_line: int | None = None  # the web: which of its log's model lines is this start's

    def describe(self) -> str:
        """The figures, with those only the logs hold: the web's model, a worker's steps."""
        figures = list(self.figures)
        text = self.log.read_text(errors="replace") if self.log else ""
        if self.model_line is not None:
            models = re.findall(re.escape(processes.MODEL_READY) + r" in ([\d.]+) s", text)
            figures.append(f"model loaded in {models[self.model_line]} s"
                           if self.model_line < len(models) else "model not loaded")
        if self.process.startswith("worker"):
            for step in ("joined the group", "ready"):
                at = _logged_at(text, f" {step}", self.spawned)
                figures.append(f"{step} after {at - self.spawned:.2f} s" if at else
                               f"never {step}")
        return ", ".join(figures)


def _logged_at(text: str, words: str, since: float) -> float | None:
    """When a worker logged a line holding `words`, at or after `since` (its own times)."""
    for match in LOG_TIME.finditer(text):
        line = text[match.end():text.find("\n", match.end())]
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if words in line and at >= since - 1:
            return at
    return None


@dataclass
class Report:
    faults: list[Fault]
    starts: list[tuple[str, str, str]]  # process, occasion, figures
    counts: Counter[str]
    problems: list[str]
    records: int

    @property
    def ok(self) -> bool:
        return not self.problems


class Load:
    """`writers` asyncio writers in a thread of their own, at a bounded total rate."""

    def __init__(self, base_url: str, agents: list[tuple[str, str]], plan: Plan) -> None:
        self.base_url = base_url
        self.agents = agents
        self.plan = plan
        self.records: list[Sent] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.plan.writers,
                              max_keepalive_connections=self.plan.writers)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10, limits=limits) as http:
            await asyncio.gather(*(self._writer(http, i) for i in range(self.plan.writers)))

    async def _writer(self, http: httpx.AsyncClient, index: int) -> None:
        plan = self.plan
        period = plan.writers / plan.rate
        most = int(plan.rate * plan.duration / plan.writers) + 1
        next_at = time.monotonic() + index / plan.rate
        for k in range(most):
            if self.stopping.is_set():
                return
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            # After a stall (a dead web process), carry on at the rate, never in a burst.
            next_at = max(next_at + period, time.monotonic())
            agent, token = self.agents[(index + k * plan.writers) % len(self.agents)]
            mark = f"{index}.{k}"
            body = {"content": f"soak {mark}: service {k % 37} of writer {index} deploys "
                               f"at {k % 24}:00 on host {k % 11}"}
            sent = time.time()
            record = Sent(agent, mark, sent, sent, None)
            try:
                reply = await http.post(f"/api/v2/agents/{agent}/remember", json=body,
                                        headers={"X-Session-Token": token})
                record.status = reply.status_code
                record.retry_after = "retry-after" in reply.headers
                if reply.status_code == 200:
                    record.memory_id = reply.json()["memory_id"]
            except httpx.HTTPError:
                pass
            record.done = time.time()
            self.records.append(record)


class Stack:
    """Redis, one web process and two workers, each started and stopped by its PID."""

    def __init__(self, tmp: Path, plan: Plan) -> None:
        self.tmp = tmp
        self.plan = plan
        self.redis_port = processes.free_port()
        self.url = f"redis://{processes.LOOPBACK}:{self.redis_port}/0"
        self.web_port = processes.free_port()
        self.base_url = f"http://{processes.LOOPBACK}:{self.web_port}"
        self.admin_key = "mk_" + secrets.token_urlsafe(24)
        self.jwt_secret = secrets.token_urlsafe(48)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: list[Start] = []
        self.http = httpx.Client(base_url=self.base_url, timeout=10)
        self.r = redis.Redis.from_url(self.url)
        self.probe: tuple[str, str] | None = None
        self.last_probe = ""

    def env(self) -> dict[str, str]:
        return processes.service_env(
            self.url, self.admin_key, self.jwt_secret,
            MEMANTO_CLAIM_IDLE_MS=str(self.plan.claim_idle_ms),
            # One thread per worker: two workers, the web and the writers share 2 cores.
            OMP_NUM_THREADS="1")

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start_redis(self, occasion: str) -> None:
        start = Start("redis", occasion, time.time())
        began = time.monotonic()
        self.procs["redis"] = processes.start_redis(self.redis_port, self.tmp / "redis-data",
                                                    cwd=ROOT, timeout=60)
        data = sum(f.stat().st_size for f in (self.tmp / "redis-data").rglob("*") if f.is_file())
        start.figures.append(f"answers PING after {time.monotonic() - began:.2f} s "
                             f"(AOF {data / 1e6:.1f} MB)")
        self.starts.append(start)

    def start_web(self, occasion: str) -> None:
        log = self.log("web")
        earlier = log.read_text(errors="replace").count(processes.MODEL_READY) \
            if log.exists() else 0
        start = Start("web", occasion, time.time(), log=log, model_line=earlier)
        began = time.monotonic()
        self.procs["web"] = processes.start_web(self.web_port, log, env=self.env(), cwd=ROOT,
                                                timeout=120, model=False)
        start.figures.append(f"answers HTTP after {time.monotonic() - began:.2f} s")
        if self.probe:  # the first start comes before there is an agent to remember for
            served = self.probe_remember(deadline=began + 120)
            start.figures.append(f"first remember served after {served - began:.2f} s")
        self.starts.append(start)

    def start_worker(self, name: str, occasion: str) -> None:
        self.starts.append(Start(name, occasion, time.time(), log=self.log(name)))
        self.procs[name] = processes.start_worker(self.log(name), env=self.env(), cwd=ROOT)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        os.kill(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=30)

    def stop_all(self) -> None:
        self.http.close()
        self.r.close()
        for name in [n for n in self.procs if n != "redis"] + ["redis"]:
            proc = self.procs.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)  # a stopped worker cannot take SIGTERM
            processes.stop(proc)

    def new_agents(self, count: int, prefix: str) -> list[tuple[str, str]]:
        admin = {"Authorization": f"Bearer {self.admin_key}"}
        made = []
        for i in range(count):
            agent_id = f"{prefix}-{i:03d}"
            self.http.post("/api/v2/agents", json={"agent_id": agent_id},
                           headers=admin).raise_for_status()
            reply = self.http.post(f"/api/v2/agents/{agent_id}/activate", headers=admin)
            reply.raise_for_status()
            made.append((agent_id, reply.json()["session_token"]))
        return made

    def probe_remember(self, deadline: float) -> float:
        """Remember for the probe agent until accepted; the monotonic time it was."""
        assert self.probe is not None
        agent, token = self.probe
        while time.monotonic() < deadline:
            try:
                reply = self.http.post(f"/api/v2/agents/{agent}/remember",
                                       json={"content": f"probe {time.time()}"},
                                       headers={"X-Session-Token": token}, timeout=5)
                if reply.status_code == 200:
                    self.last_probe = reply.json()["memory_id"]
                    return time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the web process never accepted a remember")

    def wait_indexed(self, memory_id: str, timeout: float) -> None:
        assert self.probe is not None
        key = keys.memory(self.probe[0], memory_id)
        processes.wait_until(lambda: _quiet(lambda: self.r.exists(key)), timeout, 0.2,
                             what=f"probe {memory_id} to be indexed")

    def consumer(self, name: str) -> str:
        """The consumer name the worker's latest start joined the group as."""
        found = re.findall(r"consumer (\S+) joined", self.log(name).read_text(errors="replace"))
        assert found, f"{name} never joined the group"
        return str(found[-1])

    def pending_of(self, consumer: str) -> int:
        for info in self.r.xinfo_consumers(keys.INGEST_STREAM, keys.INGEST_GROUP):
            if info["name"].decode() == consumer:
                return int(info["pending"])
        return 0

    def backlog(self) -> int:
        return int(self.r.xlen(keys.INGEST_STREAM))


def _quiet(call: Any) -> Any:
    """A Redis read that may meet Redis restarting: False until it answers."""
    try:
        return call()
    except (redis.ConnectionError, redis.TimeoutError):
        return False


# -- the faults ------------------------------------------------------------------------------


def when_busy(stack: Stack, consumer: str) -> None:
    """Wait a little for the worker to hold entries it has read and not acknowledged yet
    (mid-batch), which is when a fault is worth something."""
    with contextlib.suppress(TimeoutError):
        processes.wait_until(lambda: stack.pending_of(consumer) > 0, 15, 0.005,
                             what="the worker to be mid-batch")


def kill_worker(stack: Stack, fault: Fault) -> None:
    consumer = stack.consumer("worker-a")
    when_busy(stack, consumer)
    fault.at = time.time()
    stack.kill("worker-a")
    held = stack.pending_of(consumer)
    stack.start_worker("worker-a", "after SIGKILL")
    fault.repaired = time.time()
    processes.wait_until(lambda: stack.pending_of(consumer) == 0, stack.plan.recover_timeout,
                         0.2, what="the dead worker's entries to be claimed")
    fault.note = (f"its {held} pending entries claimed after {time.time() - fault.at:.1f} s")


def stop_worker(stack: Stack, fault: Fault) -> None:
    consumer = stack.consumer("worker-b")
    when_busy(stack, consumer)
    fault.at = time.time()
    stack.kill("worker-b", signal.SIGSTOP)
    # An idle worker blocked on the stream may still be handed entries once it is stopped.
    time.sleep(1.0)
    held = stack.pending_of(consumer)
    claimed = processes.wait_until(
        lambda: stack.pending_of(consumer) == 0 and time.time(),
        stack.plan.stop_seconds - 1.0, 0.1, what="the stopped worker's entries to move")
    time.sleep(max(0.0, fault.at + stack.plan.stop_seconds - time.time()))
    stack.kill("worker-b", signal.SIGCONT)
    fault.repaired = time.time()
    fault.note = (f"{held} entries pending on it when stopped; moved to the other worker "
                  f"after {claimed - fault.at:.1f} s")


def kill_redis(stack: Stack, fault: Fault) -> None:
    fault.at = time.time()
    stack.kill("redis")
    time.sleep(stack.plan.redis_down)
    stack.start_redis("after SIGKILL")
    fault.repaired = time.time()


def kill_web(stack: Stack, fault: Fault) -> None:
    fault.at = time.time()
    stack.kill("web")
    stack.start_web("after SIGKILL")
    fault.repaired = time.time()


FAULTS = [("SIGKILL a worker, start a new one", kill_worker),
          ("SIGSTOP the other worker, SIGCONT", stop_worker),
          ("SIGKILL Redis, start it again", kill_redis),
          ("SIGKILL the web process, start it again", kill_web)]


def recover(stack: Stack, fault: Fault) -> None:
    """A probe written once the fault is repaired, indexed: everything works again, and
    the backlog the fault left has been worked through (the stream is first in, first out).
    """
    stack.probe_remember(time.monotonic() + stack.plan.recover_timeout)
    stack.wait_indexed(stack.last_probe, stack.plan.recover_timeout)
    fault.recovered = time.time()


# -- the run and its checks ------------------------------------------------------------------


def soak(plan: Plan, tmp: Path, say: Any = print) -> Report:
    stack = Stack(tmp, plan)
    try:
        stack.start_redis("initial")
        stack.start_web("initial")
        for name in ("worker-a", "worker-b"):
            stack.start_worker(name, "initial")
        agents = stack.new_agents(plan.agents, "soak")
        (stack.probe,) = stack.new_agents(1, "probe")
        processes.wait_until(lambda: all(
            "ready" in stack.log(n).read_text(errors="replace")
            for n in ("worker-a", "worker-b")), 180, 0.2, what="both workers ready")
        load = Load(stack.base_url, agents, plan)
        began = time.time()
        load.start()
        say(f"writers: {plan.writers} over {plan.agents} agents at {plan.rate:.0f}/s for "
            f"{plan.duration:.0f} s")
        time.sleep(plan.warmup)
        faults = []
        for name, inject in FAULTS:
            fault = Fault(name)
            inject(stack, fault)
            recover(stack, fault)
            faults.append(fault)
            say(f"{name}: recovered after {fault.recovered - fault.at:.1f} s. {fault.note}")
            time.sleep(plan.pause)
        time.sleep(max(0.0, began + plan.duration - time.time()))
        load.stop()
        say(f"writers stopped after {time.time() - began:.0f} s; draining "
            f"{stack.backlog()} queued entries")
        processes.wait_until(lambda: stack.backlog() == 0 and int(stack.r.xpending(
            keys.INGEST_STREAM, keys.INGEST_GROUP)["pending"]) == 0,
            plan.drain_timeout, 0.5, what="the backlog to drain")
        return check(stack, load.records, faults, agents, plan)
    finally:
        stack.stop_all()


def check(stack: Stack, records: list[Sent], faults: list[Fault],
          agents: list[tuple[str, str]], plan: Plan) -> Report:
    problems: list[str] = []
    counts: Counter[str] = Counter(dict.fromkeys([
        "sent", "acknowledged", "503 with Retry-After", "no answer (refused, reset)",
        "indexed", "failed, with a reason", "lost in the fsync window before a Redis kill"], 0))
    for record in records:
        status = record.status
        counts["sent"] += 1
        counts["acknowledged" if status == 200 else
               "no answer (refused, reset)" if status is None else
               "503 with Retry-After" if status == 503 and record.retry_after else
               f"HTTP {status}"] += 1
        if status is not None and status >= 500 and not (status == 503 and record.retry_after):
            problems.append(f"a {status} answer that is not a 503 with Retry-After")
        if status != 200:
            window = next((f for f in faults if f.at <= record.done <= f.recovered), None)
            if window is None:
                problems.append(f"a failed remember outside any fault: {status}")
            else:
                window.errors["503" if status == 503 else "no answer"
                              if status is None else str(status)] += 1
    for fault in faults:
        failed = [r.done for r in records
                  if r.status != 200 and fault.at <= r.done <= fault.recovered]
        fault.door_out = max(failed) - min(failed) if failed else 0.0

    acked = [r for r in records if r.status == 200 and r.memory_id]
    kills = [f.at for f in faults if "Redis" in f.name]
    with stack.r.pipeline(transaction=False) as pipe:
        for r in acked:
            pipe.exists(keys.memory(r.agent, r.memory_id))
            pipe.hmget(keys.queued(r.agent, r.memory_id), "status", "error")
        replies = pipe.execute()
    for r, indexed, (queued, error) in zip(acked, replies[0::2], replies[1::2], strict=True):
        if indexed and queued is None:
            counts["indexed"] += 1
        elif queued == b"failed" and error:
            counts["failed, with a reason"] += 1
        elif queued is not None:
            problems.append(f"memory {r.memory_id} still {queued.decode()}")
        elif any(r.sent < k and r.done > k - plan.fsync_window for k in kills):
            counts["lost in the fsync window before a Redis kill"] += 1
        else:
            problems.append(f"memory {r.memory_id} acknowledged at {r.done:.3f} is lost")
    counts["acknowledged in the fsync window"] = sum(
        1 for r in acked if any(r.sent < k and r.done > k - plan.fsync_window for k in kills))

    # The index: one document per memory, no text twice, none of them unacknowledged but
    # for writes whose answer was lost with the web process or Redis.
    answered = {(r.agent, r.memory_id) for r in acked}
    marks: Counter[str] = Counter()
    for agent, _ in agents:
        query = Query(str(Tag("agent_id") == agent)).return_fields(
            "memory_id", "content").paging(0, 100_000)
        found = stack.r.ft(keys.MEMORY_INDEX).search(query)
        ids = [doc.memory_id for doc in found.docs]
        if len(ids) != len(set(ids)) or found.total != len(ids):
            problems.append(f"agent {agent}: {found.total} documents, {len(set(ids))} ids")
        for doc in found.docs:
            marks[doc.content.split(":", 1)[0]] += 1
            if (agent, doc.memory_id) not in answered:
                counts["indexed without an answer (it was lost in a fault)"] += 1
    counts["index documents"] = sum(marks.values())
    twice = [mark for mark, n in marks.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} memories indexed twice, e.g. {twice[:3]}")
    counts["duplicates in the index"] = len(twice)
    starts = [(s.process, s.occasion, s.describe()) for s in stack.starts]
    return Report(faults, starts, counts, problems, len(records))


def print_report(report: Report, plan: Plan) -> None:
    print(f"\n=== fault soak: {report.records} remembers, {plan.writers} writers, "
          f"{plan.agents} agents, {plan.rate:.0f}/s ===")
    print("| fault | process out for | failed answers | door out | recovered after | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for f in report.faults:
        errors = ", ".join(f"{n} {kind}" for kind, n in sorted(f.errors.items())) or "none"
        print(f"| {f.name} | {f.repaired - f.at:.1f} s | {errors} | {f.door_out:.1f} s | "
              f"{f.recovered - f.at:.1f} s | {f.note} |")
    print("(process out for: from the fault to the restart or SIGCONT; door out: from the "
          "first to the last failed answer; recovered: a probe remembered after the "
          "restart is indexed, counted from the fault)")
    print("\n| outcome | memories |\n| --- | --- |")
    for name, n in report.counts.items():
        print(f"| {name} | {n} |")
    print("\n| process | start | start-up |\n| --- | --- | --- |")
    for process, occasion, figures in report.starts:
        print(f"| {process} | {occasion} | {figures} |")
    print("\nPASS: every check holds" if report.ok else
          "\nFAIL:\n  " + "\n  ".join(sorted(set(report.problems))[:20]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    defaults = Plan()
    for name in ("duration", "rate", "warmup", "pause", "stop_seconds"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float,
                            default=getattr(defaults, name))
    for name in ("writers", "agents", "claim_idle_ms"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int,
                            default=getattr(defaults, name))
    args = parser.parse_args(argv)
    plan = Plan(**{k: v for k, v in vars(args).items()})
    try:
        with tempfile.TemporaryDirectory(prefix="memanto-soak-") as tmp:
            report = soak(plan, Path(tmp))
    except Exception as exc:  # the soak itself could not run
        print(f"soak could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print_report(report, plan)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
