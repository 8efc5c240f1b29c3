"""MEMANTO 0.2.30's agent and session semantics: management by X-Api-Key, DELETE agent
keeping memories, expire's {reason}, activate without a body, auto-renewal near the end
(the new token in the X-Session-Token header), MEMANTO's JWT claims and session ids,
GET /api/v2/status, GET / and /health's HealthResponse."""

from __future__ import annotations

import re
import time
from datetime import datetime

import jwt
import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent, unique
from tests.support import ADMIN_KEY, JWT_SECRET, problem

X_API_KEY = {"X-Api-Key": ADMIN_KEY}
# MEMANTO's SessionInfo and HealthResponse: the fields its models require.
SESSION_INFO = {"session_id", "agent_id", "namespace", "started_at", "expires_at", "status",
                "time_remaining_seconds"}
HEALTH = {"status", "service", "version", "moorcheh_connected"}


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# -- management by X-Api-Key -------------------------------------------------------------

def test_x_api_key_manages_agents_as_bearer_does(client):
    agent_id = unique("xkey")
    created = client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=X_API_KEY)
    assert created.status_code == 201, created.text
    assert client.get(f"/api/v2/agents/{agent_id}", headers=X_API_KEY).status_code == 200
    assert agent_id in [a["agent_id"] for a in
                        client.get("/api/v2/agents", headers=X_API_KEY).json()["agents"]]
    session = client.post(f"/api/v2/agents/{agent_id}/activate", headers=X_API_KEY)
    assert session.status_code == 200
    assert client.post(f"/api/v2/agents/{agent_id}/deactivate",
                       headers=X_API_KEY).status_code == 200


@pytest.mark.parametrize("headers", [{"X-Api-Key": "mk_not-a-key"}, {"X-Api-Key": " "}, {}])
def test_a_bad_or_missing_x_api_key_is_401_and_creates_nothing(client, r, headers):
    agent_id = unique("xkey")
    reply = client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=headers)
    assert reply.status_code == 401
    assert not r.exists(keys.agent(agent_id))


def test_x_api_key_reaches_an_agents_memory_routes_too(client, agent):
    assert client.get(f"/api/v2/agents/{agent.agent_id}/bootstrap",
                      headers=X_API_KEY).status_code == 200


# -- DELETE agent ------------------------------------------------------------------------

def test_delete_keeps_the_memories_and_creating_again_brings_them_back(client, indexer):
    agent = new_agent(client, "keep")
    base = f"/api/v2/agents/{agent.agent_id}"
    memory_id = client.post(f"{base}/remember", json={"content": "The office is in Lyon"},
                            headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)

    reply = client.delete(base, headers=ADMIN)
    assert reply.status_code == 200
    body = reply.json()
    assert body["message"].startswith(f"Agent '{agent.agent_id}' successfully deleted")
    assert body["memories_deleted"] == 0 and body["memories_kept"] is True
    assert client.get(base, headers=ADMIN).status_code == 404
    assert client.post(f"{base}/remember", json={"content": "x"},
                       headers=agent.headers).status_code == 401

    again = client.post("/api/v2/agents", json={"agent_id": agent.agent_id}, headers=ADMIN)
    assert again.status_code == 201 and again.json()["memory_count"] == 1
    token = client.post(f"{base}/activate", headers=ADMIN).json()["session_token"]
    stored = client.get(f"{base}/memories/{memory_id}", headers={"X-Session-Token": token})
    assert stored.status_code == 200 and stored.json()["content"] == "The office is in Lyon"
    found = client.post(f"{base}/recall", json={"query": "where is the office?"},
                        headers={"X-Session-Token": token}).json()
    assert memory_id in [m.get("memory_id") or m.get("id") for m in found["memories"]]


def test_delete_backup_too_deletes_the_memories(client, r):
    agent = new_agent(client, "gone")
    base = f"/api/v2/agents/{agent.agent_id}"
    client.post(f"{base}/remember", json={"content": "to go"}, headers=agent.headers)
    reply = client.delete(base, params={"delete-backup-too": "true"}, headers=ADMIN)
    assert reply.status_code == 200
    assert reply.json()["memories_deleted"] == 1
    assert "with all its memories" in reply.json()["message"]
    assert not r.exists(keys.memory_ids(agent.agent_id))
    assert client.post("/api/v2/agents", json={"agent_id": agent.agent_id},
                       headers=ADMIN).json()["memory_count"] == 0


@pytest.mark.parametrize("value", ["maybe", "2", "tru"])
def test_a_bad_delete_backup_too_is_refused_and_deletes_nothing(client, agent, value):
    base = f"/api/v2/agents/{agent.agent_id}"
    reply = client.delete(base, params={"delete-backup-too": value}, headers=ADMIN)
    assert reply.status_code == 422
    assert "delete-backup-too" in problem(reply)
    assert client.get(base, headers=ADMIN).status_code == 200


