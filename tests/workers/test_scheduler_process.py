"""Real `python -m workers.scheduler` and `rq worker` processes, seconds-level cron:
timely fires, two schedulers without double fires, leader takeover, signed webhooks
with retries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from rq import Queue, Worker

from memanto_redis.shared.infra import keys
from memanto_redis.shared.schedule import webhooks
from tests.conftest import ADMIN, new_agent
from tests.support import ROOT, loopback_http, service_env, stop, wait_until

LOCK_MS = 1500


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def start(args: list[str], redis_url: str, log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=service_env(redis_url, **env),
                            stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_scheduler(procs, redis_url: str, log: Path, **env: str) -> subprocess.Popen:
    proc = start([sys.executable, "-m", "memanto_redis.workers.scheduler"], redis_url, log,
                 MEMANTO_SCHEDULER_LOCK_MS=str(LOCK_MS), **env)
    procs.append(proc)
    return proc


def start_jobs(procs, r, redis_url: str, log: Path, **env: str) -> subprocess.Popen:
    """The Procfile's `jobs` line, and wait until the worker listens."""
    proc = start([sys.executable, "-m", "memanto_redis.workers.jobs"], redis_url, log, **env)
    procs.append(proc)
    queue = Queue(keys.JOBS_QUEUE, connection=r)
    wait_until(lambda: Worker.count(connection=r, queue=queue) > 0, 30, 0.05,
               what="rq worker")
    return proc


def leader_pid(r) -> int:
    token = wait_until(lambda: r.get(keys.SCHEDULER_LEADER), 15, 0.05, what="a leader")
    return int(token.decode().split(":")[1])


def create(client, agent_id: str, **body) -> dict:
    reply = client.post(f"/api/agents/{agent_id}/schedules", json=body, headers=ADMIN)
    assert reply.status_code == 201, reply.text
    return reply.json()


def runs(client, agent_id: str, name: str) -> list[dict]:
    return client.get(f"/api/agents/{agent_id}/schedules/{name}/runs?limit=100",
                      headers=ADMIN).json()["runs"][::-1]


def test_fires_reach_the_inbox_within_two_seconds(client, r, redis_url, tmp_path, procs):
    agent = new_agent(client)
    # A schedule whose first slots pass while no scheduler runs.
    missed = create(client, agent.agent_id, name="missed", cron="* * * * * *", prompt="late")
    first_slot = int(epoch(missed["next_run"]))
    start_jobs(procs, r, redis_url, tmp_path / "jobs.log")
    time.sleep(max(0.0, first_slot + 2.5 - time.time()))
    start_scheduler(procs, redis_url, tmp_path / "scheduler.log")
    leader_pid(r)
    create(client, agent.agent_id, name="tick", cron="* * * * * *", prompt="look around")

    # Long-poll the inbox the way an agent would, noting when each prompt arrives.
    arrivals: dict[str, float] = {}
    after = "0"
    deadline = time.monotonic() + 15
    while len(arrivals) < 5 and time.monotonic() < deadline:
        reply = client.get(f"/api/agents/{agent.agent_id}/inbox?after={after}&wait=5",
                           headers=agent.headers).json()
        for message in reply["messages"]:
            if message["schedule"] == "tick":
                arrivals[message["scheduled_for"]] = time.time()
                assert message["prompt"] == "look around"
        after = reply["last_id"]
    delays = sorted(arrivals[s] - epoch(s) for s in arrivals)
    print(f"\nfire -> inbox delays (s): {[round(d, 3) for d in delays]}")
    assert len(delays) >= 5, (tmp_path / "jobs.log").read_text()[-3000:]
    stamps = sorted(int(epoch(s)) for s in arrivals)
    assert stamps == list(range(stamps[0], stamps[0] + len(stamps))), "a second was skipped"

    fired = runs(client, agent.agent_id, "tick")
    delivered = [run for run in fired if run["status"] == "delivered"]
    print("fire lag (s):", [round(epoch(run["fired_at"]) - epoch(run["scheduled_for"]), 3)
                            for run in delivered])
    print("delivery lag (s):", [round(epoch(run["delivered_at"]) - epoch(run["fired_at"]), 3)
                                for run in delivered])
    assert {run["scheduled_for"] for run in delivered} >= set(arrivals)
    assert all(epoch(run["delivered_at"]) - epoch(run["scheduled_for"]) < 2 for run in delivered)
    assert max(delays) < 2.0
    stm = r.lrange(keys.stm(agent.agent_id, agent.session_id), 0, -1)
    assert sum(b'"role":"system"' in e and b"look around" in e for e in stm) >= 5

    # The seconds missed before the scheduler started fired once, as the latest of them;
    # every second after that fired once.
    late = [int(epoch(run["scheduled_for"])) for run in runs(client, agent.agent_id, "missed")]
    print(f"missed schedule: first slot {first_slot}, fires {[t - first_slot for t in late]}")
    assert late[0] >= first_slot + 2
    assert late == list(range(late[0], late[0] + len(late)))


