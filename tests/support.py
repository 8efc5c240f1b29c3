"""Helpers the tests share: the test secrets, unique names, real processes started with
them, and the `memanto` command line run in this process or as the installed command.

The process helpers themselves (free ports, waiting, starting and stopping by PID) live
in `memanto_redis.cli.processes`; they are re-exported here under the names the tests use.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis

from memanto_redis.cli import processes
from memanto_redis.cli.processes import CLI, WORKER, free_port, stop, wait_until
from memanto_redis.shared.infra import keys

__all__ = ["ADMIN", "ADMIN_KEY", "CLI", "JOBS_WORKER", "JWT_SECRET", "MEMANTO", "ROOT", "WORKER",
           "add_schedule", "free_port", "make_key", "memanto_in_process", "memanto_process",
           "memories_indexed", "new_api_key", "service_env", "start_redis", "start_web",
           "start_worker", "stop", "unique", "versions_held", "wait_until", "worker_ready"]

ROOT = Path(__file__).resolve().parent.parent
JOBS_WORKER = "memanto_redis.workers.jobs.JobsWorker"
ADMIN_KEY = "test-admin-key-0123456789abcdefghijklmnop"
JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdef"
# The admin key's header.
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# The installed `memanto` command (the console script beside this interpreter).
MEMANTO = Path(sys.executable).with_name("memanto")


def unique(prefix: str) -> str:
    """A name no other test uses: agents, users, keys and schedules are global to a Redis."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a service process, with the test secrets."""
    return processes.service_env(redis_url, ADMIN_KEY, JWT_SECRET, **extra)


def start_redis(port: int, data_dir: Path) -> subprocess.Popen:
    """The embedded Redis, as `memanto redis-server` runs it, once it answers PING."""
    return processes.start_redis(port, data_dir, cwd=ROOT)


def start_worker(redis_url: str, log_path: Path, **extra: str) -> subprocess.Popen:
    return processes.start_worker(log_path, env=service_env(redis_url, **extra), cwd=ROOT)


def worker_ready(proc: subprocess.Popen, log_path: Path) -> bool:
    """Whether the ingest worker writing `log_path` has joined the consumer group (it has
    loaded its model by then); an exited worker fails the wait with its log."""
    assert proc.poll() is None, f"worker exited: {log_path.read_text(errors='replace')[-2000:]}"
    return bool(re.search(r"consumer \S+ ready", log_path.read_text(errors="replace")))


def start_web(redis_url: str, port: int, log_path: Path, *,
              app: str = processes.WEB_APP, probe: str = processes.WEB_PROBE,
              model: bool | None = None, **extra: str) -> subprocess.Popen:
    """A uvicorn process serving `app` (the service by default), once `probe` answers and,
    unless `model` is False, the service's embedding model is loaded."""
    return processes.start_web(port, log_path, env=service_env(redis_url, **extra), app=app,
                               probe=probe, cwd=ROOT, model=model)


def memories_indexed(redis_url: str, ids: list[str]) -> bool:
    """Whether the worker has indexed each of these /memories (each has its live document in
    the stack's Redis; lists and words show a memory before that, so they cannot tell)."""
    client = redis.Redis.from_url(redis_url)
    try:
        owners = client.hmget(keys.MEMORY_OWNERS, ids)
        return all(owner is not None and client.exists(keys.memory(owner.decode(), memory_id))
                   for memory_id, owner in zip(ids, owners, strict=True))
    finally:
        client.close()


def new_api_key(client: Any, **scope: Any) -> str:
    """A new API key of this scope (`agents`, `users`, `read_only`, `admin`, ...) made with
    the admin key; the key itself."""
    reply = client.post("/api/v2/apikeys", json={"name": unique("key")} | scope,
                        headers=ADMIN)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["api_key"])


def make_key(client: Any, **scope: Any) -> dict[str, str]:
    """A new API key of this scope, as its Bearer header."""
    return {"Authorization": f"Bearer {new_api_key(client, **scope)}"}


def versions_held(r: redis.Redis, agent_id: str, memory_id: str, upto: int = 20) -> list[int]:
    """Which of a memory's versions numbered below `upto` are archived in Redis."""
    return [n for n in range(1, upto) if r.exists(keys.version(agent_id, memory_id, n))]


