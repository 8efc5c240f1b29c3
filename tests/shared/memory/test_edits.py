"""Editing, expiring, restoring, deleting and history through the v2 API."""

from __future__ import annotations

import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import new_agent
from tests.support import problem


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
    assert (reply.json()["status"], reply.json()["updated_fields"]) == ("updated", ["content"])
    # back through the stream to be embedded
    assert reply.json()["memory"]["status"] == "queued"
    assert reply.json()["memory"]["version"] == 2
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
    body = reply.json()["memory"]
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
    ({"source": "a source"}, "source"), ({"tags": ["#x"]}, "tags"),
    # Unknown fields are ignored, as MEMANTO does: nothing left to change is its 400.
    ({"provenance": "inferred"}, "at least one field"), ({"memory_id": "x"}, "at least one"),
    ({}, "at least one field"), ({"content": None, "title": None}, "at least one field"),
])
def test_bad_edits_are_refused_and_change_nothing(client, mem, body, field):
    agent, base, memory_id = mem
    reply = client.patch(f"{base}/memories/{memory_id}", json=body, headers=agent.headers)
    # MEMANTO's: nothing left to change or a blank content is a 400, a content over 10,000
    # characters a 413.
    blank, too_long = body.get("content") == "", len(str(body.get("content"))) > 10_000
    assert reply.status_code == (400 if "at least" in field or blank else
                                 413 if too_long else 422)
    assert field in problem(reply)
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
    assert expired.json()["status"] == expired.json()["memory"]["lifecycle"] == "expired"
    assert _recall(client, agent, base, "office", status="active") == []
    only_expired = _recall(client, agent, base, "office", status="expired")
    assert [(m["memory_id"], m["status"]) for m in only_expired] == [(memory_id, "expired")]
    assert [m["status"] for m in _recall(client, agent, base, "office", status="all")] == [
        "expired"]
    # Expiring twice is harmless and makes no new version.
    again = client.post(f"{base}/memories/{memory_id}/expire", headers=agent.headers).json()
    assert again["memory"]["version"] == expired.json()["memory"]["version"]
    restored = client.post(f"{base}/memories/{memory_id}/restore", headers=agent.headers)
    assert restored.json()["status"] == "active"
    assert [m["status"] for m in _recall(client, agent, base, "office")] == ["active"]
    bad = client.post(f"{base}/recall", json={"query": "x", "status": "gone"},
                      headers=agent.headers)
    assert bad.status_code == 422 and "status" in problem(bad)


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


def _edits(client, agent, base, memory_id, count, start=0):
    """`count` changes made in place (no re-embedding), each a new version."""
    for i in range(start, start + count):
        reply = client.patch(f"{base}/memories/{memory_id}", json={"confidence": i / 1000},
                             headers=agent.headers)
        assert reply.status_code == 200, reply.text


def _page(client, agent, url, **params):
    reply = client.get(url, params=params, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_history_pages_walk_every_version_once(client, mem):
    agent, base, memory_id = mem
    url = f"{base}/memories/{memory_id}/history"
    _edits(client, agent, base, memory_id, 11)  # versions 1..12, the 12th current
    seen, cursor, pages = [], None, 0
    while True:
        page = _page(client, agent, url, limit=5, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert page["count"] == len(page["versions"]) <= 5
        seen += [v["version"] for v in page["versions"]]
        if pages == 1:  # an edit between two pages lands at the end, once
            _edits(client, agent, base, memory_id, 1, start=500)
        assert page["has_more"] == (page["next_cursor"] is not None)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(range(1, 14)) and pages == 3
    assert page["versions"][-1]["current"] and page["deleted_at"] is None
    # A small history's default answer is one page, as before.
    whole = _page(client, agent, url)
    assert [v["version"] for v in whole["versions"]] == seen
    assert (whole["next_cursor"], whole["has_more"]) == (None, False)


def test_a_deleted_memorys_history_pages_too(client, mem):
    agent, base, memory_id = mem
    url = f"{base}/memories/{memory_id}/history"
    _edits(client, agent, base, memory_id, 2)
    assert client.delete(f"{base}/memories/{memory_id}", headers=agent.headers).status_code == 200
    first = _page(client, agent, url, limit=2)
    assert [v["version"] for v in first["versions"]] == [1, 2] and first["has_more"]
    last = _page(client, agent, url, limit=2, cursor=first["next_cursor"])
    assert [v["version"] for v in last["versions"]] == [3] and not last["has_more"]
    assert not last["versions"][0]["current"] and last["deleted_at"] is not None


def test_history_pages_hold_100_versions_by_default(client, mem):
    agent, base, memory_id = mem
    url = f"{base}/memories/{memory_id}/history"
    _edits(client, agent, base, memory_id, 101)  # versions 1..102
    first = _page(client, agent, url)
    assert first["count"] == 100 and first["has_more"]
    rest = _page(client, agent, url, cursor=first["next_cursor"])
    # MEMANTO_VERSIONS_KEPT (100) archived versions are kept: the first is gone.
    assert [v["version"] for v in first["versions"] + rest["versions"]] == list(range(2, 103))
    assert rest["versions"][-1]["current"] and not rest["has_more"]
    assert _page(client, agent, url, limit=1000)["count"] == 101


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"limit": "-1"}, "limit"), ({"cursor": "junk"}, "cursor"), ({"cursor": "x" * 5000}, "cursor"),
    # well-formed JSON, but no version a page could end at
    ({"cursor": "eyJ2IjotMX0="}, "cursor"), ({"cursor": "WzFd"}, "cursor"),
    ({"cursor": "eyJ2IjoiMyJ9"}, "cursor"),
])
def test_bad_history_paging_is_a_422_naming_the_parameter(client, mem, params, field):
    agent, base, memory_id = mem
    reply = client.get(f"{base}/memories/{memory_id}/history", params=params,
                       headers=agent.headers)
    assert reply.status_code == 422, reply.text
    assert problem(reply).startswith(field) and reply.json()["message"].startswith(field)


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
