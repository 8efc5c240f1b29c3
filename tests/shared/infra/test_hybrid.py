"""Recall by meaning and by words: `search_mode` hybrid (the default), semantic, keyword,
over the real model and index, in every dialect that searches."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, new_agent
from tests.support import problem

TICKETS = [f"Support ticket {n} was escalated to the billing team after a refund dispute"
           for n in (10452, 23871, 31206, 48213, 55190, 60734, 71945, 86302)]
CONTACT = "The user prefers to be contacted by email, never by phone"
OTHERS = ["Deploys happen through GitHub Actions after review",
          "The production database runs PostgreSQL 15 on two replicas"]


@pytest.fixture
def stocked(client, indexer):
    agent = new_agent(client)
    items = [{"content": c, "tags": ["tickets"] if "ticket" in c else ["other"]}
             for c in [*TICKETS, CONTACT, *OTHERS]]
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember",
                        json={"memories": items}, headers=agent.headers).json()
    indexer.run(burst=True)
    ids = {items[r["index"]]["content"]: r["memory_id"] for r in reply["results"]}
    return agent, ids


def _recall(client, agent, **body) -> list[dict]:
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/recall", json=body,
                        headers=agent.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["memories"]


ACCOUNTS = [
    "Priya took over Hargreave in spring, after the regions were reorganised",
    "Customer accounts are handled by the account management team",
    "Who handles an account depends on the customer's region",
    "Enterprise accounts are handled by a dedicated account manager",
    "The support team handles questions about customer accounts",
    "Account owners are listed in the CRM for every customer",
]


def test_a_rare_word_is_found_where_meaning_alone_misses_it(client, indexer):
    """A name in a memory about something else: the vector ranks five texts about managing
    customer accounts above it, the name's rarity ranks it high by words, and hybrid keeps
    it in the top three."""
    agent = new_agent(client)
    reply = client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember",
                        json={"memories": [{"content": c} for c in ACCOUNTS]},
                        headers=agent.headers).json()
    indexer.run(burst=True)
    target = reply["results"][0]["memory_id"]
    query = "Which manager is responsible for the Hargreave customer?"

    def top3(mode: str) -> list[str]:
        return [m["memory_id"] for m in _recall(client, agent, query=query, limit=3,
                                                search_mode=mode)]

    assert target not in top3("semantic")
    assert target in top3("hybrid")
    assert [m["memory_id"] for m in _recall(client, agent, query="Hargreave", limit=1,
                                             search_mode="keyword")] == [target]


def test_meaning_is_found_where_no_word_matches(client, stocked):
    agent, ids = stocked
    query = "how should I reach out to the customer?"
    assert ids[CONTACT] not in {m["memory_id"] for m in _recall(
        client, agent, query=query, search_mode="keyword")}
    for mode in ("hybrid", "semantic"):
        assert _recall(client, agent, query=query, search_mode=mode)[0]["memory_id"] == \
            ids[CONTACT], mode


def test_scores_mean_cosine_similarity_in_every_mode(client, stocked):
    agent, ids = stocked
    by_mode = {mode: {m["memory_id"]: m["similarity"] for m in _recall(
        client, agent, query="ticket 48213 refund", limit=20, search_mode=mode)}
        for mode in ("hybrid", "semantic", "keyword")}
    for memory_id, score in by_mode["hybrid"].items():
        assert 0.0 <= score <= 1.0
        for mode in ("semantic", "keyword"):
            if memory_id in by_mode[mode]:
                assert by_mode[mode][memory_id] == pytest.approx(score, abs=1e-4)
    cut = sorted(by_mode["hybrid"].values())[len(by_mode["hybrid"]) // 2]
    kept = _recall(client, agent, query="ticket 48213 refund", limit=20, min_similarity=cut)
    assert kept and all(m["similarity"] >= cut for m in kept)


def test_modes_and_filters_combine(client, stocked):
    agent, ids = stocked
    for mode in ("hybrid", "semantic", "keyword"):
        found = _recall(client, agent, query="ticket 48213 escalated", tags=["other"],
                        search_mode=mode)
        assert ids[TICKETS[3]] not in {m["memory_id"] for m in found}, mode
        assert all(m["tags"] == ["other"] for m in found), mode
    bad = client.post(f"/api/v2/agents/{agent.agent_id}/recall", headers=agent.headers,
                      json={"query": "ticket", "search_mode": "fuzzy"})
    assert bad.status_code == 422 and "search_mode" in problem(bad)


def test_every_dialect_searches_by_words_too(client, stocked):
    agent, ids = stocked
    ltm = client.post(f"/api/agents/{agent.agent_id}/memory/ltm/search",
                      headers=agent.headers, json={"query": "ticket 48213", "limit": 1,
                                                   "search_mode": "keyword"})
    assert ltm.status_code == 200, ltm.text
    assert ltm.json()["results"][0]["id"] == ids[TICKETS[3]]
    as_of = client.post(f"/api/v2/agents/{agent.agent_id}/recall/as-of",
                        headers=agent.headers,
                        json={"as_of": "2999-12-31", "query": "ticket 48213", "limit": 1,
                              "search_mode": "keyword"})
    assert as_of.status_code == 200, as_of.text
    assert as_of.json()["memories"][0]["memory_id"] == ids[TICKETS[3]]
    # Swarm facts are shared by every agent: other tests' facts must not compete here.
    assert client.delete("/api/swarm/facts", headers=ADMIN).status_code == 200
    fact = client.post("/api/swarm/facts", headers=ADMIN,
                       json={"content": "Incident 77341 is resolved: the cache was flushed"})
    assert fact.status_code == 201, fact.text
    # Facts alike in meaning that hold none of the query's words (one that held "incident"
    # could rank second by words and first by meaning, and win the fusion fairly).
    for n in range(4):
        client.post("/api/swarm/facts", headers=ADMIN,
                    json={"content": f"Outage {n}0{n}1 is still open: a cache is cold"})
    swarm = client.post("/api/swarm/search", headers=ADMIN,
                        json={"query": "incident 77341", "limit": 1}).json()
    assert swarm["facts"][0]["content"].startswith("Incident 77341")