def add_schedule(client: Any, r: redis.Redis, agent_id: str, name: str, cron: str,
                 **extra: Any) -> int:
    """A schedule created through the API (with the admin key); its first fire time."""
    body = {"name": name, "cron": cron, "prompt": f"prompt of {name}"} | extra
    assert client.post(f"/api/agents/{agent_id}/schedules", json=body,
                       headers=ADMIN).status_code == 201
    return int(r.hget(keys.schedule(agent_id, name), "next_run"))


# -- the command line ---------------------------------------------------------------------

def _environ(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its MEMANTO_* variables, plus `env`: what a user's
    shell with only these settings gives `memanto`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MEMANTO_")} | dict(env)


def memanto_in_process(capsys: pytest.CaptureFixture[str], argv: Sequence[str],
                       env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`memanto ARGV` run by `memanto_redis.cli.main.main` in this process, as the installed
    command runs it: with `env` as its MEMANTO_* environment, no terminal on stdin, and the
    exit status Python gives a SystemExit. What a subprocess would add is the interpreter's
    start-up (a second or two on a busy machine), proved by `memanto_process`. An exception
    other than SystemExit is not caught: it fails the test with its traceback."""
    from memanto_redis.cli.main import main

    capsys.readouterr()  # what the test printed before is not this command's output
    with mock.patch.dict(os.environ, _environ(env), clear=True), \
            mock.patch.object(sys, "stdin", io.StringIO()):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # SystemExit("message"): the interpreter prints it and exits with 1
                print(exc.code, file=sys.stderr)
                code = 1
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["memanto", *argv], code, out, err)


def memanto_process(argv: Sequence[str], env: Mapping[str, str],
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`memanto ARGV` as the installed command, a process of its own (stdin from /dev/null)."""
    command = [str(MEMANTO)] if MEMANTO.exists() else CLI
    return subprocess.run([*command, *argv], cwd=ROOT, env=_environ(env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def problem(reply: Any) -> str:
    """An error answer's text, whatever its dialect's envelope: a plain `detail`, MEMANTO's
    `{"detail": {"error", "message", "details"}}`, or its 422 list of `{loc, msg, type}`."""
    detail = reply.json()["detail"]
    if isinstance(detail, dict):
        return f"{detail['error']}: {detail['message']}"
    if isinstance(detail, list):
        return "; ".join(".".join(str(p) for p in e["loc"][1:]) + ": " + e["msg"]
                         for e in detail)
    return str(detail)


@contextlib.contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler],
                  tls: ssl.SSLContext | None = None) -> Iterator[ThreadingHTTPServer]:
    """An HTTP server on a free loopback port, serving in a thread while the block runs;
    HTTPS when given a server-side `tls` context (its socket wrapped before serving)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class WebhookReceiver(BaseHTTPRequestHandler):
    """A webhook receiver for `loopback_http` that records each request (its path and
    headers): /ok answers 200, /fail 500, /moved redirects to /ok, /slow answers after
    2 s, any other path 200."""

    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append({"path": self.path, **dict(self.headers)})
        if self.path == "/slow":
            time.sleep(2)
        status = {"/ok": 200, "/fail": 500, "/moved": 302}.get(self.path, 200)
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for `name` and its key, in PEM."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


# MEMANTO 0.2.30 itself, installed beside the venv by the Makefile (without its
# dependencies or its `memanto` command): its models and CostGuard as the client's.
MEMANTO_DIR = ROOT / ".venv" / "memanto-0.2.30"


@contextlib.contextmanager
def memanto_importable(home: Path) -> Iterator[None]:
    """MEMANTO's package importable inside the block, its config (which reads .env files
    and ~/.memanto at import) kept away from ours under `home`."""
    assert MEMANTO_DIR.is_dir(), "run make (it installs memanto==0.2.30 for these tests)"
    saved = dict(os.environ)
    os.environ["HOME"] = str(home)
    sys.path.insert(0, str(MEMANTO_DIR))
    try:
        yield
    finally:
        sys.path.remove(str(MEMANTO_DIR))
        os.environ.clear()
        os.environ.update(saved)


def import_indexed(client: Any, indexer: Any, agent_id: str,
                   memories: list[dict[str, Any]]) -> list[str]:
    """Memories imported (with their own times) through v2, then indexed; their ids."""
    reply = client.post(f"/api/v2/agents/{agent_id}/import", json={"memories": memories},
                        headers=ADMIN)
    assert reply.status_code == 200, reply.text
    indexer.run(burst=True)
    return [m["memory_id"] for m in reply.json()["memories"]]
