"""The Indexer in process, against the real Redis and the real model."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import redis
from redis.commands.search.query import Query
from redisvl.query.filter import Tag

from memanto_redis.shared.infra import keys
from memanto_redis.shared.memory.ingest import Indexer
from tests.conftest import Agent, new_agent
from tests.support import memanto_in_process, service_env

DIMS = 384


def remember_many(client, agent: Agent, contents: list[str], chunk: int = 100) -> list[str]:
    """Queue memories through batch-remember; returns their ids in order."""
    ids: list[str] = []
    for start in range(0, len(contents), chunk):
        items = [{"content": c} for c in contents[start:start + chunk]]
        reply = client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember",
                            json={"memories": items}, headers=agent.headers)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["successful"] == len(items), body
        ids += [result["memory_id"] for result in body["results"]]
    return ids


def count_docs(r: redis.Redis, field: str, value: str) -> int:
    """How many documents the search index holds with this tag value."""
    query = Query(str(Tag(field) == value)).paging(0, 0)
    return r.ft(keys.MEMORY_INDEX).search(query).total


def pending_count(r: redis.Redis) -> int:
    return int(r.xpending(keys.INGEST_STREAM, keys.INGEST_GROUP)["pending"])


def get_memory(client, agent: Agent, memory_id: str):
    return client.get(f"/api/v2/agents/{agent.agent_id}/memories/{memory_id}",
                      headers=agent.headers)


def test_remembered_memory_is_indexed_with_its_embedding(client, indexer, r, vectorizer):
    agent = new_agent(client)
    content = "The user's favourite colour is teal"
    (mid,) = remember_many(client, agent, [content])
    assert r.exists(keys.queued(agent.agent_id, mid))
    assert get_memory(client, agent, mid).json()["status"] == "queued"
    assert r.xlen(keys.INGEST_STREAM) == 1

    indexer.run(burst=True)

    assert indexer.indexed == 1
    doc = r.hgetall(keys.memory(agent.agent_id, mid))
    assert doc[b"status"] == b"indexed"
    assert doc[b"memory_id"].decode() == mid
    assert doc[b"agent_id"].decode() == agent.agent_id
    assert doc[b"content"].decode() == content
    assert len(doc[b"embedding"]) == DIMS * 4
    stored = np.frombuffer(doc[b"embedding"], dtype=np.float32)
    expected = np.frombuffer(vectorizer.embed(content, as_buffer=True), dtype=np.float32)
    assert np.allclose(stored, expected, atol=1e-4)
    assert not r.exists(keys.queued(agent.agent_id, mid))
    assert r.sismember(keys.memory_ids(agent.agent_id), mid)
    # Acked and deleted: nothing left in the stream nor pending in the group.
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert pending_count(r) == 0
    assert not r.hlen(keys.INGEST_ERRORS)
    assert count_docs(r, "memory_id", mid) == 1
    assert get_memory(client, agent, mid).json()["status"] == "indexed"


def test_one_burst_indexes_many_batches(client, indexer, r):
    agent = new_agent(client)
    contents = [f"fact number {i}: the build server {i} runs nightly" for i in range(150)]
    ids = remember_many(client, agent, contents, chunk=75)
    assert len(set(ids)) == 150
    assert r.xlen(keys.INGEST_STREAM) == 150

    indexer.run(burst=True)

    assert indexer.indexed == 150
    assert count_docs(r, "agent_id", agent.agent_id) == 150
    with r.pipeline(transaction=False) as pipe:
        for mid in ids:
            pipe.hget(keys.memory(agent.agent_id, mid), "status")
            pipe.exists(keys.queued(agent.agent_id, mid))
        replies = pipe.execute()
    assert replies[0::2] == [b"indexed"] * 150
    assert replies[1::2] == [0] * 150
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert pending_count(r) == 0


def test_redelivered_entry_is_indexed_once(client, indexer, r):
    agent = new_agent(client)
    (mid,) = remember_many(client, agent, ["Deploys happen on Tuesdays"])
    ((_, original),) = r.xrange(keys.INGEST_STREAM)
    indexer.run(burst=True)
    assert indexer.indexed == 1
    doc_key = keys.memory(agent.agent_id, mid)
    first = r.hgetall(doc_key)

    # The same entry delivered again, as after a worker died before its ack landed.
    r.xadd(keys.INGEST_STREAM, original)
    indexer.run(burst=True)

    assert indexer.indexed == 1
    assert r.hgetall(doc_key) == first  # not rewritten: updated_at unchanged
    assert count_docs(r, "memory_id", mid) == 1
    assert count_docs(r, "agent_id", agent.agent_id) == 1
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert pending_count(r) == 0


def test_memory_deleted_before_indexing_is_not_written(client, indexer, r):
    agent = new_agent(client)
    kept, deleted = remember_many(client, agent, ["keep this one", "this one gets deleted"])
    r.delete(keys.queued(agent.agent_id, deleted))
    r.srem(keys.memory_ids(agent.agent_id), deleted)

    indexer.run(burst=True)

    assert indexer.indexed == 1
    assert r.hget(keys.memory(agent.agent_id, kept), "status") == b"indexed"
    assert not r.exists(keys.memory(agent.agent_id, deleted))
    assert count_docs(r, "memory_id", deleted) == 0
    assert get_memory(client, agent, deleted).status_code == 404
    # Its entry is done with all the same: acked, not left to be retried.
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert pending_count(r) == 0
    assert r.xlen(keys.DEAD_LETTER_STREAM) == 0


def test_poison_entry_is_dead_lettered_after_five_deliveries(client, indexer, r, redis_url,
                                                             capsys):
    agent = new_agent(client)
    (good,) = remember_many(client, agent, ["a healthy memory next to a poisoned one"])
    mid = str(uuid.uuid4())
    now = time.time()
    record = {
        "memory_id": mid, "agent_id": agent.agent_id,
        "namespace": f"memanto_agent_{agent.agent_id}", "session_id": agent.session_id,
        "content": "poisoned", "title": "poisoned", "type": "fact", "tags": [],
        "confidence": 0.8, "source": "agent", "provenance": "explicit_statement",
        "created_at": now, "updated_at": now, "lifecycle": "active", "version": 1,
        "event": "created",
    }
    # The queued record as the front door writes it; only the stream entry is corrupt.
    r.hset(keys.queued(agent.agent_id, mid),
           mapping={"data": json.dumps(record), "status": "queued", "version": 1})
    r.sadd(keys.memory_ids(agent.agent_id), mid)
    poison = r.xadd(keys.INGEST_STREAM,
                    {"id": mid, "agent": agent.agent_id, "data": "{not json"}).decode()

    processed_turns = 0
    deliveries_seen = []
    deadline = time.monotonic() + 15
    while not r.xlen(keys.DEAD_LETTER_STREAM):
        assert time.monotonic() < deadline, "the poison entry was never dead-lettered"
        handled = indexer.run_once(block=False)
        if handled:
            processed_turns += 1
            (info,) = r.xpending_range(keys.INGEST_STREAM, keys.INGEST_GROUP,
                                       min=poison, max=poison, count=1)
            deliveries_seen.append(info["times_delivered"])
        time.sleep(0.25)
    # Nothing more happens to it afterwards.
    time.sleep(0.25)
    assert indexer.run_once(block=False) == 0

    assert processed_turns == 5
    assert deliveries_seen == [1, 2, 3, 4, 5]
    assert indexer.indexed == 1
    assert r.hget(keys.memory(agent.agent_id, good), "status") == b"indexed"

    ((_, dead),) = r.xrange(keys.DEAD_LETTER_STREAM)
    dead = {k.decode(): v.decode() for k, v in dead.items()}
    assert dead["entry_id"] == poison
    assert dead["id"] == mid
    assert dead["agent"] == agent.agent_id
    assert dead["data"] == "{not json"
    assert dead["deliveries"] == "5"
    assert "malformed stream entry" in dead["error"]

    queued = r.hgetall(keys.queued(agent.agent_id, mid))
    assert queued[b"status"] == b"failed"
    assert queued[b"error"].decode() == dead["error"]
    reply = get_memory(client, agent, mid)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "failed"
    assert "malformed stream entry" in reply.json()["error"]
    assert not r.exists(keys.memory(agent.agent_id, mid))

    assert r.xrange(keys.INGEST_STREAM, poison, poison) == []
    assert r.xlen(keys.INGEST_STREAM) == 0

    # An operator re-drives it (`memanto redrive`): rebuilt from the queued record, it is
    # indexed this time, and the dead-letter stream is empty again.
    done = memanto_in_process(capsys, ["redrive"], service_env(redis_url))
    assert done.returncode == 0, done.stderr
    assert "Sent 1 dead-lettered entries back" in done.stdout
    assert r.xlen(keys.DEAD_LETTER_STREAM) == 0
    assert get_memory(client, agent, mid).json()["status"] == "queued"
    indexer.run(burst=True)
    indexed = get_memory(client, agent, mid).json()
    assert (indexed["status"], indexed["content"]) == ("indexed", "poisoned")
    assert pending_count(r) == 0
    assert not r.hexists(keys.INGEST_ERRORS, poison)


def test_entry_of_a_dead_consumer_is_reclaimed(client, indexer, r, redis_url, vectorizer):
    agent = new_agent(client)
    (mid,) = remember_many(client, agent, ["claimed from a consumer that died"])
    dead_client = redis.Redis.from_url(redis_url)
    try:
        dead = Indexer(dead_client, lambda texts: [], consumer="dead-consumer",
                       claim_idle_ms=200)
        dead.ensure_group()
        (entry,) = dead.read_new(block=False)
        assert entry.memory_id == mid
    finally:
        dead_client.close()
    (info,) = r.xpending_range(keys.INGEST_STREAM, keys.INGEST_GROUP, min="-", max="+",
                               count=10)
    assert info["consumer"] == b"dead-consumer"

    # Not idle long enough yet: the live consumer leaves it alone.
    indexer.run(burst=True)
    assert indexer.indexed == 0
    assert r.exists(keys.queued(agent.agent_id, mid))
    assert pending_count(r) == 1

    time.sleep(0.3)
    indexer.run(burst=True)

    assert indexer.indexed == 1
    assert r.hget(keys.memory(agent.agent_id, mid), "status") == b"indexed"
    assert not r.exists(keys.queued(agent.agent_id, mid))
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert pending_count(r) == 0
    assert r.xlen(keys.DEAD_LETTER_STREAM) == 0


def _queue_raw(r: redis.Redis, agent_id: str, record: dict) -> tuple[str, str]:
    """A record straight into the stream, as if the door had accepted it; (memory, entry)."""
    mid = record["memory_id"]
    data = json.dumps(record)
    r.hset(keys.queued(agent_id, mid), mapping={"data": data, "status": "queued", "version": 1})
    r.sadd(keys.memory_ids(agent_id), mid)
    entry = r.xadd(keys.INGEST_STREAM, {"id": mid, "agent": agent_id, "data": data})
    return mid, entry.decode()


def test_a_poison_record_fails_alone_and_the_other_agents_memory_in_its_batch_is_indexed(
        client, indexer, r):
    """The attack of the hostile-input issue: a record whose time is null (what NaN became
    on the way in) killed the worker on float(None), and after five crashes another
    agent's memory of the same batch was marked failed."""
    victim, attacker = new_agent(client, "victim"), new_agent(client, "attacker")
    now = time.time()
    base = {"namespace": "n", "session_id": "", "title": "t", "type": "fact", "tags": [],
            "confidence": 0.8, "source": "agent", "provenance": "imported",
            "lifecycle": "active", "version": 1, "event": "created"}
    poison, poison_entry = _queue_raw(r, attacker.agent_id, base | {
        "memory_id": str(uuid.uuid4()), "agent_id": attacker.agent_id, "content": "x",
        "created_at": None, "updated_at": None})
    (good,) = remember_many(client, victim, ["the victim's memory, accepted with a 200"])
    tagged, tagged_entry = _queue_raw(r, attacker.agent_id, base | {
        "memory_id": str(uuid.uuid4()), "agent_id": attacker.agent_id, "content": "y",
        "created_at": now, "tags": "not-a-list"})

    deadline = time.monotonic() + 20
    while r.xlen(keys.DEAD_LETTER_STREAM) < 2:
        assert time.monotonic() < deadline, "the poison entries were never dead-lettered"
        indexer.run_once(block=False)  # never raises: each entry fails alone
        time.sleep(0.25)

    assert get_memory(client, victim, good).json()["status"] == "indexed"
    dead = {fields[b"entry_id"].decode(): fields[b"error"].decode()
            for _, fields in r.xrange(keys.DEAD_LETTER_STREAM)}
    assert set(dead) == {poison_entry, tagged_entry}
    assert "malformed stream entry" in dead[poison_entry]
    assert "tags is not a list of strings" in dead[tagged_entry]
    for mid in (poison, tagged):
        assert r.hget(keys.queued(attacker.agent_id, mid), "status") == b"failed"
    assert r.xlen(keys.INGEST_STREAM) == 0
