"""The embedded Redis killed outright keeps what was written more than a second before."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx
import redis

from memanto_redis.shared.infra import keys
from tests.support import ADMIN_KEY, free_port, start_redis, start_web, stop, wait_until

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_memories_survive_redis_sigkill_and_restart(tmp_path):
    data = tmp_path / "data"
    redis_port = free_port()
    url = f"redis://127.0.0.1:{redis_port}/0"
    started: list[subprocess.Popen] = []
    try:
        started.append(start_redis(redis_port, data))
        web_port = free_port()
        # Writes and reads by id need no embedding: no waiting for the model to load.
        started.append(start_web(url, web_port, tmp_path / "web.log", model=False))
        web = started[-1]
        http = httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=10)

        agent_id = f"persist-{time.time_ns()}"
        assert http.post("/api/v2/agents", json={"agent_id": agent_id},
                         headers=ADMIN).status_code == 201
        session = http.post(f"/api/v2/agents/{agent_id}/activate", headers=ADMIN)
        assert session.status_code == 200, session.text
        token = session.json()["session_token"]
        session_id = session.json()["session_id"]
        auth = {"X-Session-Token": token}

        contents = {}
        for i in range(50):
            content = f"persisted memory {i}: the backup runs at {i % 24}:15"
            reply = http.post(f"/api/v2/agents/{agent_id}/remember",
                              json={"content": content}, headers=auth)
            assert reply.status_code == 200, reply.text
            contents[reply.json()["memory_id"]] = content
        assert len(contents) == 50

        time.sleep(1.5)  # appendfsync everysec: older writes are on disk
        stop(started[0], signal.SIGKILL)
        assert started[0].returncode == -signal.SIGKILL
        first = next(iter(contents))
        memory_url = f"/api/v2/agents/{agent_id}/memories/{first}"
        down = http.get(memory_url, headers=auth)
        assert down.status_code == 503, down.text
        assert web.poll() is None

        started[0] = start_redis(redis_port, data)
        wait_until(lambda: http.get(memory_url, headers=auth).status_code == 200, 30, 0.2,
                   what="the web process to reconnect")

        for memory_id, content in contents.items():
            reply = http.get(f"/api/v2/agents/{agent_id}/memories/{memory_id}", headers=auth)
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["memory_id"] == memory_id
            assert body["content"] == content
            assert body["status"] == "queued"

        agent = http.get(f"/api/v2/agents/{agent_id}", headers=ADMIN)
        assert agent.status_code == 200, agent.text
        info = http.get("/api/v2/session/info", headers=auth)
        assert info.status_code == 200, info.text
        assert info.json()["session_id"] == session_id
        assert info.json()["memories_created"] == 50

        direct = redis.Redis.from_url(url)
        try:
            # The queued writes are still waiting for a worker, none lost.
            assert direct.xlen(keys.INGEST_STREAM) == 50
            assert direct.scard(keys.memory_ids(agent_id)) == 50
            assert direct.ttl(keys.session(agent_id)) > 0
        finally:
            direct.close()
        http.close()
    finally:
        for proc in reversed(started):
            stop(proc)
