"""The /memories dialect (seed 004) through the app: one memory across dialects, user
scoping, validation and auth."""

from __future__ import annotations

import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import ADMIN_KEY, unique

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_a_memory_for_an_agent_is_the_same_memory_in_v2(client, indexer):
    agent = new_agent(client)
    carol = unique("carol")
    reply = client.post("/memories", json={"memory": "Invoices go out on the 1st",
                                           "user_id": carol, "topics": ["billing"],
                                           "agent_id": agent.agent_id}, headers=ADMIN)
    assert reply.status_code == 201
    memory = reply.json()
    assert memory["agent_id"] == agent.agent_id
    indexer.run(burst=True)
    v2 = client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory['memory_id']}",
                    headers=agent.headers).json()
    assert (v2["content"], v2["tags"], v2["user_id"]) == (
        "Invoices go out on the 1st", ["billing"], carol)
    found = client.post(f"/api/v2/agents/{agent.agent_id}/recall",
                        json={"query": "when are invoices sent"}, headers=agent.headers).json()
    assert found["memories"][0]["memory_id"] == memory["memory_id"]
    # And the other way: a v2 memory is visible (and editable) through /memories.
    v2_id = client.post(f"/api/v2/agents/{agent.agent_id}/remember",
                        json={"content": "v2 native memory", "tags": ["x"]},
                        headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    shown = client.get(f"/memories/{v2_id}", headers=ADMIN).json()
    assert (shown["memory"], shown["agent_id"], shown["topics"]) == (
        "v2 native memory", agent.agent_id, ["x"])
    listed = client.get("/memories", params={"agent_id": agent.agent_id},
                        headers=ADMIN).json()
    assert {m["memory_id"] for m in listed["data"]} == {memory["memory_id"], v2_id}


def test_user_scoping_on_reads_and_deletes(client, indexer, r):
    dana, eve = unique("dana"), unique("eve")
    created = client.post("/memories", json={"memory": "Dana's secret", "user_id": dana},
                          headers=ADMIN).json()
    memory_id = created["memory_id"]
    assert created["agent_id"] is None
    assert r.hget(keys.MEMORY_OWNERS, memory_id) == keys.user_owner(dana).encode()
    indexer.run(burst=True)
    assert client.get(f"/memories/{memory_id}", params={"user_id": eve},
                      headers=ADMIN).status_code == 404
    assert client.delete(f"/memories/{memory_id}", params={"user_id": eve},
                         headers=ADMIN).status_code == 404
    assert client.patch(f"/memories/{memory_id}", json={"memory": "x", "user_id": eve},
                        headers=ADMIN).status_code == 404
    assert client.get(f"/memories/{memory_id}", params={"user_id": dana},
                      headers=ADMIN).status_code == 200
    assert client.delete(f"/memories/{memory_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/memories/{memory_id}", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"user_id": "u"}, "memory"),
    ({"memory": "", "user_id": "u"}, "memory"),
    ({"memory": "x" * 5001, "user_id": "u"}, "memory"),
    ({"memory": "x"}, "user_id"),
    ({"memory": "x", "user_id": "a{b}"}, "user_id"),
    ({"memory": "x", "user_id": "u", "topics": "ui"}, "topics"),
    ({"memory": "x", "user_id": "u", "agent_id": "bad id"}, "agent_id"),
    ({"memory": "x", "user_id": "u", "colour": "red"}, "colour"),
])
def test_bad_creates_are_named(client, body, field):
    reply = client.post("/memories", json=body, headers=ADMIN)
    assert reply.status_code == 422
    assert field in reply.json()["detail"]


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"page": "0"}, "page"),
    ({"sort_by": "memory"}, "sort_by"), ({"sort_order": "up"}, "sort_order"),
])
def test_bad_list_parameters_are_named(client, params, field):
    reply = client.get("/memories", params=params, headers=ADMIN)
    assert reply.status_code == 422
    assert field in reply.json()["detail"]


def test_unknown_agent_and_auth(client):
    missing = client.post("/memories", json={"memory": "x", "user_id": "u",
                                             "agent_id": "no-such-agent-x"}, headers=ADMIN)
    assert missing.status_code == 404
    agent = new_agent(client)
    for method, path in [("GET", "/memories"), ("POST", "/memories"),
                         ("GET", "/memories/topics"), ("GET", "/memory_topics"),
                         ("GET", "/memories/stats"), ("GET", "/user_memory_stats"),
                         ("GET", "/memories/abc"), ("PATCH", "/memories/abc"),
                         ("DELETE", "/memories/abc"), ("DELETE", "/memories")]:
        assert client.request(method, path).status_code == 401, (method, path)
        assert client.request(method, path, headers=agent.headers).status_code == 401
    assert client.request("DELETE", "/memories", json={"memory_ids": []},
                          headers=ADMIN).status_code == 422

