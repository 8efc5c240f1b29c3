"""Purges: after one, nothing in Redis (keys of any type, stream entries, the search index)
holds the purged content, while everything else is untouched."""

from __future__ import annotations

import uuid

import redis
from redis.commands.search.query import Query
from starlette.testclient import TestClient

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import make_key

V2 = "/api/v2/agents"


def _holders(r: redis.Redis, needle: str) -> list[str]:
    """Every key (and stream entry) whose name or value holds `needle`, by reading all of
    Redis: what a purge promises is exactly that this comes back empty."""
    found = []
    wanted = needle.encode()
    for name in r.scan_iter(count=1000):
        kind = r.type(name).decode()
        if kind == "string":
            values = [r.get(name) or b""]
        elif kind == "hash":
            values = [v for pair in r.hgetall(name).items() for v in pair]
        elif kind == "list":
            values = r.lrange(name, 0, -1)
        elif kind == "set":
            values = list(r.smembers(name))
        elif kind == "zset":
            values = r.zrange(name, 0, -1)
        elif kind == "stream":
            values = [v for _, fields in r.xrange(name) for pair in fields.items() for v in pair]
        else:
            values = []
        if wanted in name or any(wanted in value for value in values):
            found.append(name.decode())
    return found


def _searchable(r: redis.Redis, word: str) -> int:
    """How many documents of the memory index match `word` (versions included)."""
    return int(r.ft(keys.MEMORY_INDEX).search(Query(word).paging(0, 0)).total)


def _remember(client: TestClient, agent, content: str, **headers: str) -> str:
    reply = client.post(f"{V2}/{agent.agent_id}/remember", headers={**agent.headers, **headers},
                        json={"content": content, "type": "fact"})
    assert reply.status_code == 200, reply.text
    return reply.json()["memory_id"]


