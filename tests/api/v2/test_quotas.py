"""Write quotas at the door: the token bucket inside the remember script (429 with
Retry-After, refill, one agent's flood leaves the others alone, an admin's per-agent
override), batch items each counted, and the cap on memories an agent holds."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from memanto_redis.api.app import create_app
from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent

# Slow enough that a loaded machine's own delays refill no token within a test.
RATE, BURST = 0.5, 3


@pytest.fixture(scope="module")
def limited(settings, vectorizer):
    """The door with a small bucket (3 at once, one every 2 s) and a cap of 6 memories."""
    app = create_app(settings.varied(write_rate=RATE, write_burst=BURST, max_memories=6,
                                     rate_limit_hold=0.05), vectorizer)
    with TestClient(app) as client:
        yield client


def remember(client, agent, content="a fact"):
    return client.post(f"/api/v2/agents/{agent.agent_id}/remember", json={"content": content},
                       headers=agent.headers)


def batch(client, agent, n):
    return client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember",
                       json={"memories": [{"content": f"item {i}"} for i in range(n)]},
                       headers=agent.headers)


def test_429_with_retry_after_past_the_burst_then_refill(limited, r):
    agent = new_agent(limited)
    assert [remember(limited, agent).status_code for _ in range(BURST)] == [200] * BURST
    before = r.scard(keys.memory_ids(agent.agent_id))
    refused = remember(limited, agent)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert "quota" in refused.text
    # Refused means nothing written, and no token taken.
    assert r.scard(keys.memory_ids(agent.agent_id)) == before
    # Refused again at once, by this process alone (it knows when the next token comes).
    assert remember(limited, agent).status_code == 429
    # Once Retry-After has passed: one token back (and a bit), so one write, not two.
    time.sleep(1.1 / RATE)
    assert remember(limited, agent).status_code == 200
    assert remember(limited, agent).status_code == 429


def test_one_agents_flood_leaves_the_others_alone(limited):
    flooder, other = new_agent(limited), new_agent(limited)
    codes = [remember(limited, flooder).status_code for _ in range(BURST + 5)]
    assert codes[:BURST] == [200] * BURST and codes[-1] == 429
    assert remember(limited, other).status_code == 200


def test_a_batch_takes_a_token_per_item(limited):
    agent = new_agent(limited)
    assert batch(limited, agent, 2).status_code == 200
    # One token left: a batch of two is refused whole.
    refused = batch(limited, agent, 2)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    too_big = batch(limited, agent, BURST + 1)
    assert too_big.status_code == 422 and "burst" in too_big.text


def test_admin_override_per_agent(limited, r):
    agent, other = new_agent(limited), new_agent(limited)
    url = f"/api/v2/agents/{agent.agent_id}/quota"
    assert limited.get(url, headers=ADMIN).json() == {
        "agent_id": agent.agent_id, "rate": RATE, "burst": BURST, "override": False}
    put = limited.put(url, json={"rate": 1000, "burst": 5}, headers=ADMIN)
    assert put.status_code == 200 and put.json()["override"] is True
    assert [remember(limited, agent).status_code for _ in range(5)] == [200] * 5
    # The cap of 6 memories still holds under a generous quota.
    limited.put(url, json={"rate": 0, "burst": 1}, headers=ADMIN)  # 0: unlimited
    assert remember(limited, agent).status_code == 200
    capped = remember(limited, agent)
    assert capped.status_code == 409 and "6 memories" in capped.text
    # The other agent keeps the settings' quota.
    assert [remember(limited, other).status_code for _ in range(BURST + 1)][-1] == 429
    listed = limited.get("/api/v2/quotas", headers=ADMIN).json()
    assert {"agent_id": agent.agent_id, "rate": 0.0, "burst": 1} in listed["overrides"]
    assert limited.delete(url, headers=ADMIN).json()["override"] is False
    assert limited.delete(url, headers=ADMIN).status_code == 404
    assert r.hget(keys.QUOTA_OVERRIDES, agent.agent_id) is None


@pytest.mark.parametrize("body, field", [
    ({"rate": -1, "burst": 5}, "rate"), ({"rate": 5, "burst": 0}, "burst"),
    ({"rate": "fast", "burst": 5}, "rate"), ({"rate": 5}, "burst"),
    ({"rate": 5, "burst": 5, "more": 1}, "more")])
def test_bad_overrides_are_refused(limited, r, body, field):
    agent = new_agent(limited)
    reply = limited.put(f"/api/v2/agents/{agent.agent_id}/quota", json=body, headers=ADMIN)
    assert reply.status_code == 422 and field in reply.text
    assert r.hget(keys.QUOTA_OVERRIDES, agent.agent_id) is None


def test_only_the_admin_manages_quotas(limited, r):
    agent = new_agent(limited)
    url = f"/api/v2/agents/{agent.agent_id}/quota"
    assert limited.put(url, json={"rate": 1, "burst": 1},
                       headers=agent.headers).status_code == 401
    assert limited.get("/api/v2/quotas", headers=agent.headers).status_code == 401
    assert r.hget(keys.QUOTA_OVERRIDES, agent.agent_id) is None


def test_the_refused_count_in_metrics(limited):
    agent = new_agent(limited)
    for _ in range(BURST + 1):
        remember(limited, agent)
    metrics = limited.get("/metrics").text
    line = next(line for line in metrics.splitlines()
                if line.startswith("memanto_http_rejections_total") and "rate_limit" in line)
    assert float(line.rsplit(" ", 1)[1]) >= 1


def test_an_agent_over_its_quota_has_its_uploads_refused_before_they_are_read(limited):
    agent = new_agent(limited)
    assert [remember(limited, agent).status_code for _ in range(BURST)] == [200] * BURST
    assert remember(limited, agent).status_code == 429
    # A file that, read, would be refused as unsupported: the 429 shows it was not read.
    upload = limited.post(f"/api/v2/agents/{agent.agent_id}/upload-file",
                          headers=agent.headers,
                          files={"file": ("notes.exe", b"never read")})
    assert upload.status_code == 429 and "Retry-After" in upload.headers


def test_a_revoked_token_is_told_so_even_while_its_agent_is_refused(limited):
    """The web process's own refusal (no Redis asked) still checks the session first: a
    token replaced by a newer activation gets 401, not a 429 inviting it to retry."""
    agent = new_agent(limited)
    assert [remember(limited, agent).status_code for _ in range(BURST)] == [200] * BURST
    assert remember(limited, agent).status_code == 429  # now refused by this process
    limited.post(f"/api/v2/agents/{agent.agent_id}/activate", headers=ADMIN)
    for write in (remember(limited, agent), batch(limited, agent, 1),
                  limited.post(f"/api/v2/agents/{agent.agent_id}/upload-file",
                               headers=agent.headers, files={"file": ("a.txt", b"a note")})):
        assert write.status_code == 401, write.text
        assert "Retry-After" not in write.headers