# -- expire {reason}, restore ------------------------------------------------------------

def _memory(client, agent, indexer, content="The deploy window is Tuesday"):
    """An indexed memory: (its URL, its hash key, where a lifecycle change is kept)."""
    base = f"/api/v2/agents/{agent.agent_id}"
    memory_id = client.post(f"{base}/remember", json={"content": content},
                            headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    return f"{base}/memories/{memory_id}", keys.memory(agent.agent_id, memory_id)


def test_expire_stamps_its_reason_and_restore_clears_it(client, agent, r, indexer):
    url, key = _memory(client, agent, indexer)
    before = time.time()
    reply = client.post(f"{url}/expire", json={"reason": "superseded.v2"},
                        headers=agent.headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["expired_by"] == "superseded.v2"
    assert before - 1 <= _when(reply.json()["expired_at"]) <= time.time() + 1
    assert client.get(url, headers=agent.headers).json()["lifecycle"] == "expired"
    assert r.hget(key, "expired_by") == b"superseded.v2"
    assert before - 1 <= float(r.hget(key, "expired_at")) <= time.time() + 1

    reply = client.post(f"{url}/restore", headers=agent.headers)
    assert reply.status_code == 200
    assert reply.json()["expired_by"] is None and reply.json()["expired_at"] is None
    assert client.get(url, headers=agent.headers).json()["lifecycle"] == "active"
    assert not r.hexists(key, "expired_by") and not r.hexists(key, "expired_at")


@pytest.mark.parametrize("body", [None, {}, {"reason": None}, {"reason": None, "other": 1}])
def test_expire_without_a_reason_is_manual(client, agent, r, indexer, body):
    url, key = _memory(client, agent, indexer)
    reply = client.post(f"{url}/expire", json=body, headers=agent.headers) if body is not None \
        else client.post(f"{url}/expire", headers=agent.headers)
    assert reply.status_code == 200, reply.text
    assert r.hget(key, "expired_by") == b"manual"


@pytest.mark.parametrize("reason", ["has space", "x" * 65, "", "semi;colon", 7])
def test_a_bad_reason_is_422_and_changes_nothing(client, agent, r, indexer, reason):
    url, key = _memory(client, agent, indexer)
    reply = client.post(f"{url}/expire", json={"reason": reason}, headers=agent.headers)
    assert reply.status_code == 422
    assert "reason" in problem(reply)
    assert client.get(url, headers=agent.headers).json()["lifecycle"] == "active"
    assert not r.hexists(key, "expired_by")


def test_restore_ignores_a_body(client, agent, indexer):
    url, _ = _memory(client, agent, indexer)
    client.post(f"{url}/expire", headers=agent.headers)
    reply = client.post(f"{url}/restore", json={"reason": "whatever"}, headers=agent.headers)
    assert reply.status_code == 200
    assert client.get(url, headers=agent.headers).json()["lifecycle"] == "active"


# -- activate --------------------------------------------------------------------------

def test_activate_takes_no_body_and_ignores_what_a_client_sends(client):
    agent_id = unique("act")
    client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=ADMIN)
    for body in (None, {}, {"agent_id": agent_id, "duration_hours": None, "x": 1}):
        reply = client.post(f"/api/v2/agents/{agent_id}/activate", json=body, headers=ADMIN)
        assert reply.status_code == 200, reply.text
        left = _when(reply.json()["expires_at"]) - time.time()
        assert 6 * 3600 - 10 < left <= 6 * 3600
    # The extension stays: a length of one's own.
    reply = client.post(f"/api/v2/agents/{agent_id}/activate", json={"duration_hours": 2},
                        headers=ADMIN)
    assert 2 * 3600 - 10 < _when(reply.json()["expires_at"]) - time.time() <= 2 * 3600


# -- JWT claims and session ids -----------------------------------------------------------

def test_tokens_carry_memantos_claims(client, agent):
    claims = jwt.decode(agent.token, JWT_SECRET, algorithms=["HS256"])
    assert re.fullmatch(r"sess_[0-9a-f]{12}", agent.session_id)
    assert claims["agent_id"] == agent.agent_id
    assert claims["namespace"] == f"memanto_agent_{agent.agent_id}"
    assert claims["session_id"] == agent.session_id
    started, ends = _when(claims["started_at"]), _when(claims["expires_at"])
    assert abs(started - time.time()) < 10
    assert ends - started == pytest.approx(6 * 3600, abs=1)
    assert claims["exp"] == int(ends)


def test_a_token_of_the_earlier_claim_names_still_works(client, agent):
    claims = jwt.decode(agent.token, JWT_SECRET, algorithms=["HS256"])
    old = {"sub": claims["agent_id"], "sid": claims["session_id"], "ns": claims["namespace"],
           "iat": claims["iat"], "exp": claims["exp"], "typ": "session"}
    token = jwt.encode(old, JWT_SECRET, algorithm="HS256")
    reply = client.get("/api/v2/session/info", headers={"X-Session-Token": token})
    assert reply.status_code == 200 and reply.json()["session_id"] == agent.session_id


# -- auto-renewal ----------------------------------------------------------------------

def test_a_token_near_its_end_is_renewed_in_the_answer_header(client):
    agent = new_agent(client, "renew", duration_hours=0.25)  # 15 minutes: within 30
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/remember",
                        json={"content": "renew me"}, headers=agent.headers)
    assert reply.status_code == 200
    renewed = reply.headers["x-session-token"]
    assert renewed != agent.token
    claims = jwt.decode(renewed, JWT_SECRET, algorithms=["HS256"])
    assert claims["session_id"] == agent.session_id
    assert 6 * 3600 - 10 < _when(claims["expires_at"]) - time.time() <= 6 * 3600
    # The session itself was pushed; both tokens work, and the new one is far from its end.
    info = client.get("/api/v2/session/info", headers={"X-Session-Token": renewed})
    assert info.status_code == 200 and "x-session-token" not in info.headers
    assert info.json()["seconds_remaining"] > 5 * 3600
    assert client.get("/api/v2/session/info", headers=agent.headers).status_code == 200


