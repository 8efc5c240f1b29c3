"""The /memories dialect (seed 004): agno's own AgentOSClient against a running server,
and the validation and scoping rules through the app."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from shared import keys
from tests.conftest import ADMIN, new_agent
from tests.support import ADMIN_KEY, free_port, start_web, start_worker, stop, wait_until

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def server(redis_url, tmp_path_factory):
    logs = tmp_path_factory.mktemp("memories-logs")
    port = free_port()
    web = start_web(redis_url, port, logs / "web.log")
    worker = start_worker(redis_url, logs / "worker.log", MEMANTO_BLOCK_MS="100")
    yield f"http://127.0.0.1:{port}"
    stop(worker)
    stop(web)


def _indexed(base: str, ids: list[str]) -> bool:
    for memory_id in ids:
        reply = httpx.get(f"{base}/memories/{memory_id}", headers=AUTH)
        if reply.status_code != 200:
            return False
    listing = httpx.get(f"{base}/memories", params={"limit": 100}, headers=AUTH).json()
    return set(ids) <= {m["memory_id"] for m in listing["data"]}


def test_agno_client_drives_the_whole_api(server):
    from agno.client import AgentOSClient

    client = AgentOSClient(base_url=server, timeout=30)
    user = f"alice-{uuid.uuid4().hex[:6]}@example.com"
    other = f"bob-{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        created = []
        for text, topics in [("User prefers dark mode", ["preferences", "ui"]),
                             ("Favourite colour is blue", ["preferences"]),
                             ("Works on the payments team", ["work"])]:
            memory = await client.create_memory(memory=text, user_id=user, topics=topics,
                                                headers=AUTH)
            assert memory.memory == text and memory.user_id == user
            assert memory.topics == topics and memory.memory_id
            assert memory.updated_at is not None
            created.append(memory)
        theirs = await client.create_memory(memory="Bob likes tea", user_id=other,
                                            topics=["preferences"], headers=AUTH)
        ids = [m.memory_id for m in created]
        await asyncio.to_thread(wait_until, lambda: _indexed(server, [*ids, theirs.memory_id]),
                                30, 0.1, "memories indexed")

        page = await client.list_memories(user_id=user, headers=AUTH)
        assert page.meta.total_count == 3
        assert {m.memory_id for m in page.data} == set(ids)
        assert [m.memory_id for m in page.data] == list(reversed(ids))  # updated_at desc

        oldest_first = await client.list_memories(user_id=user, sort_by="created_at",
                                                  sort_order="asc", headers=AUTH)
        assert [m.memory_id for m in oldest_first.data] == ids

        paged = await client.list_memories(user_id=user, limit=2, page=2, headers=AUTH)
        assert (paged.meta.page, paged.meta.limit, paged.meta.total_pages,
                paged.meta.total_count) == (2, 2, 2, 3)
        assert [m.memory_id for m in paged.data] == [ids[0]]

        prefs = await client.list_memories(user_id=user, topics=["ui"], headers=AUTH)
        assert [m.memory_id for m in prefs.data] == [ids[0]]
        everyone = await client.list_memories(topics=["preferences"], limit=100, headers=AUTH)
        assert {ids[0], ids[1], theirs.memory_id} <= {m.memory_id for m in everyone.data}

        by_meaning = await client.list_memories(user_id=user, search_content="night theme",
                                                headers=AUTH)
        assert ids[0] in {m.memory_id for m in by_meaning.data}
        by_words = await client.list_memories(user_id=user, search_content="payments",
                                              headers=AUTH)
        assert ids[2] in {m.memory_id for m in by_words.data}
        assert theirs.memory_id not in {m.memory_id for m in by_words.data}

        fetched = await client.get_memory(ids[1], user_id=user, headers=AUTH)
        assert fetched.memory == "Favourite colour is blue"

        updated = await client.update_memory(memory_id=ids[1], memory="Favourite colour is "
                                             "dark blue", user_id=user,
                                             topics=["preferences", "colors"], headers=AUTH)
        assert updated.memory == "Favourite colour is dark blue"
        assert updated.topics == ["preferences", "colors"]
        await asyncio.to_thread(wait_until, lambda: _indexed(server, [ids[1]]), 30, 0.1,
                                "update indexed")
        again = await client.get_memory(ids[1], user_id=user, headers=AUTH)
        assert again.memory == "Favourite colour is dark blue"
        newest = await client.list_memories(user_id=user, headers=AUTH)
        assert newest.data[0].memory_id == ids[1]  # the update made it the latest

        topics = await client.get_memory_topics(user_id=user, headers=AUTH)
        assert topics == ["colors", "preferences", "ui", "work"]

        stats = await client.get_user_memory_stats(headers=AUTH)
        mine = next(s for s in stats.data if s.user_id == user)
        assert mine.total_memories == 3
        assert mine.last_memory_updated_at is not None

        await client.delete_memory(ids[2], user_id=user, headers=AUTH)
        remaining = await client.list_memories(user_id=user, headers=AUTH)
        assert {m.memory_id for m in remaining.data} == {ids[0], ids[1]}

        await client.delete_memories([ids[0], ids[1]], user_id=user, headers=AUTH)
        assert (await client.list_memories(user_id=user, headers=AUTH)).meta.total_count == 0
        still = await client.get_memory(theirs.memory_id, headers=AUTH)
        assert still.memory == "Bob likes tea"

    asyncio.run(scenario())


def test_a_memory_for_an_agent_is_the_same_memory_in_v2(client, indexer):
    agent = new_agent(client)
    reply = client.post("/memories", json={"memory": "Invoices go out on the 1st",
                                           "user_id": "carol", "topics": ["billing"],
                                           "agent_id": agent.agent_id}, headers=ADMIN)
    assert reply.status_code == 201
    memory = reply.json()
    assert memory["agent_id"] == agent.agent_id
    indexer.run(burst=True)
    v2 = client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory['memory_id']}",
                    headers=agent.headers).json()
    assert (v2["content"], v2["tags"], v2["user_id"]) == (
        "Invoices go out on the 1st", ["billing"], "carol")
    found = client.post(f"/api/v2/agents/{agent.agent_id}/recall",
                        json={"query": "when are invoices sent"}, headers=agent.headers).json()
    assert found["memories"][0]["memory_id"] == memory["memory_id"]
    # And the other way: a v2 memory is visible (and editable) through /memories.
    v2_id = client.post(f"/api/v2/agents/{agent.agent_id}/remember",
                        json={"content": "v2 native memory", "tags": ["x"]},
                        headers=agent.headers).json()["memory_id"]
    indexer.run(burst=True)
    shown = client.get(f"/memories/{v2_id}", headers=ADMIN).json()
    assert (shown["memory"], shown["agent_id"], shown["topics"]) == (
        "v2 native memory", agent.agent_id, ["x"])
    listed = client.get("/memories", params={"agent_id": agent.agent_id},
                        headers=ADMIN).json()
    assert {m["memory_id"] for m in listed["data"]} == {memory["memory_id"], v2_id}


def test_user_scoping_on_reads_and_deletes(client, indexer, r):
    created = client.post("/memories", json={"memory": "Dana's secret", "user_id": "dana"},
                          headers=ADMIN).json()
    memory_id = created["memory_id"]
    assert created["agent_id"] is None
    assert r.hget(keys.MEMORY_OWNERS, memory_id) == keys.user_owner("dana").encode()
    indexer.run(burst=True)
    assert client.get(f"/memories/{memory_id}", params={"user_id": "eve"},
                      headers=ADMIN).status_code == 404
    assert client.delete(f"/memories/{memory_id}", params={"user_id": "eve"},
                         headers=ADMIN).status_code == 404
    assert client.patch(f"/memories/{memory_id}", json={"memory": "x", "user_id": "eve"},
                        headers=ADMIN).status_code == 404
    assert client.get(f"/memories/{memory_id}", params={"user_id": "dana"},
                      headers=ADMIN).status_code == 200
    assert client.delete(f"/memories/{memory_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/memories/{memory_id}", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"user_id": "u"}, "memory"),
    ({"memory": "", "user_id": "u"}, "memory"),
    ({"memory": "x" * 5001, "user_id": "u"}, "memory"),
    ({"memory": "x"}, "user_id"),
    ({"memory": "x", "user_id": "a{b}"}, "user_id"),
    ({"memory": "x", "user_id": "u", "topics": "ui"}, "topics"),
    ({"memory": "x", "user_id": "u", "agent_id": "bad id"}, "agent_id"),
    ({"memory": "x", "user_id": "u", "colour": "red"}, "colour"),
])
def test_bad_creates_are_named(client, body, field):
    reply = client.post("/memories", json=body, headers=ADMIN)
    assert reply.status_code == 422
    assert field in reply.json()["detail"]


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"page": "0"}, "page"),
    ({"sort_by": "memory"}, "sort_by"), ({"sort_order": "up"}, "sort_order"),
])
def test_bad_list_parameters_are_named(client, params, field):
    reply = client.get("/memories", params=params, headers=ADMIN)
    assert reply.status_code == 422
    assert field in reply.json()["detail"]


def test_unknown_agent_and_auth(client):
    missing = client.post("/memories", json={"memory": "x", "user_id": "u",
                                             "agent_id": "no-such-agent-x"}, headers=ADMIN)
    assert missing.status_code == 404
    agent = new_agent(client)
    for method, path in [("GET", "/memories"), ("POST", "/memories"),
                         ("GET", "/memories/topics"), ("GET", "/memory_topics"),
                         ("GET", "/memories/stats"), ("GET", "/user_memory_stats"),
                         ("GET", "/memories/abc"), ("PATCH", "/memories/abc"),
                         ("DELETE", "/memories/abc"), ("DELETE", "/memories")]:
        assert client.request(method, path).status_code == 401, (method, path)
        assert client.request(method, path, headers=agent.headers).status_code == 401
    assert client.request("DELETE", "/memories", json={"memory_ids": []},
                          headers=ADMIN).status_code == 422


def _cli(server: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEMANTO_HOME": str(tmp_path), "MEMANTO_API_KEY": ADMIN_KEY,
           "MEMANTO_URL": "http://127.0.0.1:1"}
    return subprocess.run([sys.executable, "-m", "cli.main", "memories", "--base-url", server,
                           *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_seed_command_line(server, tmp_path):
    user = f"cli-{uuid.uuid4().hex[:6]}"
    made = _cli(server, tmp_path, "--user-id", user, "--create", "User prefers dark mode",
                "--topics", "preferences,ui", "--json")
    assert made.returncode == 0, made.stderr
    memory_id = json.loads(made.stdout)["memory_id"]
    wait_until(lambda: _indexed(server, [memory_id]), 30, 0.1, "indexed")

    listed = _cli(server, tmp_path, "--user-id", user)
    assert listed.returncode == 0
    assert "User prefers dark mode" in listed.stdout and "(1 memories)" in listed.stdout
    found = _cli(server, tmp_path, "--user-id", user, "--search", "dark mode", "--json")
    assert [m["memory_id"] for m in json.loads(found.stdout)["data"]] == [memory_id]
    shown = _cli(server, tmp_path, "--memory-id", memory_id, "--user-id", user)
    assert "topics: preferences, ui" in shown.stdout

    updated = _cli(server, tmp_path, "--memory-id", memory_id, "--user-id", user, "--update",
                   "User strongly prefers dark mode", "--topics",
                   "preferences,ui,accessibility", "--json")
    assert json.loads(updated.stdout)["topics"] == ["preferences", "ui", "accessibility"]
    wait_until(lambda: "strongly" in _cli(server, tmp_path, "--memory-id", memory_id).stdout,
               30, 0.2, "update visible")
    wait_until(lambda: "accessibility" in _cli(server, tmp_path, "--topics-list").stdout, 30,
               0.2, "topics listed")

    deleted = _cli(server, tmp_path, "--memory-id", memory_id, "--user-id", user, "--delete")
    assert deleted.returncode == 0 and "Deleted" in deleted.stdout
    gone = _cli(server, tmp_path, "--memory-id", memory_id)
    assert gone.returncode == 1
    assert gone.stderr.startswith("Error:") and "not found" in gone.stderr
    assert "Traceback" not in gone.stderr

    down = _cli("http://127.0.0.1:1", tmp_path, "--user-id", user)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines() == [
        "Error: cannot reach the MEMANTO server at http://127.0.0.1:1 (ConnectError)"]
    no_user = _cli(server, tmp_path, "--create", "x")
    assert no_user.returncode == 1 and "--user-id" in no_user.stderr
