"""Temporal recall through the v2 API: as of a moment, changed since, recent, and every
memory page by page."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.conftest import new_agent
from tests.support import problem


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
    recent = client.post(f"{base}/recall/recent", json={"limit": 5, "status": "active"},
                         headers=agent.headers).json()
    assert recent["temporal_mode"] == "recent"
    assert [m["memory_id"] for m in recent["memories"]] == [fresh]
    typed = client.post(f"{base}/recall/recent", json={"type": "fact"},
                        headers=agent.headers).json()["memories"]
    assert typed == []
    bad = client.post(f"{base}/recall/changed-since", json={"since": "last week"},
                      headers=agent.headers)
    assert bad.status_code == 422 and "since" in problem(bad)


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
        assert body["temporal_mode"] == "recent"  # MEMANTO's recall/all says so
        seen += [m["content"] for m in body["memories"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages >= 5
    assert seen == [f"note number {i}" for i in reversed(range(23))]  # newest first, no repeats
    bad = client.post(f"{base}/recall/all", json={"cursor": "not-a-cursor"},
                      headers=agent.headers)
    assert bad.status_code == 422 and "cursor" in problem(bad)
