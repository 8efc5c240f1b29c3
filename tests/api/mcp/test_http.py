"""MCP over Streamable HTTP at /mcp on the session's live stack (a web process and an ingest
worker), driven by the official MCP Python SDK's client: the tools are listed, each is
called, bad arguments are tool errors, credentials are those of every other dialect, and
MCP sessions have ids bound to their caller. `exercise_every_tool` is also run over stdio
(tests/cli/test_mcp_stdio.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from memanto_redis.api.mcp.tools import BY_NAME
from tests.support import ADMIN, unique

# MEMANTO's own MCP tools (memanto-mcp) but `answer`, and this server's.
MEMANTO_TOOLS = {"remember", "batch_remember", "recall", "recall_recent", "recall_as_of",
                 "recall_changed_since", "create_agent", "list_agents", "get_agent",
                 "delete_agent"}
OWN_TOOLS = {"forget", "edit_memory", "memory_history", "stm_append", "stm_read",
             "current_context", "swarm_post", "swarm_search", "inbox_read",
             "schedule_create", "schedule_list", "schedule_delete"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream",
          "Content-Type": "application/json"}


@dataclass
class Reply:
    """A tool's answer: its JSON text read back, and whether it is a tool error."""

    body: dict[str, Any]
    error: bool


async def call(client: Client, tool: str, **arguments: Any) -> Reply:
    result = await client.call_tool(tool, arguments)
    (content,) = result.content
    return Reply(json.loads(content.text), result.is_error)


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    reply = await call(client, tool, **arguments)
    assert not reply.error, (tool, reply.body)
    return reply.body


async def failed(client: Client, tool: str, status: int, **arguments: Any) -> dict[str, Any]:
    reply = await call(client, tool, **arguments)
    assert reply.error, (tool, reply.body)
    assert reply.body["status"] == status, (tool, reply.body)
    return reply.body


async def exercise_every_tool(client: Client, agent_id: str | None) -> set[str]:
    """Each tool called once or more as the agent the client acts for (`agent_id` given when
    the credentials do not imply it); the names of those called."""
    mine = {"agent_id": agent_id} if agent_id else {}
    word = uuid.uuid4().hex[:8]
    called: set[str] = set()

    async def use(tool: str, **arguments: Any) -> dict[str, Any]:
        called.add(tool)
        return await ok(client, tool, **arguments)

    written = await use("remember", content=f"The deploy password rotates on Fridays {word}",
                        type="instruction", tags=["ops"], confidence=0.9, **mine)
    assert written["status"] == "queued" and written["memory_id"]
    me = written["agent_id"]
    batch = await use("batch_remember", memories=[
        {"content": f"Staging lives on host blue {word}", "type": "fact"},
        {"content": ""}], **mine)
    assert (batch["successful"], batch["failed"]) == (1, 1)
    assert batch["results"][1]["errors"][0]["field"] == "memories.1.content"

    async def found() -> dict[str, Any]:
        return await use("recall", query=f"when does the deploy password rotate {word}",
                         **mine)
    hits = await eventually(found, lambda r: any(m["memory_id"] == written["memory_id"]
                                                 for m in r["memories"]))
    assert hits["memories"][0]["content"].startswith("The deploy password")
    recent = await use("recall_recent", limit=5, **mine)
    assert written["memory_id"] in {m["memory_id"] for m in recent["memories"]}
    assert (await use("recall_as_of", as_of=time.time(), **mine))["temporal_mode"] == "as_of"
    since = await use("recall_changed_since", since="2000-01-01", **mine)
    assert since["count"] >= 2

    edited = await use("edit_memory", memory_id=written["memory_id"], confidence=0.5, **mine)
    assert (edited["version"], edited["confidence"]) == (2, 0.5)
    history = await use("memory_history", memory_id=written["memory_id"], **mine)
    assert [v["version"] for v in history["versions"]] == [1, 2]
    first = await use("memory_history", memory_id=written["memory_id"], limit=1, **mine)
    assert [v["version"] for v in first["versions"]] == [1] and first["has_more"]
    rest = await use("memory_history", memory_id=written["memory_id"],
                     cursor=first["next_cursor"], **mine)
    assert [v["version"] for v in rest["versions"]] == [2] and not rest["has_more"]
    await failed(client, "memory_history", 422, memory_id=written["memory_id"],
                 cursor="junk", **mine)
    assert (await use("forget", memory_id=written["memory_id"], **mine))["status"] == "deleted"
    await failed(client, "memory_history", 404, memory_id="no-such-memory", **mine)

    appended = await use("stm_append", role="user", content=f"hello {word}", **mine)
    assert appended["entries"][0]["content"] == f"hello {word}"
    assert (await use("stm_read", **mine))["entries"][-1]["content"] == f"hello {word}"
    context = await use("current_context", **mine)
    assert f"**User:** hello {word}" in context["content"]

    # With a token the fact is the agent's own; an API key names it.
    posted = await use("swarm_post", content=f"Staging is down until noon {word}",
                       ttl_seconds=60, **({"source_agent": agent_id} if agent_id else {}))
    assert posted["source_agent"] == me
    facts = await use("swarm_search", query=f"is staging down {word}")
    assert posted["id"] in {f["id"] for f in facts["facts"]}

    schedule = await use("schedule_create", name=f"daily-{word}", cron="0 9 * * *",
                         prompt="Standup notes", **mine)
    assert schedule["next_run"]
    listed = await use("schedule_list", **mine)
    assert [s["name"] for s in listed["schedules"]] == [f"daily-{word}"]
    assert (await use("schedule_delete", name=f"daily-{word}", **mine))["success"]
    inbox = await use("inbox_read", wait=0, **mine)
    assert inbox == {"messages": [], "last_id": inbox["last_id"]}

    assert (await use("get_agent", agent_id=me))["agent_id"] == me
    return called


