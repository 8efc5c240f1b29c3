"""Swarm facts (seed 003): Redis keys with a TTL, listed and found by meaning until the
key expires, with no sweeper."""

from __future__ import annotations

import time
import uuid

import pytest
from starlette.testclient import TestClient

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import make_key

FACTS = "/api/swarm/facts"
SEARCH = "/api/swarm/search"


def _ok(reply, status: int = 200) -> dict:
    assert reply.status_code == status, reply.text
    return reply.json()


def _add(client, headers=ADMIN, **body) -> dict:
    return _ok(client.post(FACTS, json=body, headers=headers), 201)


def _listed(client) -> list[int]:
    return [fact["id"] for fact in _ok(client.get(FACTS, headers=ADMIN))["facts"]]


def _found(client, query: str, **body) -> list[dict]:
    return _ok(client.post(SEARCH, json={"query": query} | body, headers=ADMIN))["facts"]


@pytest.fixture(autouse=True)
def empty_swarm(client):
    _ok(client.delete(FACTS, headers=ADMIN))


@pytest.fixture(scope="module")
def short_client(settings, vectorizer):
    """The app with a 1-second default TTL and a 2-second maximum."""
    from memanto_redis.api.app import create_app

    short = settings.varied(swarm_default_ttl=1, swarm_max_ttl=2)
    with TestClient(create_app(short, vectorizer)) as test_client:
        yield test_client


def test_add_and_list_in_the_seed_shape(client, r):
    fact = _add(client, content="Production API is experiencing issues",
                source_agent="monitor", ttl_seconds=3600)
    assert fact["success"] is True and isinstance(fact["id"], int)
    assert fact["source_agent"] == "monitor" and fact["ttl_seconds"] == 3600
    assert fact["created_at"].endswith("Z") and fact["expires_at"].endswith("Z")
    assert 3_590_000 < r.pttl(keys.swarm_fact(fact["id"])) <= 3_600_000
    later = _add(client, content="Deployment scheduled for 3pm", source_agent="admin",
                 ttl_seconds=60)
    body = _ok(client.get(FACTS, headers=ADMIN))
    assert [f["id"] for f in body["facts"]] == [later["id"], fact["id"]]  # newest first
    assert body["count"] == 2
    listed = body["facts"][1]
    assert {"id", "source_agent", "content", "created_at"} <= set(listed)
    assert listed["content"] == "Production API is experiencing issues"
    assert 0 < listed["ttl_seconds"] <= 3600
    assert _listed(client) == [later["id"], fact["id"]]
    limited = _ok(client.get(f"{FACTS}?limit=1", headers=ADMIN))["facts"]
    assert [f["id"] for f in limited] == [later["id"]]


def test_search_finds_facts_by_meaning(client):
    ids = {text: _add(client, content=text)["id"] for text in (
        "Production API is experiencing issues",
        "Deployment scheduled for 3pm",
        "The cafeteria serves pizza on Fridays")}
    found = _found(client, "production issues")
    assert found[0]["id"] == ids["Production API is experiencing issues"]
    assert len(found) == 3
    sims = [f["similarity"] for f in found]
    assert sims == sorted(sims, reverse=True) and all(0 <= s <= 1 for s in sims)
    assert set(found[0]) >= {"id", "source_agent", "content", "created_at", "similarity"}
    assert len(_found(client, "production issues", limit=1)) == 1
    deploy = _found(client, "when is the deploy?")
    assert deploy[0]["id"] == ids["Deployment scheduled for 3pm"]
    strict = _found(client, "when is the deploy?", threshold=deploy[0]["similarity"])
    assert [f["id"] for f in strict] == [deploy[0]["id"]]


