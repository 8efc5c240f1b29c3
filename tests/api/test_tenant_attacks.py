"""The attacks of issue 12 with a key made for a CI bot, each refused: listing every
user's memories, PATCHing another agent's memory, activating an agent out of scope and
taking its token, listing every user id in the stats, posting (and reading) swarm facts
of agents out of scope."""

from __future__ import annotations

from tests.conftest import new_agent
from tests.support import ADMIN, make_key, unique


def _memory(client, user_id: str, agent_id: str | None = None) -> str:
    body = {"user_id": user_id, "memory": f"secret of {user_id}"}
    if agent_id:
        body["agent_id"] = agent_id
    reply = client.post("/memories", json=body, headers=ADMIN)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["memory_id"])


def test_a_ci_key_cannot_list_every_users_memories(client):
    mine, theirs = unique("u"), unique("u")
    _memory(client, mine)
    _memory(client, theirs)
    ci = make_key(client, users=[mine], read_only=True)
    everyone = client.get("/memories", headers=ci)
    assert everyone.status_code == 422 and "user_id" in everyone.text
    assert client.get("/memories", params={"user_id": theirs}, headers=ci).status_code == 403
    listed = client.get("/memories", params={"user_id": mine}, headers=ci).json()["data"]
    assert {m["user_id"] for m in listed} == {mine}
    # Semantic search without a user is the same unfiltered read.
    assert client.get("/memories", params={"search_content": "secret"},
                      headers=ci).status_code == 422


def test_a_ci_key_cannot_patch_another_agents_memory(client):
    user, owner = unique("u"), new_agent(client, "owner")
    memory_id = _memory(client, user, owner.agent_id)
    ci = make_key(client, agents=["ci-*"], users=[user])
    patch = client.patch(f"/memories/{memory_id}", json={"memory": "rewritten",
                                                         "user_id": user}, headers=ci)
    # An agent's memory the key does not cover is as missing to it: 404, like an unknown id.
    assert patch.status_code == 404
    unknown = "00000000-0000-0000-0000-000000000000"
    assert patch.json()["detail"].replace(memory_id, unknown) == client.patch(
        f"/memories/{unknown}", json={"memory": "x", "user_id": user},
        headers=ci).json()["detail"]
    # Nor through the agent's own routes, nor unnamed (a tenant key must name its user).
    assert client.patch(f"/memories/{memory_id}", json={"memory": "x"},
                        headers=ci).status_code == 422
    assert client.delete(f"/api/agents/{owner.agent_id}/memory/ltm/{memory_id}",
                         headers=ci).status_code == 403
    got = client.get(f"/memories/{memory_id}", headers=ADMIN).json()
    assert got["memory"] == f"secret of {user}"


def test_a_key_cannot_activate_an_agent_out_of_scope_and_take_its_token(client):
    victim = new_agent(client, "victim")
    ci = make_key(client, agents=["ci-*"], may_activate=True)
    for action in ("activate", "deactivate"):
        reply = client.post(f"/api/v2/agents/{victim.agent_id}/{action}", headers=ci)
        assert reply.status_code == 403, reply.text
        assert "session_token" not in reply.text
    # The victim's session still works: nothing was revoked.
    assert client.get("/api/v2/session/info", headers=victim.headers).status_code == 200
    # In scope, activation needs the flag.
    own = unique("ci")
    assert client.post("/api/v2/agents", json={"agent_id": own}, headers=ADMIN).status_code == 201
    plain = make_key(client, agents=["ci-*"])
    assert client.post(f"/api/v2/agents/{own}/activate", headers=plain).status_code == 403
    assert client.post(f"/api/v2/agents/{own}/activate", headers=ci).status_code == 200


def test_a_key_cannot_list_every_user_id_in_the_stats(client):
    mine, theirs = unique("u"), unique("u")
    _memory(client, mine)
    _memory(client, theirs)
    ci = make_key(client, users=[mine])
    for path in ("/user_memory_stats", "/memories/stats", "/memories/topics"):
        assert client.get(path, headers=ci).status_code == 422
        assert client.get(path, params={"user_id": theirs}, headers=ci).status_code == 403
    rows = client.get("/user_memory_stats", params={"user_id": mine}, headers=ci).json()["data"]
    assert [r["user_id"] for r in rows] == [mine]


