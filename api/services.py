"""The resources one web process holds, built once in the lifespan."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from typing import Any

from memanto_redis.shared.agent_memory.ltm import LongTermMemory
from memanto_redis.shared.agent_memory.stm import ShortTermMemory
from memanto_redis.shared.agent_memory.swarm import SwarmStore, ensure_swarm_index
from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.auth.apikeys import ApiKeys
from memanto_redis.shared.auth.sessions import SessionStore
from memanto_redis.shared.auth.tokens import TokenSigner
from memanto_redis.shared.infra.connection import connect_async
from memanto_redis.shared.infra.embeddings import load_vectorizer
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.schema import ensure_index_async
from memanto_redis.shared.memory.store import MemoryStore
from memanto_redis.shared.memory.user_memories import UserMemories
from memanto_redis.shared.schedule.inbox import Inbox
from memanto_redis.shared.schedule.store import ScheduleStore


@dataclass
class Services:
    settings: Settings
    redis: Any
    vectorizer: Any
    api_keys: ApiKeys
    signer: TokenSigner
    agents: AgentStore
    sessions: SessionStore
    memories: MemoryStore
    schedules: ScheduleStore
    inbox: Inbox
    editor: MemoryEditor
    stm: ShortTermMemory
    swarm: SwarmStore
    user_memories: UserMemories
    ltm: LongTermMemory

    async def embed(self, text: str) -> bytes:
        # The model is CPU-bound: keep it off the event loop that serves the writes.
        return await asyncio.to_thread(self.vectorizer.embed, text, as_buffer=True)

    async def close(self) -> None:
        await self.inbox.close()
        await self.memories.close()
        await self.redis.aclose()


async def build(settings: Settings, vectorizer: Any = None) -> Services:
    settings.require_secrets()
    redis = await connect_async(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    if vectorizer is None:
        vectorizer = await asyncio.to_thread(load_vectorizer, settings.embed_model,
                                              settings.web_embed_threads)
        # The model's millions of objects would make every GC pass slow and the door's
        # tail latency with it; they live as long as the process, so freeze them.
        gc.freeze()
    index = await ensure_index_async(redis, vectorizer.dims)
    swarm_index = await ensure_swarm_index(redis, vectorizer.dims)
    signer = TokenSigner(settings.jwt_secret)
    memories = MemoryStore(redis, index, settings.max_backlog, settings.idempotency_seconds)
    editor = MemoryEditor(redis, index, settings.max_backlog)
    stm = ShortTermMemory(redis, settings.stm_max_entries, settings.stm_idle_seconds)
    agents = AgentStore(redis, stm)
    return Services(
        settings=settings,
        redis=redis,
        vectorizer=vectorizer,
        api_keys=ApiKeys(redis, settings.api_key),
        signer=signer,
        agents=agents,
        sessions=SessionStore(redis, signer, settings.session_hours),
        memories=memories,
        schedules=ScheduleStore(redis, settings.max_schedules),
        inbox=Inbox(redis, settings.redis_url, settings.inbox_max_waiters),
        editor=editor,
        stm=stm,
        swarm=SwarmStore(redis, swarm_index, settings.swarm_default_ttl,
                         settings.swarm_max_ttl),
        user_memories=UserMemories(redis, memories, editor, agents),
        ltm=LongTermMemory(redis, memories, editor, agents),
    )
