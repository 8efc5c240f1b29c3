"""MEMANTO 0.2.30's semantics beyond its shapes: a lapsed session recreated for a caller
who may activate its agent (SESSION_AUTO_RECREATE_ENABLED), AgentInfo's session figures,
agents newest first, the lax AgentCreate, sessions carrying the agent's pattern, recall/all's
mode, as_of_date's end of day, and the bodies MEMANTO lets through."""

from __future__ import annotations

import time

import jwt

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent, unique
from tests.support import ADMIN_KEY, JWT_SECRET, new_api_key

SHORT = 0.0005  # hours: a session that lapses within two seconds


def _remember(client, agent_id, headers, content="Recreated sessions serve this"):
    return client.post(f"/api/v2/agents/{agent_id}/remember", json={"content": content},
                       headers=headers)


# -- auto-recreate -----------------------------------------------------------------------

def test_a_lapsed_session_is_recreated_only_for_a_key_that_may_activate_it(client, r):
    recreated, ended, scoped, replaced = (new_agent(client, p, duration_hours=SHORT)
                                          for p in ("recreate", "ended", "scoped", "replaced"))
    client.post(f"/api/v2/agents/{ended.agent_id}/deactivate", headers=ADMIN)
    newer = client.post(f"/api/v2/agents/{replaced.agent_id}/activate", headers=ADMIN)
    no_activate = new_api_key(client, agents=[scoped.agent_id])
    may_activate = new_api_key(client, agents=[scoped.agent_id], may_activate=True)
    time.sleep(SHORT * 3600 + 0.3)
    before = r.xlen(keys.INGEST_STREAM)

    # Without a key, with a bad one, or one that may not activate: refused, nothing new.
    for extra in ({}, {"X-Api-Key": "mk_not-a-key"}, {"X-Api-Key": no_activate}):
        reply = _remember(client, scoped.agent_id, scoped.headers | extra)
        assert reply.status_code == 401, (extra, reply.text)
        assert "x-session-token" not in reply.headers
    # A deactivated session stays ended; a replaced one never supersedes its successor.
    for gone in (ended, replaced):
        reply = _remember(client, gone.agent_id, gone.headers | {"X-Api-Key": ADMIN_KEY})
        assert reply.status_code == 401 and "x-session-token" not in reply.headers
    assert client.get("/api/v2/session/info", headers={
        "X-Session-Token": newer.json()["session_token"]}).status_code == 200
    assert r.xlen(keys.INGEST_STREAM) == before

    # With the admin key (X-Api-Key or Bearer) or a tenant key that may activate: served.
    for agent, key in ((recreated, {"X-Api-Key": ADMIN_KEY}),
                       (scoped, {"Authorization": f"Bearer {may_activate}"})):
        reply = _remember(client, agent.agent_id, agent.headers | key)
        assert reply.status_code == 200, reply.text
        token = reply.headers["x-session-token"]
        claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
        assert claims["agent_id"] == agent.agent_id
        assert claims["session_id"] != agent.session_id
        assert reply.json()["session_id"] == claims["session_id"]
        assert claims["exp"] - time.time() > 5 * 3600  # MEMANTO's default length
        info = client.get("/api/v2/session/info", headers={"X-Session-Token": token})
        assert info.status_code == 200 and info.json()["session_id"] == claims["session_id"]
        # The lapsed token is spent: a live session is never replaced from it.
        again = _remember(client, agent.agent_id, agent.headers | key)
        assert again.status_code == 401 and "x-session-token" not in again.headers
    # As in MEMANTO, a recreated session is not counted as one the agent started.
    shown = client.get(f"/api/v2/agents/{recreated.agent_id}", headers=ADMIN).json()
    assert shown["session_count"] == 1


# -- AgentInfo, listing, AgentCreate ------------------------------------------------------

def test_agent_info_counts_sessions_and_says_when_the_last_began(client, memanto):
    agent = new_agent(client, "count")
    first = client.get(f"/api/v2/agents/{agent.agent_id}", headers=ADMIN).json()
    second = client.post(f"/api/v2/agents/{agent.agent_id}/activate", headers=ADMIN).json()
    shown = client.get(f"/api/v2/agents/{agent.agent_id}", headers=ADMIN).json()
    info = memanto.s.AgentInfo.model_validate(shown)
    assert (first["session_count"], info.session_count, info.status) == (1, 2, "ready")
    assert info.last_session is not None
    assert abs(info.last_session.timestamp()
               - memanto.s.Session.model_validate(second).started_at.timestamp()) < 0.01


