"""`memanto mcp --agent NAME`: the MCP tools over stdio, the installed command started by the
official MCP Python SDK's client as a coding agent starts it, talking over HTTP to the
session's live stack. The same tools as /mcp, each called; bad arguments are tool errors;
another agent's memory is refused; the session is kept alive."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from memanto_redis.api.mcp import server as mcp_server
from memanto_redis.api.mcp.tools import BY_NAME
from tests.api.mcp.test_http import (
    exercise_agent_tools,
    exercise_bad_arguments,
    exercise_every_tool,
    failed,
    ok,
)
from tests.support import ADMIN, ADMIN_KEY, CLI, MEMANTO, ROOT, memanto_in_process, unique


@pytest.fixture(scope="module")
def web(live) -> str:
    return live.url


def new_agent(web: str) -> str:
    agent_id = unique("stdio")
    assert httpx.post(f"{web}/api/v2/agents", headers=ADMIN,
                      json={"agent_id": agent_id}).status_code == 201
    return agent_id


def env(web: str, home: Path, key: str | None = ADMIN_KEY) -> dict[str, str]:
    return {"MEMANTO_URL": web, "MEMANTO_HOME": str(home)} | (
        {"MEMANTO_API_KEY": key} if key else {})


@asynccontextmanager
async def stdio(web: str, home: Path, agent_id: str, *extra: str,
                mode: str = "legacy") -> AsyncIterator[Client]:
    """`memanto mcp --agent AGENT` as a coding agent runs it: a process of its own, its
    environment only the MEMANTO_* settings (and PATH)."""
    command = [str(MEMANTO)] if MEMANTO.exists() else CLI
    params = StdioServerParameters(command=command[0],
                                   args=[*command[1:], "mcp", "--agent", agent_id, *extra],
                                   env=env(web, home), cwd=ROOT)
    async with Client(params, mode=mode, read_timeout_seconds=60) as client:
        yield client


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


def test_the_same_tools_as_over_http(web, tmp_path):
    agent_id = new_agent(web)

    async def scenario() -> None:
        async with stdio(web, tmp_path, agent_id) as client:
            tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == list(BY_NAME)
        assert tools == mcp_server.listing()

    run(scenario)


def test_every_tool_over_stdio(web, tmp_path):
    agent_id = new_agent(web)

    async def scenario() -> None:
        async with stdio(web, tmp_path, agent_id) as client:
            called = await exercise_every_tool(client, None)
            # Agents are managed with the API key the command was given.
            called |= await exercise_agent_tools(client)
            assert called == set(BY_NAME)

    run(scenario)


def test_bad_arguments_and_other_agents_are_tool_errors(web, tmp_path):
    agent_id, other = new_agent(web), new_agent(web)

    async def scenario() -> None:
        async with stdio(web, tmp_path, agent_id, mode="auto") as client:
            await exercise_bad_arguments(client)
            for tool, arguments in [("remember", {"content": "x"}), ("recall", {"query": "x"}),
                                    ("inbox_read", {})]:
                body = await failed(client, tool, 403, agent_id=other, **arguments)
                assert body["detail"] == (f"this session belongs to agent {agent_id!r}, not "
                                          f"{other!r} (memanto mcp --agent {agent_id})")
            # What the server refuses comes back as the same tool error.
            body = await failed(client, "swarm_post", 403, content="x", source_agent=other)
            assert "source_agent must be this session's agent" in body["detail"]
            await failed(client, "memory_history", 404, memory_id="no-such-memory")

    run(scenario)


def test_the_session_is_kept_alive(web, tmp_path):
    """Extended before it expires (the same session, past its first expiry); activated
    again when it is lost."""
    agent_id = new_agent(web)

    async def scenario() -> None:
        # 7.2-second sessions: extended half-way, by as much again.
        async with stdio(web, tmp_path, agent_id, "--hours", "0.002") as client:
            first = await ok(client, "remember", content="first")
            await anyio.sleep(9)
            later = await ok(client, "remember", content="after the first expiry")
            assert later["session_id"] == first["session_id"]
            # Ended from elsewhere: the next call activates a new session with the key.
            assert httpx.post(f"{web}/api/v2/agents/{agent_id}/deactivate",
                              headers=ADMIN).status_code == 200
            again = await ok(client, "remember", content="after the session ended")
            assert again["session_id"] != first["session_id"]

    run(scenario)


def test_it_takes_up_the_clis_saved_session(web, tmp_path, capsys):
    """Activating anew would end the CLI's session of the same agent: it is shared."""
    agent_id = new_agent(web)
    cli_env = env(web, tmp_path)
    activated = memanto_in_process(capsys, ["agent", "activate", agent_id, "--json"], cli_env)
    assert activated.returncode == 0, activated.stderr
    session_id = json.loads(activated.stdout)["session_id"]

    async def scenario() -> None:
        async with stdio(web, tmp_path, agent_id) as client:
            written = await ok(client, "remember", content="shared session")
            assert written["session_id"] == session_id

    run(scenario)
    info = memanto_in_process(capsys, ["session", "info", "--json"], cli_env)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["session_id"] == session_id


def test_it_says_what_is_missing_in_one_line(web, tmp_path, capsys):
    no_key = memanto_in_process(capsys, ["mcp", "--agent", "someone"],
                                env(web, tmp_path, key=None))
    assert (no_key.returncode, no_key.stdout) == (1, "")
    assert no_key.stderr.startswith("Error: memanto mcp needs an API key")
    nobody = unique("nobody")
    missing = memanto_in_process(capsys, ["mcp", "--agent", nobody], env(web, tmp_path))
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == f"Error: agent {nobody!r} not found (HTTP 404)\n"
    down = memanto_in_process(capsys, ["mcp", "--agent", "someone"],
                              env("http://127.0.0.1:9", tmp_path))
    assert down.returncode == 1 and down.stderr.startswith("Error: cannot reach")
