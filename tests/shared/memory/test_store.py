"""The memory store (shared/memory/store.py) through v2: recall by meaning with filters,
over the real model and index; and retried writes stored once (a write with an
Idempotency-Key, retried by its caller within the window, gets the first answer again,
same ids, and queues nothing more)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from memanto_redis.api.app import create_app
from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import problem, unique

FACTS = [
    ("The user prefers email over phone calls", "preference", ["contact"]),
    ("The production database runs PostgreSQL 15 on two replicas", "fact", ["infra"]),
    ("We decided to ship the billing feature on Friday", "decision", ["billing"]),
    ("The user's favourite colour is dark blue", "preference", ["personal"]),
    ("Deploys happen through GitHub Actions after review", "fact", ["infra", "ci"]),
]


@pytest.fixture
def stocked(client, indexer):
    agent = new_agent(client)
    items = [{"content": c, "type": t, "tags": tags} for c, t, tags in FACTS]
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember",
                        json={"memories": items}, headers=agent.headers).json()
    indexer.run(burst=True)
    ids = {FACTS[r["index"]][0]: r["memory_id"] for r in reply["results"]}
    return agent, ids


def _recall(client, agent, **body):
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/recall", json=body,
                        headers=agent.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_best_match_first_with_the_answer_shape(client, stocked):
    agent, ids = stocked
    body = _recall(client, agent, query="how should I contact the user?")
    assert body["query"] == "how should I contact the user?"
    assert body["count"] == len(body["memories"]) == 5
    top = body["memories"][0]
    assert top["memory_id"] == ids[FACTS[0][0]]
    assert set(top) == {"memory_id", "content", "title", "type", "confidence", "tags", "source",
                        "provenance", "created_at", "updated_at", "version", "status",
                        "similarity", "id", "score", "text", "agent_id", "actor_id",
                        "expired_at", "expired_by", "change_type"}
    assert (top["id"], top["score"], top["text"]) == (
        top["memory_id"], top["similarity"], top["content"])
    assert top["status"] == "active"
    sims = [m["similarity"] for m in body["memories"]]
    assert sims == sorted(sims, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in sims)
    db = _recall(client, agent, query="which database engine do we use?")
    assert db["memories"][0]["memory_id"] == ids[FACTS[1][0]]


def test_limit_and_min_similarity(client, stocked):
    agent, _ = stocked
    assert _recall(client, agent, query="colour", limit=2)["count"] == 2
    everything = _recall(client, agent, query="favourite colour")["memories"]
    cut = everything[1]["similarity"]
    strict = _recall(client, agent, query="favourite colour", min_similarity=cut)["memories"]
    assert len(strict) >= 2
    assert all(m["similarity"] >= cut for m in strict)
    assert len(strict) < len(everything)
    assert _recall(client, agent, query="favourite colour", min_similarity=1.0)["count"] == 0


def test_filters_by_type_and_tags(client, stocked):
    agent, ids = stocked
    prefs = _recall(client, agent, query="anything", type=["preference"])["memories"]
    assert {m["memory_id"] for m in prefs} == {ids[FACTS[0][0]], ids[FACTS[3][0]]}
    infra = _recall(client, agent, query="anything", tags=["infra"])["memories"]
    assert {m["memory_id"] for m in infra} == {ids[FACTS[1][0]], ids[FACTS[4][0]]}
    both = _recall(client, agent, query="anything", type=["fact", "decision"], tags=["ci"])
    assert [m["memory_id"] for m in both["memories"]] == [ids[FACTS[4][0]]]
    assert _recall(client, agent, query="anything", type="goal")["count"] == 0


def test_filters_by_creation_time(client, indexer):
    agent = new_agent(client)
    url = f"/api/v2/agents/{agent.agent_id}/remember"
    client.post(url, json={"content": "an older note about lunch"}, headers=agent.headers)
    time.sleep(1.1)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.1)
    newer = client.post(url, json={"content": "a newer note about lunch"},
                        headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    after = _recall(client, agent, query="lunch", created_after=middle)["memories"]
    assert [m["memory_id"] for m in after] == [newer]
    before = _recall(client, agent, query="lunch", created_before=middle)["memories"]
    assert [m["content"] for m in before] == ["an older note about lunch"]
    today = datetime.now(UTC).date().isoformat()
    assert _recall(client, agent, query="lunch", created_before=today)["count"] == 2
    assert _recall(client, agent, query="lunch", created_after="2999-01-01")["count"] == 0


def test_only_the_calling_agents_memories(client, indexer, stocked):
    agent, _ = stocked
    other = new_agent(client)
    client.post(f"/api/v2/agents/{other.agent_id}/remember",
                json={"content": "The user prefers email over phone calls"},
                headers=other.headers)
    indexer.run(burst=True)
    mine = _recall(client, agent, query="email", limit=100)["memories"]
    assert len(mine) == 5
    theirs = _recall(client, other, query="database replicas", limit=100)["memories"]
    assert len(theirs) == 1
    fresh = new_agent(client)
    assert _recall(client, fresh, query="email")["count"] == 0


def test_queued_memories_match_by_words_at_once_and_by_meaning_once_indexed(client, indexer):
    agent = new_agent(client)
    client.post(f"/api/v2/agents/{agent.agent_id}/remember", json={"content": "pending note"},
                headers=agent.headers)
    assert _recall(client, agent, query="pending note", search_mode="semantic")["count"] == 0
    (queued,) = _recall(client, agent, query="pending note")["memories"]
    assert queued["similarity"] == 0.0  # no vector yet: no similarity to show
    assert _recall(client, agent, query="pending", search_mode="keyword")["count"] == 1
    assert _recall(client, agent, query="unrelated words")["count"] == 0
    indexer.run(burst=True)
    for mode in ("semantic", "hybrid"):
        (found,) = _recall(client, agent, query="pending note", search_mode=mode)["memories"]
        assert found["similarity"] > 0.5


@pytest.mark.parametrize("body, field", [
    ({}, "query"),
    ({"query": ""}, "query"),
    ({"query": "x", "limit": 0}, "limit"),
    ({"query": "x", "limit": "ten"}, "limit"),
    ({"query": "x", "min_similarity": 1.2}, "min_similarity"),
    ({"query": "x", "type": ["rumour"]}, "type"),
    ({"query": "x", "tags": "a,b"}, "tags"),
    ({"query": "x", "created_after": "yesterday"}, "created_after"),
    ({"query": "x", "created_before": "2024-13-45"}, "created_before"),
])
def test_bad_recall_bodies_are_named(client, agent, body, field):
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/recall", json=body,
                        headers=agent.headers)
    assert reply.status_code == 422
    assert field in problem(reply)


# -- idempotent writes ---------------------------------------------------------------------------

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
    body = {"memories": [{"content": "one"}, {"content": "two"}]}
    headers = agent.headers | {"Idempotency-Key": "batch-7"}
    url = V2.format(agent.agent_id) + "/batch-remember"
    # A batch with a bad item is refused whole (MEMANTO's rule), and remembers nothing.
    refused = client.post(url, json={"memories": [{"content": "one"}, {"content": ""}]},
                          headers=agent.headers | {"Idempotency-Key": "batch-6"})
    assert refused.status_code == 422
    first = client.post(url, json=body, headers=headers).json()
    again = client.post(url, json=body, headers=headers).json()
    assert first == again
    assert first["successful"] == 2
    assert r.scard(keys.memory_ids(agent.agent_id)) == 2


def test_memories_create_and_import_retried(client, r):
    agent = new_agent(client)
    body = {"memory": "likes tea", "user_id": unique("u-idem"), "agent_id": agent.agent_id}
    first = client.post("/memories", json=body, headers=ADMIN | {"Idempotency-Key": "m1"})
    again = client.post("/memories", json=body, headers=ADMIN | {"Idempotency-Key": "m1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["memory_id"] == again.json()["memory_id"]

    url = V2.format(agent.agent_id) + "/import"
    items = {"memories": [{"memory_id": unique("kept-id"), "content": "restored"}]}
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
        assert "Idempotency-Key" in problem(reply)


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
