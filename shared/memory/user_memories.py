"""User memories, as agno's AgentOS memory API sees them (seed 004).

They are ordinary memories in the one index, owned by the agent they name (so that agent
sees the same memory through the v2 API, its topics being the tags) or, naming no agent,
by the user's own space (`~user.<id>`). Writes go through the same stream and worker.
"""

from __future__ import annotations

import math
import time
from typing import Any

from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest, Asc, Desc
from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression, Tag, Text

from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.models import MemoryIn, MemoryListParams, StatsParams, UserMemoryIn
from memanto_redis.shared.memory.schema import MEMORY_FIELDS
from memanto_redis.shared.memory.store import MEMORY_ID_RE, MemoryStore

SOURCE = "memories-api"
# How close in meaning a memory must be for search_content to count it found.
MEANING_THRESHOLD = 0.35
SEARCH_CANDIDATES = 200


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def shape(memory: dict) -> dict:
    """A memory in agno's UserMemorySchema shape (plus created_at)."""
    owner = memory.get("agent_id") or ""
    return {
        "memory_id": memory["memory_id"],
        "memory": memory["content"],
        "topics": memory.get("tags") or [],
        "agent_id": None if owner.startswith(keys.USER_OWNER_PREFIX) else owner,
        "team_id": memory.get("team_id"),
        "user_id": memory.get("user_id"),
        "updated_at": memory.get("updated_at") or memory.get("created_at"),
        "created_at": memory.get("created_at"),
    }


def _page_meta(page: int, limit: int, total: int, started: float) -> dict:
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return {"page": page, "limit": limit, "total_pages": math.ceil(total / limit),
            "total_count": total, "search_time_ms": elapsed_ms}


