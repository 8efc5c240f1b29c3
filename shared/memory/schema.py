"""The memory index, as data: one RediSearch index over every agent's memories."""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis
from redis.commands.search.aggregation import AggregateRequest, AggregateResult
from redisvl.index import AsyncSearchIndex, SearchIndex
from redisvl.schema import IndexSchema

from memanto_redis.shared.infra import keys


async def aggregate(redis: Redis, request: AggregateRequest) -> AggregateResult:
    """FT.AGGREGATE over the memory index."""
    # redis-py annotates the request parameter with its result types.
    result = await redis.ft(keys.MEMORY_INDEX).aggregate(request)  # type: ignore[arg-type]
    return cast(AggregateResult, result)


def memory_schema(dims: int) -> IndexSchema:
    exact = {"case_sensitive": True}
    return IndexSchema.from_dict({
        "index": {
            "name": keys.MEMORY_INDEX,
            # Live documents and their earlier versions, in one index.
            "prefix": [keys.MEMORY_PREFIX, keys.VERSION_PREFIX],
            "storage_type": "hash",
        },
        "fields": [
            {"name": "memory_id", "type": "tag", "attrs": exact},
            {"name": "agent_id", "type": "tag", "attrs": exact},
            {"name": "namespace", "type": "tag", "attrs": exact},
            {"name": "session_id", "type": "tag", "attrs": exact},
            # The user and team of the /memories dialect (empty for plain agent memories).
            {"name": "user_id", "type": "tag", "attrs": exact},
            {"name": "team_id", "type": "tag", "attrs": exact},
            {"name": "type", "type": "tag"},
            {"name": "tags", "type": "tag", "attrs": {"separator": ","}},
            {"name": "source", "type": "tag"},
            {"name": "provenance", "type": "tag"},
            {"name": "status", "type": "tag"},
            # live | version; active | expired; what made this version.
            {"name": "kind", "type": "tag"},
            {"name": "lifecycle", "type": "tag"},
            {"name": "event", "type": "tag"},
            {"name": "content", "type": "text"},
            {"name": "title", "type": "text"},
            # Times are indexed as `*_ts` and kept again, unindexed, as `created_at`, ...:
            # RediSearch answers a RETURN of a numeric attribute with fewer digits than the
            # hash holds (100 ms here), so results read the unindexed copies.
            {"name": "created_ts", "type": "numeric"},
            {"name": "updated_ts", "type": "numeric"},
            {"name": "valid_from_ts", "type": "numeric"},
            {"name": "valid_to_ts", "type": "numeric"},
            {"name": "confidence", "type": "numeric"},
            {"name": "version", "type": "numeric"},
            {
                "name": "embedding",
                "type": "vector",
                "attrs": {
                    "dims": dims,
                    # FLAT, not HNSW: every query is filtered to one agent, which RediSearch
                    # answers by brute force over that agent's vectors either way (exact, ~10
                    # ms at 100k), while HNSW graph upkeep made 100k inserts take ~240 s and
                    # deletes ~105 s here (FLAT: ~6 s and ~1.3 s). See README, "Clearing".
                    "algorithm": "flat",
                    "distance_metric": "cosine",
                    "datatype": "float32",
                },
            },
        ],
    })


def ensure_index(client: Any, dims: int) -> SearchIndex:
    """Create the index unless it exists; several processes may race here harmlessly."""
    index = SearchIndex(memory_schema(dims), redis_client=client)
    if not index.exists():
        try:
            index.create(overwrite=False)
        except Exception as exc:  # RedisVL wraps the server's reply in its own error types
            if "already exists" not in str(exc).lower():
                raise
    return index


async def ensure_index_async(client: Any, dims: int) -> AsyncSearchIndex:
    index = AsyncSearchIndex(memory_schema(dims), redis_client=client)
    if not await index.exists():
        try:
            await index.create(overwrite=False)
        except Exception as exc:
            if "already exists" not in str(exc).lower():
                raise
    return index
