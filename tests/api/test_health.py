"""GET /health, /live and /ready: no credentials, and /ready names what is missing."""

from __future__ import annotations

import httpx
import pytest
import redis.asyncio

from memanto_redis.api import health
from memanto_redis.api.services import EmbeddingModel
from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN


@pytest.mark.parametrize("path", ["/health", "/live"])
def test_up_without_credentials(client, path):
    reply = client.get(path)
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] in {"healthy", "alive"}
    assert body["service"] == "memanto-redis" and body["version"]
    assert reply.headers["x-request-id"]


def test_ready_when_redis_index_and_model_are(client):
    reply = client.get("/ready")
    assert reply.status_code == 200, reply.text
    assert reply.json()["checks"] == {"redis": "ok", "index": "ok", "model": "ok"}
    assert isinstance(reply.json()["processes"], list)


def test_not_ready_while_the_model_loads(client, monkeypatch):
    monkeypatch.setattr(EmbeddingModel, "ready", property(lambda self: False))
    reply = client.get("/ready")
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "2"
    body = reply.json()
    assert [e["field"] for e in body["errors"]] == ["model"]
    assert "still loading" in body["detail"]
    # The process itself is up all the same.
    assert client.get("/health").status_code == 200


def test_not_ready_without_the_index(client, monkeypatch):
    async def absent(_client):
        return False

    monkeypatch.setattr(health, "_index_present", absent)
    reply = client.get("/ready")
    assert reply.status_code == 503
    assert [e["field"] for e in reply.json()["errors"]] == ["index"]
    assert keys.MEMORY_INDEX in reply.json()["detail"]


def test_not_ready_without_redis(client, monkeypatch):
    async def down(self, *args, **kwargs):
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(redis.asyncio.Redis, "ping", down)
    reply = client.get("/ready")
    assert reply.status_code == 503
    assert {e["field"] for e in reply.json()["errors"]} == {"redis", "index"}
    assert client.get("/live").status_code == 200


def test_a_sane_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers[
        "x-request-id"] == "abc-123"
    replaced = client.get("/health", headers={"X-Request-ID": "a b\nc"}).headers["x-request-id"]
    again = client.get("/health").headers["x-request-id"]
    assert replaced != "a b\nc" and again != replaced and len(replaced) > 16


def test_probes_of_a_running_web_process(live):
    """The live stack's web process (its worker beats too: /ready lists it)."""
    assert httpx.get(f"{live.url}/health").json()["status"] == "healthy"
    assert httpx.get(f"{live.url}/live").status_code == 200
    ready = httpx.get(f"{live.url}/ready")
    assert ready.status_code == 200, ready.text
    assert "worker" in {p["kind"] for p in ready.json()["processes"]}
    # Other routes still ask for credentials.
    assert httpx.get(f"{live.url}/api/v2/agents").status_code == 401
    assert httpx.get(f"{live.url}/api/v2/agents", headers=ADMIN).status_code == 200
