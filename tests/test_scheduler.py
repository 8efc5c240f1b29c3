"""The clock, the lead and delivery, in-process against the real Redis, with fake times."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from rq import Queue
from rq.job import Job

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.schedule.leader import Leadership
from memanto_redis.shared.schedule.store import due_member
from memanto_redis.workers.jobs import Delivery, job_id
from memanto_redis.workers.scheduler import Clock
from tests.conftest import ADMIN, new_agent


@pytest.fixture
def queue(r):
    """A clean due set and job queue: other tests' schedules must not fire here."""
    r.delete(keys.SCHEDULES_DUE, keys.SCHEDULER_LEADER)
    q = Queue(keys.JOBS_QUEUE, connection=r)
    q.empty()
    yield q
    q.empty()
    r.delete(keys.SCHEDULES_DUE, keys.SCHEDULER_LEADER)


def schedule(client, r, agent_id: str, name: str, cron: str, **extra) -> int:
    body = {"name": name, "cron": cron, "prompt": f"prompt of {name}"} | extra
    assert client.post(f"/api/agents/{agent_id}/schedules", json=body,
                       headers=ADMIN).status_code == 201
    return int(r.hget(keys.schedule(agent_id, name), "next_run"))


def runs(r, agent_id: str, name: str) -> list[int]:
    return [int(s) for s in r.zrange(keys.schedule_runs(agent_id, name), 0, -1)]


def test_a_turn_fires_each_due_slot_once(client, r, queue):
    agent = new_agent(client)
    first = schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    clock = Clock(r, queue)
    assert clock.turn(now=first - 0.5) == 0
    assert clock.turn(now=first + 0.1) == 1
    assert clock.turn(now=first + 0.1) == 0
    assert runs(r, agent.agent_id, "tick") == [first]
    record = r.hgetall(keys.schedule(agent.agent_id, "tick"))
    assert (int(record[b"next_run"]), int(record[b"last_run"]), record[b"run_count"]) == (
        first + 2, first, b"1")
    assert r.zscore(keys.SCHEDULES_DUE, due_member(agent.agent_id, "tick")) == first + 2
    run = r.hgetall(keys.schedule_run(agent.agent_id, "tick", first))
    assert run[b"status"] == b"queued" and float(run[b"fired_at"]) == first + 0.1
    job = Job.fetch(job_id("fire", agent.agent_id, "tick", first), connection=r)
    assert job.args == (agent.agent_id, "tick", first)
    assert queue.job_ids == [job.id]
    assert 0.0 <= clock.pause(now=first + 0.1) <= 0.25


def test_after_downtime_each_missed_schedule_fires_once(client, r, queue):
    agent = new_agent(client)
    tick = schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    daily = schedule(client, r, agent.agent_id, "daily", "0 9 * * *")
    clock = Clock(r, queue)
    later = daily + 3 * 86400 + 5.5
    assert clock.turn(now=later) == 2
    assert clock.turn(now=later) == 0
    # The most recent missed slot fires, and the next fire is the first slot after now.
    assert runs(r, agent.agent_id, "daily") == [daily + 3 * 86400]
    assert int(r.hget(keys.schedule(agent.agent_id, "daily"), "next_run")) == daily + 4 * 86400
    assert runs(r, agent.agent_id, "tick") == [int(later) - int(later) % 2]
    assert int(r.hget(keys.schedule(agent.agent_id, "tick"), "next_run")) > later
    assert tick < later
    assert len(queue.job_ids) == 2


def test_two_clocks_racing_never_fire_a_slot_twice(client, r, redis_url, queue):
    agent = new_agent(client)
    names = [f"s{i}" for i in range(25)]
    starts = [schedule(client, r, agent.agent_id, name, "* * * * * *") for name in names]
    base = max(starts)
    steps = [base + i + 0.01 for i in range(6)]
    barrier = threading.Barrier(2)
    fired = [0, 0]

    def race(slot: int) -> None:
        client_ = redis.Redis.from_url(redis_url)
        clock = Clock(client_, Queue(keys.JOBS_QUEUE, connection=client_))
        for now in steps:
            barrier.wait()
            fired[slot] += clock.turn(now=now)
        client_.close()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    total = 0
    for name in names:
        stamps = runs(r, agent.agent_id, name)
        assert len(stamps) == len(set(stamps))
        assert int(r.hget(keys.schedule(agent.agent_id, name), "run_count")) == len(stamps)
        assert stamps[-1] == int(steps[-1])
        total += len(stamps)
    # Every fire either clock counted is one run record and one job: none twice.
    assert sum(fired) == total == len(set(queue.job_ids)) == len(queue.job_ids)
    assert total >= len(names) * (len(steps) - 1)
    assert min(fired) > 0, "the race never happened: one clock fired everything"