def test_an_expired_fact_leaves_list_and_search_by_its_ttl_alone(client, r):
    short = _add(client, content="The build server is down", ttl_seconds=1)
    lasting = _add(client, content="The build server is being replaced", ttl_seconds=60)
    assert _listed(client) == [lasting["id"], short["id"]]
    assert short["id"] in [f["id"] for f in _found(client, "build server")]
    time.sleep(1.1)
    assert _listed(client) == [lasting["id"]]
    assert [f["id"] for f in _found(client, "build server")] == [lasting["id"]]
    assert _ok(client.get(FACTS, headers=ADMIN))["count"] == 1
    # Redis itself dropped the key (reading it would expire it now at the latest).
    assert not r.exists(keys.swarm_fact(short["id"]))


def test_default_and_maximum_ttl_follow_the_settings(short_client, r):
    _ok(short_client.delete(FACTS, headers=ADMIN))
    default = _add(short_client, content="uses the default")
    capped = _add(short_client, content="asks for too long", ttl_seconds=10**9)
    assert default["ttl_seconds"] == 1 and capped["ttl_seconds"] == 2
    assert 0 < r.pttl(keys.swarm_fact(default["id"])) <= 1000
    assert 1000 < r.pttl(keys.swarm_fact(capped["id"])) <= 2000
    time.sleep(1.1)
    assert _listed(short_client) == [capped["id"]]
    time.sleep(1.0)
    assert _listed(short_client) == []
    assert _found(short_client, "too long") == []


def test_the_default_settings_cap_at_a_week(client):
    assert _add(client, content="x", ttl_seconds=10**9)["ttl_seconds"] == 7 * 24 * 3600
    assert _add(client, content="y")["ttl_seconds"] == 3600


def test_a_session_adds_only_in_its_own_agents_name(client):
    agent = new_agent(client)
    mine = _add(client, headers=agent.headers, content="I am working on ticket 42")
    assert mine["source_agent"] == agent.agent_id
    named = _add(client, headers=agent.headers, content="again", source_agent=agent.agent_id)
    assert named["source_agent"] == agent.agent_id
    reply = client.post(FACTS, headers=agent.headers,
                        json={"content": "spoofed", "source_agent": "monitor"})
    assert reply.status_code == 403 and "source_agent" in reply.json()["detail"]
    # A session reads the whole swarm, but cannot clear it.
    assert len(_ok(client.get(FACTS, headers=agent.headers))["facts"]) == 2
    assert _ok(client.post(SEARCH, headers=agent.headers, json={"query": "ticket"}))["count"] == 2
    assert client.delete(FACTS, headers=agent.headers).status_code == 403
    assert len(_listed(client)) == 2


def test_an_api_key_adds_in_any_name_defaulting_to_its_own(client):
    assert _add(client, content="from the admin")["source_agent"] == "admin"
    assert _add(client, content="on behalf", source_agent="monitor")["source_agent"] == "monitor"


def test_source_agent_follows_the_keys_scope_not_its_name(client):
    tag = f"sw-{uuid.uuid4().hex[:6]}"
    # An admin-flagged key of any name names anyone.
    ops = make_key(client, admin=True)
    assert _add(client, ops, content="ops", source_agent="monitor")["source_agent"] == "monitor"
    # A tenant key names the agents its scope covers, another agent of its pattern too.
    tenant = make_key(client, agents=[f"{tag}-a-*"])
    posted = _add(client, tenant, content="in scope", source_agent=f"{tag}-a-2")
    assert posted["source_agent"] == f"{tag}-a-2"
    outside = client.post(FACTS, headers=tenant,
                          json={"content": "forged", "source_agent": f"{tag}-b-1"})
    assert outside.status_code == 403 and "source_agent" in outside.text
    # Without one its own name would be the source: not an agent it covers.
    assert client.post(FACTS, headers=tenant, json={"content": "x"}).status_code == 403
    reader = make_key(client, agents=[f"{tag}-a-*"], read_only=True)
    assert client.post(FACTS, headers=reader, json={
        "content": "x", "source_agent": f"{tag}-a-2"}).status_code == 403
    assert [f["source_agent"] for f in _ok(client.get(FACTS, headers=ADMIN))["facts"]] == [
        f"{tag}-a-2", "monitor"]


