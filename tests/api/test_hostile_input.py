"""Input an attacker would send: numbers that are no numbers, times out of range, pages past
the index's reach, questions that crash RediSearch's parser. Each gets a clear 4xx (or a
sane answer), never a 500, and Redis stays up. A suite over every dialect, like
test_no_500.py; what one module does about such input is tested beside that module
(tests/shared/infra/test_times.py, tests/shared/infra/test_fulltext.py)."""

from __future__ import annotations

import base64
import json

import pytest

from memanto_redis.shared.infra import keys
from tests.conftest import ADMIN, new_agent
from tests.support import problem, unique

AGENT = "/api/v2/agents/{}"


def _post_raw(client, path: str, raw: str, headers: dict):
    return client.post(path, content=raw, headers=headers | {"Content-Type": "application/json"})


@pytest.mark.parametrize("raw", [
    '{"memories": [{"content": "x", "created_at": NaN}]}',
    '{"memories": [{"content": "x", "created_at": Infinity}]}',
    '{"memories": [{"content": "x", "created_at": 1e300}]}',
    '{"memories": [{"content": "x", "created_at": "0001-01-01T00:00:00Z"}]}',
    '{"memories": [{"content": "x", "created_at": -1}]}',
    '{"memories": [{"content": "x", "updated_at": "2999-01-01"}]}',
    '{"memories": [{"content": "x", "confidence": NaN}]}',
])
def test_imports_refuse_numbers_and_times_a_memory_cannot_hold(client, r, raw):
    agent = new_agent(client)
    reply = _post_raw(client, AGENT.format(agent.agent_id) + "/import", raw, agent.headers)
    assert reply.status_code == 422, reply.text
    assert "memories.0." in problem(reply)
    assert r.scard(keys.memory_ids(agent.agent_id)) == 0


def _with_cursor(decoded: bytes) -> str:
    return json.dumps({"limit": 5, "cursor": base64.urlsafe_b64encode(decoded).decode()})


@pytest.mark.parametrize(("route", "raw"), [
    ("/remember", '{"content": "x", "confidence": NaN}'),
    ("/remember", '{"content": "x", "confidence": Infinity}'),
    ("/recall", '{"query": "x", "created_after": NaN}'),
    ("/recall", '{"query": "x", "created_before": -Infinity}'),
    ("/recall", '{"query": "x", "min_similarity": NaN}'),
    ("/recall/as-of", '{"as_of": 1e20}'),
    ("/recall/as-of", '{"as_of": NaN}'),
    ("/recall/changed-since", '{"since": 1e20}'),
    ("/recall/recent", '{"created_after": NaN}'),
    ("/recall/all", _with_cursor(b'{"t": NaN, "ids": []}')),
    ("/recall/all", _with_cursor(b'{"t": 1, "ids": [1, 2]}')),
])
def test_v2_refuses_numbers_that_are_no_numbers(client, route, raw):
    agent = new_agent(client)
    reply = _post_raw(client, AGENT.format(agent.agent_id) + route, raw, agent.headers)
    assert reply.status_code == 422, reply.text


def test_the_last_valid_date_answers(client):
    agent = new_agent(client)
    for route, body in (("/recall/as-of", {"as_of": "9999-12-31"}),
                        ("/recall/changed-since", {"since": "9999-12-31"}),
                        ("/recall/recent", {"created_before": "9999-12-31"})):
        reply = client.post(AGENT.format(agent.agent_id) + route, json=body,
                            headers=agent.headers)
        assert reply.status_code == 200, (route, reply.text)


def test_stored_times_out_of_range_still_read(client, r):
    """A record written before times were bounded (or by hand) reads without a 500."""
    agent = new_agent(client)
    reply = client.post(AGENT.format(agent.agent_id) + "/remember", json={"content": "odd"},
                        headers=agent.headers)
    memory_id = reply.json()["memory_id"]
    key = keys.queued(agent.agent_id, memory_id)
    record = json.loads(r.hget(key, "data")) | {"created_at": 1e300, "updated_at": -1e300}
    r.hset(key, "data", json.dumps(record))
    got = client.get(AGENT.format(agent.agent_id) + f"/memories/{memory_id}",
                     headers=agent.headers)
    assert got.status_code == 200, got.text
    assert got.json()["created_at"] == "9999-12-31T23:59:59.000Z"
    assert got.json()["updated_at"] == "1970-01-01T00:00:00.000Z"


