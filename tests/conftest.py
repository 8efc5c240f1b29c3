"""Fixtures: one embedded Redis (with search) on a free port for the session, the real
local embedding model loaded once, the app run through its lifespan, and one live stack
(a Redis, a web process and an ingest worker of its own) for the tests that need running
processes without being about them."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from rq import Queue
from starlette.testclient import TestClient

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.embeddings import load_vectorizer
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.ingest import Indexer
from tests.support import (
    ADMIN,
    ADMIN_KEY,
    JWT_SECRET,
    WebhookReceiver,
    free_port,
    loopback_http,
    start_redis,
    start_web,
    start_worker,
    stop,
    unique,
    wait_until,
    worker_ready,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _own_temp_folder(tmp_path_factory):
    """Each test process spools uploads in a folder of its own (tests count what is left
    there, which a parallel test process's upload must not change)."""
    tempfile.tempdir = str(tmp_path_factory.mktemp("tmp"))
    yield
    tempfile.tempdir = None


@pytest.fixture
def receiver() -> Iterator[int]:
    """A loopback webhook receiver's port; what it got is in WebhookReceiver.seen."""
    WebhookReceiver.seen = []
    with loopback_http(WebhookReceiver) as server:
        yield server.server_port


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    port = free_port()
    proc = start_redis(port, tmp_path_factory.mktemp("redis-data"))
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    return redis_server


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _fresh_stream(redis_url):
    """Each test starts with an empty ingest stream: leftovers would leak across tests."""
    client = redis.Redis.from_url(redis_url)
    client.delete(keys.INGEST_STREAM, keys.DEAD_LETTER_STREAM, keys.INGEST_ERRORS)
    client.close()


@dataclass
class OwnRedis:
    """An embedded Redis of the test's own, which it may kill and start again."""

    port: int
    data: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = start_redis(self.port, self.data)

    def kill(self) -> None:
        assert self.proc is not None
        stop(self.proc, signal.SIGKILL)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    """An embedded Redis for this test alone (its data in `tmp_path`), running when the
    test starts and stopped after it."""
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            stop(server.proc)


@dataclass(frozen=True)
class LiveStack:
    url: str  # the web process, http://127.0.0.1:PORT
    redis_url: str  # the stack's own Redis
    logs: Path  # web.log and worker.log


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveStack]:
    """A running service, started once for the session on first use and stopped at its end
    by PID: an embedded Redis of its own, a web process and an ingest worker, each with the
    model loaded. Its own Redis, because its worker would otherwise take the entries the
    in-process tests queue on the session Redis and drive with their own `indexer` (and
    `_fresh_stream` deletes that stream, consumer group and all, before every test).
    Tests on it share its keys: each uses names of its own (`new_agent`, `unique`)."""
    root = tmp_path_factory.mktemp("live")
    started = []
    try:
        redis_port = free_port()
        started.append(start_redis(redis_port, root / "redis"))
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        # Both load the embedding model: start the worker first so they load it side by side.
        worker_log = root / "worker.log"
        worker = start_worker(redis_url, worker_log, MEMANTO_BLOCK_MS="100")
        started.append(worker)
        port = free_port()
        started.append(start_web(redis_url, port, root / "web.log"))
        wait_until(lambda: worker_ready(worker, worker_log), 90, 0.2, what="ingest worker")
        yield LiveStack(f"http://127.0.0.1:{port}", redis_url, root)
    finally:
        for proc in reversed(started):
            stop(proc)


@pytest.fixture(scope="session")
def vectorizer():
    return load_vectorizer("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def settings(redis_url) -> Settings:
    return Settings(redis_url=redis_url, api_key=ADMIN_KEY, jwt_secret=JWT_SECRET)


@pytest.fixture(scope="session")
def client(settings, vectorizer):
    from memanto_redis.api.app import create_app

    with TestClient(create_app(settings, vectorizer)) as test_client:
        yield test_client


@dataclass
class Agent:
    agent_id: str
    token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Session-Token": self.token}


def new_agent(client: httpx.Client, prefix: str = "agent", **activate) -> Agent:
    """A new agent (named `prefix-XXXXXXXX`) made and activated with the admin key, through
    `client`: the app's TestClient or an httpx.Client of a served process."""
    agent_id = unique(prefix)
    assert client.post("/api/v2/agents", json={"agent_id": agent_id},
                       headers=ADMIN).status_code == 201
    reply = client.post(f"/api/v2/agents/{agent_id}/activate", json=activate, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return Agent(agent_id, body["session_token"], body["session_id"])


@pytest.fixture
def agent(client) -> Agent:
    return new_agent(client)


@pytest.fixture
def queue(r):
    """A clean due set, scheduler lock and job queue: other tests' schedules must not fire
    here, nor their jobs run."""
    r.delete(keys.SCHEDULES_DUE, keys.SCHEDULER_LEADER)
    q = Queue(keys.JOBS_QUEUE, connection=r)
    q.empty()
    yield q
    q.empty()
    r.delete(keys.SCHEDULES_DUE, keys.SCHEDULER_LEADER)


@pytest.fixture
def indexer(redis_url, vectorizer):
    """An in-process ingest consumer; tests drive it with run(burst=True)."""
    client = redis.Redis.from_url(redis_url)
    worker = Indexer(
        client,
        lambda texts: vectorizer.embed_many(texts, batch_size=len(texts), as_buffer=True),
        batch_size=64, block_ms=50, claim_idle_ms=200, max_deliveries=5,
    )
    worker.ensure_group()
    yield worker
    client.close()