def test_only_the_leader_fires(client, r, queue):
    agent = new_agent(client)
    first = schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    a = Leadership(r, keys.SCHEDULER_LEADER, 60_000)
    b = Leadership(r, keys.SCHEDULER_LEADER, 60_000)
    assert a.hold() and not b.hold()
    standby = Clock(r, queue, leader=b)
    assert standby.turn(now=first + 0.1) == 0
    assert runs(r, agent.agent_id, "tick") == []
    a.release()
    assert b.hold()
    assert standby.turn(now=first + 0.1) == 1
    # A clock whose lock was taken while it was not looking is fenced off.
    r.set(keys.SCHEDULER_LEADER, a.token)
    assert standby.turn(now=first + 2.1) == 0
    assert runs(r, agent.agent_id, "tick") == [first]


def test_the_lock_renews_by_compare_and_set_and_expires(r, queue):
    a = Leadership(r, keys.SCHEDULER_LEADER, 600)
    b = Leadership(r, keys.SCHEDULER_LEADER, 600)
    assert a.hold()
    for _ in range(6):  # a live leader keeps the lock well past one expiry
        time.sleep(0.2)
        assert a.hold() and not b.hold()
    # A leader that stalls past its expiry finds the lock taken and does not renew it.
    time.sleep(0.7)
    assert b.hold()
    assert not a.hold()
    assert r.get(keys.SCHEDULER_LEADER).decode() == b.token
    a.release()  # not ours: left alone
    assert r.get(keys.SCHEDULER_LEADER).decode() == b.token
    b.release()
    assert r.get(keys.SCHEDULER_LEADER) is None


def test_a_deleted_schedule_leaves_the_due_set(r, queue):
    r.zadd(keys.SCHEDULES_DUE, {"ghost-agent/ghost": 1})
    assert Clock(r, queue).turn() == 0
    assert r.zcard(keys.SCHEDULES_DUE) == 0


def test_delivery_is_idempotent_and_goes_to_the_current_stm_session(client, r, queue):
    agent = new_agent(client)
    first = schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    r.set(keys.stm_current(agent.agent_id), "chat-42")
    assert Clock(r, queue).turn(now=first + 0.1) == 1
    delivery = Delivery(r, Settings())
    assert delivery.deliver(agent.agent_id, "tick", first).startswith("delivered")
    assert delivery.deliver(agent.agent_id, "tick", first) == "skipped: already delivered"
    assert r.xlen(keys.inbox(agent.agent_id)) == 1
    assert r.llen(keys.stm(agent.agent_id, "chat-42")) == 1
    assert r.llen(keys.stm(agent.agent_id, agent.session_id)) == 0


def test_delivery_of_a_deleted_schedule_writes_nothing(client, r, queue):
    agent = new_agent(client)
    first = schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    assert Clock(r, queue).turn(now=first + 0.1) == 1
    assert client.delete(f"/api/agents/{agent.agent_id}/schedules/tick",
                         headers=ADMIN).status_code == 200
    assert not r.exists(keys.schedule_run(agent.agent_id, "tick", first))
    result = Delivery(r, Settings()).deliver(agent.agent_id, "tick", first)
    assert result == "skipped: the schedule was deleted"
    assert not r.exists(keys.inbox(agent.agent_id))
    assert not r.exists(keys.stm(agent.agent_id, agent.session_id))


def test_runs_are_capped_newest_first(client, r, queue):
    agent = new_agent(client)
    first = schedule(client, r, agent.agent_id, "tick", "* * * * * *")
    clock = Clock(r, queue, runs_kept=3)
    for i in range(5):
        assert clock.turn(now=first + i + 0.1) == 1
    assert runs(r, agent.agent_id, "tick") == [first + 2, first + 3, first + 4]
    assert not r.exists(keys.schedule_run(agent.agent_id, "tick", first))
    assert not r.exists(keys.schedule_run(agent.agent_id, "tick", first + 1))
    shown = client.get(f"/api/agents/{agent.agent_id}/schedules/tick/runs",
                       headers=ADMIN).json()["runs"]
    assert [run["status"] for run in shown] == ["queued"] * 3
    assert shown[0]["scheduled_for"] > shown[-1]["scheduled_for"]
    assert int(r.hget(keys.schedule(agent.agent_id, "tick"), "run_count")) == 5
