"""Helpers the tests share: free ports, real processes started and stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
# The installed entry points, run as modules of this checkout.
CLI = [sys.executable, "-m", "memanto_redis.cli.main"]
WORKER = [sys.executable, "-m", "memanto_redis.workers.ingest"]
JOBS_WORKER = "memanto_redis.workers.jobs.JobsWorker"
ADMIN_KEY = "test-admin-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_redis(port: int, data_dir: Path) -> subprocess.Popen:
    """The embedded Redis, as `memanto redis-server` runs it."""
    proc = subprocess.Popen(
        [*CLI, "redis-server", "--port", str(port),
         "--data-dir", str(data_dir)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            assert proc.poll() is None, "redis-server exited"
            return False

    wait_until(up, 20, what="redis-server")
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop one process we started, by its PID."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "REDIS_URL": redis_url,
        "MEMANTO_API_KEY": ADMIN_KEY,
        "MEMANTO_JWT_SECRET": JWT_SECRET,
        "HF_HUB_OFFLINE": "1",
    })
    env.update(extra)
    return env


def start_worker(redis_url: str, log_path: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        WORKER, cwd=ROOT,
        env=service_env(redis_url, **extra),
        stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
    )


def start_web(redis_url: str, port: int, log_path: Path, *, app: str = "memanto_redis.api.app:app",
              probe: str = "/api/v2/agents", **extra: str) -> subprocess.Popen:
    """A uvicorn process serving `app` (the service by default), once `probe` answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port),
         "--no-access-log"], cwd=ROOT, env=service_env(redis_url, **extra),
        stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
    )

    def up() -> bool:
        assert proc.poll() is None, f"web exited: {log_path.read_text()[-2000:]}"
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1)
            return True
        except httpx.TransportError:
            return False

    wait_until(up, 60, 0.2, what="web process")
    return proc
