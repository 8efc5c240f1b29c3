"""User memories, as agno's AgentOS memory API sees them (seed 004).

They are ordinary memories in the one index, owned by the agent they name (so that agent
sees the same memory through the v2 API, its topics being the tags) or, naming no agent,
by the user's own space (`~user.<id>`). Writes go through the same stream and worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.commands.search import reducers
from redis.commands.search.aggregation import AggregateRequest, Asc, Desc
from redisvl.query import FilterQuery
from redisvl.query.filter import FilterExpression

from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.auth import access
from memanto_redis.shared.auth.scope import Principal
from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.fulltext import Tag
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.memory import pending
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.record import HASH_FIELDS, Draft, Memory
from memanto_redis.shared.memory.rules import MEMORY_ID_RE, split_tags
from memanto_redis.shared.memory.schema import aggregate
from memanto_redis.shared.memory.store import MemoryStore, Once

SOURCE = "memories-api"
# search_content finds what shares a word with the query, and what is about as close in
# meaning as the best match: within this share of its similarity (and above the floor).
# A fixed cosine cutoff (0.35 once) dropped obviously related memories of short texts.
RELATIVE_FLOOR = 0.6
ABSOLUTE_FLOOR = 0.15
SEARCH_CANDIDATES = 200
# The bounds of the aggregate reads: index documents a topics listing scans, users a
# stats answer counts (pages are cut from these).
MAX_SCANNED = 10_000
MAX_STATS_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class Listing:
    """Which memories to list and in what order: newest-updated first by default."""

    user_id: str | None = None
    agent_id: str | None = None
    team_id: str | None = None
    topics: list[str] = field(default_factory=list)
    search_content: str | None = None
    sort_by: str = "updated_at"  # updated_at | created_at
    descending: bool = True
    page: int = 1
    limit: int = 20


@dataclass(frozen=True, slots=True)
class UserStats:
    user_id: str
    total_memories: int
    last_memory_updated_at: float | None


def owner_agent(memory: Memory) -> str | None:
    """The agent a user memory names, or None when it lives in the user's own space."""
    return None if memory.agent_id.startswith(keys.USER_OWNER_PREFIX) else memory.agent_id


