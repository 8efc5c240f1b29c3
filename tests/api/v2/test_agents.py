"""Agents: create, list, get, delete, with the admin key."""

from __future__ import annotations

import uuid

import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import problem


def _id(prefix: str = "a") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_answers_201_with_the_seed_shape(client):
    agent_id = _id("customer-support")
    reply = client.post("/api/v2/agents", json={"agent_id": agent_id,
                                                "description": "Tracks decisions"},
                        headers=ADMIN)
    assert reply.status_code == 201
    body = reply.json()
    assert body["agent_id"] == agent_id
    assert body["namespace"] == f"memanto_agent_{agent_id}"
    assert body["description"] == "Tracks decisions"
    assert body["memory_count"] == 0
    assert (body["status"], body["session_count"], body["last_session"]) == ("ready", 0, None)
    assert body["created_at"].endswith("Z")


def test_create_twice_is_409_and_keeps_the_first(client):
    agent_id = _id()
    client.post("/api/v2/agents", json={"agent_id": agent_id, "description": "first"},
                headers=ADMIN)
    again = client.post("/api/v2/agents", json={"agent_id": agent_id, "description": "second"},
                        headers=ADMIN)
    assert again.status_code == 409
    assert agent_id in problem(again)
    assert client.get(f"/api/v2/agents/{agent_id}", headers=ADMIN).json()["description"] == "first"


@pytest.mark.parametrize("bad", ["", "a" * 65, "has space", "slash/no", "ünïcode", "x:y"])
def test_invalid_agent_ids_are_refused_by_name(client, r, bad):
    reply = client.post("/api/v2/agents", json={"agent_id": bad}, headers=ADMIN)
    assert reply.status_code == 422
    assert "agent_id" in problem(reply)
    assert not r.exists(keys.agent(bad))


@pytest.mark.parametrize("good", ["a", "A.b_c-9", "x" * 64])
def test_valid_agent_id_characters(client, good):
    suffix = uuid.uuid4().hex[:6]
    agent_id = (good + suffix)[-64:] if len(good) == 64 else good + suffix
    assert client.post("/api/v2/agents", json={"agent_id": agent_id},
                       headers=ADMIN).status_code == 201


@pytest.mark.parametrize("body, field", [
    ({}, "agent_id"),
    ({"agent_id": 12}, "agent_id"),
    ({"agent_id": "ok-id", "pattern": "nonsense"}, "pattern"),
])
def test_bad_bodies_name_the_field(client, body, field):
    reply = client.post("/api/v2/agents", json=body, headers=ADMIN)
    assert reply.status_code == 422
    assert field in problem(reply)


def test_malformed_json_is_fastapis_422(client):
    reply = client.post("/api/v2/agents", content=b'{"agent_id": ', headers=ADMIN)
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["type"] == "json_invalid"
    assert "JSON" in problem(reply)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
    {"Authorization": "Bearer "},
])
def test_every_agent_route_needs_the_api_key(client, headers):
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    for method, path in [("POST", "/api/v2/agents"), ("GET", "/api/v2/agents"),
                         ("GET", base), ("DELETE", base), ("POST", base + "/activate")]:
        reply = client.request(method, path, headers=headers, json={"agent_id": _id()})
        assert reply.status_code == 401, (method, path)
    # A session token is not an API key.
    assert client.get("/api/v2/agents", headers=agent.headers).status_code == 401
    assert client.get(base, headers=ADMIN).status_code == 200


def test_list_counts_memories_and_last_activity(client, indexer):
    agent = new_agent(client)
    for text in ("one", "two", "three"):
        client.post(f"/api/v2/agents/{agent.agent_id}/remember", json={"content": text},
                    headers=agent.headers)
    listing = client.get("/api/v2/agents", headers=ADMIN).json()
    assert listing["count"] == len(listing["agents"])
    mine = next(a for a in listing["agents"] if a["agent_id"] == agent.agent_id)
    assert mine["memory_count"] == 3
    assert mine["last_active"] is not None
    indexer.run(burst=True)
    assert client.get(f"/api/v2/agents/{agent.agent_id}",
                      headers=ADMIN).json()["memory_count"] == 3


def test_get_unknown_agent_is_404(client):
    assert client.get(f"/api/v2/agents/{_id()}", headers=ADMIN).status_code == 404
    assert client.get("/api/v2/agents/bad%20id", headers=ADMIN).status_code == 404


def test_delete_removes_agent_sessions_and_memories(client, indexer, r):
    agent = new_agent(client)
    other = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    ids = [client.post(f"{base}/remember", json={"content": f"memory {i}"},
                       headers=agent.headers).json()["memory_id"] for i in range(5)]
    keep = client.post(f"/api/v2/agents/{other.agent_id}/remember",
                       json={"content": "the other agent's memory"},
                       headers=other.headers).json()["memory_id"]
    indexer.run(burst=True)
    # One more queued, not yet indexed, at delete time; and some short-term memory.
    late = client.post(f"{base}/remember", json={"content": "late"},
                       headers=agent.headers).json()["memory_id"]
    assert client.post(f"/api/agents/{agent.agent_id}/memory/stm",
                       json={"role": "user", "content": "hello"},
                       headers=agent.headers).status_code == 201

    reply = client.delete(base, params={"delete-backup-too": "true"}, headers=ADMIN)
    assert reply.status_code == 200
    assert reply.json()["memories_deleted"] == 6

    assert client.get(base, headers=ADMIN).status_code == 404
    assert client.post(f"{base}/remember", json={"content": "x"},
                       headers=agent.headers).status_code == 401
    indexer.run(burst=True)  # the queued write of a deleted agent must not come back
    for memory_id in [*ids, late]:
        assert not r.exists(keys.memory(agent.agent_id, memory_id))
        assert not r.exists(keys.queued(agent.agent_id, memory_id))
    assert not r.exists(keys.session(agent.agent_id), keys.memory_ids(agent.agent_id))
    assert list(r.scan_iter(match=f"*{{{agent.agent_id}}}*")) == []  # nothing of it is left
    assert r.exists(keys.memory(other.agent_id, keep))
    assert client.delete(base, headers=ADMIN).status_code == 404
    # The id is free again, with nothing of the old agent's.
    assert client.post("/api/v2/agents", json={"agent_id": agent.agent_id},
                       headers=ADMIN).json()["memory_count"] == 0
