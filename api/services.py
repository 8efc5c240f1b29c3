"""The resources one web process holds, built once in the lifespan."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass
from typing import Any

from shared.agents import AgentStore
from shared.apikeys import ApiKeys
from shared.config import Settings
from shared.embeddings import load_vectorizer
from shared.inbox import Inbox
from shared.ltm import LongTermMemory
from shared.memories import MemoryStore
from shared.memory_edits import MemoryEditor
from shared.redis_conn import connect_async
from shared.schedules import ScheduleStore
from shared.schema import ensure_index_async
from shared.sessions import SessionStore
from shared.stm import ShortTermMemory
from shared.swarm import SwarmStore, ensure_swarm_index
from shared.tokens import TokenSigner
from shared.user_memories import UserMemories


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
    memories = MemoryStore(redis, index, settings.max_backlog)
    editor = MemoryEditor(redis, index)
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
