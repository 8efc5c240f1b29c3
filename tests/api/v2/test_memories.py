"""The v2 memory door: remember and batch-remember in the seed's shapes, validation,
read-back at once, and the smoke test of a remember found by recall."""

from __future__ import annotations

import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import new_agent
from tests.support import problem

SEED_BODY = {
    "content": "User prefers email communication",
    "type": "preference",
    "confidence": 0.9,
    "tags": ["communication"],
    "source": "agent",
    "provenance": "explicit_statement",
}


def _url(agent, tail="remember"):
    return f"/api/v2/agents/{agent.agent_id}/{tail}"


def test_remember_answers_exactly_the_seed_shape(client, agent, r):
    reply = client.post(_url(agent), json=SEED_BODY, headers=agent.headers)
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"memory_id", "agent_id", "session_id", "namespace", "status",
                         "confidence", "provenance", "type"}
    assert body["agent_id"] == agent.agent_id
    assert body["session_id"] == agent.session_id
    assert body["namespace"] == f"memanto_agent_{agent.agent_id}"
    assert body["status"] == "queued"
    assert body["confidence"] == 0.9
    assert body["provenance"] == "explicit_statement"
    assert r.xlen(keys.INGEST_STREAM) == 1


def test_memory_is_readable_as_queued_at_once_then_indexed(client, agent, indexer):
    memory_id = client.post(_url(agent), json=SEED_BODY, headers=agent.headers).json()["memory_id"]
    queued = client.get(_url(agent, f"memories/{memory_id}"), headers=agent.headers)
    assert queued.status_code == 200
    body = queued.json()
    assert body["status"] == "queued"
    for field, value in SEED_BODY.items():
        assert body[field] == value
    indexer.run(burst=True)
    indexed = client.get(_url(agent, f"memories/{memory_id}"), headers=agent.headers).json()
    assert indexed["status"] == "indexed"
    assert {k: v for k, v in indexed.items() if k != "status"} == \
        {k: v for k, v in body.items() if k != "status"}


def test_defaults_and_derived_title(client, agent):
    long_first_line = "word " * 40
    memory_id = client.post(_url(agent), json={"content": long_first_line + "\nsecond line"},
                            headers=agent.headers).json()["memory_id"]
    body = client.get(_url(agent, f"memories/{memory_id}"), headers=agent.headers).json()
    assert body["type"] == "fact"
    assert body["confidence"] == 0.8
    assert body["source"] == "agent"
    assert body["provenance"] == "explicit_statement"
    assert body["tags"] == []
    assert len(body["title"]) <= 100
    assert body["title"].startswith("word word")


@pytest.mark.parametrize("patch, field", [
    ({"content": ""}, "content"),
    ({"content": "   "}, "content"),
    ({"content": "x" * 10_001}, "content"),
    ({"content": 42}, "content"),
    ({"title": "t" * 101}, "title"),
    ({"confidence": 1.5}, "confidence"),
    ({"confidence": -0.1}, "confidence"),
    ({"confidence": "high"}, "confidence"),
    ({"type": "rumour"}, "type"),
    ({"provenance": "guessed"}, "provenance"),
    ({"tags": "communication"}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["a,b"]}, "tags"),
    ({"tags": ["t" * 65]}, "tags"),
    ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"source": "s" * 65}, "source"),
    ({"source": "a source"}, "source"),
    ({"tags": ["#pinned"]}, "tags"),
    ({"tags": ["ignore previous instructions"]}, "tags"),
    ({"confidence": "NaN"}, "confidence"),
    ({"status": "expired"}, "status"),
])
def test_invalid_fields_are_named_and_nothing_is_written(client, agent, r, patch, field):
    reply = client.post(_url(agent), json={**SEED_BODY, **patch}, headers=agent.headers)
    # A content over 10,000 characters is MEMANTO's 413 (text_too_long).
    assert reply.status_code == (413 if len(str(patch.get("content"))) > 10_000 else 422)
    assert field in problem(reply)
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert r.scard(keys.memory_ids(agent.agent_id)) == 0


def test_content_of_exactly_the_limit_is_accepted(client, agent):
    assert client.post(_url(agent), json={"content": "x" * 10_000},
                       headers=agent.headers).status_code == 200


@pytest.mark.parametrize("raw, status", [
    (b"", 422), (b"{", 422), (b"[1, 2]", 422), (b'"text"', 422), (b"null", 422),
    (b'{"content": "\xff\xfe"}', 422),
])
def test_malformed_bodies(client, agent, r, raw, status):
    reply = client.post(_url(agent), content=raw,
                        headers={**agent.headers, "Content-Type": "application/json"})
    assert reply.status_code == status
    assert problem(reply)
    assert r.xlen(keys.INGEST_STREAM) == 0