class UserMemories:
    def __init__(self, redis: Any, store: MemoryStore, editor: MemoryEditor,
                 agents: AgentStore) -> None:
        self.redis = redis
        self.store = store
        self.editor = editor
        self.agents = agents

    async def create(self, body: UserMemoryIn) -> dict:
        owner = body.agent_id or keys.user_owner(body.user_id)
        item = MemoryIn(content=body.memory, tags=body.topics or [], source=SOURCE)
        extra = {"user_id": body.user_id, "team_id": body.team_id}
        (record,) = await self.store.remember(owner, [item], extras=[extra],
                                              owner_exists=body.agent_id is not None)
        await self.redis.hset(keys.MEMORY_OWNERS, record["memory_id"], owner)
        return shape({**record, "created_at": iso(record["created_at"]),
                      "updated_at": iso(record["updated_at"])})

    async def owner_of(self, memory_id: str) -> str:
        if not MEMORY_ID_RE.match(memory_id):
            raise NotFound(f"memory {memory_id!r} not found")
        owner = await self.redis.hget(keys.MEMORY_OWNERS, memory_id)
        if owner is not None:
            return owner.decode()
        # A memory written through another dialect: find it in the index.
        query = FilterQuery(filter_expression=(Tag("memory_id") == memory_id)
                            & (Tag("kind") == "live"), return_fields=["agent_id"],
                            num_results=1)
        hits = await self.store.index.query(query)
        if not hits:
            raise NotFound(f"memory {memory_id!r} not found")
        return hits[0]["agent_id"]

    async def get(self, memory_id: str, user_id: str | None = None) -> dict:
        owner = await self.owner_of(memory_id)
        memory = await self.store.get(owner, memory_id)
        if user_id is not None and memory.get("user_id") != user_id:
            raise NotFound(f"memory {memory_id!r} not found for user {user_id!r}")
        return shape(memory)

    async def update(self, memory_id: str, content: str, topics: list[str] | None,
                     user_id: str | None) -> dict:
        await self.get(memory_id, user_id)
        owner = await self.owner_of(memory_id)
        changes: dict = {"content": content}
        if topics is not None:
            changes["tags"] = topics
        return shape(await self.editor.patch(owner, memory_id, changes))

    async def delete(self, memory_id: str, user_id: str | None = None) -> bool:
        try:
            await self.get(memory_id, user_id)
            owner = await self.owner_of(memory_id)
        except NotFound:
            return False
        deleted = await self.editor.delete(owner, memory_id)
        await self.redis.hdel(keys.MEMORY_OWNERS, memory_id)
        return deleted

    # -- listing ---------------------------------------------------------------------------

    @staticmethod
    def _filter(user_id: str | None, agent_id: str | None = None, team_id: str | None = None,
                topics: list[str] | None = None) -> FilterExpression:
        expression = (Tag("kind") == "live") & (Tag("lifecycle") == "active")
        if user_id:
            expression &= Tag("user_id") == user_id
        if agent_id:
            expression &= Tag("agent_id") == agent_id
        if team_id:
            expression &= Tag("team_id") == team_id
        if topics:
            expression &= Tag("tags") == topics
        return expression

    async def list(self, params: MemoryListParams, vector: bytes | None) -> dict:
        started = time.perf_counter()
        expression = self._filter(params.user_id, params.agent_id, params.team_id,
                                  params.topics)
        sort_field = "updated_ts" if params.sort_by == "updated_at" else "created_ts"
        if params.search_content:
            found = await self._search(expression, params.search_content, vector)
            found.sort(key=lambda m: m[params.sort_by] or "",
                       reverse=params.sort_order == "desc")
            total = len(found)
            start = (params.page - 1) * params.limit
            page = found[start:start + params.limit]
        else:
            query = FilterQuery(filter_expression=expression, return_fields=MEMORY_FIELDS)
            query.sort_by(sort_field, asc=params.sort_order == "asc")
            query.paging((params.page - 1) * params.limit, params.limit)
            result = await self.store.index.search(query.query, query_params=query.params)
            total = result.total
            page = [self._from_doc(doc) for doc in result.docs]
        return {"data": page, "meta": _page_meta(params.page, params.limit, total, started)}

    async def _search(self, expression: FilterExpression, words: str,
                      vector: bytes | None) -> list[dict]:
        """By meaning (close enough) and by words (any of them in the text), each once."""
        by_meaning = []
        if vector is not None:
            by_meaning = await self.store.search(expression, vector, SEARCH_CANDIDATES,
                                                 min_similarity=MEANING_THRESHOLD,
                                                 shaper=lambda hit, _: self._from_hit(hit))
        by_words = []
        terms = " | ".join(t for t in (_term(w) for w in words.split()) if t)
        if terms:
            query = FilterQuery(filter_expression=expression & Text("content") % terms,
                                return_fields=MEMORY_FIELDS, num_results=SEARCH_CANDIDATES)
            result = await self.store.index.search(query.query, query_params=query.params)
            by_words = [self._from_doc(doc) for doc in result.docs]
        merged: dict[str, dict] = {}
        for memory in [*by_meaning, *by_words]:
            merged.setdefault(memory["memory_id"], memory)
        return list(merged.values())

    @classmethod
    def _from_doc(cls, doc: Any) -> dict:
        return cls._from_hit({name: _text(getattr(doc, name, None)) for name in MEMORY_FIELDS})

    @staticmethod
    def _from_hit(hit: dict) -> dict:
        fields = dict(hit)
        fields["tags"] = [t for t in (fields.get("tags") or "").split(",") if t]
        fields["created_at"] = iso(fields.get("created_at"))
        fields["updated_at"] = iso(fields.get("updated_at"))
        return shape(fields)

    async def topics(self, user_id: str | None) -> list[str]:
        query = FilterQuery(filter_expression=self._filter(user_id), return_fields=["tags"],
                            num_results=10_000)
        seen: set[str] = set()
        for hit in await self.store.index.query(query):
            seen.update(t for t in (hit.get("tags") or "").split(",") if t)
        return sorted(seen)

    async def stats(self, params: StatsParams) -> dict:
        started = time.perf_counter()
        request = AggregateRequest(str(self._filter(params.user_id))).group_by(
            "@user_id", reducers.count().alias("total"),
            reducers.max("@updated_ts").alias("last"),
        ).sort_by(Desc("@last"), Asc("@user_id")).limit(0, 100_000)
        result = await self.redis.ft(keys.MEMORY_INDEX).aggregate(request)
        rows = []
        for row in result.rows:
            fields = {_text(k): _text(v) for k, v in zip(row[::2], row[1::2], strict=True)}
            if fields.get("user_id"):
                rows.append({"user_id": fields["user_id"], "total_memories": int(fields["total"]),
                             "last_memory_updated_at": iso(fields.get("last"))})
        start = (params.page - 1) * params.limit
        return {"data": rows[start:start + params.limit],
                "meta": _page_meta(params.page, params.limit, len(rows), started)}


def _term(word: str) -> str:
    """A word as a RediSearch term: letters and digits only, so no syntax slips through."""
    cleaned = "".join(ch for ch in word if ch.isalnum())
    return cleaned if len(cleaned) > 1 else ""