def test_swarm_facts_only_of_agents_in_scope(client):
    tag = unique("sw")
    inside = make_key(client, agents=[f"{tag}-a-*"])
    outside_fact = client.post("/api/swarm/facts", headers=ADMIN,
                               json={"content": f"{tag} billing outage",
                                     "source_agent": f"{tag}-b-1"})
    assert outside_fact.status_code == 201, outside_fact.text
    posted = client.post("/api/swarm/facts", headers=inside,
                         json={"content": f"{tag} forged", "source_agent": f"{tag}-b-1"})
    assert posted.status_code == 403
    listed = client.get("/api/swarm/facts", params={"limit": 1000}, headers=inside).json()
    assert not [f for f in listed["facts"] if f["source_agent"].startswith(tag)]
    found = client.post("/api/swarm/search", json={"query": f"{tag} billing outage"},
                        headers=inside).json()
    assert not [f for f in found["facts"] if f["source_agent"].startswith(tag)]
    # The admin sees it; the swarm is one for every agent's session, as before.
    assert any(f["source_agent"] == f"{tag}-b-1" for f in client.get(
        "/api/swarm/facts", params={"limit": 1000}, headers=ADMIN).json()["facts"])
    # Nor is it counted in an in-scope agent's overview (the count matched the listing).
    agent_in_scope = f"{tag}-a-1"
    assert client.post("/api/v2/agents", json={"agent_id": agent_in_scope},
                       headers=ADMIN).status_code == 201
    overview = client.get(f"/api/agents/{agent_in_scope}/memory", headers=inside).json()
    in_scope = [f for f in client.get("/api/swarm/facts", params={"limit": 1000},
                                      headers=inside).json()["facts"]]
    assert overview["swarm"]["shared_facts"] == len(in_scope)


def test_listing_agents_shows_only_the_keys_scope(client):
    tag = unique("ls")
    for suffix in ("a-1", "a-2", "b-1"):
        assert client.post("/api/v2/agents", json={"agent_id": f"{tag}-{suffix}"},
                           headers=ADMIN).status_code == 201
    key = make_key(client, agents=[f"{tag}-a-*"])
    listed = {a["agent_id"] for a in client.get("/api/v2/agents", headers=key).json()["agents"]}
    assert listed == {f"{tag}-a-1", f"{tag}-a-2"}


def test_scopes_are_validated_and_listed(client):
    bad = client.post("/api/v2/apikeys", json={"name": unique("k"), "agents": ["a[b]"]},
                      headers=ADMIN)
    assert bad.status_code == 422 and "agents" in bad.text
    assert client.post("/api/v2/apikeys", json={"name": unique("k")},
                       headers=ADMIN).status_code == 422
    name = unique("k")
    assert client.post("/api/v2/apikeys", headers=ADMIN, json={
        "name": name, "agents": ["support-*"], "users": ["u1"], "read_only": True}
    ).status_code == 201
    listed = {k["name"]: k for k in client.get("/api/v2/apikeys", headers=ADMIN).json()["api_keys"]}
    assert listed[name]["agents"] == ["support-*"]
    assert listed[name]["users"] == ["u1"] and listed[name]["read_only"] is True
    assert listed[name]["admin"] is False and listed[name]["may_activate"] is False


def test_a_user_scoped_key_sees_none_of_that_users_memories_held_by_other_agents(client):
    """Two tenants share a user id: a key for `support-*` and that user reads the user's own
    memories and its agents', never another tenant's agent's: not by id, not listed, not
    counted, not as a topic, and asking for that agent by name is refused."""
    user, other = unique("u"), new_agent(client, "billing")
    own = _memory(client, user)
    theirs = _memory(client, user, other.agent_id)
    ci = make_key(client, agents=["support-*"], users=[user], read_only=True)
    assert client.get(f"/memories/{own}", params={"user_id": user},
                      headers=ci).status_code == 200
    hidden = client.get(f"/memories/{theirs}", params={"user_id": user}, headers=ci)
    missing = client.get("/memories/00000000-0000-0000-0000-000000000000",
                         params={"user_id": user}, headers=ci)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(theirs, "X") == missing.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000000", "X")
    listed = client.get("/memories", params={"user_id": user}, headers=ci).json()
    assert [m["memory_id"] for m in listed["data"]] == [own]
    assert listed["meta"]["total_count"] == 1
    assert client.get("/memories", params={"user_id": user, "agent_id": other.agent_id},
                      headers=ci).status_code == 403
    stats = client.get("/user_memory_stats", params={"user_id": user}, headers=ci).json()
    assert [row["total_memories"] for row in stats["data"]] == [1]