def test_two_schedulers_never_double_fire_and_the_standby_takes_over(client, r, redis_url,
                                                                      tmp_path, procs):
    start_jobs(procs, r, redis_url, tmp_path / "jobs.log")
    first = start_scheduler(procs, redis_url, tmp_path / "scheduler-a.log")
    second = start_scheduler(procs, redis_url, tmp_path / "scheduler-b.log")
    by_pid = {first.pid: (first, tmp_path / "scheduler-a.log"),
              second.pid: (second, tmp_path / "scheduler-b.log")}
    leader, leader_log = by_pid[leader_pid(r)]
    standby, standby_log = next(v for k, v in by_pid.items() if k != leader.pid)
    wait_until(lambda: b"waiting to lead" in standby_log.read_bytes(), 15, what="standby up")
    agent = new_agent(client)
    names = ("tick", "tock")
    for name in names:
        create(client, agent.agent_id, name=name, cron="* * * * * *", prompt=name)

    def fired(name: str) -> int:
        return int(r.hget(keys.schedule(agent.agent_id, name), "run_count") or 0)

    wait_until(lambda: all(fired(n) >= 4 for n in names), 15, what="fires under one leader")
    assert b"fired" not in standby_log.read_bytes(), "the standby fired while a leader lived"

    os.kill(leader.pid, signal.SIGKILL)
    killed = time.time()
    leader.wait(5)
    before = {n: fired(n) for n in names}
    wait_until(lambda: all(fired(n) >= before[n] + 4 for n in names), 20,
               what="fires after the takeover")
    assert b"leading as" in standby_log.read_bytes()
    stop(standby)  # no more fires; let the jobs worker deliver what was fired
    wait_until(lambda: all(run["status"] == "delivered"
                           for n in names for run in runs(client, agent.agent_id, n)), 15,
               what="every fire delivered")

    inbox = client.get(f"/api/agents/{agent.agent_id}/inbox?limit=1000",
                       headers=ADMIN).json()["messages"]
    for name in names:
        history = runs(client, agent.agent_id, name)
        stamps = [int(epoch(run["scheduled_for"])) for run in history]
        assert len(stamps) == len(set(stamps)) == fired(name), "a slot fired twice"
        delivered = sorted(int(epoch(m["scheduled_for"])) for m in inbox if m["schedule"] == name)
        assert delivered == stamps, "the inbox does not hold each fire exactly once"
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        # Every second fires, except across the takeover: the seconds missed while the
        # dead leader's lock ran out fire once, as the latest of them.
        assert sorted(gaps)[:-1] == [1] * (len(gaps) - 1), gaps
        assert max(gaps) <= LOCK_MS / 1000 + 1.5, gaps
        resumed = min(epoch(run["fired_at"]) for run in history if epoch(run["fired_at"]) > killed)
        print(f"\n{name}: gaps {gaps}; takeover {resumed - killed:.2f}s after SIGKILL "
              f"(lock {LOCK_MS} ms)")
        assert resumed - killed < LOCK_MS / 1000 + 1.5


