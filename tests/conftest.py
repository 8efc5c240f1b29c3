"""Fixtures: one embedded Redis (with search) on a free port for the session, the real
local embedding model loaded once, the app run through its lifespan."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
import redis
from starlette.testclient import TestClient

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.embeddings import load_vectorizer
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.ingest import Indexer
from tests.support import ADMIN_KEY, JWT_SECRET, free_port, start_redis, stop

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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


ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Agent:
    agent_id: str
    token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Session-Token": self.token}


def new_agent(client: TestClient, prefix: str = "agent", **activate) -> Agent:
    agent_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
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
