"""Retried writes are stored once: a write with an Idempotency-Key, retried by its caller
within the window, gets the first answer again (same ids) and queues nothing more."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from memanto_redis.api.app import create_app
from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent

V2 = "/api/v2/agents/{}"


def _remember(client, agent, key: str | None, content: str = "retried fact"):
    headers = agent.headers | ({"Idempotency-Key": key} if key else {})
    reply = client.post(V2.format(agent.agent_id) + "/remember", json={"content": content},
                        headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_retried_remember_is_stored_once(client, r):
    agent = new_agent(client)
    first = _remember(client, agent, "req-1")
    again = _remember(client, agent, "req-1", content="the body of a retry")
    assert again == first
    assert r.scard(keys.memory_ids(agent.agent_id)) == 1
    assert r.xlen(keys.INGEST_STREAM) == 1
    other = _remember(client, agent, "req-2")
    assert other["memory_id"] != first["memory_id"]
    plain = [_remember(client, agent, None)["memory_id"] for _ in range(2)]
    assert len(set(plain)) == 2
    assert r.scard(keys.memory_ids(agent.agent_id)) == 4


def test_the_key_is_the_callers_own(client, r):
    a, b = new_agent(client), new_agent(client)
    assert _remember(client, a, "shared-key")["memory_id"] != \
        _remember(client, b, "shared-key")["memory_id"]
    assert r.scard(keys.memory_ids(a.agent_id)) == r.scard(keys.memory_ids(b.agent_id)) == 1


def test_a_retried_batch_gets_the_same_ids(client, r):
    agent = new_agent(client)
    body = {"memories": [{"content": "one"}, {"content": ""}, {"content": "two"}]}
    headers = agent.headers | {"Idempotency-Key": "batch-7"}
    url = V2.format(agent.agent_id) + "/batch-remember"
    first = client.post(url, json=body, headers=headers).json()
    again = client.post(url, json=body, headers=headers).json()
    assert first == again
    assert first["successful"] == 2
    assert r.scard(keys.memory_ids(agent.agent_id)) == 2


def test_memories_create_and_import_retried(client, r):
    agent = new_agent(client)
    body = {"memory": "likes tea", "user_id": "u-idem", "agent_id": agent.agent_id}
    first = client.post("/memories", json=body, headers=ADMIN | {"Idempotency-Key": "m1"})
    again = client.post("/memories", json=body, headers=ADMIN | {"Idempotency-Key": "m1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["memory_id"] == again.json()["memory_id"]

    url = V2.format(agent.agent_id) + "/import"
    items = {"memories": [{"memory_id": "kept-id-1", "content": "restored"}]}
    headers = agent.headers | {"Idempotency-Key": "import-1"}
    done = client.post(url, json=items, headers=headers)
    retried = client.post(url, json=items, headers=headers)
    assert done.status_code == retried.status_code == 200, retried.text
    assert done.json() == retried.json()
    # Without the key, the held id is refused as before.
    assert client.post(url, json=items, headers=agent.headers).status_code == 409
    assert r.scard(keys.memory_ids(agent.agent_id)) == 2


def test_a_bad_key_is_refused(client):
    agent = new_agent(client)
    for key in ("", "x" * 256, "has space"):
        reply = client.post(V2.format(agent.agent_id) + "/remember", json={"content": "x"},
                            headers=agent.headers | {"Idempotency-Key": key})
        assert reply.status_code == 422, (key, reply.text)
        assert "Idempotency-Key" in reply.json()["detail"]


def test_the_window_ends(settings, vectorizer, r):
    short = settings.varied(idempotency_seconds=1)
    with TestClient(create_app(short, vectorizer)) as app:
        agent = new_agent(app)
        first = _remember(app, agent, "k")
        time.sleep(1.5)
        assert _remember(app, agent, "k")["memory_id"] != first["memory_id"]
        assert r.scard(keys.memory_ids(agent.agent_id)) == 2


def test_a_retried_ltm_add_is_stored_once(client, r):
    agent = new_agent(client)
    url = f"/api/agents/{agent.agent_id}/memory/ltm"
    headers = agent.headers | {"Idempotency-Key": "ltm-1"}
    first = client.post(url, json={"content": "a long-term fact"}, headers=headers)
    again = client.post(url, json={"content": "a long-term fact"}, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json()["id"] == again.json()["id"]
    assert r.scard(keys.memory_ids(agent.agent_id)) == 1
