"""Real processes started and stopped by PID: the embedded Redis, a web process, a worker.

What `memanto dev`, the tests and the benchmarks share: a free port on the loopback,
waiting for a condition, starting the embedded redis-server (as `memanto redis-server`
runs it) or a uvicorn or ingest-worker process and waiting until it answers, and stopping
one process by its PID (SIGTERM, then SIGKILL after a timeout). Nothing here stops a
process it was not given.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import redis

LOOPBACK = "127.0.0.1"
# The installed entry points, run as modules of this interpreter (so of its venv).
CLI = [sys.executable, "-m", "memanto_redis.cli.main"]
WORKER = [sys.executable, "-m", "memanto_redis.workers.ingest"]
WEB_APP = "memanto_redis.api.app:app"
WEB_PROBE = "/api/v2/agents"
# The line the web process writes once recall can be served (api/app.py's MODEL_READY,
# spelled here so that this module does not import the web app).
MODEL_READY = "web: embedding model loaded"

T = TypeVar("T")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.05,
               what: str = "condition") -> T:
    """Call `predicate` until it returns something true, and return that; TimeoutError
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop one process we started, by its PID: `sig`, then SIGKILL after `timeout` s."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def service_env(redis_url: str, api_key: str, jwt_secret: str, **extra: str) -> dict[str, str]:
    """This environment plus what a web or worker process needs; `extra` comes last."""
    env = dict(os.environ)
    env.update({
        "REDIS_URL": redis_url,
        "MEMANTO_API_KEY": api_key,
        "MEMANTO_JWT_SECRET": jwt_secret,
        "HF_HUB_OFFLINE": "1",
    })
    env.update(extra)
    return env


def _started(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float,
             interval: float, what: str) -> subprocess.Popen:
    """Wait until `ready`; if it never is (or raises), stop the process before raising."""
    try:
        wait_until(ready, timeout, interval, what=what)
    except BaseException:
        stop(proc)
        raise
    return proc


def _exited(proc: subprocess.Popen, what: str, log_path: Path | None = None) -> RuntimeError:
    tail = ""
    if log_path is not None:
        with contextlib.suppress(OSError):
            tail = ": " + log_path.read_text(errors="replace")[-2000:]
    return RuntimeError(f"{what} exited ({proc.returncode}){tail}")


def redis_command(port: int, data_dir: Path | str) -> list[str]:
    """The command line of the embedded Redis on the loopback, data in `data_dir`."""
    return [*CLI, "redis-server", "--port", str(port), "--data-dir", str(data_dir)]


def redis_answers(port: int, password: str | None = None) -> bool:
    """Whether a Redis on the loopback `port` answers PING (and has its data loaded)."""
    client = redis.Redis(host=LOOPBACK, port=port, password=password,
                         socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


def start_redis(port: int, data_dir: Path | str, *, env: dict[str, str] | None = None,
                cwd: Path | str | None = None, output: int | IO[Any] | None = subprocess.DEVNULL,
                new_session: bool = False, timeout: float = 20,
                interval: float = 0.05) -> subprocess.Popen:
    """The embedded Redis as `memanto redis-server` runs it, once it answers PING on
    the loopback. `output` takes its stdout and stderr (None: this process's own)."""
    proc = subprocess.Popen(redis_command(port, data_dir), cwd=cwd, env=env, stdout=output,
                            stderr=output, start_new_session=new_session)

    def up() -> bool:
        if redis_answers(port):
            return True
        if proc.poll() is not None:
            raise _exited(proc, "redis-server")
        return False

    return _started(proc, up, timeout, interval, "redis-server")


def web_answers(port: int, probe: str = WEB_PROBE) -> bool:
    """Whether a web process on the loopback `port` gives a GET of `probe` any HTTP answer."""
    try:
        httpx.get(f"http://{LOOPBACK}:{port}{probe}", timeout=1)
        return True
    except httpx.TransportError:
        return False


def model_loaded(log_path: Path) -> bool:
    """Whether the web process writing `log_path` has said its embedding model is loaded."""
    try:
        return MODEL_READY.encode() in log_path.read_bytes()
    except OSError:
        return False


def start_web(port: int, log_path: Path, *, env: dict[str, str], app: str = WEB_APP,
              probe: str = WEB_PROBE, cwd: Path | str | None = None,
              timeout: float = 90, model: bool | None = None,
              python: str = sys.executable) -> subprocess.Popen:
    """A uvicorn process serving `app` on the loopback (no access log), output appended
    to `log_path`, once a GET of `probe` gets any HTTP answer and, with `model` (the
    default for the service's own app), once its embedding model is loaded too (it serves
    what needs no model before that). `python`: the interpreter (of another venv)."""
    wait_model = app == WEB_APP if model is None else model
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [python, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port),
             "--no-access-log"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
        )

    def up() -> bool:
        if proc.poll() is not None:
            raise _exited(proc, "web process", log_path)
        return web_answers(port, probe) and (not wait_model or model_loaded(log_path))

    return _started(proc, up, timeout, 0.2, "web process")


def start_worker(log_path: Path, *, env: dict[str, str], cwd: Path | str | None = None,
                 python: str = sys.executable) -> subprocess.Popen:
    """An ingest worker, output appended to `log_path` (not waited for: it has no port)."""
    with log_path.open("ab") as log:
        return subprocess.Popen([python, *WORKER[1:]], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def start_embed_server(port: int, log_path: Path, *, env: dict[str, str] | None = None,
                       cwd: Path | str | None = None, timeout: float = 120,
                       extra: list[str] | None = None) -> subprocess.Popen:
    """`memanto embed-server` on the loopback `port`, output appended to `log_path`, once
    its /health answers (it opens its port once the model is loaded)."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen([*CLI, "embed-server", "--host", LOOPBACK, "--port", str(port),
                                 *(extra or [])], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise _exited(proc, "embed-server", log_path)
        return web_answers(port, "/health")

    return _started(proc, up, timeout, 0.2, "embed-server")
