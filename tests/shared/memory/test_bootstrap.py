"""The bootstrap card: what an agent holds, at a glance, through the v2 API."""

from __future__ import annotations

from tests.conftest import ADMIN, new_agent


def test_bootstrap_card(client, indexer):
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    items = [{"content": "Customer Alice Johnson", "type": "fact", "confidence": 0.95},
             {"content": "Alice prefers email contact", "type": "preference",
              "confidence": 0.9},
             {"content": "Ticket #12345 resolved", "type": "event", "confidence": 0.6},
             {"content": "Maybe Alice likes tea", "type": "fact", "confidence": 0.1}]
    client.post(f"{base}/batch-remember", json={"memories": items}, headers=agent.headers)
    indexer.run(burst=True)
    for headers in (ADMIN, agent.headers):
        card = client.get(f"{base}/bootstrap", headers=headers)
        assert card.status_code == 200
    card = card.json()
    assert card["total_memories"] == 4
    assert card["memory_breakdown"] == {"fact": 2, "event": 1, "preference": 1}
    assert card["last_session"]["session_id"] == agent.session_id
    assert card["last_memory"]["type"] == "fact"  # the newest of the batch
    titles = [m["title"] for m in card["sample_memories"]]
    assert titles[0] == "Customer Alice Johnson"  # most confident, equally recent
    assert titles[-1] == "Maybe Alice likes tea"
    other = new_agent(client)
    assert client.get(f"{base}/bootstrap", headers=other.headers).status_code == 403
    assert client.get(f"{base}/bootstrap").status_code == 401
