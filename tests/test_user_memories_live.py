"""The /memories dialect (seed 004) against a running web process and worker: agno's own
AgentOSClient, and the seed's command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid

import httpx
import pytest

from tests.support import ADMIN_KEY, CLI, free_port, start_web, start_worker, stop, wait_until

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(autouse=True)
def _fresh_stream():
    """Overrides conftest's per-test wipe of the ingest stream, which would pull the stream
    (and its consumer group) from under this module's running worker."""
    yield


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


def _cli(server: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEMANTO_HOME": str(tmp_path), "MEMANTO_API_KEY": ADMIN_KEY,
           "MEMANTO_URL": "http://127.0.0.1:1"}
    return subprocess.run([*CLI, "memories", "--base-url", server,
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