class UserMemories:
    def __init__(self, redis: Redis, store: MemoryStore, editor: MemoryEditor,
                 agents: AgentStore) -> None:
        self.redis = redis
        self.store = store
        self.editor = editor
        self.agents = agents

    async def create(self, principal: Principal, user_id: str, content: str,
                     topics: list[str] | None = None, agent_id: str | None = None,
                     team_id: str | None = None, once: Once | None = None) -> Memory:
        """A memory of the user's, owned by the agent it names (which must exist) or by
        the user's own space."""
        principal.check_user(user_id, write=True)
        if agent_id:
            await access.agent(principal, self.agents, agent_id, write=True)
        owner = agent_id or keys.user_owner(user_id)
        draft = Draft(content=content, tags=topics or [], source=SOURCE, user_id=user_id,
                      team_id=team_id)
        (memory,) = await self.store.remember(owner, [draft], owner_exists=agent_id is not None,
                                              once=once)
        await self.redis.hset(keys.MEMORY_OWNERS, memory.memory_id, owner)
        return memory

    async def owner_of(self, memory_id: str) -> str:
        if not MEMORY_ID_RE.match(memory_id):
            raise NotFound(f"memory {memory_id!r} not found")
        owner = await self.redis.hget(keys.MEMORY_OWNERS, memory_id)
        if owner is not None:
            return text(owner)
        # A memory written through another dialect: find it in the index.
        query = FilterQuery(filter_expression=(Tag("memory_id") == memory_id)
                            & (Tag("kind") == "live"), return_fields=["agent_id"],
                            num_results=1)
        hits = await self.store.index.query(query)
        if not hits:
            raise NotFound(f"memory {memory_id!r} not found")
        return str(hits[0]["agent_id"])

    async def get(self, principal: Principal, memory_id: str,
                  user_id: str | None = None) -> Memory:
        """The memory; a tenant key must name its user (another user's, or a missing one,
        is the same 404)."""
        principal.check_user(user_id, write=False)
        owner = await self.owner_of(memory_id)
        memory = await self.store.get(owner, memory_id)
        # Another user's, or an agent's the key does not cover: as if it did not exist.
        visible = _visibility(principal)
        if (user_id is not None and memory.user_id != user_id) or (
                visible is not None and not visible(memory)):
            raise NotFound(f"memory {memory_id!r} not found")
        return memory

    async def update(self, principal: Principal, memory_id: str, content: str,
                     topics: list[str] | None, user_id: str | None) -> Memory:
        principal.check_user(user_id, write=True)
        memory = await self.get(principal, memory_id, user_id)
        self._check_owner(principal, memory)
        changes: dict[str, Any] = {"content": content}
        if topics is not None:
            changes["tags"] = topics
        return await self.editor.patch(memory.agent_id, memory_id, changes)

    async def delete(self, principal: Principal, memory_id: str,
                     user_id: str | None = None) -> bool:
        principal.check_user(user_id, write=True)
        try:
            memory = await self.get(principal, memory_id, user_id)
        except NotFound:
            return False
        self._check_owner(principal, memory)
        deleted = await self.editor.delete(memory.agent_id, memory_id)
        await self.redis.hdel(keys.MEMORY_OWNERS, memory_id)
        return deleted

    @staticmethod
    def _check_owner(principal: Principal, memory: Memory) -> None:
        """Changing a user's memory that an agent owns changes that agent's memory: the
        key's scope must cover the agent too."""
        owner = owner_agent(memory)
        if owner is not None:
            principal.check_agent(owner, write=True)

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

    async def _waiting(self, user_id: str | None, agent_id: str | None = None,
                       team_id: str | None = None,
                       topics: list[str] | None = None) -> list[Memory]:
        """Active memories still waiting for the worker, filtered as `_filter` filters the
        index: what the listing shows before the worker has indexed it."""
        return [m for m in await pending.everywhere(self.redis)
                if m.lifecycle == "active" and (not user_id or m.user_id == user_id)
                and (not agent_id or m.agent_id == agent_id)
                and (not team_id or m.team_id == team_id)
                and (not topics or set(topics) & set(m.tags))]

    async def page(self, principal: Principal, listing: Listing,
                   vector: bytes | None) -> tuple[list[Memory], int]:
        """One page of the listing, and how many memories it has in all, those just
        accepted included. A tenant key lists one user of its own at a time."""
        principal.check_user(listing.user_id, write=False)
        if listing.agent_id:
            principal.check_agent(listing.agent_id, write=False)
        # A tenant key sees the user's own memories and those of agents it covers: the
        # listing is filtered whole (at most MAX_SCANNED), so its counts hold no others.
        visible = _visibility(principal)
        expression = self._filter(listing.user_id, listing.agent_id, listing.team_id,
                                  listing.topics)
        waiting = await self._waiting(listing.user_id, listing.agent_id, listing.team_id,
                                      listing.topics)
        start = (listing.page - 1) * listing.limit
        end = start + listing.limit
        if listing.search_content and vector is not None:
            found = pending.by_words(waiting, listing.search_content)
            found += await self._search(expression, listing.search_content, vector)
        else:
            sort_field = "updated_ts" if listing.sort_by == "updated_at" else "created_ts"
            query = FilterQuery(filter_expression=expression, return_fields=HASH_FIELDS)
            query.sort_by(sort_field, asc=not listing.descending)
            query.paging(0, end if visible is None else MAX_SCANNED)
            result = await self.store.index.search(query.query, query_params=query.params)
            found = waiting + [_from_doc(doc) for doc in result.docs]
            indexed_total = int(result.total)
        if visible is not None:
            found = [m for m in found if visible(m)]
        unique = list({m.memory_id: m for m in reversed(found)}.values())
        unique.sort(key=lambda m: getattr(m, listing.sort_by), reverse=listing.descending)
        if (listing.search_content and vector is not None) or visible is not None:
            return unique[start:end], len(unique)
        return unique[start:end], indexed_total + len(waiting)

    async def _search(self, expression: FilterExpression, words: str,
                      vector: bytes) -> list[Memory]:
        """What a search finds: ranked by meaning and words together, the memories holding
        a word of the query and those about as close in meaning as the best."""
        ranked = await self.store.rank(expression, vector, words, SEARCH_CANDIDATES)
        best = max((m.similarity or 0.0 for m in ranked), default=0.0)
        floor = max(ABSOLUTE_FLOOR, best * RELATIVE_FLOOR)
        return [m for m in ranked if m.by_words or (m.similarity or 0.0) >= floor]

    async def topics(self, principal: Principal, user_id: str | None) -> list[str]:
        principal.check_user(user_id, write=False)
        visible = _visibility(principal)
        query = FilterQuery(filter_expression=self._filter(user_id),
                            return_fields=["tags", "agent_id"], num_results=MAX_SCANNED)
        seen: set[str] = set()
        for hit in await self.store.index.query(query):
            if visible is None or _visible_owner(principal, str(hit.get("agent_id", ""))):
                seen.update(split_tags(hit.get("tags")))
        for memory in await self._waiting(user_id):
            if visible is None or visible(memory):
                seen.update(memory.tags)
        return sorted(seen)

    async def stats(self, principal: Principal, user_id: str | None) -> list[UserStats]:
        """Per user: how many memories, and when the newest changed; most recent first
        (at most MAX_STATS_ROWS users). A tenant key asks for one user of its own."""
        principal.check_user(user_id, write=False)
        if _visibility(principal) is not None:
            return await self._stats_in_scope(principal, user_id)
        request = AggregateRequest(str(self._filter(user_id))).group_by(
            "@user_id", reducers.count().alias("total"),
            reducers.max("@updated_ts").alias("last"),
        # redis-py annotates sort_by's fields as strings; it takes Asc/Desc as well.
        ).sort_by(Desc("@last"), Asc("@user_id")).limit(  # type: ignore[arg-type]
            0, MAX_STATS_ROWS)
        result = await aggregate(self.redis, request)
        totals: dict[str, tuple[int, float | None]] = {}
        for row in result.rows:
            fields = {text(k): text(v) for k, v in zip(row[::2], row[1::2], strict=True)}
            if fields.get("user_id"):
                last = fields.get("last")
                totals[fields["user_id"]] = (int(fields["total"]),
                                             float(last) if last else None)
        for memory in await self._waiting(user_id):
            if memory.user_id:
                count, latest = totals.get(memory.user_id, (0, None))
                totals[memory.user_id] = (count + 1, max(latest or 0.0, memory.updated_at))
        rows = [UserStats(user, count, last) for user, (count, last) in totals.items()]
        rows.sort(key=lambda row: (-(row.last_memory_updated_at or 0.0), row.user_id))
        return rows


    async def _stats_in_scope(self, principal: Principal, user_id: str | None) -> list[UserStats]:
        """A tenant key's stats (of its one user): only the memories it may see count."""
        query = FilterQuery(filter_expression=self._filter(user_id),
                            return_fields=["agent_id", "user_id", "updated_ts"],
                            num_results=MAX_SCANNED)
        count, last = 0, None
        for hit in await self.store.index.query(query):
            if _visible_owner(principal, str(hit.get("agent_id", ""))):
                count += 1
                last = max(last or 0.0, float(hit.get("updated_ts") or 0.0))
        for memory in await self._waiting(user_id):
            if _visible_owner(principal, memory.agent_id):
                count += 1
                last = max(last or 0.0, memory.updated_at)
        return [UserStats(user_id, count, last)] if user_id and count else []


def _visible_owner(principal: Principal, owner: str) -> bool:
    """A user's own space, or an agent the key covers."""
    return owner.startswith(keys.USER_OWNER_PREFIX) or principal.covers_agent(owner)


def _visibility(principal: Principal) -> Callable[[Memory], bool] | None:
    """What a key may see of users' memories: everything (None) for an admin, else those in
    a user's own space or of an agent its scope covers."""
    if principal.admin:
        return None
    return lambda memory: _visible_owner(principal, memory.agent_id)


def _from_doc(doc: Any) -> Memory:
    """A redis-py search result document (fields as attributes)."""
    return Memory.from_hash({name: getattr(doc, name, None) for name in HASH_FIELDS})