def test_clear_removes_every_fact(client, r):
    for i in range(3):
        _add(client, content=f"fact {i}")
    body = _ok(client.delete(FACTS, headers=ADMIN))
    assert body == {"success": True, "message": "Swarm cleared", "facts_deleted": 3}
    assert _listed(client) == [] and _found(client, "fact") == []
    assert not list(r.scan_iter(match=keys.SWARM_PREFIX + "*", count=1000))


def test_the_overview_counts_live_facts(client):
    agent = new_agent(client)
    _add(client, content="one")
    _add(client, content="two", ttl_seconds=1)
    url = f"/api/agents/{agent.agent_id}/memory"
    assert _ok(client.get(url, headers=agent.headers))["swarm"] == {"shared_facts": 2}
    time.sleep(1.1)
    assert _ok(client.get(url, headers=agent.headers))["swarm"] == {"shared_facts": 1}


@pytest.mark.parametrize("body, field", [
    ({}, "content"),
    ({"content": ""}, "content"),
    ({"content": "   "}, "content"),
    ({"content": "x" * 10_001}, "content"),
    ({"content": "x", "ttl_seconds": 0}, "ttl_seconds"),
    ({"content": "x", "ttl_seconds": -5}, "ttl_seconds"),
    ({"content": "x", "ttl_seconds": "60"}, "ttl_seconds"),
    ({"content": "x", "ttl_seconds": 1.5}, "ttl_seconds"),
    ({"content": "x", "source_agent": "has space"}, "source_agent"),
    ({"content": "x", "source_agent": ""}, "source_agent"),
    ({"content": "x", "source_agent": 7}, "source_agent"),
    ({"content": "x", "shared": True}, "shared"),
])
def test_add_refuses_bad_facts_by_field(client, body, field):
    reply = client.post(FACTS, json=body, headers=ADMIN)
    assert reply.status_code == 422, reply.text
    assert field in reply.json()["detail"]
    assert _listed(client) == []


@pytest.mark.parametrize("body, field", [
    ({}, "query"), ({"query": ""}, "query"), ({"query": "x", "limit": 0}, "limit"),
    ({"query": "x", "limit": 101}, "limit"), ({"query": "x", "threshold": 2}, "threshold"),
    ({"query": "x", "ttl": 1}, "ttl"),
])
def test_search_refuses_bad_bodies_by_field(client, body, field):
    reply = client.post(SEARCH, json=body, headers=ADMIN)
    assert reply.status_code == 422 and field in reply.json()["detail"]


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1", "%C2%B2"])
def test_list_refuses_a_bad_limit(client, limit):
    reply = client.get(f"{FACTS}?limit={limit}", headers=ADMIN)
    assert reply.status_code == 422 and "limit" in reply.json()["detail"]


def test_malformed_json_is_400(client):
    for url in (FACTS, SEARCH):
        reply = client.post(url, content=b"{nope", headers=ADMIN)
        assert reply.status_code == 400


@pytest.mark.parametrize("method, url", [("POST", FACTS), ("GET", FACTS), ("DELETE", FACTS),
                                         ("POST", SEARCH)])
def test_every_route_needs_credentials(client, method, url):
    body = {"json": {"content": "x", "query": "x"}} if method == "POST" else {}
    assert client.request(method, url, **body).status_code == 401
    assert client.request(method, url, headers={"Authorization": "Bearer wrong"},
                          **body).status_code == 401
    assert client.request(method, url, headers={"X-Session-Token": "forged"},
                          **body).status_code == 401


def test_a_revoked_session_cannot_add(client):
    agent = new_agent(client)
    client.post(f"/api/v2/agents/{agent.agent_id}/deactivate", headers=ADMIN)
    assert client.post(FACTS, headers=agent.headers,
                       json={"content": f"late {uuid.uuid4()}"}).status_code == 401
    assert _listed(client) == []
