"""The per-agent memory API of seed 003: STM and current.md, LTM, overview and clearing."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from redis.commands.search.query import Query
from redisvl.query.filter import Tag
from starlette.testclient import TestClient

from memanto_redis.shared.auth.apikeys import digest
from memanto_redis.shared.infra import keys
from memanto_redis.shared.memory.record import Memory
from tests.conftest import ADMIN, new_agent

SEED_MD = ("# Agent Short-Term Memory Context\n\n## Session: sess_abc123\n\n### Recent Messages"
           "\n\n**User:** Hello!\n\n**Agent:** Hi! How can I help?\n")


def _url(agent_id: str, path: str = "") -> str:
    return f"/api/agents/{agent_id}/memory{path}"


def _ok(reply, status: int = 200) -> dict:
    assert reply.status_code == status, reply.text
    return reply.json()


def _bare_agent(client) -> str:
    """An agent that has never been activated (no v2 session)."""
    agent_id = f"bare-{uuid.uuid4().hex[:8]}"
    _ok(client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=ADMIN), 201)
    return agent_id


def _agent_keys(r, agent_id: str) -> set[str]:
    return {k.decode() for k in r.scan_iter(match=f"*{{{agent_id}}}*", count=10_000)}


def _indexed_count(r, agent_id: str) -> int:
    query = Query(str(Tag("agent_id") == agent_id)).paging(0, 0)
    return r.ft(keys.MEMORY_INDEX).search(query).total


@pytest.fixture(scope="module")
def small_client(settings, vectorizer):
    """The app with a 3-entry STM cap and a 1-second idle expiry."""
    from memanto_redis.api.app import create_app

    small = settings.varied(stm_max_entries=3, stm_idle_seconds=1)
    with TestClient(create_app(small, vectorizer)) as test_client:
        yield test_client


# -- short-term memory --------------------------------------------------------------------

def test_stm_append_and_read_in_the_seed_shape(client):
    agent = new_agent(client)
    first = _ok(client.post(_url(agent.agent_id, "/stm"), headers=agent.headers,
                            json={"role": "user", "content": "Hello!", "session": "sess_abc123"}),
                201)
    assert first["success"] is True and first["session_id"] == "sess_abc123"
    assert [e["id"] for e in first["entries"]] == [1]
    # Without a session, a write goes to the current one: the one last written.
    more = _ok(client.post(_url(agent.agent_id, "/stm"), headers=agent.headers,
                           json=[{"role": "assistant", "content": "Hi! How can I help?"}]), 201)
    assert more["session_id"] == "sess_abc123" and more["entries"][0]["id"] == 2
    body = _ok(client.get(_url(agent.agent_id, "/stm"), headers=agent.headers))
    assert body["session_id"] == "sess_abc123"
    assert [(e["id"], e["role"], e["content"]) for e in body["entries"]] == [
        (1, "user", "Hello!"), (2, "assistant", "Hi! How can I help?")]
    assert set(body["entries"][0]) == {"id", "role", "content", "timestamp"}
    assert body["entries"][0]["timestamp"].endswith("Z")
    newest = _ok(client.get(_url(agent.agent_id, "/stm?limit=1&session=current"),
                            headers=agent.headers))
    assert [e["id"] for e in newest["entries"]] == [2]
    other = _ok(client.get(_url(agent.agent_id, "/stm?session=other"), headers=agent.headers))
    assert other == {"session_id": "other", "entries": []}


def test_current_session_is_last_written_else_live_session_else_default(client):
    agent = new_agent(client)
    assert _ok(client.get(_url(agent.agent_id, "/stm"),
                          headers=agent.headers))["session_id"] == agent.session_id
    bare = _bare_agent(client)
    assert _ok(client.get(_url(bare, "/stm"), headers=ADMIN))["session_id"] == "default"
    written = _ok(client.post(_url(bare, "/stm"), headers=ADMIN,
                              json={"role": "user", "content": "hi"}), 201)
    assert written["session_id"] == "default"
    _ok(client.post(_url(bare, "/stm"), headers=ADMIN,
                    json={"role": "user", "content": "hi", "session": "s2"}), 201)
    assert _ok(client.get(_url(bare, "/stm"), headers=ADMIN))["session_id"] == "s2"


def test_current_md_is_the_seed_file(client):
    agent = new_agent(client)
    client.post(_url(agent.agent_id, "/stm"), headers=agent.headers, json=[
        {"role": "user", "content": "Hello!", "session": "sess_abc123"},
        {"role": "assistant", "content": "Hi! How can I help?", "session": "sess_abc123"}])
    body = _ok(client.get(_url(agent.agent_id, "/current"), headers=agent.headers))
    assert body == {"content": SEED_MD}
    client.post(_url(agent.agent_id, "/stm"), headers=agent.headers, json=[
        {"role": "system", "content": "Be brief."}, {"role": "tool", "content": "42"}])
    text = _ok(client.get(_url(agent.agent_id, "/current"), headers=agent.headers))["content"]
    assert text.endswith("**System:** Be brief.\n\n**Tool:** 42\n")
    empty = _ok(client.get(_url(agent.agent_id, "/current?session=nothing-here"),
                           headers=agent.headers))["content"]
    assert empty == ("# Agent Short-Term Memory Context\n\n## Session: nothing-here\n\n"
                     "### Recent Messages\n\n_No messages yet._\n")


def test_stm_keeps_the_newest_200_by_default(client):
    agent = new_agent(client)
    n = 0
    for size in (100, 100, 5):
        batch = [{"role": "user", "content": f"message {n + i}"} for i in range(size)]
        _ok(client.post(_url(agent.agent_id, "/stm"), json=batch, headers=agent.headers), 201)
        n += size
    entries = _ok(client.get(_url(agent.agent_id, "/stm?limit=1000"),
                             headers=agent.headers))["entries"]
    assert len(entries) == 200
    assert [e["id"] for e in entries] == list(range(6, 206))
    assert entries[-1]["content"] == "message 204"


def test_stm_cap_and_idle_expiry_follow_the_settings(small_client, r):
    agent = new_agent(small_client)
    for i in range(5):
        _ok(small_client.post(_url(agent.agent_id, "/stm"), headers=agent.headers,
                              json={"role": "user", "content": f"m{i}", "session": "s"}), 201)
    entries = _ok(small_client.get(_url(agent.agent_id, "/stm"),
                                   headers=agent.headers))["entries"]
    assert [(e["id"], e["content"]) for e in entries] == [(3, "m2"), (4, "m3"), (5, "m4")]
    assert 0 < r.pttl(keys.stm(agent.agent_id, "s")) <= 1000
    time.sleep(1.3)
    body = _ok(small_client.get(_url(agent.agent_id, "/stm?session=s"), headers=agent.headers))
    assert body["entries"] == []
    # The list, its counter, the current pointer and the session set all expired.
    assert not [k for k in _agent_keys(r, agent.agent_id) if k.startswith("stm")]


def test_stm_clear_one_session_or_all(client, r):
    agent = new_agent(client)
    for session in ("s1", "s2"):
        client.post(_url(agent.agent_id, "/stm"), headers=agent.headers,
                    json={"role": "user", "content": "x", "session": session})
    one = _ok(client.delete(_url(agent.agent_id, "/stm?session=s1"), headers=agent.headers))
    assert one == {"success": True, "message": "Short-term memory cleared",
                   "sessions_cleared": 1}
    assert _ok(client.get(_url(agent.agent_id, "/stm?session=s1"),
                          headers=agent.headers))["entries"] == []
    assert len(_ok(client.get(_url(agent.agent_id, "/stm?session=s2"),
                              headers=agent.headers))["entries"]) == 1
    everything = _ok(client.delete(_url(agent.agent_id, "/stm"), headers=agent.headers))
    assert everything["success"] is True and everything["sessions_cleared"] == 1
    assert not [k for k in _agent_keys(r, agent.agent_id) if k.startswith("stm")]
    # Ids start again at 1 in a cleared session.
    again = _ok(client.post(_url(agent.agent_id, "/stm"), headers=agent.headers,
                            json={"role": "user", "content": "y", "session": "s2"}), 201)
    assert again["entries"][0]["id"] == 1


@pytest.mark.parametrize("body, field", [
    ({"role": "bot", "content": "x"}, "role"),
    ({"content": "x"}, "role"),
    ({"role": "user"}, "content"),
    ({"role": "user", "content": "   "}, "content"),
    ({"role": "user", "content": "x" * 10_001}, "content"),
    ({"role": "user", "content": 5}, "content"),
    ({"role": "user", "content": "x", "session": "current"}, "session"),
    ({"role": "user", "content": "x", "session": "a:b"}, "session"),
    ({"role": "user", "content": "x", "extra": 1}, "extra"),
    ([], "body"),
    ([{"role": "user", "content": "x"}] * 101, "body"),
    ([{"role": "user", "content": "x"}, {"role": "nobody", "content": "x"}], "1.role"),
    ([{"role": "user", "content": "x", "session": "a"},
      {"role": "user", "content": "x", "session": "b"}], "session"),
    ("just a string", "body"),
])
def test_stm_append_refuses_bad_entries_by_field(client, r, body, field):
    agent = new_agent(client)
    reply = client.post(_url(agent.agent_id, "/stm"), json=body, headers=agent.headers)
    assert reply.status_code == 422, reply.text
    assert field in reply.text
    assert not [k for k in _agent_keys(r, agent.agent_id) if k.startswith("stm")]


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=1001", "limit"), ("limit=-1", "limit"),
    ("limit=%C2%B2", "limit"),
    ("session=a:b", "session"), ("session=" + "x" * 129, "session"),
])
def test_stm_reads_refuse_bad_query_parameters(client, query, field):
    agent = new_agent(client)
    for path in ("/stm", "/current"):
        reply = client.get(_url(agent.agent_id, f"{path}?{query}"), headers=agent.headers)
        assert reply.status_code == 422 and field in reply.json()["detail"]
    if field == "session":
        reply = client.delete(_url(agent.agent_id, f"/stm?{query}"), headers=agent.headers)
        assert reply.status_code == 422 and field in reply.json()["detail"]


def test_malformed_json_is_400(client):
    agent = new_agent(client)
    for path in ("/stm", "/ltm", "/ltm/search"):
        reply = client.post(_url(agent.agent_id, path), content=b"{nope",
                            headers=agent.headers | {"content-type": "application/json"})
        assert reply.status_code == 400, (path, reply.text)


# -- long-term memory ---------------------------------------------------------------------

def test_ltm_add_get_search_delete(client, indexer):
    agent = new_agent(client)
    added = _ok(client.post(_url(agent.agent_id, "/ltm"), headers=agent.headers, json={
        "content": "Project deadline is February 15th, 2024",
        "metadata": {"source": "user_input", "category": "important"}}))
    assert added["success"] is True and added["message"] == "Memory added"
    memory_id = added["id"]
    queued = _ok(client.get(_url(agent.agent_id, f"/ltm/{memory_id}"), headers=agent.headers))
    assert queued["embedding_dimensions"] == 0 and queued["status"] == "queued"
    assert queued["metadata"] == {"source": "user_input", "category": "important"}
    # The same memory, seen by the v2 API.
    v2 = _ok(client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}",
                        headers=agent.headers))
    assert v2["source"] == "user_input" and v2["metadata"]["category"] == "important"
    indexer.run(burst=True)
    entry = _ok(client.get(_url(agent.agent_id, f"/ltm/{memory_id}"), headers=agent.headers))
    assert entry["embedding_dimensions"] == 384
    assert {"id", "content", "embedding_dimensions", "metadata", "created_at"} <= set(entry)
    assert entry["id"] == memory_id and entry["created_at"].endswith("Z")
    found = _ok(client.post(_url(agent.agent_id, "/ltm/search"), headers=agent.headers,
                            json={"query": "when is the project due?", "threshold": 0.3}))
    assert [hit["id"] for hit in found["results"]] == [memory_id]
    assert set(found["results"][0]) == {"id", "content", "similarity", "created_at", "source"}
    assert found["results"][0]["source"] == "user_input"
    gone = _ok(client.delete(_url(agent.agent_id, f"/ltm/{memory_id}"), headers=agent.headers))
    assert gone == {"success": True, "message": "Memory entry deleted"}
    assert client.get(_url(agent.agent_id, f"/ltm/{memory_id}"),
                      headers=agent.headers).status_code == 404
    assert client.delete(_url(agent.agent_id, f"/ltm/{memory_id}"),
                         headers=agent.headers).status_code == 404
    assert _ok(client.post(_url(agent.agent_id, "/ltm/search"), headers=agent.headers,
                           json={"query": "project deadline"}))["results"] == []


def test_ltm_search_limit_and_threshold(client, indexer):
    agent = new_agent(client)
    facts = ["The API rate limit is 1000 requests per minute",
             "Rate limiting may occur during high traffic",
             "The office cat is called Biscuit",
             "Lunch is served at noon on weekdays"]
    ids = [_ok(client.post(_url(agent.agent_id, "/ltm"), headers=agent.headers,
                           json={"content": fact}))["id"] for fact in facts]
    indexer.run(burst=True)

    def search(**body):
        return _ok(client.post(_url(agent.agent_id, "/ltm/search"), headers=agent.headers,
                               json={"query": "API rate limit"} | body))["results"]

    everything = search()
    assert len(everything) == 4 and everything[0]["id"] == ids[0]
    assert everything[0]["source"] == "agent"
    sims = [hit["similarity"] for hit in everything]
    assert sims == sorted(sims, reverse=True) and all(0 <= s <= 1 for s in sims)
    assert len(search(limit=2)) == 2
    cut = sims[1]
    strict = search(threshold=cut)
    assert {hit["id"] for hit in strict} == {ids[0], ids[1]}
    assert all(hit["similarity"] >= cut for hit in strict)
    assert search(threshold=1.0) == []


def test_ltm_sees_memories_written_through_v2(client, indexer):
    agent = new_agent(client)
    reply = _ok(client.post(f"/api/v2/agents/{agent.agent_id}/remember", headers=agent.headers,
                            json={"content": "The user prefers email over phone calls"}))
    indexer.run(burst=True)
    entry = _ok(client.get(_url(agent.agent_id, f"/ltm/{reply['memory_id']}"), headers=ADMIN))
    assert entry["metadata"] == {"source": "agent"} and entry["embedding_dimensions"] == 384
    found = _ok(client.post(_url(agent.agent_id, "/ltm/search"), headers=ADMIN,
                            json={"query": "how to contact the user"}))["results"]
    assert found[0]["id"] == reply["memory_id"]


def test_ltm_with_an_api_key_writes_without_a_session(client):
    bare = _bare_agent(client)
    added = _ok(client.post(_url(bare, "/ltm"), headers=ADMIN, json={"content": "a fact"}))
    v2 = client.get(f"/api/v2/agents/{bare}", headers=ADMIN).json()
    assert v2["memory_count"] == 1
    assert _ok(client.get(_url(bare, f"/ltm/{added['id']}"), headers=ADMIN))["content"] == "a fact"


@pytest.mark.parametrize("path, body, field", [
    ("/ltm", {}, "content"),
    ("/ltm", {"content": ""}, "content"),
    ("/ltm", {"content": "  "}, "content"),
    ("/ltm", {"content": "x" * 10_001}, "content"),
    ("/ltm", {"content": "x", "metadata": ["a"]}, "metadata"),
    ("/ltm", {"content": "x", "metadata": "a"}, "metadata"),
    ("/ltm", {"content": "x", "metadata": {"source": 5}}, "metadata.source"),
    ("/ltm", {"content": "x", "metadata": {"source": "s" * 101}}, "metadata.source"),
    ("/ltm", {"content": "x", "metadata": {"blob": "y" * 5000}}, "metadata"),
    ("/ltm", {"content": "x", "metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
    ("/ltm", {"content": "x", "tags": []}, "tags"),
    ("/ltm/search", {}, "query"),
    ("/ltm/search", {"query": ""}, "query"),
    ("/ltm/search", {"query": "x", "limit": 0}, "limit"),
    ("/ltm/search", {"query": "x", "limit": 101}, "limit"),
    ("/ltm/search", {"query": "x", "limit": "5"}, "limit"),
    ("/ltm/search", {"query": "x", "threshold": 1.5}, "threshold"),
    ("/ltm/search", {"query": "x", "threshold": -0.1}, "threshold"),
    ("/ltm/search", {"query": "x", "min_similarity": 0.5}, "min_similarity"),
])
def test_ltm_refuses_bad_bodies_by_field(client, r, path, body, field):
    agent = new_agent(client)
    reply = client.post(_url(agent.agent_id, path), json=body, headers=agent.headers)
    assert reply.status_code == 422, reply.text
    assert field in reply.json()["detail"]
    assert r.scard(keys.memory_ids(agent.agent_id)) == 0


def test_ltm_unknown_ids_are_404(client):
    agent = new_agent(client)
    for memory_id in ("no-such-id", str(uuid.uuid4()), "bad%20id", "x" * 65):
        assert client.get(_url(agent.agent_id, f"/ltm/{memory_id}"),
                          headers=agent.headers).status_code == 404
        assert client.delete(_url(agent.agent_id, f"/ltm/{memory_id}"),
                             headers=agent.headers).status_code == 404


def test_ltm_of_another_agent_is_not_reachable_by_id(client):
    owner, other = new_agent(client), new_agent(client)
    memory_id = _ok(client.post(_url(owner.agent_id, "/ltm"), headers=owner.headers,
                                json={"content": "secret"}))["id"]
    assert client.get(_url(other.agent_id, f"/ltm/{memory_id}"),
                      headers=other.headers).status_code == 404
    assert client.delete(_url(other.agent_id, f"/ltm/{memory_id}"),
                         headers=other.headers).status_code == 404


# -- auth ---------------------------------------------------------------------------------

ROUTES = [
    ("GET", ""), ("DELETE", ""), ("POST", "/stm"), ("GET", "/stm"), ("DELETE", "/stm"),
    ("GET", "/current"), ("POST", "/ltm"), ("POST", "/ltm/search"), ("GET", "/ltm/x"),
    ("DELETE", "/ltm/x"),
]


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_route_needs_credentials_of_this_agent(client, method, path):
    agent, other = new_agent(client), new_agent(client)
    url = _url(agent.agent_id, path)
    body = {"json": {"role": "user", "content": "x"}} if method == "POST" else {}
    assert client.request(method, url, **body).status_code == 401
    assert client.request(method, url, headers={"X-Session-Token": "forged"},
                          **body).status_code == 401
    assert client.request(method, url, headers={"Authorization": "Bearer wrong"},
                          **body).status_code == 401
    assert client.request(method, url, headers=other.headers, **body).status_code == 403
    assert client.request(method, _url("no-such-agent", path), headers=ADMIN,
                          **body).status_code == 404


def test_a_revoked_session_is_refused_and_a_named_key_accepted(client, r):
    agent = new_agent(client)
    client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=ADMIN)
    assert client.get(_url(agent.agent_id), headers=agent.headers).status_code == 401
    named = f"named-{uuid.uuid4().hex}"
    r.hset(keys.API_KEYS, digest(named), "ops")
    try:
        assert client.get(_url(agent.agent_id),
                          headers={"Authorization": f"Bearer {named}"}).status_code == 200
    finally:
        r.hdel(keys.API_KEYS, digest(named))


# -- overview and clearing ----------------------------------------------------------------

def test_overview_in_the_seed_shape(client, indexer):
    agent = new_agent(client)
    empty = _ok(client.get(_url(agent.agent_id), headers=agent.headers))
    assert empty["short_term"] == {"session_id": agent.session_id, "entries_count": 0,
                                   "last_updated": None}
    assert empty["long_term"] == {"entries_count": 0, "size_kb": 0.0}
    assert isinstance(empty["swarm"]["shared_facts"], int)
    written = _ok(client.post(_url(agent.agent_id, "/stm"), headers=agent.headers, json=[
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]), 201)
    for i in range(3):
        client.post(_url(agent.agent_id, "/ltm"), headers=agent.headers,
                    json={"content": f"long-term fact number {i}"})
    queued = _ok(client.get(_url(agent.agent_id), headers=agent.headers))["long_term"]
    assert queued["entries_count"] == 3 and queued["size_kb"] > 0
    indexer.run(burst=True)
    body = _ok(client.get(_url(agent.agent_id), headers=agent.headers))
    assert body["short_term"] == {"session_id": agent.session_id, "entries_count": 2,
                                  "last_updated": written["entries"][-1]["timestamp"]}
    assert body["long_term"]["entries_count"] == 3
    # Three records holding a 384-dim float32 vector each: more than 4.5 KB, well under 30.
    assert 4.5 < body["long_term"]["size_kb"] < 30


def test_clear_all_leaves_nothing_of_the_agents_memory(client, indexer, r):
    agent = new_agent(client)
    for session in ("s1", "s2"):
        client.post(_url(agent.agent_id, "/stm"), headers=agent.headers,
                    json={"role": "user", "content": "x", "session": session})
    ids = [_ok(client.post(_url(agent.agent_id, "/ltm"), headers=agent.headers,
                           json={"content": f"fact {i}"}))["id"] for i in range(3)]
    indexer.run(burst=True)
    # An edit and a v2 delete leave versions and a tombstone behind; the clear takes them.
    v2 = f"/api/v2/agents/{agent.agent_id}/memories"
    _ok(client.patch(f"{v2}/{ids[0]}", json={"confidence": 0.5}, headers=agent.headers))
    _ok(client.delete(f"{v2}/{ids[1]}", headers=agent.headers))
    queued = _ok(client.post(_url(agent.agent_id, "/ltm"), headers=agent.headers,
                             json={"content": "still queued"}))["id"]
    assert _indexed_count(r, agent.agent_id) >= 3
    body = _ok(client.delete(_url(agent.agent_id), headers=agent.headers))
    assert body["success"] is True and body["message"] == "All memory cleared"
    assert body["stm_sessions_cleared"] == 2 and body["ltm_entries_deleted"] == 3
    assert _indexed_count(r, agent.agent_id) == 0
    # The write bucket outlives a clear (a clear must not refill it); it expires by itself.
    assert _agent_keys(r, agent.agent_id) - {keys.write_bucket(agent.agent_id)} == {
        keys.agent(agent.agent_id), keys.session(agent.agent_id)}
    # The queued write is never indexed afterwards: its record is gone.
    indexer.run(burst=True)
    assert client.get(_url(agent.agent_id, f"/ltm/{queued}"),
                      headers=agent.headers).status_code == 404
    assert _indexed_count(r, agent.agent_id) == 0


def test_clearing_100000_memories_takes_seconds_and_leaves_nothing(client, r):
    n = 100_000
    agent = new_agent(client, prefix="bulk")
    aid = agent.agent_id
    client.post(_url(aid, "/stm"), headers=agent.headers, json={"role": "user", "content": "x"})
    client.post(_url(aid, "/ltm"), headers=agent.headers, json={"content": "one queued"})
    # Embedding 100k texts would take minutes: write valid indexed documents directly,
    # each with a random 384-dim float32 vector, as the worker would.
    rng = np.random.default_rng(7)
    now, chunk = time.time(), 5000
    started = time.perf_counter()
    for _ in range(n // chunk):
        vectors = rng.standard_normal((chunk, 384), dtype=np.float32)
        ids = [str(uuid.uuid4()) for _ in range(chunk)]
        with r.pipeline(transaction=False) as pipe:
            for memory_id, vector in zip(ids, vectors, strict=True):
                memory = Memory(memory_id=memory_id, agent_id=aid, content="bulk memory",
                                title="bulk memory", created_at=now, updated_at=now)
                pipe.hset(keys.memory(aid, memory_id),
                          mapping=memory.to_document(vector.tobytes(), now))
            pipe.sadd(keys.memory_ids(aid), *ids)
            pipe.execute()
    print(f"\nwrote {n} indexed documents in {time.perf_counter() - started:.1f} s")
    assert _indexed_count(r, aid) == n
    assert r.scard(keys.memory_ids(aid)) == n + 1

    r.config_resetstat()
    started = time.perf_counter()
    reply = client.delete(_url(aid), headers=agent.headers)
    took = time.perf_counter() - started
    in_redis = r.info("commandstats")["cmdstat_unlink"]["usec"] / 1e6
    print(f"DELETE /api/agents/{{name}}/memory on {n + 1} memories: {took:.2f} s "
          f"({in_redis:.2f} s of it inside Redis's UNLINKs, index updates included)")
    assert _ok(reply)["ltm_entries_deleted"] == n + 1
    assert took < 10
    assert _indexed_count(r, aid) == 0
    assert _agent_keys(r, aid) == {keys.agent(aid), keys.session(aid)}
    assert _ok(client.get(_url(aid), headers=agent.headers))["long_term"] == {
        "entries_count": 0, "size_kb": 0.0}
