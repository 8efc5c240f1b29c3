"""The nightly memory-policy sweep: the scheduler queues it once per UTC day at the set time
(leader only), and the job applies every agent's policy, paging through its memories; the
purge deletes what expired before its window. In-process against the real Redis, with
chosen times."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from redisvl.index import AsyncSearchIndex
from rq.job import Job

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.connection import connect_async
from memanto_redis.shared.memory.edits import MemoryEditor
from memanto_redis.shared.memory.policy_sweep import PolicyStore, PolicySweeper
from memanto_redis.shared.memory.store import MemoryStore
from memanto_redis.shared.schedule.leader import Leadership
from memanto_redis.workers import policy_sweep
from memanto_redis.workers.scheduler import Nightly
from tests.conftest import ADMIN, new_agent
from tests.support import import_indexed

DAY = 86_400


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _clear_markers(r) -> None:
    for key in r.scan_iter(match=keys.POLICY_SWEEP_DAY_PREFIX + "*"):
        r.delete(key)


def test_the_sweep_is_queued_once_a_day_at_its_time(r, queue):
    _clear_markers(r)
    nightly = Nightly(r, queue, "03:30")
    assert not nightly.tick(now=_at("2031-05-01T03:29:59"))
    assert nightly.tick(now=_at("2031-05-01T03:30:00"))
    assert not nightly.tick(now=_at("2031-05-01T04:00:00"))
    # A second scheduler (or this one restarted) finds the day's sweep queued already.
    assert not Nightly(r, queue, "03:30").tick(now=_at("2031-05-01T23:59:00"))
    job = Job.fetch("memanto-policy-sweep-2031-05-01", connection=r)
    assert job.func_name == "memanto_redis.workers.policy_sweep.sweep_policies"
    assert queue.job_ids == [job.id]
    # Down at the next slot: the day's sweep is queued as soon as the scheduler is back.
    assert nightly.tick(now=_at("2031-05-02T11:00:00"))
    assert len(queue.job_ids) == 2
    assert not Nightly(r, queue, "off").tick(now=_at("2031-05-03T12:00:00"))
    _clear_markers(r)


def test_only_the_leader_queues_the_sweep(r, queue):
    _clear_markers(r)
    leading = Leadership(r, keys.SCHEDULER_LEADER, 5000)
    standby = Leadership(r, keys.SCHEDULER_LEADER, 5000)
    assert leading.hold() and not standby.hold()
    assert not Nightly(r, queue, "03:00", standby).tick(now=_at("2031-06-01T05:00:00"))
    assert Nightly(r, queue, "03:00", leading).tick(now=_at("2031-06-01T05:00:00"))
    assert len(queue.job_ids) == 1
    leading.release()
    _clear_markers(r)


def _lifecycles(r, agent_id: str, ids: list[str]) -> list[str]:
    return [r.hget(keys.memory(agent_id, i), "lifecycle").decode() for i in ids]


def test_the_job_applies_every_agents_policy(client, indexer, r, settings):
    now = time.time()
    swept, untouched = new_agent(client), new_agent(client)
    old = import_indexed(client, indexer, swept.agent_id, [
        {"content": f"Context note {i}", "type": "context", "created_at": now - 20 * DAY - i}
        for i in range(5)])
    young = import_indexed(client, indexer, swept.agent_id, [
        {"content": "Fresh context", "type": "context", "created_at": now - DAY}])
    others = import_indexed(client, indexer, untouched.agent_id, [
        {"content": "Old context elsewhere", "type": "context", "created_at": now - 20 * DAY}])
    assert client.post(f"/api/v2/agents/{swept.agent_id}/policy/preset",
                       json={"name": "balanced"}, headers=ADMIN).status_code == 200

    expired = asyncio.run(policy_sweep.sweep(settings, now))
    assert expired[swept.agent_id] == 5 and untouched.agent_id not in expired
    assert _lifecycles(r, swept.agent_id, old) == ["expired"] * 5
    assert _lifecycles(r, swept.agent_id, young) == ["active"]
    assert _lifecycles(r, untouched.agent_id, others) == ["active"]
    assert asyncio.run(policy_sweep.sweep(settings, now))[swept.agent_id] == 0


async def _sweeper(redis_url: str, page: int) -> tuple[PolicySweeper, object]:
    redis = await connect_async(redis_url)
    index = await AsyncSearchIndex.from_existing(keys.MEMORY_INDEX, redis_client=redis)
    store = MemoryStore(redis, index, 0)
    return PolicySweeper(store, MemoryEditor(redis, index), PolicyStore(redis), page), redis


def test_sweeps_page_through_many_memories_and_purge_after_the_window(client, indexer, r,
                                                                        redis_url):
    now = time.time()
    agent = new_agent(client)
    # Identical creation times across page boundaries: keyset paging must still see each.
    ids = import_indexed(client, indexer, agent.agent_id, [
        {"content": f"Scratch {i}", "type": "event", "tags": ["scratch"],
         "created_at": now - 10 * DAY - (i // 4)} for i in range(11)])
    keep = import_indexed(client, indexer, agent.agent_id, [
        {"content": "Recent event", "type": "event", "created_at": now - 2 * DAY}])
    assert client.put(f"/api/v2/agents/{agent.agent_id}/policy",
                      json={"rules": [{"name": "scratch", "match": {"tags": ["scratch"]},
                                       "expire_after": "3d"}],
                            "purge_expired_after": "30d"},
                      headers=ADMIN).status_code == 200

    async def run(step) -> tuple:
        sweeper, redis = await _sweeper(redis_url, page=3)
        try:
            return await step(sweeper)
        finally:
            await sweeper.store.close()
            await redis.aclose()

    async def apply(sweeper: PolicySweeper) -> tuple:
        return (await sweeper.apply(agent.agent_id, now, dry_run=True),
                await sweeper.apply(agent.agent_id, now))

    dry, done = asyncio.run(run(apply))
    assert (dry.matched, dry.done, done.matched, done.done) == (11, 0, 11, 11)
    assert {m.memory_id for m, _ in done.memories} == set(ids)
    assert _lifecycles(r, agent.agent_id, ids + keep) == ["expired"] * 11 + ["active"]
    stamp = r.hmget(keys.memory(agent.agent_id, ids[0]), "expired_by", "expired_at")
    assert stamp[0] == b"scratch" and abs(float(stamp[1]) - time.time()) < 60

    async def purge(sweeper: PolicySweeper) -> tuple:
        return (await sweeper.purge(agent.agent_id, now + 29 * DAY),
                await sweeper.purge(agent.agent_id, now + 31 * DAY, dry_run=True))

    # Expired "now": 29 days on it is kept, 31 days on it is purged (a dry run first).
    soon, late_dry = asyncio.run(run(purge))
    assert (soon.matched, soon.done) == (0, 0)
    assert (late_dry.matched, late_dry.done) == (11, 0)
    assert r.exists(keys.memory(agent.agent_id, ids[0]))
    late = asyncio.run(run(lambda sweeper: sweeper.purge(agent.agent_id, now + 31 * DAY)))
    assert (late.matched, late.done) == (11, 11)
    assert not any(r.exists(keys.memory(agent.agent_id, i)) for i in ids)
    assert r.exists(keys.memory(agent.agent_id, keep[0]))


def test_a_new_deployment_has_nothing_to_sweep(own_redis, settings):
    """The first start queues the day's sweep at once (its time has passed), before any
    web process made the index: with no policy set, the job ends quietly."""
    fresh = settings.varied(redis_url=own_redis.url)
    assert asyncio.run(policy_sweep.sweep(fresh, time.time())) == {}
