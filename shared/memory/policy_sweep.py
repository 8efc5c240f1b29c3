"""Where policies are kept, and the sweeps that apply them: `apply` expires the active
memories a policy matches, `purge` deletes those expired longer than its purge window.

A sweep pages through the agent's memories (newest first, keyset-paged as recall/all is,
so expiring or deleting along the way never skips one) and never holds more than a page;
it narrows the read to what could qualify (created before the shortest window ago: a
memory's age counts from its last change, which is never before its creation). Every
expiry goes through the editor, so it is a version in the memory's history as a manual one
is; a purge is the v2 DELETE (history kept, as MEMANTO's purge deletes the memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis
from redisvl.query import CountQuery

from memanto_redis.shared.errors import MemantoError
from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.memory import pending, temporal
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.filters import NO_FILTERS, Filters, live_filter
from memanto_redis.shared.memory.policy import MemoryPolicy
from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.memory.store import MemoryStore

# Memories read per round trip.
PAGE = 500
# Memories a report lists one by one (its counts always cover them all).
LISTED = 1000


class PolicyStore:
    """Policies as JSON in Redis, one per agent, and the set of agents that have one."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, agent_id: str) -> MemoryPolicy:
        """The agent's policy; the empty one when none is set."""
        raw = await self.redis.get(keys.policy(agent_id))
        return MemoryPolicy.model_validate_json(raw) if raw else MemoryPolicy()

    async def put(self, agent_id: str, policy: MemoryPolicy) -> str:
        """Replace the agent's policy; returns where it is kept."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.policy(agent_id), policy.model_dump_json(exclude_none=True))
            pipe.sadd(keys.POLICIES, agent_id)
            await pipe.execute()
        return keys.policy(agent_id)

    async def agents(self) -> AsyncIterator[str]:
        """Every agent with a policy, a few at a time."""
        async for member in self.redis.sscan_iter(keys.POLICIES, count=200):
            yield text(member)


@dataclass(slots=True)
class Report:
    """What a sweep or a purge found (`matched`) and did (`done`), with what it listed."""

    agent_id: str
    dry_run: bool
    evaluated_at: float
    matched: int = 0
    done: int = 0
    per_rule: dict[str, int] = field(default_factory=dict)
    memories: list[tuple[Memory, str]] = field(default_factory=list)  # with the reason
    errors: list[dict[str, str]] = field(default_factory=list)
    scanned: int = 0
    already_expired: int = 0

    def found(self, memory: Memory, reason: str) -> None:
        self.matched += 1
        self.per_rule[reason] = self.per_rule.get(reason, 0) + 1
        if len(self.memories) < LISTED:
            self.memories.append((memory, reason))


class PolicySweeper:
    """Applies policies to memories; takes the memory store, the editor and the policies."""

    def __init__(self, store: MemoryStore, editor: MemoryEditor, policies: PolicyStore,
                 page: int = PAGE) -> None:
        self.store = store
        self.editor = editor
        self.policies = policies
        self.page = page

    async def apply(self, agent_id: str, now: float, dry_run: bool = False,
                    policy: MemoryPolicy | None = None, counted: bool = True) -> Report:
        """Expire every active memory of the agent its policy says has had its time; with
        `counted`, the report says how many were active and already expired before."""
        policy = policy or await self.policies.get(agent_id)
        report = Report(agent_id, dry_run, now)
        if counted:
            report.scanned, report.already_expired = await self._counts(agent_id)
        shortest = policy.shortest_window()
        if shortest is None:
            return report
        # A memory can expire only by a rule or by its type's retention.
        types = [] if policy.rules else sorted(policy.retention)
        filters = Filters(types=types, created_before=now - shortest)
        async for memory in self._pages(agent_id, filters, "active"):
            reason = policy.verdict(memory, now)
            if reason is None:
                continue
            report.found(memory, reason)
            if not dry_run and await self._try(report, memory, self._expire(memory, reason)):
                report.done += 1
        return report

    async def purge(self, agent_id: str, now: float, dry_run: bool = False,
                    policy: MemoryPolicy | None = None) -> Report | None:
        """Delete the agent's memories expired longer ago than its purge window; None when
        its policy purges nothing."""
        window = (policy or await self.policies.get(agent_id)).purge_window
        if window is None:
            return None
        report = Report(agent_id, dry_run, now)
        cutoff = now - window
        # Expired after it was created, so created before the cutoff.
        async for memory in self._pages(agent_id, Filters(created_before=cutoff), "expired"):
            if expired_at(memory) > cutoff:
                continue
            report.found(memory, memory.expired_by or "")
            if not dry_run and await self._try(report, memory, self._delete(memory)):
                report.done += 1
        return report

    async def apply_all(self, now: float) -> dict[str, int]:
        """The nightly sweep: every agent with a policy; what each had expired."""
        expired: dict[str, int] = {}
        async for agent_id in self.policies.agents():
            policy = await self.policies.get(agent_id)
            if not policy.is_empty():
                # Nobody reads the nightly sweep's counts: not taken.
                report = await self.apply(agent_id, now, policy=policy, counted=False)
                expired[agent_id] = report.done
        return expired

    async def _pages(self, agent_id: str, filters: Filters, status: str
                     ) -> AsyncIterator[Memory]:
        cursor = None
        while True:
            page = await temporal.all_memories(self.store, agent_id, filters, self.page, status,
                                               cursor)
            for memory in page.memories:
                yield memory
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def _counts(self, agent_id: str) -> tuple[int, int]:
        """The agent's active and expired memories, indexed or waiting (read once)."""
        waiting = await pending.of_agent(self.store.redis, agent_id)
        counts = []
        for status in ("active", "expired"):
            indexed = await self.store.index.query(CountQuery(live_filter(agent_id, status)))
            counts.append(cast(int, indexed) + len(pending.matching(waiting, NO_FILTERS,
                                                                     status)))
        return counts[0], counts[1]

    async def _expire(self, memory: Memory, reason: str) -> None:
        # Stamped with the rule that expired it (expired_by), as MEMANTO's sweep does.
        await self.editor.set_lifecycle(memory.agent_id, memory.memory_id, "expired",
                                        reason=reason)

    async def _delete(self, memory: Memory) -> None:
        await self.editor.delete(memory.agent_id, memory.memory_id)

    @staticmethod
    async def _try(report: Report, memory: Memory, step: Awaitable[None]) -> bool:
        """Run one memory's change; a failure is reported for that memory, not the sweep's."""
        try:
            await step
        except MemantoError as exc:
            report.errors.append({"id": memory.memory_id, "error": exc.message})
            return False
        return True


def expired_at(memory: Memory) -> float:
    """When the memory expired: its stamp, else the change that expired it (its last)."""
    return memory.expired_at if memory.expired_at is not None else memory.updated_at
