"""Sessions: JWT HS256 tokens, one live session per agent, expiry, extend, revocation."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from tests.conftest import ADMIN, new_agent
from tests.support import JWT_SECRET, problem


def _remember(client, agent, token=None):
    return client.post(f"/api/v2/agents/{agent.agent_id}/remember",
                       json={"content": "session check"},
                       headers={"X-Session-Token": token or agent.token})


def test_activate_answers_with_a_signed_hs256_token(client):
    agent = new_agent(client)
    header = jwt.get_unverified_header(agent.token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(agent.token, JWT_SECRET, algorithms=["HS256"])
    assert claims["agent_id"] == agent.agent_id
    assert claims["session_id"] == agent.session_id
    assert claims["exp"] - claims["iat"] == pytest.approx(6 * 3600, abs=2)


def test_activate_shape_and_default_duration(client):
    agent_id = f"s-{uuid.uuid4().hex[:8]}"
    client.post("/api/v2/agents", json={"agent_id": agent_id}, headers=ADMIN)
    body = client.post(f"/api/v2/agents/{agent_id}/activate", headers=ADMIN).json()
    assert set(body) >= {"session_id", "session_token", "agent_id", "namespace", "started_at",
                         "expires_at", "status"}
    assert body["namespace"] == f"memanto_agent_{agent_id}"
    assert body["status"] == "active"
    info = client.get("/api/v2/session/info",
                      headers={"X-Session-Token": body["session_token"]}).json()
    assert 6 * 3600 - 10 < info["seconds_remaining"] <= 6 * 3600


def test_activate_unknown_agent_is_404_and_needs_admin(client):
    assert client.post("/api/v2/agents/nobody-here-x/activate", headers=ADMIN).status_code == 404
    agent = new_agent(client)
    assert client.post(f"/api/v2/agents/{agent.agent_id}/activate",
                       headers=agent.headers).status_code == 401


@pytest.mark.parametrize("hours", [0, -1, 10_000, "six"])
def test_activate_rejects_bad_durations(client, hours):
    agent = new_agent(client)
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/activate",
                        json={"duration_hours": hours}, headers=ADMIN)
    assert reply.status_code == 422
    assert "duration_hours" in problem(reply)
    assert _remember(client, agent).status_code == 200  # the live session is untouched


def test_session_info(client):
    agent = new_agent(client)
    info = client.get("/api/v2/session/info", headers=agent.headers)
    assert info.status_code == 200
    body = info.json()
    assert body["agent_id"] == agent.agent_id
    assert body["session_id"] == agent.session_id
    assert body["created_at"] and body["expires_at"]
    assert body["seconds_remaining"] > 0


def test_a_short_session_expires(client):
    # Unused: a request within 30 minutes of the end would renew it (as MEMANTO does;
    # tests/api/v2/test_memanto_sessions.py).
    agent = new_agent(client, duration_hours=1.5 / 3600)  # 1.5 seconds
    time.sleep(2.0)
    expired = _remember(client, agent)
    assert expired.status_code == 401
    assert "expired" in problem(expired)
    assert client.get("/api/v2/session/info", headers=agent.headers).status_code == 401


def test_extend_keeps_the_session_usable_past_its_first_expiry(client):
    agent = new_agent(client, duration_hours=1.5 / 3600)
    reply = client.post("/api/v2/session/extend", params={"extend_hours": 1},
                        headers={**ADMIN, **agent.headers})
    assert reply.status_code == 200
    body = reply.json()
    assert body["expires_at"] > body["previous_expires_at"]
    time.sleep(2.0)
    assert _remember(client, agent).status_code == 200
    info = client.get("/api/v2/session/info", headers=agent.headers).json()
    assert info["expires_at"] == body["expires_at"]
    assert 3500 < info["seconds_remaining"] <= 3600 + 2
    # The renewed token works as well.
    assert _remember(client, agent, body["session_token"]).status_code == 200


@pytest.mark.parametrize("hours", ["0", "-2", "abc", "100000"])
def test_extend_rejects_bad_hours(client, hours):
    agent = new_agent(client)
    reply = client.post("/api/v2/session/extend", params={"extend_hours": hours},
                        headers=agent.headers)
    assert reply.status_code == 422
    assert "extend_hours" in problem(reply)


def test_reactivating_revokes_the_earlier_token(client):
    agent = new_agent(client)
    second = client.post(f"/api/v2/agents/{agent.agent_id}/activate", headers=ADMIN).json()
    assert second["session_id"] != agent.session_id
    refused = _remember(client, agent)
    assert refused.status_code == 401
    assert _remember(client, agent, second["session_token"]).status_code == 200


def test_deactivate_summarises_and_revokes_at_once(client):
    agent = new_agent(client)
    for _ in range(3):
        assert _remember(client, agent).status_code == 200
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=agent.headers)
    assert reply.status_code == 200
    body = reply.json()
    assert body["memories_created"] == 3
    assert body["session_id"] == agent.session_id
    assert body["status"] == "deactivated"
    assert _remember(client, agent).status_code == 401
    assert client.get("/api/v2/session/info", headers=agent.headers).status_code == 401
    assert client.post(f"/api/v2/agents/{agent.agent_id}/deactivate",
                       headers=ADMIN).status_code == 404


def test_admin_can_deactivate(client):
    agent = new_agent(client)
    assert client.post(f"/api/v2/agents/{agent.agent_id}/deactivate",
                       headers=ADMIN).status_code == 200
    assert _remember(client, agent).status_code == 401


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(agent) -> dict[str, str]:
    claims = jwt.decode(agent.token, JWT_SECRET, algorithms=["HS256"])
    return {
        "malformed": "not-a-jwt",
        "garbage segments": "aaa.bbb.ccc",
        "forged": jwt.encode(claims, "another-secret-of-enough-length-123456", algorithm="HS256"),
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + ".",
        "HS512": jwt.encode(claims, JWT_SECRET, algorithm="HS512"),
        "tampered": agent.token[:-4] + ("AAAA" if not agent.token.endswith("AAAA") else "BBBB"),
        "no sid": jwt.encode({k: v for k, v in claims.items() if k != "session_id"}, JWT_SECRET,
                             algorithm="HS256"),
        "unknown session": jwt.encode({**claims, "session_id": str(uuid.uuid4())}, JWT_SECRET,
                                      algorithm="HS256"),
    }


def test_bad_tokens_are_401(client):
    agent = new_agent(client)
    for name, token in _bad_tokens(agent).items():
        for reply in (_remember(client, agent, token),
                      client.get("/api/v2/session/info", headers={"X-Session-Token": token})):
            assert reply.status_code == 401, name
    assert client.get("/api/v2/session/info").status_code == 401
    assert client.post(f"/api/v2/agents/{agent.agent_id}/remember",
                       json={"content": "x"}).status_code == 401


def test_another_agents_token_is_403(client):
    alice, bob = new_agent(client, "alice"), new_agent(client, "bob")
    base = f"/api/v2/agents/{bob.agent_id}"
    reply = client.post(f"{base}/remember", json={"content": "x"}, headers=alice.headers)
    assert reply.status_code == 403
    mine = client.post(f"{base}/remember", json={"content": "bob's"}, headers=bob.headers)
    memory_id = mine.json()["memory_id"]
    assert client.get(f"{base}/memories/{memory_id}", headers=alice.headers).status_code == 403
    assert client.post(f"{base}/recall", json={"query": "x"},
                       headers=alice.headers).status_code == 403
    assert client.post(f"{base}/batch-remember", json={"memories": [{"content": "x"}]},
                       headers=alice.headers).status_code == 403
    assert client.post(f"{base}/deactivate", headers=alice.headers).status_code == 403
    # Bob's session is untouched by all that.
    assert client.get(f"{base}/memories/{memory_id}", headers=bob.headers).status_code == 200