class Receiver(BaseHTTPRequestHandler):
    """Records each request; /flaky answers 500 to a delivery's first attempt, /down
    always answers 500."""

    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        delivery = self.headers.get("X-Memanto-Delivery")
        earlier = [s for s in self.seen if s["delivery"] == delivery]
        self.seen.append({"path": self.path, "headers": dict(self.headers), "raw": raw,
                          "delivery": delivery, "at": time.time()})
        ok = self.path == "/flaky" and earlier
        self.send_response(200 if ok else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_receiver():
    Receiver.seen = []
    with loopback_http(Receiver) as server:
        # A name, resolved from /etc/hosts at send time: the jobs process must allow-list it.
        yield f"http://localhost:{server.server_port}", Receiver.seen


def test_webhooks_are_signed_and_retried(client, r, redis_url, tmp_path, procs,
                                        flaky_receiver):
    base, seen = flaky_receiver
    start_jobs(procs, r, redis_url, tmp_path / "jobs.log",
               MEMANTO_WEBHOOK_RETRY_INTERVALS="2,2", MEMANTO_WEBHOOK_TIMEOUT="3",
               MEMANTO_WEBHOOK_ALLOW="127.0.0.1")
    start_scheduler(procs, redis_url, tmp_path / "scheduler.log")
    agent = new_agent(client)
    # Once a minute, a few seconds from now: one fire during the test.
    second = (int(time.time()) + 3) % 60
    cron = f"* * * * * {second}"
    flaky = create(client, agent.agent_id, name="flaky", cron=cron, prompt="report",
                   webhook_url=base + "/flaky")
    down = create(client, agent.agent_id, name="down", cron=cron, prompt="report",
                  webhook_url=base + "/down")

    def webhook(name: str) -> dict | None:
        history = runs(client, agent.agent_id, name)
        return history[0]["webhook"] if history else None

    wait_until(lambda: (webhook("flaky") or {}).get("status") == "delivered"
               and (webhook("down") or {}).get("status") == "failed", 25, 0.2,
               what="webhook outcomes")

    (run,) = runs(client, agent.agent_id, "flaky")
    assert run["webhook"] | {"last_attempt_at": None, "delivered_at": None} == {
        "status": "delivered", "attempts": 2, "http_status": 200, "error": None,
        "last_attempt_at": None, "delivered_at": None}
    assert run["webhook"]["delivered_at"] is not None
    (failed,) = runs(client, agent.agent_id, "down")
    assert failed["webhook"]["status"] == "failed"
    assert failed["webhook"]["attempts"] == 3  # the first try and two retries
    assert failed["webhook"]["http_status"] == 500
    assert failed["webhook"]["error"] == "http_5xx"

    for path, made, attempts in (("/flaky", flaky, 2), ("/down", down, 3)):
        requests = [s for s in seen if s["path"] == path]
        assert len(requests) == attempts
        secret = made["webhook_secret"]
        for n, request in enumerate(requests, start=1):
            signature = request["headers"]["X-Memanto-Signature"]
            assert webhooks.verify(secret, request["raw"], signature)
            assert not webhooks.verify(down["webhook_secret"] if path == "/flaky"
                                       else flaky["webhook_secret"], request["raw"], signature)
            assert request["headers"]["X-Memanto-Attempt"] == str(n)
            assert request["headers"]["Content-Type"] == "application/json"
            assert int(request["headers"]["X-Memanto-Timestamp"]) - request["at"] < 2
            body = json.loads(request["raw"])
            assert body == {"agent": agent.agent_id, "schedule": made["name"],
                            "prompt": "report", "scheduled_for": run["scheduled_for"],
                            "fired_at": body["fired_at"]}
        assert len({request["raw"] for request in requests}) == 1  # same body on retries
        gaps = [b["at"] - a["at"] for a, b in zip(requests, requests[1:], strict=False)]
        # The retry interval is honoured, to RQ's whole-second scheduling granularity.
        assert all(gap >= 1.0 for gap in gaps), gaps
    # The secret is in no answer but the one that created the schedule.
    listed = client.get(f"/api/agents/{agent.agent_id}/schedules", headers=ADMIN).text
    assert flaky["webhook_secret"] not in listed and down["webhook_secret"] not in listed
