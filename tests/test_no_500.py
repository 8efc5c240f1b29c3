"""Nothing a client can send makes the server answer 500: every route, fed junk."""

from __future__ import annotations

import itertools

import pytest
from starlette.routing import Route

from tests.conftest import ADMIN, new_agent

JUNK_BODIES = [
    b"", b"{", b"null", b"[]", b"42", b'"text"', b"{}", b'{"a": 1}',
    b'{"content": null, "query": null, "memory": null, "name": null}',
    b'{"content": [], "query": {}, "memories": "x", "limit": -1, "cron": 5}',
    b'{"content": "x", "query": "x", "memory": "x", "user_id": "u", "name": "n", '
    b'"cron": "* * * * *", "prompt": "p", "as_of": "2024-01-01", "since": "x"}',
    b'{"memories": [null, 1, "x", {}], "memory_ids": [1, null], "entries": [{}]}',
    b'{"content": "\\ud800"}', "{\"content\": \"\u00e9\u4e2d\U0001F600\"}".encode(),
    b'{"limit": 1e309, "page": "NaN", "ttl_seconds": 1e20, "threshold": "x"}',
    # An integer JSON takes but orjson cannot write back (the queued record's metadata).
    b'{"content": "x", "metadata": {"n": 123456789012345678901234567890}}',
    b"\xff\xfe\x00",
]
JUNK_PARAMS = [
    {}, {"limit": "x", "page": "-1"}, {"limit": "999999999999999999999"},
    {"after": "not-an-id", "wait": "x"}, {"wait": "1e9"}, {"session": "../../x"},
    {"topics": ",,,", "sort_by": "x", "user_id": "{}"}, {"extend_hours": "nan"},
    {"duration_hours": "inf"},
]
# The OpenAPI document and its page, the health probes and the metrics (their token is
# optional, MEMANTO_METRICS_TOKEN), served without credentials.
PUBLIC = {"/", "/openapi.json", "/docs", "/health", "/live", "/ready", "/metrics"}
# ("..", which HTTP clients resolve before sending, is left out.)
JUNK_PATH = ["x", "a" * 300, "%00", "{a}", "ü", "1"]


def _paths(route: Route, agent_id: str) -> list[str]:
    params = [p for p in route.param_convertors if p != "agent_id" and p != "name"]
    paths = []
    for junk in JUNK_PATH[:3] if params else [""]:
        values = {p: junk for p in params}
        values.update({"agent_id": agent_id, "name": agent_id})
        paths.append(route.path_format.format(**{k: v for k, v in values.items()
                                                 if k in route.param_convertors}))
    return paths


@pytest.mark.parametrize("credentials", ["none", "admin", "session"])
def test_every_route_survives_junk(client, credentials):
    agent = new_agent(client)
    headers = {"none": {}, "admin": ADMIN, "session": agent.headers}[credentials]
    routes = [r for r in client.app.routes if isinstance(r, Route)]
    assert len(routes) > 40
    failures = []
    for route in routes:
        for method in sorted(route.methods - {"HEAD"}):
            for path in _paths(route, agent.agent_id):
                cases = itertools.product(JUNK_BODIES if method != "GET" else [b""],
                                          JUNK_PARAMS if method == "GET" else JUNK_PARAMS[:3])
                for body, params in cases:
                    if "wait" in params and "inbox" in path:
                        params = {**params, "wait": "0"}
                    reply = client.request(method, path, content=body, params=params,
                                           headers={**headers,
                                                    "Content-Type": "application/json"})
                    # A 503 too: it is right only when the backlog or the long-poll
                    # slots are full (with Retry-After), which junk never causes.
                    if reply.status_code >= 500:
                        failures.append((method, path, body[:60], params, reply.status_code,
                                         reply.text[:200]))
    assert not failures, failures[:10]


def test_junk_path_names_are_4xx(client):
    agent = new_agent(client)
    for junk in JUNK_PATH:
        for path in (f"/api/v2/agents/{junk}", f"/api/agents/{junk}/memory",
                     f"/api/v2/agents/{agent.agent_id}/memories/{junk}",
                     f"/api/agents/{agent.agent_id}/memory/ltm/{junk}",
                     f"/memories/{junk}", f"/api/agents/{junk}/schedules"):
            for headers in (ADMIN, agent.headers):
                reply = client.get(path, headers=headers)
                assert 400 <= reply.status_code < 500, (path, reply.status_code, reply.text)


def test_no_route_answers_without_credentials(client):
    """Every route but the API's own description asks for an API key or a session token
    before anything else."""
    agent = new_agent(client)
    open_routes = []
    for route in (r for r in client.app.routes if isinstance(r, Route)
                  and r.path not in PUBLIC):
        for method in sorted(route.methods - {"HEAD"}):
            path = _paths(route, agent.agent_id)[0]
            reply = client.request(method, path, content=b"{}",
                                   headers={"Content-Type": "application/json"})
            if reply.status_code != 401:
                open_routes.append((method, path, reply.status_code))
    assert open_routes == []