def test_agents_are_listed_newest_first(client):
    made = []
    for _ in range(3):
        made.append(unique("order"))
        client.post("/api/v2/agents", json={"agent_id": made[-1]}, headers=ADMIN)
        time.sleep(0.002)
    listed = [a["agent_id"] for a in client.get("/api/v2/agents", headers=ADMIN).json()["agents"]]
    assert [a for a in listed if a in made] == made[::-1]
    assert listed.index(made[-1]) == 0


def test_create_ignores_unknown_fields_and_reads_null_as_absent(client, r):
    agent_id = unique("lax")
    reply = client.post("/api/v2/agents", headers=ADMIN, json={
        "agent_id": agent_id, "description": None, "pattern": None, "colour": "red"})
    assert reply.status_code == 201, reply.text
    assert (reply.json()["pattern"], reply.json()["description"]) == ("support", None)
    assert r.hget(keys.agent(agent_id), "colour") is None


# -- sessions carry the agent's pattern ---------------------------------------------------

def test_session_answers_carry_the_agents_pattern(client, memanto):
    agent_id = unique("pattern")
    client.post("/api/v2/agents", json={"agent_id": agent_id, "pattern": "project"},
                headers=ADMIN)
    reply = client.post(f"/api/v2/agents/{agent_id}/activate", headers=ADMIN)
    session = memanto.s.Session.model_validate(reply.json())
    assert session.pattern == "project"
    token = {"X-Session-Token": session.session_token}
    status = memanto.s.SessionInfo.model_validate(
        client.get("/api/v2/status", headers=token).json())
    assert status.pattern == "project"
    assert client.get("/api/v2/session/info", headers=token).json()["pattern"] == "project"


# -- recall modes and times ---------------------------------------------------------------

def test_recall_all_says_recent_and_as_of_a_date_is_its_last_instant(client, agent):
    base = f"/api/v2/agents/{agent.agent_id}"
    every = client.post(f"{base}/recall/all", json={}, headers=agent.headers).json()
    assert every["temporal_mode"] == "recent"
    for sent, said in (("2999-01-01", "2999-01-01T23:59:59.999999+00:00"),
                       ("2024-02-29", "2024-02-29T23:59:59.999999+00:00"),
                       ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00+00:00")):
        reply = client.post(f"{base}/recall/as-of", json={"as_of": sent}, headers=agent.headers)
        assert reply.status_code == 200 and reply.json()["as_of_date"] == said, reply.text


# -- bodies MEMANTO lets through ----------------------------------------------------------

def test_activate_ignores_a_body_it_cannot_read(client):
    agent_id = unique("nobody")
    client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=ADMIN)
    for body in (b"not json", b"[1, 2]", b'"text"', b"null"):
        reply = client.post(f"/api/v2/agents/{agent_id}/activate", content=body,
                            headers=ADMIN | {"Content-Type": "application/json"})
        assert reply.status_code == 200, (body, reply.text)


def test_expire_takes_a_null_body_and_patch_takes_an_empty_title(client, agent, indexer):
    base = f"/api/v2/agents/{agent.agent_id}"
    memory_id = client.post(f"{base}/remember", json={"content": "Office moves in June"},
                            headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    expired = client.post(f"{base}/memories/{memory_id}/expire", content=b"null",
                          headers=agent.headers | {"Content-Type": "application/json"})
    assert expired.status_code == 200 and expired.json()["expired_by"] == "manual"
    titled = client.patch(f"{base}/memories/{memory_id}", json={"title": ""},
                          headers=agent.headers)
    assert titled.status_code == 200 and titled.json()["updated_fields"] == ["title"]
    for blank in ("", "   "):
        reply = client.patch(f"{base}/memories/{memory_id}", json={"content": blank},
                             headers=agent.headers)
        assert reply.status_code == 400, reply.text
    kept = client.get(f"{base}/memories/{memory_id}", headers=agent.headers).json()
    assert kept["content"] == "Office moves in June"
