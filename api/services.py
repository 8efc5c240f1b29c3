"""The resources one web process holds, built once in the lifespan.

Everything but the embedding model is ready within a second of start. The model (torch and
its weights: tens of seconds on a busy machine) loads in a thread meanwhile, so the door
takes writes, reads by id, lists and keyword searches at once; only what needs an embedding
answers 503 with `Retry-After` until it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from dataclasses import dataclass
from typing import Any

from memanto_redis.shared.agent_memory.ltm import LongTermMemory
from memanto_redis.shared.agent_memory.stm import ShortTermMemory
from memanto_redis.shared.agent_memory.swarm import SwarmStore, ensure_swarm_index
from memanto_redis.shared.agents import AgentStore
from memanto_redis.shared.auth.apikeys import ApiKeys
from memanto_redis.shared.auth.sessions import SessionStore
from memanto_redis.shared.auth.tokens import TokenSigner
from memanto_redis.shared.errors import Busy
from memanto_redis.shared.infra.connection import connect_async
from memanto_redis.shared.infra.embeddings import (
    QueryCache,
    folder_dims,
    load_vectorizer,
    model_path,
)
from memanto_redis.shared.infra.remote_embeddings import RemoteVectorizer
from memanto_redis.shared.infra.settings import ConfigError, Settings
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.erasure import Eraser
from memanto_redis.shared.memory.quotas import WriteQuota
from memanto_redis.shared.memory.schema import ensure_index_async
from memanto_redis.shared.memory.store import MemoryStore
from memanto_redis.shared.memory.user_memories import UserMemories
from memanto_redis.shared.schedule import egress
from memanto_redis.shared.schedule.inbox import Inbox
from memanto_redis.shared.schedule.store import ScheduleStore


class ModelLoading(Busy):
    """The embedding model is not loaded yet."""

    retry_after = 2


class EmbeddingModel:
    """The web process's vectorizer, possibly still loading. `dims` is known from the start
    (the indexes need it); `embed` raises ModelLoading until the model is there."""

    def __init__(self, name: str, threads: int, dims: int | None = None,
                 vectorizer: Any = None) -> None:
        self.name = name
        self.threads = threads
        self.vectorizer = vectorizer
        self.dims = vectorizer.dims if vectorizer is not None else dims
        self.cache = QueryCache()

    @property
    def ready(self) -> bool:
        return self.vectorizer is not None

    async def embed(self, text: str) -> bytes:
        if self.vectorizer is None:
            raise ModelLoading("the embedding model is still loading; retry in a few seconds")
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        vector: bytes
        if isinstance(self.vectorizer, RemoteVectorizer):  # a service: awaited, no thread
            vector = await self.vectorizer.aembed(text, as_buffer=True)
        else:  # the model is CPU-bound: keep it off the event loop that serves the writes
            vector = await asyncio.to_thread(self.vectorizer.embed, text, as_buffer=True)
        self.cache.put(text, vector)
        return vector

    async def problem(self) -> str | None:
        """Why recall cannot be served now (for /ready), or None."""
        if not self.ready:
            return "the embedding model is still loading"
        if isinstance(self.vectorizer, RemoteVectorizer):
            return await self.vectorizer.acheck()
        return None

    async def close(self) -> None:
        if isinstance(self.vectorizer, RemoteVectorizer):
            await self.vectorizer.aclose()

    async def load(self) -> float:
        """Load the model in a thread of its own; returns the seconds it took. A daemon
        thread, unlike asyncio's executor, does not hold up the process's exit when it is
        stopped while still loading."""
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        loaded: asyncio.Future[Any] = loop.create_future()

        def work() -> None:
            try:
                result: Any = load_vectorizer(self.name, self.threads)
            except BaseException as exc:  # handed to the loop, which raises it in load()
                result = exc
            # RuntimeError: the loop closed meanwhile, as the process stops.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, loaded, result)

        threading.Thread(target=work, name="load-model", daemon=True).start()
        vectorizer = await loaded
        if self.dims is not None and vectorizer.dims != self.dims:
            raise ConfigError(f"MEMANTO_EMBED_MODEL={self.name!r} makes {vectorizer.dims}-"
                              f"dimensional vectors, its folder says {self.dims}")
        # The model's millions of objects would make every GC pass slow and the door's
        # tail latency with it; they live as long as the process, so freeze them.
        gc.freeze()
        self.vectorizer = vectorizer
        self.dims = vectorizer.dims
        return time.monotonic() - started


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if future.cancelled():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


async def start_model(settings: Settings, vectorizer: Any = None) -> EmbeddingModel:
    """The model, ready when given; else its loading is left to the caller when its size is
    known from its folder, and waited for here when it is not."""
    if vectorizer is not None:
        return EmbeddingModel(settings.embed_model, settings.web_embed_threads,
                              vectorizer=vectorizer)
    if settings.embeddings_url:
        # A service: nothing to load. Its size is asked of it now unless
        # MEMANTO_EMBEDDINGS_DIMS gives it; then the web starts even while it is away.
        remote = RemoteVectorizer.from_settings(settings, discover=False)
        await remote.adiscover()
        return EmbeddingModel(settings.embed_model, settings.web_embed_threads,
                              vectorizer=remote)
    # A model that is not there is a ConfigError now, before anything is served.
    dims = folder_dims(model_path(settings.embed_model))
    model = EmbeddingModel(settings.embed_model, settings.web_embed_threads, dims)
    if dims is None:
        await model.load()
    return model


@dataclass
class Services:
    settings: Settings
    redis: Any
    model: EmbeddingModel
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
    eraser: Eraser

    async def embed(self, text: str) -> bytes:
        """`text`'s vector; ModelLoading (503, Retry-After) while the model loads."""
        return await self.model.embed(text)

    async def close(self) -> None:
        await self.inbox.close()
        await self.memories.close()
        await self.model.close()
        await self.redis.aclose()


