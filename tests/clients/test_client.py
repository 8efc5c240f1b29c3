"""The Python client is a distribution of its own (clients/python, `memanto-redis-client`):
it requires only httpx, imports nothing of the server, and works against a real web process
(the session's live stack)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import uuid

import pytest

from memanto_redis_client import ApiError, Memanto
from tests.support import ADMIN_KEY

SERVER_MODULES = ("torch", "redis", "starlette", "pydantic", "sentence_transformers",
                  "memanto_redis")


def test_the_client_requires_only_httpx():
    requires = importlib.metadata.requires("memanto-redis-client") or []
    # Names only (no extras, no markers): exactly one requirement, httpx.
    names = [re.match(r"[A-Za-z0-9._-]+", req).group().lower() for req in requires]
    assert names == ["httpx"], requires
    assert not any(mark in requires[0] for mark in "[;"), requires


def test_importing_the_client_pulls_in_nothing_of_the_server():
    # -I: isolated, so neither the checkout's folder nor PYTHONPATH is on sys.path.
    code = ("import json, sys, memanto_redis_client; "
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert "httpx" in loaded
    leaked = [name for name in loaded
              if any(name == top or name.startswith(f"{top}.") for top in SERVER_MODULES)]
    assert leaked == []


@pytest.fixture(scope="module")
def web(live) -> str:
    return live.url


def test_the_client_against_a_real_server(web):
    memanto = Memanto(web, api_key=ADMIN_KEY)
    agent_id = f"client-dist-{uuid.uuid4().hex[:8]}"
    assert memanto.create_agent(agent_id)["agent_id"] == agent_id
    agent = memanto.activate(agent_id)
    assert agent.session_token
    written = agent.remember("Alice prefers email", type="preference", tags=["contact"])
    memory = agent.get(written["memory_id"])
    assert memory["content"] == "Alice prefers email"
    assert memory["type"] == "preference"
    assert memory["tags"] == ["contact"]
    with pytest.raises(ApiError) as missing:
        agent.get(str(uuid.uuid4()))
    assert missing.value.status == 404


def test_every_error_shape_reads_as_one_line(web):
    """MEMANTO's envelope (/api/v2), its bare messages and limits, its 422 list with the
    fields at fault, and the other dialects' plain detail all become a message, never a
    printed dict or list."""
    memanto = Memanto(web, api_key=ADMIN_KEY)
    agent_id = f"client-errors-{uuid.uuid4().hex[:8]}"
    memanto.create_agent(agent_id)
    agent = memanto.activate(agent_id)
    with pytest.raises(ApiError) as envelope:
        memanto.get_agent("no-such-agent-x")
    assert (envelope.value.status, envelope.value.detail) == (
        404, "agent 'no-such-agent-x' not found")
    with pytest.raises(ApiError) as bare:  # MEMANTO answers a missing memory so
        agent.get("no-such-memory")
    assert (bare.value.status, bare.value.detail) == (
        404, "Memory 'no-such-memory' was not found.")
    with pytest.raises(ApiError) as limit:
        agent.recall("x" * 1001)
    assert (limit.value.status, limit.value.detail) == (
        413, "Query exceeds maximum length of 1000 characters")
    with pytest.raises(ApiError) as listed:
        agent.remember("", tags=["ok", "a,b"])
    assert listed.value.status == 422 and "{" not in listed.value.detail
    assert sorted(e["field"] for e in listed.value.errors) == ["content", "tags.1"]
    with pytest.raises(ApiError) as plain:
        memanto.request("GET", f"/api/agents/{agent_id}/memory/ltm/nope")
    assert plain.value.status == 404 and "nope" in plain.value.detail


def test_the_iterators_follow_every_page(web):
    """iter_all, iter_history and iter_memory_index walk the cursors page by page (one
    item a page here) and yield everything once, in the server's order."""
    memanto = Memanto(web, api_key=ADMIN_KEY)
    agent_id = f"client-pages-{uuid.uuid4().hex[:8]}"
    memanto.create_agent(agent_id)
    agent = memanto.activate(agent_id)
    ids = [agent.remember(f"Paged fact number {n}")["memory_id"] for n in range(3)]
    for n in range(2):
        agent.edit(ids[0], title=f"edited {n}")
    assert [m["memory_id"] for m in agent.iter_all(limit=1)] == ids[::-1]
    versions = list(agent.iter_history(ids[0], limit=1))
    assert [v["version"] for v in versions] == [1, 2, 3]
    entries = list(memanto.iter_memory_index(agent_id, limit=1))
    assert sorted(e["memory_id"] for e in entries) == sorted(ids)
