"""`memanto dev` (what `make run` runs) as real processes: the embedded Redis and every
Procfile process under cli/supervisor.py. A killed worker comes back and indexes; a killed
Redis comes back from its data folder and every process takes up its work again without
being restarted; SIGTERM stops every process it started, Redis last."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import redis

from memanto_redis.cli.dev import banner, ensure_env_file, read_env_file
from memanto_redis.cli.processes import redis_answers
from memanto_redis.cli.supervisor import (
    Program,
    RestartPolicy,
    Supervisor,
    command_argv,
    expand,
    read_procfile,
)
from tests.support import (
    ADMIN_KEY,
    CLI,
    JWT_SECRET,
    ROOT,
    free_port,
    loopback_http,
    stop,
    wait_until,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
STARTED = re.compile(r"(\w+) started \(pid (\d+)\)")


class Dev:
    """One `memanto dev` and what it says."""

    def __init__(self, tmp: Path) -> None:
        shutil.copy(ROOT / "Procfile", tmp / "Procfile")
        self.tmp = tmp
        self.log = tmp / "dev.log"
        self.redis_port = free_port()
        port = free_port()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        # A Redis URL in the env file, as `memanto dev` wrote it before it gave its Redis a
        # password: this start gives it one (and the other secrets come from the
        # environment, so the admin key is not printed).
        self.env_file = tmp / ".env"
        self.env_file.write_text(f"REDIS_URL=redis://127.0.0.1:{self.redis_port}/0\n")
        self.env_file.chmod(0o644)
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update({
            "PORT": str(port),
            "HOST": "127.0.0.1", "MEMANTO_API_KEY": ADMIN_KEY, "MEMANTO_JWT_SECRET": JWT_SECRET,
            "HF_HUB_OFFLINE": "1", "MEMANTO_CLAIM_IDLE_MS": "1000",
            "MEMANTO_SCHEDULER_LOCK_MS": "1500", "MEMANTO_WEBHOOK_RETRY_INTERVALS": "1,1",
            "MEMANTO_WEBHOOK_TIMEOUT": "3", "MEMANTO_WEBHOOK_ALLOW": "127.0.0.1",
        })
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*CLI, "dev", "--env-file", str(self.env_file)],
                                         cwd=tmp, env=env, stdout=out,
                                         stderr=subprocess.STDOUT)

    @property
    def redis_url(self) -> str:
        return read_env_file(self.env_file)["REDIS_URL"]

    @property
    def redis_password(self) -> str | None:
        return redis.Redis.from_url(self.redis_url).connection_pool.connection_kwargs.get(
            "password")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        return [int(pid) for found, pid in STARTED.findall(self.text()) if found == name]

    def pid(self, name: str) -> int:
        return self.pids(name)[-1]

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text()))

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.text()[-4000:]
        return (self.count(r"web: embedding model loaded") >= 1
                and self.count(r"consumer \S+ ready") >= 1 and self.count(r"leading as") >= 1
                and self.count(r"Listening on memanto") >= 1)


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[Dev]:
    running = Dev(tmp_path_factory.mktemp("dev"))
    try:
        wait_until(running.ready, 180, 0.2, what="memanto dev to be up")
        yield running
    finally:
        running.http.close()
        stop(running.proc, timeout=60)


@pytest.fixture(scope="module")
def agent(dev: Dev) -> tuple[str, dict[str, str]]:
    agent_id = f"dev-{time.time_ns()}"
    assert dev.http.post("/api/v2/agents", json={"agent_id": agent_id},
                         headers=ADMIN).status_code == 201
    session = dev.http.post(f"/api/v2/agents/{agent_id}/activate", headers=ADMIN)
    assert session.status_code == 200, session.text
    return agent_id, {"X-Session-Token": session.json()["session_token"]}


def remember_and_wait(dev: Dev, agent: tuple[str, dict[str, str]], content: str,
                      timeout: float = 60) -> float:
    """Remember (retrying while Redis is away), wait until indexed; seconds it took."""
    agent_id, auth = agent
    started = time.monotonic()

    def accepted() -> str | None:
        with contextlib.suppress(httpx.TransportError):
            reply = dev.http.post(f"/api/v2/agents/{agent_id}/remember",
                                  json={"content": content}, headers=auth)
            if reply.status_code == 200:
                return str(reply.json()["memory_id"])
            assert reply.status_code == 503, reply.text
            assert "Retry-After" in reply.headers
        return None

    memory_id = wait_until(accepted, timeout, 0.2, what="the remember to be accepted")

    def indexed() -> bool:
        reply = dev.http.get(f"/api/v2/agents/{agent_id}/memories/{memory_id}", headers=auth)
        return reply.status_code == 200 and reply.json()["status"] == "indexed"

    wait_until(indexed, timeout, 0.1, what=f"memory {memory_id} to be indexed")
    return time.monotonic() - started


def test_procfile_is_read_as_honcho_reads_it(tmp_path):
    env = {"PORT": "9001", "EMPTY": ""}
    assert expand("--port ${PORT:-8000} --host ${HOST:-0.0.0.0} ${EMPTY:-x} ${EMPTY-y} $PORT",
                  env) == "--port 9001 --host 0.0.0.0 x  9001"
    assert command_argv("rq worker --url ${REDIS_URL:-redis://h:1/0} q", {}) == [
        "rq", "worker", "--url", "redis://h:1/0", "q"]
    assert command_argv("a && b", {}) == ["/bin/sh", "-c", "a && b"]
    procfile = tmp_path / "Procfile"
    # (the release phase runs once per deploy, not under the supervisor)
    procfile.write_text("# comment\n\nweb: uvicorn app --port ${PORT:-8000}\nworker: w 'a b'\n"
                        "release: python -m make.indexes\n")
    programs = read_procfile(procfile, env)
    assert [(p.name, p.argv) for p in programs] == [
        ("web", ["uvicorn", "app", "--port", "9001"]), ("worker", ["w", "a b"])]
    real = read_procfile(ROOT / "Procfile", {})
    assert [p.name for p in real] == ["web", "worker", "scheduler", "jobs"]


def test_a_process_that_keeps_dying_is_given_up_loudly():
    """Restarted with a growing pause, then given up; the others keep running."""
    out = io.StringIO()
    policy = RestartPolicy(first_pause=0.05, max_pause=0.2, max_restarts=3, window=60)
    supervisor = Supervisor(
        [Program("crash", ["/bin/sh", "-c", "echo boom; exit 3"]),
         Program("steady", ["/bin/sh", "-c", "echo up; exec sleep 60"])],
        os.environ, stream=out, policy=policy)
    crash, steady = supervisor.children
    supervisor.start()

    def given_up() -> bool:
        supervisor.poll()
        return crash.given_up

    try:
        wait_until(given_up, 20, 0.02, what="the crashing program to be given up")
        assert steady.proc is not None and steady.proc.poll() is None
    finally:
        supervisor.stop()
    assert steady.proc.returncode == -signal.SIGTERM
    text = out.getvalue()
    assert text.count("crash started") == 4, text  # the start and three restarts
    assert "GIVING UP on crash" in text
    assert re.search(r"crash +\| boom", text) and re.search(r"steady +\| up", text), text
    pauses = [float(p) for p in re.findall(r"restarting in ([\d.]+) s", text)]
    assert pauses == sorted(pauses) and pauses[-1] <= 0.2, pauses


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def bare_env(monkeypatch):
    """No local settings in the environment: `memanto dev` generates them all."""
    for name in ("REDIS_URL", "PORT", "HOST", "MEMANTO_API_KEY", "MEMANTO_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_a_new_env_file_is_private_and_its_redis_has_a_password(tmp_path, bare_env):
    path = tmp_path / ".env"
    old = os.umask(0)  # what a create-then-chmod would leave world-readable meanwhile
    try:
        first = ensure_env_file(path)
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert read_env_file(path) == first.values
    url = redis.connection.parse_url(first.values["REDIS_URL"])
    assert url["host"] == "127.0.0.1" and len(url["password"]) >= 32
    assert first.generated == {"REDIS_URL", "PORT", "HOST", "MEMANTO_API_KEY",
                               "MEMANTO_JWT_SECRET"}
    key = first.values["MEMANTO_API_KEY"]
    shown = banner(first.values, path, first.generated, ".data/redis")
    assert key in shown and url["password"] not in shown and ":***@127.0.0.1" in shown
    # The next start generates nothing and prints no key.
    again = ensure_env_file(path)
    assert again.values == first.values and again.generated == set()
    assert key not in banner(again.values, path, again.generated, ".data/redis")


def test_a_loose_env_file_is_tightened_and_a_local_redis_url_gets_a_password(tmp_path,
                                                                                bare_env):
    path = tmp_path / ".env"
    path.write_text("# mine\nREDIS_URL=redis://127.0.0.1:6390/0\nMEMANTO_API_KEY=mk_kept\n"
                    "MEMANTO_JWT_SECRET=" + "s" * 48 + "\n")
    path.chmod(0o644)
    local = ensure_env_file(path)
    assert mode(path) == 0o600
    assert local.generated == {"REDIS_URL", "PORT", "HOST"}
    url = redis.connection.parse_url(local.values["REDIS_URL"])
    assert (url["port"], url["db"]) == (6390, 0) and url["password"]
    text = path.read_text()
    assert text.startswith("# mine\nREDIS_URL=redis://:") and "MEMANTO_API_KEY=mk_kept\n" in text
    # A Redis elsewhere, or one with a password already, is left as it is.
    for url in ("redis://redis.internal:6379/0", "redis://:given@127.0.0.1:6379/0"):
        path.write_text(f"REDIS_URL={url}\n")
        assert ensure_env_file(path).values["REDIS_URL"] == url


def test_the_embedded_redis_requires_its_password(dev):
    assert mode(dev.env_file) == 0o600
    password = dev.redis_password
    assert password and len(password) >= 32
    # Without it, as any local process could try (plain RESP, as redis-cli sends it).
    with socket.create_connection(("127.0.0.1", dev.redis_port), timeout=5) as anonymous:
        anonymous.sendall(b"PING\r\n")
        assert anonymous.recv(200).startswith(b"-NOAUTH Authentication required")
        anonymous.sendall(b"GET memanto:anything\r\n")
        assert anonymous.recv(200).startswith(b"-NOAUTH")
    assert redis_answers(dev.redis_port, password)
    # Neither on redis-server's command line nor in what `memanto dev` printed; the admin
    # key (from the environment here) is not printed either.
    cmdline = Path(f"/proc/{dev.pid('redis')}/cmdline").read_bytes()
    assert b"redis-server" in cmdline and password.encode() not in cmdline
    # Nor on any other process's (the jobs process hands it to RQ in its environment).
    for name in ("web", "worker", "scheduler", "jobs"):
        assert password.encode() not in Path(f"/proc/{dev.pid(name)}/cmdline").read_bytes()
    assert password not in dev.text() and ADMIN_KEY not in dev.text()
    assert "Admin API key: MEMANTO_API_KEY from the environment" in dev.text()


def test_a_killed_worker_is_restarted_and_indexes(dev, agent):
    first = dev.pid("worker")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: dev.pid("worker") != first and dev.count(r"consumer \S+ ready") >= 2,
               120, 0.2, what="a new worker")
    assert "worker exited (SIGKILL)" in dev.text()
    remember_and_wait(dev, agent, "the backup runs at 02:15 after the worker came back")


class Flaky(BaseHTTPRequestHandler):
    """A webhook receiver that fails each delivery's first attempt."""

    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        delivery = self.headers.get("X-Memanto-Delivery", "")
        again = delivery in self.seen
        self.seen.append(delivery)
        self.send_response(200 if again else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_every_process_takes_up_its_work_after_redis_restarts(dev, agent):
    agent_id, auth = agent
    before = {name: dev.pid(name) for name in ("web", "worker", "scheduler", "jobs")}
    with loopback_http(Flaky) as server:
        remember_and_wait(dev, agent, "written before Redis is killed")
        time.sleep(1.2)  # appendfsync everysec
        os.kill(dev.pid("redis"), signal.SIGKILL)
        wait_until(lambda: len(dev.pids("redis")) == 2
                   and redis_answers(dev.redis_port, dev.redis_password), 30,
                   0.1, what="Redis to be restarted")
        back = time.monotonic()
        # The web process and the worker, at once.
        took = remember_and_wait(dev, agent, "written after Redis came back", timeout=30)
        # The scheduler fires, jobs delivers, and a failed webhook is retried by RQ's
        # scheduler (which a Redis outage may have stopped: the worker starts it again).
        made = dev.http.post(f"/api/agents/{agent_id}/schedules", headers=ADMIN, json={
            "name": "tick", "cron": "* * * * * *", "prompt": "look around",
            "webhook_url": f"http://127.0.0.1:{server.server_port}/hook"})
        assert made.status_code == 201, made.text

        def retried_webhook() -> bool:
            runs = dev.http.get(f"/api/agents/{agent_id}/schedules/tick/runs",
                                headers=ADMIN).json()["runs"]
            return any((run["webhook"] or {}).get("status") == "delivered"
                       and run["webhook"]["attempts"] == 2 for run in runs)

        wait_until(retried_webhook, 45, 0.5, what="a webhook delivered on its retry")
        inbox = dev.http.get(f"/api/agents/{agent_id}/inbox", headers=auth).json()
        assert any(m["prompt"] == "look around" for m in inbox["messages"])
        print(f"\nafter Redis came back: remember indexed in {took:.1f} s, webhook retried "
              f"{time.monotonic() - back:.1f} s after")
        dev.http.delete(f"/api/agents/{agent_id}/schedules/tick", headers=ADMIN)
    # They reconnected: none of them was restarted.
    for name in ("web", "worker", "scheduler"):
        assert dev.pid(name) == before[name], (name, dev.text()[-4000:])


def sessions_alive(sessions: set[int]) -> list[int]:
    """Processes, children's children included, in any of these sessions."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # After the name: state, ppid, pgrp, session.
            if int(fields[3]) in sessions and fields[0] != "Z":
                alive.append(int(stat.parent.name))
    return alive


def test_sigterm_stops_every_process_redis_last(dev):
    started = {int(pid) for _, pid in STARTED.findall(dev.text())}
    assert len(started) >= 7  # redis twice, worker twice, web, scheduler, jobs
    dev.proc.send_signal(signal.SIGTERM)
    dev.proc.wait(timeout=90)
    assert dev.proc.returncode == 0, dev.text()[-4000:]
    assert sessions_alive(started) == []
    stops = re.findall(r"stopping (\w+) \(pid", dev.text())
    assert stops[-1] == "redis" and set(stops) == {"redis", "web", "worker", "scheduler",
                                                    "jobs"}
