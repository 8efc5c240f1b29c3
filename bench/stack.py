"""The stack one benchmark run measures: embedded Redis, one web process, their clients.

`Context` holds everything one run started (processes by PID, logs in its temp dir) and
stops it all again; the processes come from `memanto_redis.cli.processes`.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import redis

from memanto_redis.cli.processes import free_port, service_env, start_redis, start_web, stop

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


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
    # This run's own secrets, for the processes it starts.
    admin_key: str = field(default_factory=lambda: "mk_" + secrets.token_urlsafe(32))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a web or worker process of this run."""
        return service_env(self.redis_url, self.admin_key, self.jwt_secret, **extra)

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


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class RunFailed(Exception):
    """A benchmark run failed; its traceback and logs are printed already."""


def run_in_context(prefix: str, run: Callable[[Context], T]) -> T:
    """`run` with a Context of its own in a temp dir, everything it started stopped after
    (SIGTERM too); on failure the traceback and the tail of each log, then RunFailed."""
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        ctx = Context(Path(tmp))
        try:
            return run(ctx)
        except (Exception, KeyboardInterrupt):
            traceback.print_exc()
            for log in ctx.logs:
                if tail := log_tail(log, 1500):
                    print(f"\n--- tail of {log.name} ---\n{tail}", file=sys.stderr)
            raise RunFailed(prefix) from None
        finally:
            ctx.stop_all()


def start_stack(ctx: Context) -> None:
    """Embedded Redis on a free port in the temp dir, then one web process."""
    redis_port = free_port()
    ctx.redis_url = f"redis://127.0.0.1:{redis_port}/0"
    # start_redis waits for PING (and stops the process if it never answers).
    ctx.track(start_redis(redis_port, ctx.tmp / "redis-data", cwd=ROOT))
    ctx.r = redis.Redis.from_url(ctx.redis_url)
    web_port = free_port()
    ctx.web_url = f"http://127.0.0.1:{web_port}"
    started = time.perf_counter()
    ctx.web_proc = ctx.track(start_web(web_port, ctx.log("web"), env=ctx.env(), cwd=ROOT))
    print(f"redis {ctx.redis_url} (pid {ctx.procs[0].pid}); web {ctx.web_url} "
          f"(pid {ctx.web_proc.pid}, ready after {time.perf_counter() - started:.1f} s)")
    ctx.http = httpx.Client(base_url=ctx.web_url, timeout=60)


# The write quota the benchmark's agents get: far beyond what one web process takes, so the
# door runs its token bucket (and the override lookup) on every write but never refuses.
BENCH_QUOTA = {"rate": 1_000_000, "burst": 10_000_000}


def new_agent(ctx: Context, agent_id: str, quota: dict[str, int] | None = None) -> Agent:
    """An agent with a live session; its write quota is BENCH_QUOTA unless given."""
    reply = ctx.client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=ctx.admin)
    reply.raise_for_status()
    reply = ctx.client.put(f"/api/v2/agents/{agent_id}/quota", json=quota or BENCH_QUOTA,
                           headers=ctx.admin)
    reply.raise_for_status()
    reply = ctx.client.post(f"/api/v2/agents/{agent_id}/activate", json={}, headers=ctx.admin)
    reply.raise_for_status()
    return Agent(agent_id, reply.json()["session_token"])

