"""Helpers the tests share: the test secrets, and real processes started with them.

The process helpers themselves (free ports, waiting, starting and stopping by PID) live
in `memanto_redis.cli.processes`; they are re-exported here under the names the tests use.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from memanto_redis.cli import processes
from memanto_redis.cli.processes import CLI, WORKER, free_port, stop, wait_until

__all__ = ["ADMIN_KEY", "CLI", "JOBS_WORKER", "JWT_SECRET", "ROOT", "WORKER", "free_port",
           "service_env", "start_redis", "start_web", "start_worker", "stop", "wait_until"]

ROOT = Path(__file__).resolve().parent.parent
JOBS_WORKER = "memanto_redis.workers.jobs.JobsWorker"
ADMIN_KEY = "test-admin-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdef"


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a service process, with the test secrets."""
    return processes.service_env(redis_url, ADMIN_KEY, JWT_SECRET, **extra)


def start_redis(port: int, data_dir: Path) -> subprocess.Popen:
    """The embedded Redis, as `memanto redis-server` runs it, once it answers PING."""
    return processes.start_redis(port, data_dir, cwd=ROOT)


def start_worker(redis_url: str, log_path: Path, **extra: str) -> subprocess.Popen:
    return processes.start_worker(log_path, env=service_env(redis_url, **extra), cwd=ROOT)


def start_web(redis_url: str, port: int, log_path: Path, *,
              app: str = processes.WEB_APP, probe: str = processes.WEB_PROBE,
              **extra: str) -> subprocess.Popen:
    """A uvicorn process serving `app` (the service by default), once `probe` answers."""
    return processes.start_web(port, log_path, env=service_env(redis_url, **extra), app=app,
                               probe=probe, cwd=ROOT)
