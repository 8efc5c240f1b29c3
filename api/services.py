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
from shared.memories import MemoryStore
from shared.memory_edits import MemoryEditor
from shared.redis_conn import connect_async
from shared.schema import ensure_index_async
from shared.sessions import SessionStore
from shared.tokens import TokenSigner


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
    editor: MemoryEditor

    async def embed(self, text: str) -> bytes:
        # The model is CPU-bound: keep it off the event loop that serves the writes.
        return await asyncio.to_thread(self.vectorizer.embed, text, as_buffer=True)

    async def close(self) -> None:
        await self.redis.aclose()


async def build(settings: Settings, vectorizer: Any = None) -> Services:
    settings.require_secrets()
    redis = await connect_async(settings.redis_url, wait_seconds=30)
    if vectorizer is None:
        vectorizer = await asyncio.to_thread(load_vectorizer, settings.embed_model)
        # The model's millions of objects would make every GC pass slow and the door's
        # tail latency with it; they live as long as the process, so freeze them.
        gc.freeze()
    index = await ensure_index_async(redis, vectorizer.dims)
    signer = TokenSigner(settings.jwt_secret)
    return Services(
        settings=settings,
        redis=redis,
        vectorizer=vectorizer,
        api_keys=ApiKeys(redis, settings.api_key),
        signer=signer,
        agents=AgentStore(redis),
        sessions=SessionStore(redis, signer, settings.session_hours),
        memories=MemoryStore(redis, index, settings.max_backlog),
        editor=MemoryEditor(redis, index),
    )
