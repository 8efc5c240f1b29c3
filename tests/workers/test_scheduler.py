"""The scheduler's clock (workers/scheduler.py): due slots fired once, after downtime too,
by the leader only, in-process against the real Redis, with fake times."""

from __future__ import annotations

import threading

import redis
from rq import Queue
from rq.job import Job

from memanto_redis.shared.infra import keys
from memanto_redis.shared.schedule.leader import Leadership
from memanto_redis.shared.schedule.store import due_member
from memanto_redis.workers.jobs import job_id
from memanto_redis.workers.scheduler import Clock
from tests.conftest import ADMIN, new_agent
from tests.support import add_schedule


def runs(r, agent_id: str, name: str) -> list[int]:
    return [int(s) for s in r.zrange(keys.schedule_runs(agent_id, name), 0, -1)]


def test_a_turn_fires_each_due_slot_once(client, r, queue):
    agent = new_agent(client)
    first = add_schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
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
    tick = add_schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    daily = add_schedule(client, r, agent.agent_id, "daily", "0 9 * * *")
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
    starts = [add_schedule(client, r, agent.agent_id, name, "* * * * * *") for name in names]
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
    first = add_schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
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


def test_a_deleted_schedule_leaves_the_due_set(r, queue):
    r.zadd(keys.SCHEDULES_DUE, {"ghost-agent/ghost": 1})
    assert Clock(r, queue).turn() == 0
    assert r.zcard(keys.SCHEDULES_DUE) == 0


def test_runs_are_capped_newest_first(client, r, queue):
    agent = new_agent(client)
    first = add_schedule(client, r, agent.agent_id, "tick", "* * * * * *")
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
