"""The release phase: a real `python -m memanto_redis.workers.release` creates the indexes
(and fails the deploy, in one line, on a Redis it cannot use)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from memanto_redis.shared.infra import keys
from tests.conftest import new_agent
from tests.support import ROOT, free_port, service_env, versions_held

RELEASE = [sys.executable, "-m", "memanto_redis.workers.release"]


def test_release_creates_the_indexes(redis_url, r):
    done = subprocess.run(RELEASE, cwd=ROOT, env=service_env(redis_url), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    indexes = {name.decode() for name in r.execute_command("FT._LIST")}
    assert {keys.MEMORY_INDEX, keys.SWARM_INDEX} <= indexes
    last = json.loads(done.stderr.strip().splitlines()[-1])
    assert last["process"] == "release" and "indexes ready" in last["event"]


def test_release_fails_on_an_unreachable_redis():
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run(RELEASE, cwd=ROOT, env=service_env(url, MEMANTO_REDIS_WAIT_SECONDS="0"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("release: cannot reach Redis")


def test_release_trims_versions_beyond_a_lowered_window(redis_url, r, client):
    """Made under the default window (100), a memory's versions outlive a window lowered to
    2 until the next release, which keeps each memory's newest two archived versions."""
    agent, other = new_agent(client, "trim"), new_agent(client, "trim-other")

    def changed(who, times: int) -> str:
        memory_id = client.post(f"/api/v2/agents/{who.agent_id}/remember", headers=who.headers,
                                json={"content": "first"}).json()["memory_id"]
        for n in range(times):
            reply = client.patch(f"/api/v2/agents/{who.agent_id}/memories/{memory_id}",
                                 json={"title": f"title {n + 2}"}, headers=who.headers)
            assert reply.status_code == 200, reply.text
        return memory_id

    busy, quiet = changed(agent, 5), changed(other, 2)  # versions 1-5 and 1-2 archived

    assert (versions_held(r, agent.agent_id, busy, upto=7),
            versions_held(r, other.agent_id, quiet, upto=7)) == ([1, 2, 3, 4, 5], [1, 2])
    r.set(keys.VERSIONS_WINDOW, 100)  # as after releases under the default window
    done = subprocess.run(RELEASE, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=service_env(redis_url, MEMANTO_VERSIONS_KEPT="2"))
    assert done.returncode == 0, done.stderr
    assert (versions_held(r, agent.agent_id, busy, upto=7),
            versions_held(r, other.agent_id, quiet, upto=7)) == ([4, 5], [1, 2])
    assert r.smembers(keys.version_keys(agent.agent_id)) == {
        keys.version(agent.agent_id, busy, n).encode() for n in (4, 5)}
    history = client.get(f"/api/v2/agents/{agent.agent_id}/memories/{busy}/history",
                         headers=agent.headers)
    assert history.status_code == 200
    assert "title 3" not in history.text and "title 5" in history.text
    last = json.loads(done.stderr.strip().splitlines()[-1])
    removed = re.search(r"(\d+) archived versions beyond the 2 kept", last["event"])
    assert removed and int(removed[1]) >= 3  # these three, and any other test's beyond two
