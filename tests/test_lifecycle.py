"""Editing, expiring, deleting, history and temporal recall through the v2 API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent


@pytest.fixture
def mem(client, indexer):
    """An agent holding one indexed memory; returns (agent, base url, memory id)."""
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    memory_id = client.post(f"{base}/remember",
                            json={"content": "The team office is in Paris", "tags": ["office"]},
                            headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    return agent, base, memory_id


def _recall(client, agent, base, query, **extra):
    reply = client.post(f"{base}/recall", json={"query": query, **extra}, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["memories"]


def test_content_edit_reembeds_and_recall_finds_the_new_text(client, indexer, mem):
    agent, base, memory_id = mem
    reply = client.patch(f"{base}/memories/{memory_id}",
                         json={"content": "Our engineers now work from Tokyo, Japan"},
                         headers=agent.headers)
    assert reply.status_code == 200
    assert reply.json()["status"] == "queued"  # back through the stream to be embedded
    assert reply.json()["version"] == 2
    indexer.run(burst=True)
    found = _recall(client, agent, base, "Tokyo Japan")
    assert found[0]["memory_id"] == memory_id
    assert found[0]["content"] == "Our engineers now work from Tokyo, Japan"
    assert found[0]["similarity"] > 0.5
    # The old text is gone from current memory: nothing still says Paris.
    assert all("Paris" not in m["content"] for m in _recall(client, agent, base, "Paris"))
    shown = client.get(f"{base}/memories/{memory_id}", headers=agent.headers).json()
    assert (shown["status"], shown["tags"], shown["title"]) == (
        "indexed", ["office"], "Our engineers now work from Tokyo, Japan")


def test_other_fields_change_in_place_without_reembedding(client, r, mem):
    agent, base, memory_id = mem
    vector = r.hget(keys.memory(agent.agent_id, memory_id), "embedding")
    reply = client.patch(f"{base}/memories/{memory_id}",
                         json={"title": "Office", "type": "decision", "confidence": 0.4,
                               "tags": ["office", "hq"], "source": "user"},
                         headers=agent.headers)
    body = reply.json()
    assert reply.status_code == 200
    assert (body["status"], body["type"], body["confidence"], body["tags"], body["source"],
            body["title"]) == ("indexed", "decision", 0.4, ["office", "hq"], "user", "Office")
    assert r.hget(keys.memory(agent.agent_id, memory_id), "embedding") == vector
    found = _recall(client, agent, base, "office", type=["decision"], tags=["hq"])
    assert [m["memory_id"] for m in found] == [memory_id]


@pytest.mark.parametrize("body, field", [
    ({"content": ""}, "content"), ({"content": "x" * 10_001}, "content"),
    ({"confidence": 2}, "confidence"), ({"type": "rumour"}, "type"),
    ({"tags": ["a,b"]}, "tags"), ({"title": "t" * 101}, "title"),
    ({"provenance": "inferred"}, "provenance"), ({"memory_id": "x"}, "memory_id"),
    ({}, "nothing to change"),
])
def test_bad_edits_are_refused_and_change_nothing(client, mem, body, field):
    agent, base, memory_id = mem
    reply = client.patch(f"{base}/memories/{memory_id}", json=body, headers=agent.headers)
    assert reply.status_code == 422
    assert field in reply.json()["detail"]
    shown = client.get(f"{base}/memories/{memory_id}", headers=agent.headers).json()
    assert (shown["content"], shown["version"]) == ("The team office is in Paris", 1)


def test_editing_a_still_queued_memory_indexes_only_the_latest(client, indexer, r):
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    memory_id = client.post(f"{base}/remember", json={"content": "draft text about apples"},
                            headers=agent.headers).json()["memory_id"]
    client.patch(f"{base}/memories/{memory_id}", json={"content": "final text about pears"},
                 headers=agent.headers)
    indexer.run(burst=True)
    doc = r.hgetall(keys.memory(agent.agent_id, memory_id))
    assert doc[b"content"] == b"final text about pears"
    assert doc[b"version"] == b"2"
    assert [m["content"] for m in _recall(client, agent, base, "fruit")] == [
        "final text about pears"]


def test_expire_and_restore_with_recall_status(client, mem):
    agent, base, memory_id = mem
    expired = client.post(f"{base}/memories/{memory_id}/expire", headers=agent.headers)
    assert expired.status_code == 200
    assert expired.json()["lifecycle"] == "expired"
    assert _recall(client, agent, base, "office") == []
    only_expired = _recall(client, agent, base, "office", status="expired")
    assert [(m["memory_id"], m["status"]) for m in only_expired] == [(memory_id, "expired")]
    assert [m["status"] for m in _recall(client, agent, base, "office", status="all")] == [
        "expired"]
    # Expiring twice is harmless and makes no new version.
    again = client.post(f"{base}/memories/{memory_id}/expire", headers=agent.headers).json()
    assert again["version"] == expired.json()["version"]
    restored = client.post(f"{base}/memories/{memory_id}/restore", headers=agent.headers)
    assert restored.json()["lifecycle"] == "active"
    assert [m["status"] for m in _recall(client, agent, base, "office")] == ["active"]
    bad = client.post(f"{base}/recall", json={"query": "x", "status": "gone"},
                      headers=agent.headers)
    assert bad.status_code == 422 and "status" in bad.json()["detail"]


def test_delete_removes_it_from_current_memory_but_keeps_history(client, r, mem):
    agent, base, memory_id = mem
    assert client.delete(f"{base}/memories/{memory_id}", headers=agent.headers).status_code == 200
    assert client.get(f"{base}/memories/{memory_id}", headers=agent.headers).status_code == 404
    assert _recall(client, agent, base, "office", status="all") == []
    assert not r.sismember(keys.memory_ids(agent.agent_id), memory_id)
    history = client.get(f"{base}/memories/{memory_id}/history", headers=agent.headers).json()
    assert history["deleted_at"] is not None
    assert [v["content"] for v in history["versions"]] == ["The team office is in Paris"]
    assert client.delete(f"{base}/memories/{memory_id}",
                         headers=agent.headers).status_code == 404


def test_history_lists_every_version_with_times(client, indexer, mem):
    agent, base, memory_id = mem
    client.patch(f"{base}/memories/{memory_id}", json={"content": "The office is in Berlin"},
                 headers=agent.headers)
    indexer.run(burst=True)
    client.patch(f"{base}/memories/{memory_id}", json={"confidence": 0.5}, headers=agent.headers)
    client.post(f"{base}/memories/{memory_id}/expire", headers=agent.headers)
    history = client.get(f"{base}/memories/{memory_id}/history", headers=agent.headers).json()
    versions = history["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert [v["event"] for v in versions] == ["created", "updated", "updated", "expired"]
    assert [v["content"] for v in versions] == ["The team office is in Paris"] + [
        "The office is in Berlin"] * 3
    assert [v["confidence"] for v in versions] == [0.8, 0.8, 0.5, 0.5]
    assert [v["current"] for v in versions] == [False, False, False, True]
    for earlier, later in zip(versions, versions[1:], strict=False):
        assert earlier["valid_to"] == later["valid_from"]
    assert versions[-1]["valid_to"] is None
    other = new_agent(client)
    assert client.get(f"{base}/memories/{memory_id}/history",
                      headers=other.headers).status_code == 403
    assert client.get(f"/api/v2/agents/{other.agent_id}/memories/{memory_id}/history",
                      headers=other.headers).status_code == 404


def _stamp() -> str:
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.02)
    return moment


def test_as_of_answers_with_what_was_held_then(client, indexer):
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    post = lambda text: client.post(f"{base}/remember", json={"content": text},  # noqa: E731
                                    headers=agent.headers).json()["memory_id"]
    edited, expired, deleted = post("The office is in Paris"), post("Lunch is at noon"), post(
        "The wifi password is swordfish")
    indexer.run(burst=True)
    t0 = _stamp()
    client.patch(f"{base}/memories/{edited}", json={"content": "The office is in Berlin"},
                 headers=agent.headers)
    client.post(f"{base}/memories/{expired}/expire", headers=agent.headers)
    client.delete(f"{base}/memories/{deleted}", headers=agent.headers)
    later = post("Standup moved to 10am")
    indexer.run(burst=True)
    t1 = _stamp()

    def as_of(moment, **extra):
        reply = client.post(f"{base}/recall/as-of", json={"as_of": moment, **extra},
                            headers=agent.headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["temporal_mode"] == "as_of"
        return {m["memory_id"]: m["content"] for m in body["memories"]}

    assert as_of(t0) == {edited: "The office is in Paris", expired: "Lunch is at noon",
                         deleted: "The wifi password is swordfish"}
    assert as_of(t1) == {edited: "The office is in Berlin", later: "Standup moved to 10am"}
    by_meaning = client.post(f"{base}/recall/as-of",
                             json={"as_of": t0, "query": "where is the office", "limit": 1},
                             headers=agent.headers).json()["memories"]
    assert [(m["memory_id"], m["content"]) for m in by_meaning] == [
        (edited, "The office is in Paris")]
    assert "similarity" in by_meaning[0]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert as_of(yesterday) == {}
    today = datetime.now(UTC).date().isoformat()  # a bare date: the end of that day
    assert set(as_of(today)) == {edited, later}


def test_changed_since_recent_and_their_modes(client, indexer, mem):
    agent, base, memory_id = mem
    since = _stamp()
    fresh = client.post(f"{base}/remember", json={"content": "New hire starts Monday",
                                                  "type": "event"},
                        headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    changed = client.post(f"{base}/recall/changed-since", json={"since": since},
                          headers=agent.headers).json()
    assert changed["temporal_mode"] == "changed_since"
    assert [m["memory_id"] for m in changed["memories"]] == [fresh]
    client.post(f"{base}/memories/{memory_id}/expire", headers=agent.headers)
    changed = client.post(f"{base}/recall/changed-since", json={"since": since},
                          headers=agent.headers).json()["memories"]
    assert {m["memory_id"]: m["status"] for m in changed} == {fresh: "active",
                                                            memory_id: "expired"}
    recent = client.post(f"{base}/recall/recent", json={"limit": 5},
                         headers=agent.headers).json()
    assert recent["temporal_mode"] == "recent"
    assert [m["memory_id"] for m in recent["memories"]] == [fresh]
    typed = client.post(f"{base}/recall/recent", json={"type": "fact"},
                        headers=agent.headers).json()["memories"]
    assert typed == []
    bad = client.post(f"{base}/recall/changed-since", json={"since": "last week"},
                      headers=agent.headers)
    assert bad.status_code == 422 and "since" in bad.json()["detail"]


def test_all_pages_through_every_memory_with_a_cursor(client, indexer):
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    items = [{"content": f"note number {i}"} for i in range(23)]
    client.post(f"{base}/batch-remember", json={"memories": items}, headers=agent.headers)
    indexer.run(burst=True)
    seen, cursor, pages = [], None, 0
    while True:
        body = client.post(f"{base}/recall/all", json={"limit": 5, "cursor": cursor},
                           headers=agent.headers).json()
        assert body["temporal_mode"] == "all"
        seen += [m["content"] for m in body["memories"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages >= 5
    assert seen == [f"note number {i}" for i in reversed(range(23))]  # newest first, no repeats
    bad = client.post(f"{base}/recall/all", json={"cursor": "not-a-cursor"},
                      headers=agent.headers)
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]


def test_bootstrap_card(client, indexer):
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    items = [{"content": "Customer Alice Johnson", "type": "fact", "confidence": 0.95},
             {"content": "Alice prefers email contact", "type": "preference",
              "confidence": 0.9},
             {"content": "Ticket #12345 resolved", "type": "event", "confidence": 0.6},
             {"content": "Maybe Alice likes tea", "type": "fact", "confidence": 0.1}]
    client.post(f"{base}/batch-remember", json={"memories": items}, headers=agent.headers)
    indexer.run(burst=True)
    for headers in (ADMIN, agent.headers):
        card = client.get(f"{base}/bootstrap", headers=headers)
        assert card.status_code == 200
    card = card.json()
    assert card["total_memories"] == 4
    assert card["memory_breakdown"] == {"fact": 2, "event": 1, "preference": 1}
    assert card["last_session"]["session_id"] == agent.session_id
    assert card["last_memory"]["type"] == "fact"  # the newest of the batch
    titles = [m["title"] for m in card["sample_memories"]]
    assert titles[0] == "Customer Alice Johnson"  # most confident, equally recent
    assert titles[-1] == "Maybe Alice likes tea"
    other = new_agent(client)
    assert client.get(f"{base}/bootstrap", headers=other.headers).status_code == 403
    assert client.get(f"{base}/bootstrap").status_code == 401


def test_memory_routes_need_the_agents_own_live_session(client, mem):
    agent, base, memory_id = mem
    other = new_agent(client)
    for method, tail in [("PATCH", ""), ("DELETE", ""), ("POST", "/expire"),
                         ("POST", "/restore"), ("GET", "/history")]:
        url = f"{base}/memories/{memory_id}{tail}"
        kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
        assert client.request(method, url, headers=other.headers, **kwargs).status_code == 403
        assert client.request(method, url, **kwargs).status_code == 401
    for tail in ("as-of", "changed-since", "recent", "all"):
        assert client.post(f"{base}/recall/{tail}", json={},
                           headers=other.headers).status_code == 403
    client.post(f"{base}/deactivate", headers=agent.headers)
    assert client.post(f"{base}/memories/{memory_id}/expire",
                       headers=agent.headers).status_code == 401
