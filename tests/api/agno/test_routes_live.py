"""The /memories dialect (seed 004) against the session's live stack (a running web
process and worker), driven by agno's own AgentOSClient."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support import ADMIN_KEY, memories_indexed, wait_until

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def server(live) -> str:
    return live.url


def test_agno_client_drives_the_whole_api(server, live):
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
        await asyncio.to_thread(wait_until,
                                lambda: memories_indexed(live.redis_url, [*ids, theirs.memory_id]),
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
        await asyncio.to_thread(wait_until,
                                lambda: memories_indexed(live.redis_url, [ids[1]]), 30, 0.1,
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
