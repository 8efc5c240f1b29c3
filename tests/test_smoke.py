from tests.conftest import new_agent


def test_remember_then_recall(client, indexer):
    agent = new_agent(client)
    url = f"/api/v2/agents/{agent.agent_id}"
    reply = client.post(f"{url}/remember", json={"content": "User prefers email"},
                        headers=agent.headers)
    assert reply.status_code == 200
    indexer.run(burst=True)
    found = client.post(f"{url}/recall", json={"query": "email"}, headers=agent.headers).json()
    assert found["memories"][0]["memory_id"] == reply.json()["memory_id"]
