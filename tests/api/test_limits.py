"""Caps per agent and sessions with an end, in-process against the real Redis: STM
sessions, live swarm facts (and who wrote each), a session's schedules no faster than the
minimum interval, versions kept per memory, and extending a session past its absolute end."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from memanto_redis.api.app import create_app
from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import new_api_key, versions_held


@pytest.fixture(scope="module")
def capped(settings, vectorizer):
    app = create_app(settings.varied(max_stm_sessions=2, max_swarm_facts=2, versions_kept=2,
                                     schedule_min_interval=120, session_max_hours=1.0),
                     vectorizer)
    with TestClient(app) as client:
        yield client


def stm(client, agent, session):
    return client.post(f"/api/agents/{agent.agent_id}/memory/stm", headers=agent.headers,
                       json={"role": "user", "content": "hello", "session": session})


def test_stm_sessions_cap_and_expired_ones_pruned(capped, r):
    agent = new_agent(capped)
    assert stm(capped, agent, "s1").status_code == 201
    assert stm(capped, agent, "s2").status_code == 201
    refused = stm(capped, agent, "s3")
    assert refused.status_code == 409 and "2 short-term memory sessions" in refused.text
    assert not r.exists(keys.stm(agent.agent_id, "s3"))
    assert stm(capped, agent, "s1").status_code == 201  # an existing session still takes
    r.delete(keys.stm(agent.agent_id, "s2"))  # as its idle expiry would
    assert stm(capped, agent, "s3").status_code == 201


def fact(client, headers, **body):
    return client.post("/api/swarm/facts", json={"content": "deploy at 3pm"} | body,
                       headers=headers)


def test_swarm_written_by_and_cap(capped):
    agent, other = new_agent(capped), new_agent(capped)
    mine = fact(capped, agent.headers)
    assert mine.status_code == 201
    assert mine.json()["written_by"] == agent.agent_id == mine.json()["source_agent"]
    on_behalf = fact(capped, ADMIN, source_agent=agent.agent_id)
    assert on_behalf.json()["written_by"] == "admin"
    assert on_behalf.json()["source_agent"] == agent.agent_id
    # Two live facts in the agent's name: the cap, whoever writes.
    refused = fact(capped, agent.headers)
    assert refused.status_code == 409 and "2 live swarm facts" in refused.text
    assert fact(capped, other.headers).status_code == 201
    listed = capped.get("/api/swarm/facts?limit=1000", headers=ADMIN).json()["facts"]
    assert {f["written_by"] for f in listed if f["source_agent"] == agent.agent_id} == {
        agent.agent_id, "admin"}
    spoofed = fact(capped, agent.headers, source_agent=other.agent_id)
    assert spoofed.status_code == 403


def test_schedules_min_interval_for_sessions(capped):
    agent = new_agent(capped)
    url = f"/api/agents/{agent.agent_id}/schedules"
    body = {"name": "tick", "prompt": "look around"}
    every_minute = capped.post(url, json=body | {"cron": "* * * * *"}, headers=agent.headers)
    assert every_minute.status_code == 422 and "120" in every_minute.text
    uneven = capped.post(url, json=body | {"cron": "0,1 9 * * *"}, headers=agent.headers)
    assert uneven.status_code == 422
    assert capped.post(url, json=body | {"cron": "*/5 * * * *"},
                       headers=agent.headers).status_code == 201
    assert capped.post(url, json=body | {"name": "fast", "cron": "* * * * * *"},
                       headers=ADMIN).status_code == 201


def test_versions_kept_per_memory(capped, r):
    agent = new_agent(capped)
    made = capped.post(f"/api/v2/agents/{agent.agent_id}/remember",
                       json={"content": "first"}, headers=agent.headers).json()
    memory_id = made["memory_id"]
    for n in range(2, 6):
        reply = capped.patch(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}",
                             json={"title": f"title {n}"}, headers=agent.headers)
        assert reply.status_code == 200, reply.text
    # Version 5 is current; of the archived 1-4, the newest two are kept.
    assert versions_held(r, agent.agent_id, memory_id, upto=5) == [3, 4]
    members = r.smembers(keys.version_keys(agent.agent_id))
    assert keys.version(agent.agent_id, memory_id, 1).encode() not in members
    history = capped.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}/history",
                         headers=agent.headers)
    assert history.status_code == 200 and "title 2" not in history.text


def test_session_lifetime(capped):
    agent = new_agent(capped, duration_hours=0.5)
    extend = "/api/v2/session/extend"
    assert capped.post(f"{extend}?extend_hours=0.25", headers=agent.headers).status_code == 200
    # Past an hour from its start: a session alone may not, an API key beside it may.
    past = capped.post(f"{extend}?extend_hours=1", headers=agent.headers)
    assert past.status_code == 403 and "API key" in past.text
    # The key must be one that may activate this agent: going on past the end is
    # activating it again (a read-only key of other agents may not keep a token alive).
    for name, scope in (("ro", {"agents": [agent.agent_id], "read_only": True}),
                        ("other", {"agents": ["elsewhere-*"], "may_activate": True}),
                        ("no-activate", {"agents": [agent.agent_id]})):
        key = {"X-Api-Key": new_api_key(capped, **scope)}
        refused = capped.post(f"{extend}?extend_hours=1", headers=agent.headers | key)
        assert refused.status_code == 403, (name, refused.text)
    assert capped.post(f"{extend}?extend_hours=1",
                       headers=agent.headers | ADMIN).status_code == 200
    # Nor does activation ask for more than the absolute lifetime.
    long = new_agent(capped)
    activated = capped.post(f"/api/v2/agents/{long.agent_id}/activate", headers=ADMIN,
                            json={"duration_hours": 24})
    assert activated.status_code == 200, activated.text
    assert activated.json()["duration_hours"] == 1.0