def test_a_token_far_from_its_end_gets_no_new_one(client, agent):
    reply = client.get("/api/v2/session/info", headers=agent.headers)
    assert reply.status_code == 200 and "x-session-token" not in reply.headers


def test_a_dead_or_forged_token_is_not_renewed(client):
    agent = new_agent(client, "dead", duration_hours=0.25)
    client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=ADMIN)
    reply = client.get("/api/v2/session/info", headers=agent.headers)
    assert reply.status_code == 401 and "x-session-token" not in reply.headers
    forged = jwt.encode(jwt.decode(agent.token, JWT_SECRET, algorithms=["HS256"]),
                        "another-secret-of-enough-length-123456", algorithm="HS256")
    reply = client.get("/api/v2/session/info", headers={"X-Session-Token": forged})
    assert reply.status_code == 401 and "x-session-token" not in reply.headers


def test_renewal_stops_at_the_sessions_longest_life(client, r):
    agent = new_agent(client, "oldest", duration_hours=0.25)
    svc_max = client.app_state["services"].sessions.max_hours
    # As if it began max_hours ago: nothing is left to renew into.
    started = time.time() - svc_max * 3600 + 60
    r.hset(keys.session(agent.agent_id), "started_at", repr(started))
    reply = client.get("/api/v2/session/info", headers=agent.headers)
    assert reply.status_code == 200
    claims = jwt.decode(reply.headers["x-session-token"], JWT_SECRET, algorithms=["HS256"])
    assert _when(claims["expires_at"]) - time.time() < 0.25 * 3600 + 5


# -- GET /api/v2/status, GET /, /health --------------------------------------------------

def test_status_is_the_session_activated_last(client):
    agent = new_agent(client, "status")
    for headers in (ADMIN, X_API_KEY):
        reply = client.get("/api/v2/status", headers=headers)
        assert reply.status_code == 200
        body = reply.json()
        assert set(body) >= SESSION_INFO
        assert body["agent_id"] == agent.agent_id and body["session_id"] == agent.session_id
        assert body["status"] == "active"
        assert 6 * 3600 - 10 < body["time_remaining_seconds"] <= 6 * 3600
    # A session token alone: its own session.
    other = new_agent(client, "status")
    mine = client.get("/api/v2/status", headers=agent.headers).json()
    assert mine["agent_id"] == agent.agent_id
    assert client.get("/api/v2/status", headers=ADMIN).json()["agent_id"] == other.agent_id
    client.post(f"/api/v2/agents/{other.agent_id}/deactivate", headers=ADMIN)
    gone = client.get("/api/v2/status", headers=ADMIN)
    assert gone.status_code == 404 and "No active session" in problem(gone)


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"},
                                     {"Authorization": "Bearer wrong"},
                                     {"X-Session-Token": "not-a-jwt"}])
def test_status_needs_credentials(client, headers):
    assert client.get("/api/v2/status", headers=headers).status_code == 401


def test_root_says_what_this_is(client):
    reply = client.get("/")
    assert reply.status_code == 200
    body = reply.json()
    assert body["service"] == "MEMANTO" and body["version"] and body["docs"] == "/docs"
    assert body["description"]


def test_health_is_memantos_health_response(client):
    body = client.get("/health").json()
    assert set(body) >= HEALTH
    assert body["status"] == "healthy" and body["moorcheh_connected"] is True
    assert isinstance(body["service"], str) and isinstance(body["version"], str)
    assert client.get("/ready").json()["status"] == "ready"
    assert client.get("/live").json()["status"] == "alive"