def test_purging_a_memory_leaves_nothing_of_it(client, r, indexer):
    agent = new_agent(client, "erase")
    canary = "zq" + uuid.uuid4().hex[:10]
    memory_id = _remember(client, agent, f"The vault code is {canary}",
                          **{"Idempotency-Key": "once-" + canary})
    kept = _remember(client, agent, "The office plant needs water on Fridays")
    indexer.run(burst=True)
    # An edit archives the indexed version (with its vector) and queues the new content,
    # which stays in the stream: the purge must reach the entry waiting there too.
    edited = client.patch(f"{V2}/{agent.agent_id}/memories/{memory_id}", headers=agent.headers,
                          json={"content": f"The vault code is still {canary}"})
    assert edited.status_code == 200, edited.text
    assert _holders(r, canary) and _searchable(r, canary) == 1

    reply = client.post(f"{V2}/{agent.agent_id}/memories/{memory_id}/purge",
                        headers=agent.headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "purged"
    assert reply.json()["stream_entries_purged"] == 1
    assert reply.json()["replay_records_purged"] == 1

    assert _holders(r, canary) == []
    assert _holders(r, memory_id) == []
    assert _searchable(r, canary) == 0
    memory_url = f"{V2}/{agent.agent_id}/memories/{memory_id}"
    assert client.get(memory_url, headers=agent.headers).status_code == 404
    assert client.get(memory_url + "/history", headers=agent.headers).status_code == 404
    # Once gone it stays gone, and the agent's other memory is untouched.
    again = client.post(memory_url + "/purge", headers=agent.headers)
    assert again.status_code == 404
    assert client.get(f"{V2}/{agent.agent_id}/memories/{kept}",
                      headers=agent.headers).status_code == 200
    # The worker, running after the purge, indexes nothing back.
    indexer.run(burst=True)
    assert _holders(r, canary) == []


def test_a_session_purges_only_its_own_agent_s_memories(client, indexer):
    owner, other = new_agent(client, "erase"), new_agent(client, "erase")
    memory_id = _remember(client, owner, "Owner's private note")
    reply = client.post(f"{V2}/{owner.agent_id}/memories/{memory_id}/purge",
                        headers=other.headers)
    assert reply.status_code == 403
    assert client.get(f"{V2}/{owner.agent_id}/memories/{memory_id}",
                      headers=owner.headers).status_code == 200


def test_purging_an_agent_leaves_nothing_it_held(client, r, indexer):
    agent, bystander = new_agent(client, "erase"), new_agent(client, "erase")
    canary = "zq" + uuid.uuid4().hex[:10]
    first = _remember(client, agent, f"Indexed memory about {canary}")
    indexer.run(burst=True)
    _remember(client, agent, f"Queued memory about {canary}")
    client.patch(f"{V2}/{agent.agent_id}/memories/{first}", headers=agent.headers,
                 json={"title": f"titled {canary}"})
    stm = client.post(f"/api/agents/{agent.agent_id}/memory/stm", headers=agent.headers,
                      json={"role": "user", "content": f"chat about {canary}"})
    assert stm.status_code == 201, stm.text
    fact = client.post("/api/swarm/facts", headers=agent.headers,
                       json={"content": f"swarm fact about {canary}",
                             "source_agent": agent.agent_id})
    assert fact.status_code == 201, fact.text
    kept = _remember(client, bystander, f"Bystander also mentions {canary}")
    quota = client.put(f"{V2}/{agent.agent_id}/quota", headers=ADMIN,
                       json={"rate": 50, "burst": 100})
    assert quota.status_code == 200, quota.text
    # A dead letter keeps the entry's content until the operator redrives or purges it.
    r.xadd(keys.DEAD_LETTER_STREAM, {"entry_id": "0-1", "id": first, "agent": agent.agent_id,
                                     "data": f"dead letter of {canary}", "error": "boom",
                                     "deliveries": 5})

    named_key = make_key(client, agents=["erase-*"], may_manage_agents=True)
    assert client.post(f"{V2}/{agent.agent_id}/purge", headers=named_key).status_code == 403
    assert client.post(f"{V2}/{agent.agent_id}/purge", headers=agent.headers).status_code == 401

    reply = client.post(f"{V2}/{agent.agent_id}/purge", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["memories_purged"] == 2 and answer["swarm_facts_purged"] == 1
    # Only the bystander's memory (in its keys, and the stream entry waiting for the
    # worker) still holds the word.
    left = _holders(r, canary)
    assert left and all(bystander.agent_id in name or name == keys.INGEST_STREAM
                        for name in left), left
    assert _holders(r, agent.agent_id) == []
    assert client.get(f"{V2}/{agent.agent_id}", headers=ADMIN).status_code == 404
    assert client.get(f"{V2}/{bystander.agent_id}/memories/{kept}",
                      headers=bystander.headers).status_code == 200
    assert client.post(f"{V2}/{agent.agent_id}/purge", headers=ADMIN).json()[
        "memories_purged"] == 0
    assert client.post(f"{V2}/bad%20id/purge", headers=ADMIN).status_code == 422


def test_purging_a_user_space(client, r, indexer):
    user = "u-" + uuid.uuid4().hex[:8]
    canary = "zq" + uuid.uuid4().hex[:10]
    for text in (f"{user} likes {canary}", f"{user} dislikes {canary} soup"):
        created = client.post("/memories", headers=ADMIN, json={"memory": text, "user_id": user})
        assert created.status_code == 201, created.text
    indexer.run(burst=True)
    assert _searchable(r, canary) == 2

    reply = client.post(f"/api/v2/users/{user}/purge", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    assert reply.json()["memories_purged"] == 2
    assert _holders(r, canary) == [] and _searchable(r, canary) == 0
    listed = client.get("/memories", headers=ADMIN, params={"user_id": user})
    assert listed.status_code == 200 and listed.json()["data"] == []


def test_purging_an_id_one_does_not_hold_touches_nothing(client):
    """A memory id of another owner, purged under one's own agent: 404, answered before any
    scan, and the other owner's memory is still found by id."""
    user = "u-" + uuid.uuid4().hex[:8]
    created = client.post("/memories", headers=ADMIN, json={"memory": "Mine", "user_id": user})
    assert created.status_code == 201, created.text
    memory_id = created.json()["memory_id"]
    prober = new_agent(client, "erase")
    reply = client.post(f"{V2}/{prober.agent_id}/memories/{memory_id}/purge",
                        headers=prober.headers)
    assert reply.status_code == 404
    kept = client.get(f"/memories/{memory_id}", headers=ADMIN, params={"user_id": user})
    assert kept.status_code == 200 and kept.json()["memory"] == "Mine"
