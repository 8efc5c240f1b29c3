"""The schedules API and the inbox, in-process: validation, CRUD, auth, long-poll."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from rq import Queue, SimpleWorker
from starlette.testclient import TestClient

from memanto_redis.shared.infra import keys
from memanto_redis.shared.schedule.store import due_member
from memanto_redis.workers.scheduler import Clock
from tests.conftest import ADMIN, new_agent


def url(agent_id: str, tail: str = "") -> str:
    return f"/api/agents/{agent_id}/schedules{tail}"


def create(client, agent_id: str, headers=ADMIN, **body):
    body = {"name": "daily_report", "cron": "0 9 * * *",
            "prompt": "Generate and send daily report"} | body
    return client.post(url(agent_id), json=body, headers=headers)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fire_and_deliver(r, queue: Queue, agent_id: str, name: str) -> None:
    """Fire one schedule's due slot as the scheduler would, then run the RQ job in-process
    (`queue` is conftest's, emptied for the test: no other test's job runs here)."""
    next_run = int(r.hget(keys.schedule(agent_id, name), "next_run"))
    assert Clock(r, queue).fire(due_member(agent_id, name), next_run + 0.01)
    SimpleWorker([queue], connection=r).work(burst=True)


def test_create_list_get_delete_in_the_seed_shape(client, r):
    agent = new_agent(client)
    before = time.time()
    reply = create(client, agent.agent_id)
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert {k: made[k] for k in ("name", "cron", "prompt", "timezone", "webhook_url")} == {
        "name": "daily_report", "cron": "0 9 * * *", "prompt": "Generate and send daily report",
        "timezone": "UTC", "webhook_url": None}
    assert "webhook_secret" not in made
    next_run = datetime.fromisoformat(made["next_run"].replace("Z", "+00:00"))
    assert (next_run.hour, next_run.minute, next_run.second) == (9, 0, 0)
    assert 0 < next_run.timestamp() - before <= 86400
    assert made["last_run"] is None and made["run_count"] == 0
    assert made["created_at"].endswith("Z")
    assert r.zscore(keys.SCHEDULES_DUE, due_member(agent.agent_id, "daily_report")) == \
        next_run.timestamp()

    listed = client.get(url(agent.agent_id), headers=ADMIN).json()
    assert listed == {"schedules": [made]}
    assert client.get(url(agent.agent_id, "/daily_report"), headers=ADMIN).json() == made

    deleted = client.delete(url(agent.agent_id, "/daily_report"), headers=ADMIN)
    assert deleted.status_code == 200
    assert deleted.json()["success"] is True
    assert client.get(url(agent.agent_id), headers=ADMIN).json() == {"schedules": []}
    assert client.delete(url(agent.agent_id, "/daily_report"), headers=ADMIN).status_code == 404
    assert client.get(url(agent.agent_id, "/daily_report/runs"),
                      headers=ADMIN).status_code == 404
    assert r.zscore(keys.SCHEDULES_DUE, due_member(agent.agent_id, "daily_report")) is None


def test_duplicate_name_is_409_and_keeps_the_first(client):
    agent = new_agent(client)
    assert create(client, agent.agent_id).status_code == 201
    again = create(client, agent.agent_id, prompt="something else")
    assert again.status_code == 409
    assert "daily_report" in again.json()["detail"]
    (kept,) = client.get(url(agent.agent_id), headers=ADMIN).json()["schedules"]
    assert kept["prompt"] == "Generate and send daily report"


def test_webhook_secret_is_shown_once(client, r):
    agent = new_agent(client)
    made = create(client, agent.agent_id, webhook_url="https://example.test/hook").json()
    secret = made["webhook_secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert r.hget(keys.schedule(agent.agent_id, "daily_report"), "secret").decode() == secret
    assert secret not in client.get(url(agent.agent_id), headers=ADMIN).text
    assert secret not in client.get(url(agent.agent_id, "/daily_report"), headers=ADMIN).text
    other = create(client, agent.agent_id, name="other",
                   webhook_url="https://hooks.example.invalid:9/x")
    assert other.json()["webhook_secret"] != secret


def test_timezone_and_seconds_field(client):
    agent = new_agent(client)
    made = create(client, agent.agent_id, timezone="America/New_York").json()
    # 9:00 in New York is 13:00 or 14:00 UTC, depending on daylight saving time.
    assert made["timezone"] == "America/New_York"
    assert made["next_run"][11:19] in ("13:00:00", "14:00:00")

    every_two = create(client, agent.agent_id, name="tick", cron="* * * * *  */2").json()
    assert every_two["cron"] == "* * * * * */2"
    assert 0 < epoch(every_two["next_run"]) - time.time() <= 2.01
    assert int(epoch(every_two["next_run"])) % 2 == 0


@pytest.mark.parametrize("body, field", [
    ({"cron": "* * * *"}, "cron"),
    ({"cron": "* * * * * * *"}, "cron"),
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "* * * * * 60"}, "cron"),
    ({"cron": "@daily"}, "cron"),
    ({"cron": "0 0 30 2 *"}, "cron"),  # February 30th: never fires
    ({"cron": ""}, "cron"),
    ({"cron": 5}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"name": "has space"}, "name"),
    ({"name": "slash/no"}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": ""}, "name"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": "   "}, "prompt"),
    ({"prompt": "p" * 10_001}, "prompt"),
    ({"webhook_url": "ftp://example.test/x"}, "webhook_url"),
    ({"webhook_url": "not a url"}, "webhook_url"),
    ({"webhook_url": "http://"}, "webhook_url"),
    ({"webhook_url": "file:///etc/passwd"}, "webhook_url"),
    ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
    ({"webhook_url": "https://user:pass@example.test/x"}, "webhook_url"),
    ({"webhook_url": "https://token@example.test/x"}, "webhook_url"),
    ({"webhook_url": "https://example.test:99999/x"}, "webhook_url"),
    # Internal addresses spelled literally (names are checked when sent).
    ({"webhook_url": "http://169.254.169.254/latest/meta-data/"}, "webhook_url"),
    ({"webhook_url": "http://127.0.0.1:6379/"}, "webhook_url"),
    ({"webhook_url": "http://0x7f000001/"}, "webhook_url"),
    ({"webhook_url": "http://10.0.0.7/hook"}, "webhook_url"),
    ({"webhook_url": "http://[::1]:8080/hook"}, "webhook_url"),
    ({"webhook_url": "http://[fd00:ec2::254]/"}, "webhook_url"),
    ({"webhook_url": "http://[::ffff:192.168.0.1]/"}, "webhook_url"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_bodies_are_422_naming_the_field(client, r, body, field):
    agent = new_agent(client)
    reply = create(client, agent.agent_id, **body)
    assert reply.status_code == 422, reply.text
    assert field in reply.json()["detail"]
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert r.zcard(keys.schedules(agent.agent_id)) == 0


def test_an_allow_listed_internal_address_may_be_named(settings, vectorizer):
    from memanto_redis.api.app import create_app

    allowing = settings.varied(webhook_allow=("127.0.0.0/8", "::1"))
    with TestClient(create_app(allowing, vectorizer)) as own:
        agent = new_agent(own)
        assert create(own, agent.agent_id, webhook_url="http://127.0.0.1:9/x").status_code == 201
        assert create(own, agent.agent_id, name="v6",
                      webhook_url="http://[::1]:9/x").status_code == 201
        refused = create(own, agent.agent_id, name="private", webhook_url="http://10.0.0.7/x")
        assert refused.status_code == 422, refused.text
        assert "internal address (10.0.0.7)" in refused.json()["detail"]


@pytest.mark.parametrize("missing", ["name", "cron", "prompt"])
def test_required_fields(client, missing):
    agent = new_agent(client)
    body = {"name": "n", "cron": "* * * * *", "prompt": "p"}
    del body[missing]
    reply = client.post(url(agent.agent_id), json=body, headers=ADMIN)
    assert reply.status_code == 422
    assert missing in reply.json()["detail"]


def test_malformed_json_is_400(client):
    agent = new_agent(client)
    reply = client.post(url(agent.agent_id), content=b"{not json", headers=ADMIN)
    assert reply.status_code == 400


def test_auth_key_or_own_session_token(client):
    agent, other = new_agent(client), new_agent(client)
    assert client.get(url(agent.agent_id)).status_code == 401
    assert client.get(url(agent.agent_id),
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert create(client, agent.agent_id, headers=other.headers).status_code == 403
    assert client.get(url(agent.agent_id), headers=other.headers).status_code == 403
    assert client.get(f"/api/agents/{agent.agent_id}/inbox",
                      headers=other.headers).status_code == 403
    assert create(client, agent.agent_id, headers=agent.headers).status_code == 201
    assert len(client.get(url(agent.agent_id), headers=agent.headers).json()["schedules"]) == 1
    assert client.delete(url(agent.agent_id, "/daily_report"),
                         headers=agent.headers).status_code == 200
    assert create(client, "no-such-agent-x").status_code == 404
    assert client.get("/api/agents/no-such-agent-x/inbox", headers=ADMIN).status_code == 404


def test_schedules_per_agent_are_bounded(settings, vectorizer):
    from memanto_redis.api.app import create_app

    small = settings.varied(max_schedules=2)
    with TestClient(create_app(small, vectorizer)) as client:
        agent = new_agent(client)
        assert create(client, agent.agent_id, name="a").status_code == 201
        assert create(client, agent.agent_id, name="b").status_code == 201
        third = create(client, agent.agent_id, name="c")
        assert third.status_code == 409
        assert "2 schedules" in third.json()["detail"]


def test_a_fire_shows_in_runs_inbox_and_stm(client, r, queue):
    agent = new_agent(client)
    create(client, agent.agent_id, name="tick", cron="* * * * * *", prompt="check the queue")
    assert client.get(url(agent.agent_id, "/tick/runs"), headers=ADMIN).json() == {
        "schedule": "tick", "runs": []}
    fire_and_deliver(r, queue, agent.agent_id, "tick")

    (run,) = client.get(url(agent.agent_id, "/tick/runs"), headers=ADMIN).json()["runs"]
    assert run["status"] == "delivered" and run["webhook"] is None
    assert epoch(run["fired_at"]) >= epoch(run["scheduled_for"])
    shown = client.get(url(agent.agent_id, "/tick"), headers=ADMIN).json()
    assert shown["run_count"] == 1 and shown["last_run"] == run["scheduled_for"]
    assert epoch(shown["next_run"]) > epoch(run["scheduled_for"])

    inbox = client.get(f"/api/agents/{agent.agent_id}/inbox", headers=agent.headers).json()
    (message,) = inbox["messages"]
    assert message == {"id": run["inbox_id"], "schedule": "tick", "prompt": "check the queue",
                       "scheduled_for": run["scheduled_for"], "fired_at": run["fired_at"]}
    assert inbox["last_id"] == message["id"]
    again = client.get(f"/api/agents/{agent.agent_id}/inbox?after={inbox['last_id']}",
                       headers=ADMIN).json()
    assert again == {"messages": [], "last_id": inbox["last_id"]}

    # The agent's live session is its current STM session: the prompt is a system message.
    entries = r.lrange(keys.stm(agent.agent_id, agent.session_id), 0, -1)
    assert len(entries) == 1 and b'"role":"system"' in entries[0]
    assert b"check the queue" in entries[0]


def test_inbox_long_poll_returns_when_a_prompt_lands(client, r, queue):
    agent = new_agent(client)
    create(client, agent.agent_id, name="tick", cron="* * * * * *", prompt="wake up")
    inbox = f"/api/agents/{agent.agent_id}/inbox"
    started = time.monotonic()
    empty = client.get(inbox + "?wait=0.3", headers=ADMIN).json()
    assert empty == {"messages": [], "last_id": "0"}
    assert 0.25 < time.monotonic() - started < 2

    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, inbox + "?wait=10", headers=agent.headers)
        time.sleep(0.5)
        assert not waiting.done()
        landed = time.monotonic()
        fire_and_deliver(r, queue, agent.agent_id, "tick")
        reply = waiting.result(timeout=10)
        assert time.monotonic() - landed < 2
    assert [m["prompt"] for m in reply.json()["messages"]] == ["wake up"]


@pytest.mark.parametrize("query, field", [
    ("after=abc", "after"), ("after=$", "after"), ("wait=31", "wait"), ("wait=-1", "wait"),
    ("wait=soon", "wait"), ("limit=0", "limit"), ("limit=1001", "limit"),
])
def test_inbox_query_validation(client, query, field):
    agent = new_agent(client)
    reply = client.get(f"/api/agents/{agent.agent_id}/inbox?{query}", headers=ADMIN)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == field


def test_runs_limit_validation(client):
    agent = new_agent(client)
    create(client, agent.agent_id)
    for bad in ("0", "101", "x"):
        reply = client.get(url(agent.agent_id, f"/daily_report/runs?limit={bad}"), headers=ADMIN)
        assert reply.status_code == 422


def test_long_polls_beyond_the_bound_get_503(settings, vectorizer):
    from memanto_redis.api.app import create_app

    small = settings.varied(inbox_max_waiters=1)
    with TestClient(create_app(small, vectorizer)) as client, ThreadPoolExecutor(1) as pool:
        agent = new_agent(client)
        inbox = f"/api/agents/{agent.agent_id}/inbox"
        first = pool.submit(client.get, inbox + "?wait=2", headers=ADMIN)
        time.sleep(0.5)
        second = client.get(inbox + "?wait=2", headers=ADMIN)
        assert second.status_code == 503
        assert second.headers["retry-after"] == "1"
        # A read that does not wait is still served.
        assert client.get(inbox, headers=ADMIN).status_code == 200
        assert first.result(timeout=5).status_code == 200


def test_deleting_the_agent_removes_schedules_runs_and_inbox(client, r, queue):
    agent = new_agent(client)
    create(client, agent.agent_id, name="tick", cron="* * * * * *")
    create(client, agent.agent_id, name="daily")
    fire_and_deliver(r, queue, agent.agent_id, "tick")
    assert r.xlen(keys.inbox(agent.agent_id)) == 1
    assert client.delete(f"/api/v2/agents/{agent.agent_id}", headers=ADMIN).status_code == 200
    for pattern in ("sched:", "scheds:", "runs:", "run:", "inbox:"):
        assert not r.keys(f"{pattern}{{{agent.agent_id}}}*"), pattern
    assert r.zscore(keys.SCHEDULES_DUE, due_member(agent.agent_id, "tick")) is None
    assert r.zscore(keys.SCHEDULES_DUE, due_member(agent.agent_id, "daily")) is None
