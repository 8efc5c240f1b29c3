"""Every read shows every write acknowledged before it, in every dialect: no worker runs
here, so each memory below is still queued when it is read."""

from __future__ import annotations

import uuid

from tests.conftest import ADMIN, new_agent

V2 = "/api/v2/agents/{}"


def _remember(client, agent, content: str, **fields) -> str:
    reply = client.post(V2.format(agent.agent_id) + "/remember",
                        json={"content": content} | fields, headers=agent.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["memory_id"]


def test_v2_lists_counts_and_keyword_matches_a_queued_memory(client):
    agent = new_agent(client)
    first = _remember(client, agent, "The Hargreave renewal is due in March",
                      type="commitment", tags=["renewals"])
    second = _remember(client, agent, "Priya prefers calls on Tuesdays", type="preference")
    url = V2.format(agent.agent_id)

    recent = client.post(url + "/recall/recent", json={}, headers=agent.headers).json()
    assert [m["memory_id"] for m in recent["memories"]] == [second, first]
    tagged = client.post(url + "/recall/recent", json={"tags": ["renewals"]},
                         headers=agent.headers).json()
    assert [m["memory_id"] for m in tagged["memories"]] == [first]
    everything = client.post(url + "/recall/all", json={"limit": 1},
                             headers=agent.headers).json()
    assert [m["memory_id"] for m in everything["memories"]] == [second]
    rest = client.post(url + "/recall/all", json={"limit": 1, "cursor":
                       everything["next_cursor"]}, headers=agent.headers).json()
    assert [m["memory_id"] for m in rest["memories"]] == [first]

    found = client.post(url + "/recall", json={"query": "when is the Hargreave renewal?"},
                        headers=agent.headers).json()
    assert found["memories"][0]["memory_id"] == first
    assert client.post(url + "/recall", headers=agent.headers, json={
        "query": "Hargreave", "search_mode": "semantic"}).json()["count"] == 0

    card = client.get(url + "/bootstrap", headers=agent.headers).json()
    assert card["total_memories"] == 2
    assert card["memory_breakdown"] == {"commitment": 1, "preference": 1}
    assert card["last_memory"]["memory_id"] == second
    assert {m["memory_id"] for m in card["sample_memories"]} == {first, second}

    index = client.get(url + "/memory-index", headers=agent.headers).json()
    assert {e["memory_id"] for e in index["entries"]} == {first, second}
    export = client.get(url + "/memory-export", headers=agent.headers).json()
    assert export["total"] == 2
    assert {m["memory_id"] for m in export["memories"]} == {first, second}

    assert client.delete(url + f"/memories/{first}", headers=agent.headers).status_code == 200
    recent = client.post(url + "/recall/recent", json={}, headers=agent.headers).json()
    assert [m["memory_id"] for m in recent["memories"]] == [second]


def test_agno_create_then_list_topics_and_stats_at_once(client):
    user = f"u-{uuid.uuid4().hex[:8]}"
    created = client.post("/memories", headers=ADMIN, json={
        "memory": "Likes the Zanzibar office best", "user_id": user, "topics": ["offices"]})
    assert created.status_code == 201, created.text
    memory_id = created.json()["memory_id"]
    listed = client.get(f"/memories?user_id={user}", headers=ADMIN).json()
    assert [m["memory_id"] for m in listed["data"]] == [memory_id]
    assert listed["meta"]["total_count"] == 1
    assert client.get(f"/memories/topics?user_id={user}", headers=ADMIN).json() == ["offices"]
    stats = client.get(f"/user_memory_stats?user_id={user}", headers=ADMIN).json()
    assert [(s["user_id"], s["total_memories"]) for s in stats["data"]] == [(user, 1)]
    searched = client.get("/memories", params={"user_id": user, "search_content": "Zanzibar"},
                          headers=ADMIN).json()
    assert [m["memory_id"] for m in searched["data"]] == [memory_id]
    by_topic = client.get(f"/memories?user_id={user}&topics=offices", headers=ADMIN).json()
    assert by_topic["meta"]["total_count"] == 1
    assert client.delete(f"/memories/{memory_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/memories?user_id={user}", headers=ADMIN).json()["data"] == []


def test_seed003_overview_and_ltm_search_at_once(client):
    agent = new_agent(client)
    base = f"/api/agents/{agent.agent_id}/memory"
    added = client.post(base + "/ltm", json={"content": "The Quillfeather API key rotates "
                                                        "monthly"}, headers=agent.headers)
    assert added.status_code == 200, added.text
    overview = client.get(base, headers=agent.headers).json()
    assert overview["long_term"]["entries_count"] == 1
    found = client.post(base + "/ltm/search", json={"query": "Quillfeather"},
                        headers=agent.headers).json()
    assert [r["id"] for r in found["results"]] == [added.json()["id"]]
