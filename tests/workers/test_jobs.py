"""Delivery of a fired schedule (workers/jobs.py), in-process against the real Redis."""

from __future__ import annotations

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.workers.jobs import Delivery
from memanto_redis.workers.scheduler import Clock
from tests.conftest import ADMIN, new_agent
from tests.support import add_schedule


def test_delivery_is_idempotent_and_goes_to_the_current_stm_session(client, r, queue):
    agent = new_agent(client)
    first = add_schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
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
    first = add_schedule(client, r, agent.agent_id, "tick", "* * * * * */2")
    assert Clock(r, queue).turn(now=first + 0.1) == 1
    assert client.delete(f"/api/agents/{agent.agent_id}/schedules/tick",
                         headers=ADMIN).status_code == 200
    assert not r.exists(keys.schedule_run(agent.agent_id, "tick", first))
    result = Delivery(r, Settings()).deliver(agent.agent_id, "tick", first)
    assert result == "skipped: the schedule was deleted"
    assert not r.exists(keys.inbox(agent.agent_id))
    assert not r.exists(keys.stm(agent.agent_id, agent.session_id))
