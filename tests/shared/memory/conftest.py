"""Fixtures of the memory tests."""

from __future__ import annotations

import pytest

from tests.conftest import new_agent


@pytest.fixture
def mem(client, indexer):
    """An agent holding one indexed memory; returns (agent, base url, memory id)."""
    agent = new_agent(client)
    base = f"/api/v2/agents/{agent.agent_id}"
    memory_id = client.post(f"{base}/remember",
                            json={"content": "The team office is in Paris", "tags": ["office"]},
                            headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    return agent, base, memory_id
