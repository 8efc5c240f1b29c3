"""Inbox long-polls are bounded per agent as well as per process."""

from __future__ import annotations

import asyncio

import pytest

from memanto_redis.shared.infra.connection import connect_async
from memanto_redis.shared.schedule.inbox import Inbox, InboxBusy
from tests.support import unique


def test_long_polls_are_capped_per_agent(redis_url):
    async def scenario() -> None:
        client = await connect_async(redis_url)
        inbox = Inbox(client, redis_url, max_waiters=10, per_agent=2)
        try:
            agent = unique("agent")
            waiting = [asyncio.create_task(inbox.read(agent, "0", 1.0, 10)) for _ in range(2)]
            await asyncio.sleep(0.3)
            with pytest.raises(InboxBusy, match="already has 2 inbox requests waiting"):
                await inbox.read(agent, "0", 1.0, 10)
            # Another agent still gets one of the process's slots, and a read that does
            # not wait is served.
            assert (await inbox.read(unique("agent"), "0", 0.1, 10)).messages == ()
            assert (await inbox.read(agent, "0", 0, 10)).messages == ()
            await asyncio.gather(*waiting)
            assert (await inbox.read(agent, "0", 0.1, 10)).messages == ()
        finally:
            await inbox.close()
            await client.aclose()

    asyncio.run(scenario())
