"""One model call for many concurrent requests (what `memanto embed-server` serves with).

A model embeds 64 texts in one call much faster than in 64 calls, and the web processes ask
for one query at a time. Requests wait in an asyncio queue; one task takes the first, gathers
whatever else arrives within `max_wait` seconds (or is already waiting) up to `max_batch`
texts, embeds them all in one call in a thread (the event loop keeps accepting requests
meanwhile, which then form the next batch), and hands each request its own vectors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

Vectors = list[list[float]]


@dataclass
class BatchCounts:
    """What /health shows: requests served, texts embedded, and model calls made for them."""

    requests: int = 0
    texts: int = 0
    model_calls: int = 0
    largest_batch: int = 0


class Batcher:
    def __init__(self, embed_many: Callable[[list[str]], Vectors], max_batch: int = 64,
                 max_wait: float = 0.005) -> None:
        self.embed_many = embed_many
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.counts = BatchCounts()
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future[Vectors]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def embed(self, texts: list[str]) -> Vectors:
        """`texts`' vectors, embedded together with other requests' texts."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="embed-batcher")
        done: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, done))
        return await done

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            texts = [text for request, _ in batch for text in request]
            try:
                vectors = await asyncio.to_thread(self.embed_many, texts)
            except Exception as exc:  # the model's failure is each waiting request's
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self._count(len(batch), len(texts))
            start = 0
            for request, done in batch:
                if not done.done():  # its client may have gone meanwhile
                    done.set_result(vectors[start:start + len(request)])
                start += len(request)

    async def _gather(self) -> list[tuple[list[str], asyncio.Future[Vectors]]]:
        """The first waiting request, and those that join it in time and in size."""
        batch = [await self._queue.get()]
        size = len(batch[0][0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while size < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except TimeoutError:
                    break
            batch.append(item)
            size += len(item[0])
        return batch

    def _count(self, requests: int, texts: int) -> None:
        self.counts.requests += requests
        self.counts.texts += texts
        self.counts.model_calls += 1
        self.counts.largest_batch = max(self.counts.largest_batch, texts)
