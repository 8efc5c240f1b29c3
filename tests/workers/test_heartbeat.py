"""Real worker, scheduler and jobs processes write their heartbeat (a key with a TTL)
every few seconds, and their figures for /metrics; a clean stop takes the key away, a
killed process's key expires."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from memanto_redis.shared.infra import keys
from tests.support import (
    JOBS_WORKER,
    ROOT,
    WORKER,
    service_env,
    stop,
    wait_until,
    worker_ready,
)

BEAT = "0.5"


def start(procs, args: list[str], redis_url: str, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(args, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            env=service_env(redis_url, MEMANTO_HEARTBEAT_SECONDS=BEAT,
                                            MEMANTO_SCHEDULER_LOCK_MS="1500"),
                            start_new_session=True)
    procs.append(proc)
    return proc


def beats(r: redis.Redis, pid: int) -> dict | None:
    """The heartbeat note of the process `pid`, if it is alive."""
    for name in r.zrange(keys.HEARTBEATS, 0, -1):
        kind, _, rest = name.decode().partition(":")
        raw = r.get(keys.heartbeat(kind, rest))
        if raw and json.loads(raw)["pid"] == pid:
            return json.loads(raw) | {"key": keys.heartbeat(kind, rest)}
    return None


def test_each_process_beats_and_stops_beating(procs, r, redis_url, tmp_path, client, agent):
    rq = str(Path(sys.executable).parent / "rq")
    scheduler = start(procs, [sys.executable, "-m", "memanto_redis.workers.scheduler"],
                      redis_url, tmp_path / "scheduler.log")
    jobs = start(procs, [rq, "worker", "--with-scheduler", "-w", JOBS_WORKER, "--url",
                         redis_url, keys.JOBS_QUEUE], redis_url, tmp_path / "jobs.log")
    jobs_started = time.monotonic()
    worker = start(procs, WORKER, redis_url, tmp_path / "worker.log")
    notes = {name: wait_until(lambda p=proc: beats(r, p.pid), 60, 0.1, what=f"{name} beat")
             for name, proc in (("scheduler", scheduler), ("jobs", jobs), ("worker", worker))}
    assert {n["kind"] for n in notes.values()} == {"scheduler", "jobs", "worker"}
    for note in notes.values():
        ttl = r.pttl(note["key"])
        assert 0 < ttl <= 1500, ttl  # three beats
        assert note["key"].startswith(keys.HEARTBEAT_PREFIX + note["kind"] + ":")
    # A beat is renewed: the note's time moves on.
    first = notes["jobs"]["beat_at"]
    wait_until(lambda: (beats(r, jobs.pid) or {}).get("beat_at", 0) > first, 5, 0.1,
               what="a second beat")
    # The scheduler leads (and counted taking the lead); it says so in its note.
    wait_until(lambda: (beats(r, scheduler.pid) or {}).get("leading"), 10, 0.1, what="lead")
    wait_until(lambda: r.hget(keys.METRICS, "memanto_scheduler_leader_changes_total"), 5,
               0.1, what="the leader change counted")

    # A clean stop takes the heartbeat away at once ...
    stop(scheduler, signal.SIGTERM)
    assert r.get(notes["scheduler"]["key"]) is None
    # ... a killed process's expires within three beats. (First let RQ's worker block on its
    # queue a few times: the beat's connections must not be ones RQ's dequeue times out on.)
    time.sleep(max(0.0, 8 - (time.monotonic() - jobs_started)))
    assert "could not connect" not in (tmp_path / "jobs.log").read_text()
    os.kill(jobs.pid, signal.SIGKILL)
    jobs.wait()
    wait_until(lambda: r.get(notes["jobs"]["key"]) is None, 5, 0.1, what="expiry")
    assert beats(r, worker.pid) is not None

    # The worker's figures reach Redis at its next beat, for the web's /metrics.
    wait_until(lambda: worker_ready(worker, tmp_path / "worker.log"), 90, 0.2, what="model")
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/remember",
                        json={"content": "counted by the worker"}, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    wait_until(lambda: int(r.hget(keys.METRICS, "memanto_ingest_indexed_total") or 0) >= 1,
               30, 0.1, what="indexed counted")
    assert int(r.hget(keys.METRICS, "memanto_ingest_batch_size_count")) >= 1
    assert float(r.hget(keys.METRICS, "memanto_ingest_embed_seconds_sum")) > 0

    # Every process logs JSON lines, with its name.
    for log in ("scheduler", "worker"):
        lines = [json.loads(line) for line in (tmp_path / f"{log}.log").read_text()
                 .splitlines() if line.startswith("{")]
        assert lines and all(line["process"] == log for line in lines)
        assert {"timestamp", "level", "event", "logger"} <= set(lines[0])
    jobs_lines = [line for line in (tmp_path / "jobs.log").read_text().splitlines()
                  if line.strip()]
    assert any(json.loads(line)["process"] == "jobs" for line in jobs_lines
               if line.startswith("{")), jobs_lines[:5]