@pytest.mark.parametrize("query", ["page=100000&limit=100", "page=101&limit=100",
                                   "page=10001&limit=1"])
def test_pages_past_the_index_reach_are_refused(client, query):
    for path in ("/memories", "/user_memory_stats"):
        reply = client.get(f"{path}?{query}", headers=ADMIN)
        assert reply.status_code == 422, reply.text
        assert "page" in problem(reply)
    assert client.get("/memories?page=100&limit=100", headers=ADMIN).status_code == 200


QUESTIONS = [
    "Will there be an interview for the job?",
    "What is Caroline's identity?",
    "Is it the one that was there?",
    "When did Melanie paint a sunrise?",
    "to be or not to be",
    "@content:(x) | -y ~z *w* %fuzzy% {tag} [1 2] \"quoted\" 'single' \\ $param",
    "Ticket #12345 -- Stripe's webhook: 3.5 retries?!",
]


def test_search_content_with_natural_questions_keeps_redis_up(client, r):
    agent = new_agent(client)
    user = unique("u-hostile")
    created = client.post("/memories", headers=ADMIN, json={
        "memory": "Caroline has an interview at Stripe about ticket 12345 on Tuesday",
        "user_id": user, "agent_id": agent.agent_id})
    assert created.status_code == 201, created.text
    for question in QUESTIONS:
        reply = client.get("/memories", params={"search_content": question,
                                                "user_id": user}, headers=ADMIN)
        assert reply.status_code == 200, (question, reply.text)
        assert r.ping()


def test_losing_redis_answers_503_on_search_routes_too(settings, vectorizer, own_redis):
    """RedisVL wraps the client's connection errors in its own: those are 503s as well."""
    from starlette.testclient import TestClient

    from memanto_redis.api.app import create_app

    own = settings.varied(redis_url=own_redis.url)
    with TestClient(create_app(own, vectorizer)) as app:
        agent = new_agent(app)
        own_redis.kill()
        for method, path, body in (
                ("GET", "/memories?search_content=anything", None),
                ("GET", "/memories", None),
                ("GET", "/api/swarm/facts", None),
                ("POST", "/api/swarm/search", {"query": "anything"}),
                ("POST", AGENT.format(agent.agent_id) + "/recall", {"query": "x"})):
            headers = agent.headers if "recall" in path else ADMIN
            reply = app.request(method, path, json=body, headers=headers)
            assert reply.status_code == 503, (path, reply.text)
            assert reply.headers["Retry-After"]


def test_fuzzer_findings_answer_4xx_or_work(client, r):
    """What the schemathesis run found: tag values RediSearch's parser chokes on, inbox ids
    beyond 64 bits, and metadata integers orjson cannot write."""
    odd = new_agent(client, prefix="_")
    assert client.post("/api/v2/agents", json={"agent_id": "_"}, headers=ADMIN).status_code in (
        201, 409)
    for value in ("_", "`", "a_b"):
        for path in (f"/memories?topics={value}", f"/memories/stats?user_id={value}",
                     f"/user_memory_stats?user_id={value}"):
            assert client.get(path, headers=ADMIN).status_code == 200, path
        reply = client.post(AGENT.format(odd.agent_id) + "/recall", headers=odd.headers,
                            json={"query": "x", "tags": [value]})
        assert reply.status_code == 200, reply.text
    for bad in ("\u0014", "a\u007fb"):
        reply = client.post(AGENT.format(odd.agent_id) + "/recall", headers=odd.headers,
                            json={"query": "x", "tags": [bad]})
        assert reply.status_code == 422, reply.text
    for agent_id in (".", "..", ".hidden"):
        assert client.post("/api/v2/agents", json={"agent_id": agent_id},
                           headers=ADMIN).status_code == 422
    inbox = client.get(f"/api/agents/{odd.agent_id}/inbox?after=516-35022556571262810747",
                       headers=odd.headers)
    assert inbox.status_code == 422, inbox.text
    big = client.post(AGENT.format(odd.agent_id) + "/import", headers=odd.headers,
                      content=json.dumps({"memories": [{"content": "x",
                                                        "metadata": {"n": 2**70}}]}))
    assert big.status_code == 422, big.text
    assert "64 bits" in big.text