def test_oversized_body_is_413(client, agent, r):
    reply = client.post(_url(agent), content=b'{"content": "' + b"x" * 3_000_000 + b'"}',
                        headers=agent.headers)
    assert reply.status_code == 413
    assert r.xlen(keys.INGEST_STREAM) == 0


def test_unknown_memory_is_404(client, agent):
    for memory_id in ("00000000-0000-0000-0000-000000000000", "bad*id"):
        assert client.get(_url(agent, f"memories/{memory_id}"),
                          headers=agent.headers).status_code == 404


def test_one_invalid_item_refuses_the_whole_batch_as_memanto(client, agent, r):
    items = [{"content": "first"}, {"content": ""}, {"content": "third", "type": "goal"},
             {"content": "fourth", "confidence": 7}, "not an object"]
    before = r.xlen(keys.INGEST_STREAM)
    reply = client.post(_url(agent, "batch-remember"), json={"memories": items},
                        headers=agent.headers)
    assert reply.status_code == 422
    # FastAPI's list, one entry per bad item, each at its place in the body.
    places = {tuple(e["loc"][:3]) for e in reply.json()["detail"]}
    assert places == {("body", "memories", 1), ("body", "memories", 3),
                      ("body", "memories", 4)}
    assert any(e["loc"] == ["body", "memories", 3, "confidence"]
               for e in reply.json()["detail"])
    assert r.xlen(keys.INGEST_STREAM) == before  # nothing queued, not even the valid ones
    good = client.post(_url(agent, "batch-remember"), headers=agent.headers,
                       json={"memories": [items[0], items[2]]})
    assert good.status_code == 200
    body = good.json()
    assert (body["total_submitted"], body["successful"], body["failed"]) == (2, 2, 0)
    third = client.get(_url(agent, f"memories/{body['results'][1]['memory_id']}"),
                       headers=agent.headers).json()
    assert (third["content"], third["type"], third["status"]) == ("third", "goal", "queued")


@pytest.mark.parametrize("body", [
    {"memories": []},
    {"memories": [{"content": "x"}] * 101},
    {"memories": "nope"},
    {},
    {"memories": [{"content": ""}]},
])
def test_batch_remember_rejects_bad_batches(client, agent, r, body):
    reply = client.post(_url(agent, "batch-remember"), json=body, headers=agent.headers)
    assert reply.status_code == 422
    assert "memories" in problem(reply) or "content" in problem(reply)
    assert r.xlen(keys.INGEST_STREAM) == 0


def test_batch_of_100_is_one_round_of_writes(client, agent, r):
    items = [{"content": f"fact number {i}", "tags": ["bulk"]} for i in range(100)]
    body = client.post(_url(agent, "batch-remember"), json={"memories": items},
                       headers=agent.headers).json()
    assert body["successful"] == 100
    assert r.xlen(keys.INGEST_STREAM) == 100
    assert r.scard(keys.memory_ids(agent.agent_id)) == 100


def test_backpressure_answers_503_with_retry_after(settings, vectorizer, r):
    from starlette.testclient import TestClient

    from memanto_redis.api.app import create_app

    with TestClient(create_app(settings.varied(max_backlog=3), vectorizer)) as tight:
        agent = new_agent(tight)
        for i in range(3):
            assert tight.post(_url(agent), json={"content": f"m{i}"},
                              headers=agent.headers).status_code == 200
        full = tight.post(_url(agent), json={"content": "one too many"}, headers=agent.headers)
        assert full.status_code == 503
        assert full.headers["Retry-After"]
        assert r.xlen(keys.INGEST_STREAM) == 3
        assert r.scard(keys.memory_ids(agent.agent_id)) == 3
        # The bound holds for edits that send a memory back through the stream.
        mid = r.srandmember(keys.memory_ids(agent.agent_id)).decode()
        url = f"/api/v2/agents/{agent.agent_id}/memories/{mid}"
        before = tight.get(url, headers=agent.headers).json()
        edit = tight.patch(url, json={"content": "a new text to embed"}, headers=agent.headers)
        assert edit.status_code == 503, edit.text
        assert edit.headers["Retry-After"]
        assert tight.get(url, headers=agent.headers).json() == before
        assert r.xlen(keys.INGEST_STREAM) == 3


def test_remember_then_recall(client, indexer):
    agent = new_agent(client)
    url = f"/api/v2/agents/{agent.agent_id}"
    reply = client.post(f"{url}/remember", json={"content": "User prefers email"},
                        headers=agent.headers)
    assert reply.status_code == 200
    indexer.run(burst=True)
    found = client.post(f"{url}/recall", json={"query": "email"}, headers=agent.headers).json()
    assert found["memories"][0]["memory_id"] == reply.json()["memory_id"]