async def eventually(probe: Callable[[], Awaitable[dict[str, Any]]],
                     done: Callable[[dict[str, Any]], bool], timeout: float = 30.0
                     ) -> dict[str, Any]:
    """`probe()` again until `done` says its answer is the awaited one (the worker indexes
    a memory well under a second after it is queued)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await probe()
        if done(answer) or time.monotonic() > deadline:
            assert done(answer), answer
            return answer
        await anyio.sleep(0.2)


async def exercise_agent_tools(client: Client) -> set[str]:
    """The agent tools, with an API key; their names."""
    name = unique("mcp-made")
    made = await ok(client, "create_agent", agent_id=name, description="made over MCP")
    assert (made["agent_id"], made["description"]) == (name, "made over MCP")
    await failed(client, "create_agent", 409, agent_id=name)
    listed = await ok(client, "list_agents")
    assert name in {agent["agent_id"] for agent in listed["agents"]}
    assert (await ok(client, "get_agent", agent_id=name))["memory_count"] == 0
    assert (await ok(client, "delete_agent", agent_id=name))["status"] == "deleted"
    await failed(client, "get_agent", 404, agent_id=name)
    return {"create_agent", "list_agents", "get_agent", "delete_agent"}


async def exercise_bad_arguments(client: Client) -> None:
    """Wrong arguments are tool errors naming the field; the connection lives on."""
    body = await failed(client, "remember", 422, content="")
    assert body["errors"][0]["field"] == "content"
    body = await failed(client, "remember", 422, content="x", colour="blue")
    assert body["errors"] == [{"field": "colour", "message": "unknown field",
                               "type": "extra_forbidden"}]
    body = await failed(client, "recall", 422, query="x", limit=0)
    assert body["errors"][0]["field"] == "limit"
    body = await failed(client, "recall", 422, query=["not", "text"])
    assert body["errors"][0]["field"] == "query"
    body = await failed(client, "schedule_create", 422, name="x", cron="not a cron",
                        prompt="p")
    assert body["errors"][0]["field"] == "cron"
    await failed(client, "inbox_read", 422, after="1-2-3")
    await failed(client, "edit_memory", 422, memory_id="m")
    with pytest.raises(MCPError, match="unknown tool 'answer'"):
        await client.call_tool("answer", {"question": "why?"})
    assert (await client.list_tools()).tools  # still connected


# -- connecting -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def web(live) -> str:
    return live.url


@dataclass
class Agent:
    agent_id: str
    token: str
    session_id: str


def new_agent(web: str) -> Agent:
    agent_id = unique("mcp")
    assert httpx.post(f"{web}/api/v2/agents", headers=ADMIN,
                      json={"agent_id": agent_id}).status_code == 201
    session = httpx.post(f"{web}/api/v2/agents/{agent_id}/activate", headers=ADMIN).json()
    return Agent(agent_id, session["session_token"], session["session_id"])


def token(agent: Agent) -> dict[str, str]:
    return {"X-Session-Token": agent.token}


@asynccontextmanager
async def connected(web: str, headers: dict[str, str], mode: str = "legacy"
                    ) -> AsyncIterator[Client]:
    """The SDK's client on /mcp with these headers: `legacy` is the initialize handshake
    (with an MCP session id), `auto` what the SDK picks (the newest protocol version)."""
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            Client(streamable_http_client(f"{web}/mcp", http_client=http), mode=mode) as client:
        yield client


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


# -- the tests ------------------------------------------------------------------------------

def test_the_tools_are_memantos_and_this_servers(web):
    async def scenario() -> None:
        async with connected(web, ADMIN) as client:
            tools = (await client.list_tools()).tools
        names = [t.name for t in tools]
        assert set(names) == MEMANTO_TOOLS | OWN_TOOLS == set(BY_NAME)
        assert len(names) == len(set(names))
        for tool in tools:
            assert len(tool.description) > 40, tool.name
            assert tool.input_schema["type"] == "object"
            assert tool.input_schema["additionalProperties"] is False
        remember = next(t for t in tools if t.name == "remember")
        # MEMANTO's argument names (its RememberRequest's lifecycle fields among them).
        assert {"content", "type", "confidence", "provenance", "title", "tags", "source",
                "status", "expired_at", "expired_by",
                "agent_id"} == set(remember.input_schema["properties"])
        assert remember.input_schema["required"] == ["content"]
        recall = next(t for t in tools if t.name == "recall").input_schema["properties"]
        assert {"query", "limit", "type", "min_similarity", "agent_id"} <= set(recall)

    run(scenario)


def test_every_tool_with_an_agents_session_token(web):
    agent = new_agent(web)

    async def scenario() -> None:
        async with connected(web, token(agent)) as client:
            called = await exercise_every_tool(client, None)
            assert called == OWN_TOOLS | MEMANTO_TOOLS - {"create_agent", "list_agents",
                                                          "delete_agent"}
            # Agents are managed with an API key, as in the v2 dialect.
            body = await failed(client, "list_agents", 403)
            assert body["detail"] == "list_agents takes an API key, not an agent's session token"
            await failed(client, "delete_agent", 403, agent_id=agent.agent_id)

    run(scenario)


def test_every_tool_with_an_api_key_naming_the_agent(web):
    agent = new_agent(web)

    async def scenario() -> None:
        async with connected(web, ADMIN) as client:
            called = await exercise_every_tool(client, agent.agent_id)
            called |= await exercise_agent_tools(client)
            assert called == set(BY_NAME)
            body = await failed(client, "recall", 422, query="anything")
            assert body["detail"].startswith("agent_id is required with an API key")
            await failed(client, "stm_read", 404, agent_id=unique("nobody"))
            # remember's own round trip checks that the agent exists.
            await failed(client, "remember", 404, content="x", agent_id=unique("nobody"))

    run(scenario)


def test_remember_takes_the_doors_path_and_answers_queued(web):
    agent = new_agent(web)

    written: dict[str, Any] = {}

    async def scenario() -> None:
        async with connected(web, token(agent)) as client:
            written.update(await ok(client, "remember", content="Alice prefers email",
                                    type="preference", tags=["contact"], confidence=0.9))

    run(scenario)
    assert written == {"memory_id": written["memory_id"], "agent_id": agent.agent_id,
                       "session_id": agent.session_id, "namespace": written["namespace"],
                       "status": "queued", "confidence": 0.9,
                       "provenance": "explicit_statement", "type": "preference"}
    # The same record the v2 door writes: readable by id at once, counted on the session.
    memory = httpx.get(f"{web}/api/v2/agents/{agent.agent_id}/memories/"
                       f"{written['memory_id']}", headers=token(agent)).json()
    assert (memory["content"], memory["session_id"]) == ("Alice prefers email",
                                                         agent.session_id)
    info = httpx.get(f"{web}/api/v2/session/info", headers=token(agent)).json()
    assert info["memories_created"] == 1


def test_bad_arguments_are_tool_errors(web):
    agent = new_agent(web)

    async def scenario() -> None:
        async with connected(web, token(agent)) as client:
            await exercise_bad_arguments(client)

    run(scenario)


def test_a_foreign_token_is_refused(web):
    mine, theirs = new_agent(web), new_agent(web)

    async def scenario() -> None:
        async with connected(web, token(theirs)) as client:
            for tool, arguments in [("remember", {"content": "x"}), ("recall", {"query": "x"}),
                                    ("stm_read", {}), ("forget", {"memory_id": "m"}),
                                    ("schedule_list", {}), ("get_agent", {})]:
                body = await failed(client, tool, 403, agent_id=mine.agent_id, **arguments)
                assert body["detail"] == (f"this session belongs to agent "
                                          f"{theirs.agent_id!r}, not {mine.agent_id!r}")
            body = await failed(client, "swarm_post", 403, content="x",
                                source_agent=mine.agent_id)
            assert "source_agent must be this session's agent" in body["detail"]

    run(scenario)


def test_the_newest_protocol_version_works_too(web):
    """The SDK's default: `server/discover`, then single-request exchanges without an MCP
    session (protocol 2026-07-28), under the same credentials."""
    agent = new_agent(web)

    async def scenario() -> None:
        async with connected(web, token(agent), mode="auto") as client:
            written = await ok(client, "remember", content="Bob prefers phone calls")
            assert (written["status"], written["agent_id"]) == ("queued", agent.agent_id)
            await failed(client, "remember", 422, content="")
            await failed(client, "recall", 403, query="x", agent_id=unique("other"))

    run(scenario)


def test_no_unauthenticated_mode(web):
    agent = new_agent(web)
    for headers, detail in [
        ({}, "send an API key ('Authorization: Bearer <key>') or an agent's session token "
             "('X-Session-Token: <token>')"),
        ({"Authorization": "Bearer not-a-key"}, "invalid API key"),
        ({"X-Session-Token": "not.a.token"}, None),
    ]:
        reply = httpx.post(f"{web}/mcp", headers=ACCEPT | headers, json=INITIALIZE)
        assert reply.status_code == 401, reply.text
        assert set(reply.json()) == {"detail"}
        if detail:
            assert reply.json()["detail"] == detail
    # A session that ended no longer opens the door.
    httpx.post(f"{web}/api/v2/agents/{agent.agent_id}/deactivate", headers=ADMIN)
    reply = httpx.post(f"{web}/mcp", headers=ACCEPT | token(agent), json=INITIALIZE)
    assert reply.status_code == 401

    async def scenario() -> None:
        async with connected(web, {}) as client:
            await client.list_tools()

    # The SDK's client reports the 401 as an MCPError, from inside its task groups.
    with pytest.raises(ExceptionGroup) as refused:
        run(scenario)
    assert refused.group_contains(MCPError, match="error response")


def test_origin_is_validated(web):
    for origin in ("http://evil.example", "null", "http://localhost.evil.example:8000"):
        reply = httpx.post(f"{web}/mcp", headers=ACCEPT | ADMIN | {"Origin": origin},
                           json=INITIALIZE)
        assert reply.status_code == 403, (origin, reply.text)
        assert "may not use this MCP endpoint" in reply.json()["detail"]
    for origin in ("http://localhost:6274", "http://127.0.0.1", "https://[::1]:9000"):
        reply = httpx.post(f"{web}/mcp", headers=ACCEPT | ADMIN | {"Origin": origin},
                           json=INITIALIZE)
        assert reply.status_code == 200, (origin, reply.text)


def test_sessions_have_ids_bound_to_their_caller(web):
    mine, theirs = new_agent(web), new_agent(web)
    opened = httpx.post(f"{web}/mcp", headers=ACCEPT | token(mine), json=INITIALIZE)
    assert opened.status_code == 200, opened.text
    assert opened.json()["result"]["serverInfo"]["name"] == "memanto-redis"
    session = {"Mcp-Session-Id": opened.headers["mcp-session-id"],
               "MCP-Protocol-Version": opened.json()["result"]["protocolVersion"]}
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    headers = ACCEPT | token(mine) | session
    assert httpx.post(f"{web}/mcp", headers=headers, json=initialized).status_code == 202
    reply = httpx.post(f"{web}/mcp", headers=headers, json=listing)
    assert reply.status_code == 200 and reply.json()["result"]["tools"]
    # Another caller, even the admin, cannot use it; without the id it is no session.
    for other in (token(theirs), ADMIN):
        reply = httpx.post(f"{web}/mcp", headers=ACCEPT | other | session, json=listing)
        assert reply.status_code == 404, reply.text
    assert httpx.post(f"{web}/mcp", headers=ACCEPT | token(mine),
                      json=listing).status_code == 400
    # Ending it: gone for its owner too.
    assert httpx.delete(f"{web}/mcp", headers=headers).status_code == 200
    assert httpx.post(f"{web}/mcp", headers=headers, json=listing).status_code == 404


def test_the_endpoint_is_exactly_mcp(web):
    assert httpx.post(f"{web}/mcp/x", headers=ACCEPT | ADMIN,
                      json=INITIALIZE).status_code == 404
    # JSON-RPC, not this API's JSON: the OpenAPI document leaves it out.
    assert "/mcp" not in httpx.get(f"{web}/openapi.json").json()["paths"]


def test_junk_is_a_4xx_never_a_5xx(web):
    bodies = [b"", b"{", b"null", b"[]", b"42", b'{"jsonrpc": "2.0"}', b"\xff\xfe\x00",
              json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "remember", "arguments": "x"}}).encode(),
              json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
              b"x" * (2 * 1024 * 1024 + 1)]
    answers = set()
    for version in (None, "2025-11-25", "2026-07-28", "1999-01-01"):
        headers = ACCEPT | ADMIN | ({"MCP-Protocol-Version": version} if version else {})
        for body in bodies:
            for method in ("POST", "GET", "DELETE", "PUT"):
                reply = httpx.request(method, f"{web}/mcp", headers=headers, content=body)
                assert reply.status_code < 500, (version, method, body[:60], reply.text)
                answers.add(reply.status_code)
    assert 413 in answers and 400 in answers
