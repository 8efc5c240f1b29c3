"""The web process's Redis pool is bounded."""

from __future__ import annotations

import asyncio

from redis.asyncio import BlockingConnectionPool

from memanto_redis.shared.infra.connection import (
    POOL_MAX_CONNECTIONS,
    POOL_WAIT_SECONDS,
    connect_async,
)


def test_the_web_pool_is_bounded_and_waits(redis_url):
    async def scenario() -> None:
        client = await connect_async(redis_url)
        try:
            pool = client.connection_pool
            assert isinstance(pool, BlockingConnectionPool)
            assert pool.max_connections == POOL_MAX_CONNECTIONS
            assert pool.timeout == POOL_WAIT_SECONDS
            assert await client.ping()
        finally:
            await client.aclose()

    asyncio.run(scenario())
