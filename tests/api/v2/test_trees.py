"""The Markdown-tree routes (api/v2_tree.py): the memory index, export pages and imports
that keep ids and times, with an API key or the agent's own session."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ADMIN, new_agent
from tests.support import problem

HEADER_KEYS = {"slug", "path", "name", "description", "type", "memory_type", "topic",
               "memory_id"}


def _import(client, agent_id, memories, headers=ADMIN):
    return client.post(f"/api/v2/agents/{agent_id}/import", json={"memories": memories},
                       headers=headers)


def test_import_keeps_ids_times_and_descriptions(client, indexer):
    agent = new_agent(client, "tree")
    kept_id = str(uuid.uuid4())
    reply = _import(client, agent.agent_id, [
        {"memory_id": kept_id, "content": "Retry card charges three times.\nWhy: flaky.",
         "title": "Stripe retries", "description": "How many times a charge is retried",
         "type": "instruction", "tags": ["stripe"], "confidence": 0.7, "source": "ops",
         "provenance": "validated", "created_at": "2025-03-01T10:00:00.250Z",
         "updated_at": "2025-03-02T10:00:00Z"},
        {"content": "The user owns payments infrastructure", "created_at": 1700000000},
    ])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["status"], body["count"]) == ("queued", 2)
    assert body["memories"][0] == {"memory_id": kept_id, "status": "queued"}
    indexer.run(burst=True)

    page = client.get(f"/api/v2/agents/{agent.agent_id}/memory-export", headers=ADMIN).json()
    assert (page["total"], page["count"], page["has_more"]) == (2, 2, False)
    kept, fresh = sorted(page["memories"], key=lambda m: m["memory_id"] != kept_id)
    assert kept == {
        "memory_id": kept_id, "title": "Stripe retries",
        "description": "How many times a charge is retried",
        "content": "Retry card charges three times.\nWhy: flaky.", "type": "instruction",
        "tags": ["stripe"], "confidence": 0.7, "source": "ops", "provenance": "validated",
        "created_at": "2025-03-01T10:00:00.250Z", "updated_at": "2025-03-02T10:00:00.000Z"}
    # Without a description the content's first line stands for it; imports are
    # `imported` unless they say otherwise; one time given stands for both.
    assert fresh["description"] == "The user owns payments infrastructure"
    assert fresh["provenance"] == "imported"
    assert fresh["created_at"] == fresh["updated_at"] == "2023-11-14T22:13:20.000Z"
    assert "metadata" not in fresh

    index = client.get(f"/api/v2/agents/{agent.agent_id}/memory-index", headers=ADMIN).json()
    assert index["count"] == 2 and index["agent_id"] == agent.agent_id
    assert all(set(e) == HEADER_KEYS for e in index["entries"])
    assert index["entries"][1] == {
        "slug": "stripe_retries", "path": "stripe_retries.md", "name": "Stripe retries",
        "description": "How many times a charge is retried", "type": "feedback",
        "memory_type": "instruction", "topic": None, "memory_id": kept_id}


def test_an_id_the_agent_holds_or_held_is_refused(client, indexer):
    agent = new_agent(client, "tree")
    memory_id = str(uuid.uuid4())
    assert _import(client, agent.agent_id,
                   [{"memory_id": memory_id, "content": "one"}]).status_code == 200
    again = _import(client, agent.agent_id, [{"content": "two"},
                                             {"memory_id": memory_id, "content": "one"}])
    assert again.status_code == 409 and memory_id in problem(again)
    indexer.run(burst=True)
    base = f"/api/v2/agents/{agent.agent_id}"
    assert client.delete(f"{base}/memories/{memory_id}",
                         headers=agent.headers).status_code == 200
    # Deleted, but its history is kept under that id.
    assert _import(client, agent.agent_id,
                   [{"memory_id": memory_id, "content": "one"}]).status_code == 409
    index = client.get(f"{base}/memory-index", headers=ADMIN).json()
    assert index["count"] == 0  # nothing of the refused requests was queued


def test_import_validation_is_all_or_nothing(client):
    agent = new_agent(client, "tree")
    cases = [
        [{"content": "ok"}, {"content": "   "}],
        [{"content": "x", "memory_id": "not an id!"}],
        [{"content": "x", "created_at": "yesterday"}],
        [{"content": "x", "created_at": "2025-03-02", "updated_at": "2025-03-01"}],
        [{"content": "x", "description": "d" * 501}],
        [{"content": "x", "memory_id": "a-1"}, {"content": "y", "memory_id": "a-1"}],
        [{"content": "x", "colour": "red"}],
    ]
    for memories in cases:
        reply = _import(client, agent.agent_id, memories)
        assert reply.status_code == 422, (memories, reply.text)
    assert _import(client, agent.agent_id, []).status_code == 422
    assert _import(client, agent.agent_id, [{"content": "x"}] * 101).status_code == 422
    index = client.get(f"/api/v2/agents/{agent.agent_id}/memory-index", headers=ADMIN).json()
    assert index["count"] == 0


def test_access_with_the_agents_own_session_only(client, indexer):
    agent, other = new_agent(client, "tree"), new_agent(client, "tree")
    base = f"/api/v2/agents/{agent.agent_id}"
    assert _import(client, agent.agent_id, [{"content": "mine"}],
                   headers=agent.headers).status_code == 200
    indexer.run(burst=True)
    assert client.get(f"{base}/memory-index", headers=agent.headers).json()["count"] == 1
    assert client.get(f"{base}/memory-export", headers=agent.headers).status_code == 200
    assert client.get(f"{base}/memory-index", headers=other.headers).status_code == 403
    assert _import(client, agent.agent_id, [{"content": "x"}],
                   headers=other.headers).status_code == 403
    assert client.get(f"{base}/memory-index").status_code == 401
    assert client.get("/api/v2/agents/nobody-here/memory-index",
                      headers=ADMIN).status_code == 404
    assert client.get(f"{base}/memory-export?limit=0", headers=ADMIN).status_code == 422
    assert client.get(f"{base}/memory-export?cursor=junk", headers=ADMIN).status_code == 422
    assert client.get(f"{base}/memory-export", params={"cursor": "x" * 5000},
                      headers=ADMIN).status_code == 422


def test_export_pages_follow_the_cursor_and_skip_expired(client, indexer):
    agent = new_agent(client, "tree")
    base = f"/api/v2/agents/{agent.agent_id}"
    queued = _import(client, agent.agent_id,
                     [{"content": f"fact number {i}"} for i in range(7)]).json()
    indexer.run(burst=True)
    expired = queued["memories"][0]["memory_id"]
    assert client.post(f"{base}/memories/{expired}/expire",
                       headers=agent.headers).status_code == 200
    seen, cursor = [], None
    while True:
        page = client.get(f"{base}/memory-export", params={"limit": 2, "cursor": cursor}
                          if cursor else {"limit": 2}, headers=ADMIN).json()
        if cursor is None:
            assert page["total"] == 6
        seen += [m["memory_id"] for m in page["memories"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6 and expired not in seen
    index = client.get(f"{base}/memory-index", headers=ADMIN).json()
    assert {e["memory_id"] for e in index["entries"]} == set(seen)


def _index_page(client, agent_id, **params):
    reply = client.get(f"/api/v2/agents/{agent_id}/memory-index", params=params,
                       headers=ADMIN)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_memory_index_pages_in_the_trees_order(client, indexer):
    agent = new_agent(client, "tree")
    # Twelve memories: three share a creation time (ties go by id), three share a topic (a
    # folder), two share a name (slugs _2), one has a stored description.
    memories = [{"content": f"Fact {i}\nmore", "title": "Same name" if i in (3, 9) else
                 f"Fact {i}", "created_at": f"2025-03-{1 + min(i, 5):02d}T10:00:00Z",
                 "tags": ["stripe"] if i in (2, 6, 10) else []} for i in range(12)]
    memories[7]["description"] = "A stored description"
    assert _import(client, agent.agent_id, memories).status_code == 200
    indexer.run(burst=True)
    # One more still queued: an index page holds it as well.
    assert _import(client, agent.agent_id, [{"content": "Waiting fact"}]).status_code == 200
    whole = _index_page(client, agent.agent_id, limit=2000)
    assert (whole["count"], whole["total"], whole["has_more"]) == (13, 13, False)
    walked, cursor, pages = [], None, 0
    while True:
        page = _index_page(client, agent.agent_id, limit=5,
                           **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert page["total"] == 13 + (pages > 1) and page["count"] <= 5
        walked += page["entries"]
        if pages == 1:  # a memory added between pages lands on the last page
            assert _import(client, agent.agent_id, [{"content": "Late fact"}]).status_code == 200
        assert page["has_more"] == (page["next_cursor"] is not None)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and walked[:13] == whole["entries"]
    assert [e["name"] for e in walked[13:]] == ["Late fact"]
    ids = [e["memory_id"] for e in walked]
    assert len(ids) == len(set(ids)) == 14
    # Pages carry what the whole index does: folders, de-duplicated slugs, descriptions.
    assert {e["path"] for e in walked if e["topic"] == "stripe"} == {
        "stripe/fact_2.md", "stripe/fact_6.md", "stripe/fact_10.md"}
    assert {e["slug"] for e in walked if e["name"] == "Same name"} == {"same_name",
                                                                        "same_name_2"}
    assert {e["description"] for e in walked if e["name"] == "Fact 7"} == {
        "A stored description"}
    assert {e["description"] for e in walked if e["name"] == "Fact 8"} == {"Fact 8"}


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "2001"}, "limit"), ({"limit": "all"}, "limit"),
    ({"cursor": "junk"}, "cursor"), ({"cursor": "x" * 5000}, "cursor"),
    ({"cursor": "eyJ0IjoxfQ=="}, "cursor"),  # {"t": 1}: JSON, but no position
])
def test_bad_memory_index_paging_is_a_422_naming_the_parameter(client, params, field):
    agent = new_agent(client, "tree")
    reply = client.get(f"/api/v2/agents/{agent.agent_id}/memory-index", params=params,
                       headers=ADMIN)
    assert reply.status_code == 422, reply.text
    assert problem(reply).startswith(field) and reply.json()["message"].startswith(field)
