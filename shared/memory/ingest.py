"""The ingest pipeline's core: read a batch from the stream, embed it, index and ack it.

Delivery is at least once; indexing is idempotent by memory id because a memory is only
written while its queued record exists, and the write removes that record atomically.
Failures are counted by the stream itself (each claim raises the delivery count), so a
worker that crashes on an entry and one that raises on it are treated alike.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

from memanto_redis.shared.errors import Busy
from memanto_redis.shared.infra import keys, scripts
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.memory.record import Memory

log = logging.getLogger("memanto.ingest")

# A stream entry's fields, and XREADGROUP's answer, as the client hands them back (bytes:
# the client does not decode responses).
RawFields = dict[bytes, bytes]
StreamReply = list[tuple[bytes, list[tuple[bytes, RawFields]]]] | None


@dataclass
class Entry:
    entry_id: str
    fields: dict[str, str]
    record: Memory | None = None
    error: str | None = None

    @property
    def memory_id(self) -> str | None:
        return self.fields.get("id")

    @property
    def agent_id(self) -> str | None:
        return self.fields.get("agent")


# An entry whose record decoded, with that record.
Decoded = tuple[Entry, Memory]


def decode_entry(entry_id: bytes | str, raw: RawFields | None) -> Entry:
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    fields = {k.decode(): v.decode("utf-8", "replace") for k, v in (raw or {}).items()}
    entry = Entry(entry_id, fields)
    try:
        record = Memory.from_json(fields["data"])
        if record.memory_id != entry.memory_id or record.agent_id != entry.agent_id:
            raise ValueError("record does not match its stream entry")
        entry.record = record
    except Exception as exc:  # whatever a record holds, it fails alone
        entry.error = f"malformed stream entry: {exc}"
    return entry


def flat(fields: Mapping[Any, Any]) -> list[Any]:
    """A mapping as the field/value arguments of a script."""
    return [item for pair in fields.items() for item in pair]


def wait(seconds: float, should_stop: Callable[[], bool]) -> None:
    """Sleep `seconds`, or less once told to stop (looked at every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not should_stop():
        time.sleep(0.05)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Indexer:
    """One consumer of the ingest stream's group."""

    def __init__(
        self,
        client: redis.Redis,
        embed_many: Callable[[list[str]], list[bytes]],
        *,
        batch_size: int = 64,
        block_ms: int = 500,
        claim_idle_ms: int = 15_000,
        max_deliveries: int = 5,
        consumer: str | None = None,
    ) -> None:
        self.redis = client
        self.embed_many = embed_many
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.consumer = consumer or consumer_name()
        self._index_memory = client.register_script(scripts.INDEX_MEMORY)
        self._mark_failed = client.register_script(scripts.MARK_FAILED)
        self._next_claim = 0.0
        self._should_stop: Callable[[], bool] = lambda: False
        self.indexed = 0

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(keys.INGEST_STREAM, keys.INGEST_GROUP, id="0",
                                     mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- one turn of the loop: claim stale or read new -> process -------------------------

    def run_once(self, block: bool = True) -> int:
        """Process one batch; returns how many entries it handled."""
        entries = self.claim_stale()
        if not entries:
            entries = self.read_new(block)
        if entries:
            self.process(entries)
        return len(entries)

    def run(self, should_stop: Callable[[], bool] = lambda: False, burst: bool = False) -> None:
        """Loop until told to stop, or (burst) until the stream has nothing new."""
        self._should_stop = should_stop
        grouped = False
        while not should_stop():
            try:
                if not grouped:  # inside the loop: Redis may be away at this very moment
                    self.ensure_group()
                    grouped = True
                handled = self.run_once(block=not burst)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("Redis unavailable (%s); retrying in 1 s", exc)
                time.sleep(1)
                continue
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    self._survive(exc)
                    continue
                # The stream (and its group) was deleted under us: make them again.
                log.warning("ingest group missing; creating it again")
                self.ensure_group()
                continue
            except Exception as exc:
                self._survive(exc)
                continue
            if burst and handled == 0:
                return

    @staticmethod
    def _survive(exc: Exception) -> None:
        """Nothing an entry holds may end the loop: whatever escaped the per-entry handling
        is logged, and the loop goes on after a pause (the entry is retried, then
        dead-lettered)."""
        log.error("ingest turn failed: %s", exc, exc_info=exc)
        time.sleep(1)

    def leave(self) -> None:
        """Remove this consumer from the group on a clean stop, unless it still holds
        entries (those wait to be claimed by a live worker)."""
        try:
            consumers = self.redis.xinfo_consumers(keys.INGEST_STREAM, keys.INGEST_GROUP)
            mine = next((c for c in consumers if text(c["name"]) == self.consumer), None)
            if mine is not None and mine["pending"] == 0:
                self.redis.xgroup_delconsumer(keys.INGEST_STREAM, keys.INGEST_GROUP,
                                              self.consumer)
        except redis.RedisError as exc:  # stopping anyway; a stale name is harmless
            log.warning("could not leave the consumer group: %s", exc)

    def read_new(self, block: bool) -> list[Entry]:
        reply = cast(StreamReply, self.redis.xreadgroup(
            keys.INGEST_GROUP, self.consumer, {keys.INGEST_STREAM: ">"},
            count=self.batch_size, block=self.block_ms if block else None,
        ))
        return [decode_entry(eid, raw) for _, items in reply or [] for eid, raw in items]

    def claim_stale(self) -> list[Entry]:
        """Take over entries left pending too long: by a dead worker, or after a failure."""
        now = time.monotonic()
        if now < self._next_claim:
            return []
        self._next_claim = now + min(1.0, self.claim_idle_ms / 2000)
        pending = cast(list[dict[str, Any]], self.redis.xpending_range(
            keys.INGEST_STREAM, keys.INGEST_GROUP, min="-", max="+",
            count=self.batch_size, idle=self.claim_idle_ms,
        ))
        if not pending:
            return []
        exhausted = [p for p in pending if p["times_delivered"] >= self.max_deliveries]
        retry = [p["message_id"] for p in pending if p["times_delivered"] < self.max_deliveries]
        for p in exhausted:
            self.dead_letter(p["message_id"], p["times_delivered"])
        if not retry:
            return []
        claimed = cast(list[tuple[bytes, RawFields | None]], self.redis.xclaim(
            keys.INGEST_STREAM, keys.INGEST_GROUP, self.consumer, self.claim_idle_ms, retry))
        entries = [decode_entry(eid, raw) for eid, raw in claimed if raw]
        gone = set(map(text, retry)) - {e.entry_id for e in entries}
        if gone:  # trimmed from under the group: nothing left to index
            self.redis.xack(keys.INGEST_STREAM, keys.INGEST_GROUP, *gone)
        if entries:
            log.info("claimed %d stale entries", len(entries))
        return entries

    # -- process: embed -> commit, or note the failure ------------------------------------

    def process(self, entries: list[Entry]) -> None:
        for entry in entries:
            if entry.error:
                self.note_failure(entry.entry_id, entry.error)
        good = self.drop_stale([(e, e.record) for e in entries if e.record is not None])
        if not good:
            return
        try:
            vectors = self.embed_waiting(good)
            if vectors is None:  # stopped while waiting: the entries stay pending
                return
        except Exception as exc:  # the model may raise anything; find the culprit alone
            log.warning("batch embedding failed (%s); embedding one at a time", exc)
            self.process_one_by_one(good)
            return
        self.commit([(entry, memory, vector)
                     for (entry, memory), vector in zip(good, vectors, strict=True)])

    def embed_waiting(self, entries: list[Decoded]) -> list[bytes] | None:
        """The entries' vectors. While the embedding service is away (Busy), no entry is at
        fault: the batch is held (re-claimed without counting a delivery, so no other worker
        takes it and nothing is dead-lettered for it) and retried, until it answers or the
        worker is told to stop (None)."""
        pause = 0.5
        while True:
            try:
                return self.embed_many([memory.content for _, memory in entries])
            except Busy as exc:
                if self._should_stop():
                    return None
                log.warning("%s; holding %d entries, retrying in %.1f s", exc, len(entries),
                            pause)
                self.redis.xclaim(keys.INGEST_STREAM, keys.INGEST_GROUP, self.consumer, 0,
                                  [entry.entry_id for entry, _ in entries], justid=True)
                wait(pause, self._should_stop)
                pause = min(pause * 2, 2.0)

    def drop_stale(self, entries: list[Decoded]) -> list[Decoded]:
        """Ack, without embedding them, entries whose memory was deleted, indexed already or
        edited since (embedding is the expensive step; the index script checks again)."""
        if not entries:
            return entries
        with self.redis.pipeline(transaction=False) as pipe:
            for _, memory in entries:
                pipe.hget(keys.queued(memory.agent_id, memory.memory_id), "version")
            held = pipe.execute()
        fresh: list[Decoded] = []
        stale: list[str] = []
        for (entry, memory), version in zip(entries, held, strict=True):
            if version is not None and int(version) == memory.version:
                fresh.append((entry, memory))
            else:
                stale.append(entry.entry_id)
        if stale:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(keys.INGEST_STREAM, keys.INGEST_GROUP, *stale)
                pipe.xdel(keys.INGEST_STREAM, *stale)
                pipe.hdel(keys.INGEST_ERRORS, *stale)
                pipe.execute()
        return fresh

    def process_one_by_one(self, entries: list[Decoded]) -> None:
        done = []
        for entry, memory in entries:
            try:
                done.append((entry, memory, self.embed_many([memory.content])[0]))
            except Exception as exc:
                self.note_failure(entry.entry_id, f"embedding failed: {exc}")
        self.commit(done)

    def commit(self, embedded: list[tuple[Entry, Memory, bytes]]) -> None:
        """Write each vector and document, ack and delete its entry: one script per entry,
        all in one round trip. An entry that cannot be shaped or written fails alone."""
        if not embedded:
            return
        now = time.time()
        sent: list[Entry] = []
        with self.redis.pipeline(transaction=False) as pipe:
            for entry, memory, vector in embedded:
                try:
                    fields = flat(memory.to_document(vector, now))
                except Exception as exc:  # a record that decoded but cannot be shaped
                    self.note_failure(entry.entry_id, f"cannot index the record: {exc}")
                    continue
                self._index_memory(
                    keys=[keys.queued(memory.agent_id, memory.memory_id),
                          keys.memory(memory.agent_id, memory.memory_id),
                          keys.INGEST_STREAM, keys.INGEST_ERRORS,
                          keys.pending(memory.agent_id)],
                    args=[keys.INGEST_GROUP, entry.entry_id, memory.version, memory.memory_id,
                          *fields],
                    client=pipe,
                )
                sent.append(entry)
            replies = pipe.execute(raise_on_error=False) if sent else []
        for entry, reply in zip(sent, replies, strict=True):
            if isinstance(reply, redis.ConnectionError | redis.TimeoutError):
                raise reply
            if isinstance(reply, Exception):
                self.note_failure(entry.entry_id, f"cannot index the record: {reply}")
            elif reply:
                self.indexed += 1

    def note_failure(self, entry_id: str, error: str) -> None:
        """Leave the entry pending; it is retried once idle, and dead-lettered in time."""
        log.warning("entry %s failed: %s", entry_id, error)
        self.redis.hset(keys.INGEST_ERRORS, entry_id, error[:2000])

    def dead_letter(self, entry_id: bytes | str, deliveries: int) -> None:
        entry_id = text(entry_id)
        found = cast(list[tuple[bytes, RawFields]],
                     self.redis.xrange(keys.INGEST_STREAM, entry_id, entry_id))
        raw = found[0][1] if found else {}
        entry = decode_entry(entry_id, raw)
        noted = cast(bytes | None, self.redis.hget(keys.INGEST_ERRORS, entry_id))
        error = text(noted or b"") or (
            f"worker died {deliveries} times while processing it")
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.DEAD_LETTER_STREAM, {
                "entry_id": entry_id, "id": entry.memory_id or "", "agent": entry.agent_id or "",
                "data": entry.fields.get("data", ""), "error": error,
                "deliveries": deliveries,
            })
            if entry.memory_id and entry.agent_id:
                self._mark_failed(keys=[keys.queued(entry.agent_id, entry.memory_id)],
                                  args=[error], client=pipe)
            pipe.xack(keys.INGEST_STREAM, keys.INGEST_GROUP, entry_id)
            pipe.xdel(keys.INGEST_STREAM, entry_id)
            pipe.hdel(keys.INGEST_ERRORS, entry_id)
            pipe.execute()
        log.error("entry %s dead-lettered after %d deliveries: %s", entry_id, deliveries, error)


def redrive(client: redis.Redis, limit: int = 1000) -> int:
    """Send dead-lettered entries back to the ingest stream (an operator's decision, once
    the cause is fixed); their memories read as queued again. Returns how many."""
    moved = 0
    letters = cast(list[tuple[bytes, RawFields]], client.xrange(keys.DEAD_LETTER_STREAM,
                                                                count=limit))
    for dead_id, raw in letters:
        fields = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
        memory_id, agent_id = fields.get("id") or "", fields.get("agent") or ""
        with client.pipeline(transaction=True) as pipe:
            # The queued record is the memory as accepted: rebuild the entry from it.
            queued = keys.queued(agent_id, memory_id)
            data = cast(bytes | None, client.hget(queued, "data")) if (
                memory_id and agent_id) else None
            if data is not None:
                pipe.hset(queued, "status", "queued")
                pipe.hdel(queued, "error")
                pipe.xadd(keys.INGEST_STREAM, {"id": memory_id, "agent": agent_id,
                                               "data": data})
                moved += 1
            # A memory deleted meanwhile has nothing left to index: its letter just goes.
            pipe.xdel(keys.DEAD_LETTER_STREAM, dead_id)
            pipe.execute()
    return moved
