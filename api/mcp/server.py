"""The MCP server over the tool table, for either transport: `tools/list` answers the table;
`tools/call` hands the tool and its arguments to the transport's executor (the core calls
in the web process, HTTP calls under `memanto mcp`). Whatever goes wrong in a call is a
tool error (`isError`) whose text is the HTTP dialects' error JSON plus its status, so a
model can read it and correct itself; only an unknown tool is a protocol error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError

from memanto_redis.api.errors import lost_redis, status_of
from memanto_redis.api.mcp.args import schema
from memanto_redis.api.mcp.tools import BY_NAME, TOOLS, Answer, Tool
from memanto_redis.shared.errors import InvalidInput, MemantoError

log = logging.getLogger("memanto.mcp")

NAME = "memanto-redis"
INSTRUCTIONS = (
    "Long-term memory for an AI agent, kept across sessions. Recall at the start of a task "
    "and before asking the user something they may have said before; remember durable "
    "facts, preferences, decisions and lessons as they come up (one short statement "
    "each). Short-term memory (stm_*), the swarm (facts shared with other agents) and "
    "scheduled prompts (schedule_*, inbox_read) are here too.")

Context = ServerRequestContext[Any, Any]
# How a transport runs a tool: (the request's context, the tool, its raw arguments).
Execute = Callable[[Context, Tool[Any], dict[str, Any] | None], Awaitable[Answer]]


class ToolFailed(Exception):
    """A call that failed as the HTTP API would answer it: its status and detail (and, for
    invalid input, each field at fault)."""

    def __init__(self, status: int, detail: str,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []

    @classmethod
    def of(cls, exc: MemantoError) -> ToolFailed:
        return cls(status_of(exc), exc.message,
                   list(exc.errors) if isinstance(exc, InvalidInput) else None)

    def answer(self) -> Answer:
        shaped: Answer = {"detail": self.detail, "status": self.status}
        if self.errors:
            shaped["errors"] = self.errors
        return shaped


def listing() -> list[types.Tool]:
    return [types.Tool(
        name=tool.name, description=tool.description, input_schema=schema(tool.args),
        annotations=types.ToolAnnotations(read_only_hint=tool.read_only,
                                          destructive_hint=tool.destructive),
    ) for tool in TOOLS]


def text(answer: Answer, *, error: bool = False) -> types.CallToolResult:
    """An answer as compact JSON text."""
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    return types.CallToolResult(content=[types.TextContent(text=body)], is_error=error)


def build(execute: Execute) -> Server[Any]:
    """An MCP server of the tool table whose calls `execute` runs."""
    tools = listing()

    async def list_tools(ctx: Context,
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Context,
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = BY_NAME.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}")
        try:
            return text(await execute(ctx, tool, params.arguments))
        except ToolFailed as exc:
            return text(exc.answer(), error=True)
        except MemantoError as exc:
            return text(ToolFailed.of(exc).answer(), error=True)
        except Exception as exc:
            # A model gets a line it can act on; the traceback goes to the log.
            if lost_redis(exc):
                log.error("Redis unavailable: %s", exc)
                failed = ToolFailed(503, "storage is unavailable; retry shortly")
            else:
                log.exception("tool %s failed", tool.name)
                failed = ToolFailed(500, "internal error")
            return text(failed.answer(), error=True)

    return Server(NAME, version=version("memanto-redis"), instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)
