"""Every route of the app, from its route table: a tenant key outside its scope gets 403
(the same answer for an agent that exists and one that does not), and a read-only key in
its scope cannot write. A route added later is covered as it lands: one with an agent or
user in its path at once; any other must be given its out-of-scope request below."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.routing import Route

from tests.conftest import new_agent
from tests.support import ADMIN, make_key, unique


@dataclass(frozen=True)
class Case:
    """How to send a route a request outside the tenant's scope (`{out}` is an agent, and
    `{user}` a user, it does not cover), or `listing` when the route filters instead."""

    json: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    listing: bool = False
    session: bool = False  # takes a session token: a key alone is 401, whatever its scope


MEMORY_OUT = Case(query={"user_id": "{user}"})
# Routes without an agent or user in their path.
EXPLICIT: dict[tuple[str, str], Case] = {
    ("POST", "/api/v2/agents"): Case(json={"agent_id": "{out}"}),
    ("GET", "/api/v2/agents"): Case(listing=True),
    ("GET", "/api/v2/status"): Case(listing=True),
    ("GET", "/api/v2/session/info"): Case(session=True),
    ("POST", "/api/v2/session/extend"): Case(session=True),
    ("POST", "/api/v2/apikeys"): Case(json={"name": "x", "admin": True}),
    ("GET", "/api/v2/apikeys"): Case(),
    ("DELETE", "/api/v2/apikeys/{name}"): Case(),
    ("GET", "/api/v2/quotas"): Case(),
    ("POST", "/api/swarm/facts"): Case(json={"content": "x", "source_agent": "{out}"}),
    ("GET", "/api/swarm/facts"): Case(listing=True),
    ("DELETE", "/api/swarm/facts"): Case(),
    ("POST", "/api/swarm/search"): Case(listing=True),
    ("POST", "/memories"): Case(json={"user_id": "{user}", "memory": "x"}),
    ("GET", "/memories"): MEMORY_OUT,
    ("DELETE", "/memories"): Case(json={"memory_ids": ["x"], "user_id": "{user}"}),
    ("GET", "/memories/topics"): MEMORY_OUT,
    ("GET", "/memory_topics"): MEMORY_OUT,
    ("GET", "/memories/stats"): MEMORY_OUT,
    ("GET", "/user_memory_stats"): MEMORY_OUT,
    ("GET", "/memories/{memory_id}"): MEMORY_OUT,
    ("PATCH", "/memories/{memory_id}"): Case(json={"memory": "x"}, query={"user_id": "{user}"}),
    ("DELETE", "/memories/{memory_id}"): MEMORY_OUT,
}


def reads_by_post(path: str) -> bool:
    """Routes that read though they are POSTed (searches)."""
    return "/recall" in path or path.endswith("/search")


def routes(app: Any) -> Iterator[tuple[str, str, set[str]]]:
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, route.path, set(route.param_convertors)


def scoped_by(path: str, params: set[str]) -> str | None:
    if "agent_id" in params or ("name" in params and path.startswith("/api/agents/")):
        return "agent"
    return "user" if "user_id" in params else None


def fill(path: str, agent: str, user: str) -> str:
    values = {"agent_id": agent, "user_id": user, "memory_id": "m-0123456789abcdef",
              "schedule": "s", "id": "x", "name": agent if path.startswith("/api/agents/")
              else "preset"}
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def session_only(client: Any, method: str, path: str, world: dict[str, Any]) -> bool:
    """Whether the route takes only session tokens: even the admin key is 401 (asked about
    an agent and a user that do not exist, so that it changes nothing)."""
    reply = client.request(method, fill(path, world["ghost"], world["other_user"]),
                           headers=ADMIN)
    return bool(reply.status_code == 401)


def send(client: Any, method: str, path: str, headers: dict[str, str],
         case: Case | None = None, out: str = "", user: str = "") -> Any:
    case = case or Case()
    body = json.loads(json.dumps(case.json).replace("{out}", out).replace("{user}", user))
    query = {k: v.replace("{user}", user) for k, v in case.query.items()}
    return client.request(method, path, headers=headers, params=query,
                          json=body if case.json is not None else None)


@pytest.fixture(scope="module")
def world(client) -> dict[str, Any]:
    tag = unique("t")
    mine = new_agent(client, f"{tag}-in")
    other = new_agent(client, f"{tag}-out")
    scope = {"agents": [f"{tag}-in-*"], "users": [f"{tag}-u"], "may_activate": True,
             "may_manage_agents": True}
    return {"mine": mine, "other": other, "ghost": f"{tag}-ghost", "user": f"{tag}-u",
            "other_user": f"{tag}-v", "tenant": make_key(client, **scope),
            "reader": make_key(client, **scope | {"read_only": True})}


def test_out_of_scope_is_403_on_every_route(client, world):
    unclassified, wrong, checked = [], [], 0
    for method, path, params in routes(client.app):
        if client.request(method, fill(path, "x", "x")).status_code != 401:
            continue  # public: nothing to scope
        checked += 1
        scoped = scoped_by(path, params)
        if scoped is not None and session_only(client, method, path, world):
            if scoped == "agent":  # another agent's token, then
                reply = client.request(method, fill(path, world["other"].agent_id, "x"),
                                       headers=world["mine"].headers)
                if reply.status_code != 403:
                    wrong.append((method, path, reply.status_code, reply.text[:200]))
            continue
        if scoped is not None:
            answers = []
            for target in (world["other"].agent_id, world["ghost"]):
                reply = send(client, method, fill(path, target, world["other_user"]),
                             world["tenant"])
                answers.append((reply.status_code,
                                reply.text.replace(target, "AGENT")))
            if answers[0][0] != 403 or answers[0] != answers[1]:
                wrong.append((method, path, answers))
            continue
        case = EXPLICIT.get((method, path))
        if case is None:
            unclassified.append((method, path))
            continue
        if case.listing:
            continue  # filtered, not refused: tests/api/test_tenant_attacks.py
        reply = send(client, method, fill(path, world["ghost"], world["other_user"]),
                     world["tenant"], case, world["other"].agent_id, world["other_user"])
        if reply.status_code != (401 if case.session else 403):
            wrong.append((method, path, reply.status_code, reply.text[:200]))
    assert not unclassified, f"give these routes an out-of-scope request: {unclassified}"
    assert not wrong
    assert checked > 60  # the route table was walked, not skipped




def test_a_read_only_key_cannot_write_anywhere(client, world):
    wrong, checked = [], 0
    mine, user = world["mine"].agent_id, world["user"]
    for method, path, params in routes(client.app):
        if method == "GET" or reads_by_post(path):
            continue
        if client.request(method, fill(path, "x", "x")).status_code != 401:
            continue
        if scoped_by(path, params) is not None and session_only(client, method, path, world):
            continue  # a key writes nothing there
        case = EXPLICIT.get((method, path))
        if case is not None and (case.listing or case.session):
            continue
        reply = send(client, method, fill(path, mine, user), world["reader"], case, mine, user)
        checked += 1
        if reply.status_code != 403:
            wrong.append((method, path, reply.status_code, reply.text[:200]))
    assert not wrong
    assert checked > 25