async def build(settings: Settings, vectorizer: Any = None) -> Services:
    settings.require_secrets()
    redis = await connect_async(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    try:
        model = await start_model(settings, vectorizer)
        assert model.dims is not None
        index = await ensure_index_async(redis, model.dims)
        swarm_index = await ensure_swarm_index(redis, model.dims)
    except BaseException:
        await redis.aclose()
        raise
    signer = TokenSigner(settings.jwt_secret)
    memories = MemoryStore(redis, index, settings.max_backlog, settings.idempotency_seconds,
                           WriteQuota(settings.write_rate, settings.write_burst,
                                      settings.max_memories))
    editor = MemoryEditor(redis, index, settings.max_backlog, settings.versions_kept)
    stm = ShortTermMemory(redis, settings.stm_max_entries, settings.stm_idle_seconds,
                          settings.max_stm_sessions)
    agents = AgentStore(redis, stm)
    return Services(
        settings=settings,
        redis=redis,
        model=model,
        api_keys=ApiKeys(redis, settings.api_key),
        signer=signer,
        agents=agents,
        sessions=SessionStore(redis, signer, settings.session_hours,
                              settings.session_max_hours),
        memories=memories,
        schedules=ScheduleStore(redis, settings.max_schedules,
                                egress.Allow.parse(settings.webhook_allow),
                                settings.schedule_min_interval),
        inbox=Inbox(redis, settings.redis_url, settings.inbox_max_waiters),
        editor=editor,
        stm=stm,
        swarm=SwarmStore(redis, swarm_index, settings.swarm_default_ttl,
                         settings.swarm_max_ttl, settings.max_swarm_facts),
        user_memories=UserMemories(redis, memories, editor, agents),
        ltm=LongTermMemory(redis, memories, editor, agents),
        eraser=Eraser(redis, agents),
    )
