"""Delivery of a fired schedule (workers/jobs.py), in-process against the real Redis."""

from __future__ import annotations

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.workers.jobs import Delivery
from memanto_redis.workers.scheduler import Clock
from tests.conftest import ADMIN, new_agent
from tests.support import WebhookReceiver, add_schedule


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


def fire_webhook(client, r, queue, receiver: int, settings: Settings) -> tuple[str, dict, str]:
    """A schedule with a webhook at `localhost`, fired and delivered; then its webhook
    attempt as the jobs process makes it. The result, the run's webhook, the agent."""
    agent = new_agent(client)
    first = add_schedule(client, r, agent.agent_id, "hook", "* * * * * */2",
                         webhook_url=f"http://localhost:{receiver}/hook")
    assert Clock(r, queue).turn(now=first + 0.1) == 1
    delivery = Delivery(r, settings)
    assert delivery.deliver(agent.agent_id, "hook", first).startswith("delivered")
    result = delivery.post_webhook(agent.agent_id, "hook", first, final=False)
    (run,) = client.get(f"/api/agents/{agent.agent_id}/schedules/hook/runs",
                        headers=ADMIN).json()["runs"]
    return result, run["webhook"], agent.agent_id


def test_a_webhook_to_the_loopback_is_refused_by_default(client, r, queue, receiver):
    result, webhook, _ = fire_webhook(client, r, queue, receiver, Settings())
    assert WebhookReceiver.seen == []
    # Refused once and for all: failed at the first attempt, not left to retry.
    assert "refused, not retried" in result
    assert webhook | {"last_attempt_at": None} == {
        "status": "failed", "attempts": 1, "http_status": None, "error": "refused",
        "last_attempt_at": None, "delivered_at": None}


def test_a_webhook_to_an_allow_listed_address_is_delivered(client, r, queue, receiver):
    allowing = Settings(webhook_allow=("127.0.0.1",))
    result, webhook, _ = fire_webhook(client, r, queue, receiver, allowing)
    assert [seen["path"] for seen in WebhookReceiver.seen] == ["/hook"]
    assert result == "webhook delivered (HTTP 200)"
    assert (webhook["status"], webhook["attempts"], webhook["http_status"],
            webhook["error"]) == ("delivered", 1, 200, None)
