"""`memanto mcp --agent NAME`: the MCP tools over stdio, for a coding agent on this machine,
talking to the server over HTTP (MEMANTO_URL), so it needs no Redis and no model here.

It serves the web process's tool table (`api/mcp/tools.py`: the same names, descriptions
and argument checks) but makes each call with the Python client, as agent NAME through a
session it keeps alive: the CLI's saved session when it is NAME's, else one activated with
the API key (MEMANTO_API_KEY or the CLI's config); extended before it expires, and
activated again should it be lost. Agents are managed with the API key.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.stdio import stdio_server

from memanto_redis.api.mcp import args as a
from memanto_redis.api.mcp import server
from memanto_redis.api.mcp.tools import Answer, Tool, edits
from memanto_redis.api.v2 import answers
from memanto_redis.api.v2.models import batch_items
from memanto_redis.cli import output
from memanto_redis.cli.config import CliConfig
from memanto_redis.shared.errors import InvalidInput
from memanto_redis_client import AgentHandle, ApiError, ClientError, Memanto

# A session is extended this long before it expires (or at half its length, if shorter).
RENEW_BEFORE = 15 * 60
# After a failed renewal (the server unreachable), try again this much later.
RETRY_AFTER = 30.0
# Inbox reads long-poll up to 30 s: the HTTP timeout leaves room for that.
HTTP_TIMEOUT = 60.0
# What a renewal adds without --hours (MEMANTO's session length).
DEFAULT_HOURS = 6.0


def _moment(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class KeptSession:
    """Agent NAME's session, kept alive for as long as the server runs."""

    def __init__(self, client: Memanto, agent_id: str, hours: float | None) -> None:
        self.client = client
        self.agent_id = agent_id
        self.hours = hours
        self.handle: AgentHandle | None = None
        self.expires_at = 0.0
        self.margin = 0.0
        self._lock = threading.RLock()

    def start(self, saved: CliConfig) -> None:
        """Take up the CLI's saved session when it is this agent's (activating anew would
        end it), else activate one. ClientError when neither works."""
        if saved.agent_id == self.agent_id and saved.session_token:
            self.handle = self.client.agent(self.agent_id, saved.session_token,
                                            on_renew=self._renewed)
            # A dead saved session is renewed on the way (on_renew).
            self._expires(self.handle.session_info()["expires_at"])
        else:
            self.handle = self.client.activate(self.agent_id, self.hours)
            self.handle.on_renew = self._renewed
            self._expires(self.handle.session["expires_at"])

    def _expires(self, iso: str) -> None:
        with self._lock:
            self.expires_at = _moment(iso)
            self.margin = min(RENEW_BEFORE, (self.expires_at - time.time()) / 2)

    def _renewed(self, session: dict[str, Any]) -> None:
        """A new session (the old one was lost): keep its expiry, and share it."""
        self._expires(session["expires_at"])
        self._share(session)

    def _share(self, session: dict[str, Any]) -> None:
        """The CLI's saved session follows this one while the CLI is on this agent (its
        config read afresh: the CLI may have moved to another agent since)."""
        saved = CliConfig.load()
        if saved.agent_id == self.agent_id:
            saved.remember_session(self.agent_id, session)

    def due_in(self) -> float:
        """Seconds until the session should be extended."""
        return self.expires_at - self.margin - time.time()

    def renew(self) -> None:
        """Push the expiry `hours` later; the token changes, the session does not."""
        with self._lock:
            handle = self.current()
            if self.due_in() > 0:
                return  # another thread was first
            extended = handle.extend(self.hours or DEFAULT_HOURS)
            handle.session_token = extended["session_token"]
            self._expires(extended["expires_at"])
            self._share(extended)

    def current(self) -> AgentHandle:
        assert self.handle is not None, "start() first"
        return self.handle

    def agent(self, agent_id: str | None) -> AgentHandle:
        """The handle of the agent a call names (this one, or none named)."""
        if agent_id is not None and agent_id != self.agent_id:
            raise server.ToolFailed(403, f"this session belongs to agent {self.agent_id!r}, "
                                         f"not {agent_id!r} (memanto mcp --agent "
                                         f"{self.agent_id})")
        if self.due_in() <= 0:
            self.renew()
        return self.current()


def _fields(args: Any, *leave_out: str) -> dict[str, Any]:
    """What the caller gave, for the client to send (the server fills the defaults)."""
    return args.model_dump(exclude_unset=True, exclude={"agent_id", *leave_out})


# Each tool as a call over HTTP: (the kept session, its checked arguments) -> the answer.
Http = Callable[[KeptSession, Any], Answer]


def _batch_remember(s: KeptSession, args: a.BatchRememberArgs) -> Answer:
    """As over HTTP, valid items are queued beside refused ones: each item is checked here
    as the web checks it, only the valid ones are sent (the REST route refuses a batch with
    a bad item whole, as MEMANTO does), and the answer puts each back in its place."""
    items = batch_items(list(args.memories))
    valid = [raw for raw, item in zip(args.memories, items, strict=True)
             if not isinstance(item, InvalidInput)]
    sent = s.agent(args.agent_id).batch_remember(valid) if valid else {"results": []}
    queued = iter(sent["results"])
    results = []
    for i, item in enumerate(items):
        if isinstance(item, InvalidInput):
            results.append(answers.refused(i, item))
        else:
            results.append(next(queued) | {"index": i})
    successful = sum(1 for r in results if r["status"] != "failed")
    kept = {k: v for k, v in sent.items() if k in ("agent_id", "session_id", "namespace")}
    return kept | {"total_submitted": len(items), "successful": successful,
                   "failed": len(items) - successful, "results": results}


def _list_agents(s: KeptSession, args: a.NoArgs) -> Answer:
    agents = s.client.list_agents()
    return {"agents": agents, "count": len(agents)}


CALLS: dict[str, Http] = {
    "remember": lambda s, x: s.agent(x.agent_id).remember(**_fields(x)),
    "batch_remember": _batch_remember,
    "recall": lambda s, x: s.agent(x.agent_id).recall(**_fields(x)),
    "recall_recent": lambda s, x: s.agent(x.agent_id).recent(**_fields(x)),
    "recall_as_of": lambda s, x: s.agent(x.agent_id).as_of(**_fields(x)),
    "recall_changed_since": lambda s, x: s.agent(x.agent_id).changed_since(**_fields(x)),
    "forget": lambda s, x: s.agent(x.agent_id).forget(x.memory_id),
    # The memory as it now reads, as the tool answers over HTTP (PATCH puts it under memory).
    "edit_memory": lambda s, x: s.agent(x.agent_id).edit(x.memory_id, **edits(x))["memory"],
    "memory_history": lambda s, x: s.agent(x.agent_id).history(x.memory_id, x.cursor,
                                                               x.limit),
    "stm_append": lambda s, x: s.agent(x.agent_id).stm_append(**_fields(x)),
    "stm_read": lambda s, x: s.agent(x.agent_id).stm_read(x.limit, x.session),
    "current_context": lambda s, x: s.agent(x.agent_id).current_context(x.limit, x.session),
    "swarm_post": lambda s, x: s.agent(None).swarm_post(**_fields(x)),
    "swarm_search": lambda s, x: s.agent(None).swarm_search(**_fields(x)),
    "inbox_read": lambda s, x: s.agent(x.agent_id).inbox(x.after, x.wait, x.limit),
    "schedule_create": lambda s, x: s.agent(x.agent_id).schedule_create(**_fields(x)),
    "schedule_list": lambda s, x: s.agent(x.agent_id).schedules(),
    "schedule_delete": lambda s, x: s.agent(x.agent_id).schedule_delete(x.name),
    "create_agent": lambda s, x: s.client.create_agent(x.agent_id, x.description,
                                                       x.pattern),
    "list_agents": _list_agents,
    "get_agent": lambda s, x: s.client.get_agent(x.agent_id),
    "delete_agent": lambda s, x: s.client.delete_agent(x.agent_id),
}


def _over_http(kept: KeptSession, tool: Tool[Any], arguments: dict[str, Any] | None
               ) -> Answer:
    # Checked here first, as the web process checks them: the same errors, one round trip
    # fewer.
    checked = tool.parse(arguments)
    try:
        return CALLS[tool.name](kept, checked)
    except ApiError as exc:
        raise server.ToolFailed(exc.status, exc.detail, exc.errors) from None
    except ClientError as exc:
        raise server.ToolFailed(503, str(exc)) from None


async def _keep_alive(kept: KeptSession) -> None:
    while True:
        await anyio.sleep(max(1.0, kept.due_in()))
        try:
            await anyio.to_thread.run_sync(kept.renew)
        except ClientError as exc:
            print(f"memanto mcp: could not renew the session: {exc}", file=sys.stderr,
                  flush=True)
            await anyio.sleep(RETRY_AFTER)


async def serve(kept: KeptSession) -> None:
    """Serve MCP on stdin/stdout until the client closes them."""
    async def execute(ctx: server.Context, tool: Tool[Any],
                      arguments: dict[str, Any] | None) -> Answer:
        # The client is synchronous: each call waits in a thread, the loop stays free.
        return await anyio.to_thread.run_sync(partial(_over_http, kept, tool, arguments))

    mcp = server.build(execute)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_keep_alive, kept)
        async with stdio_server() as (read, write):
            await mcp.run(read, write, mcp.create_initialization_options())
        tasks.cancel_scope.cancel()


def run(args: argparse.Namespace, config: CliConfig) -> None:
    if not config.api_key:
        output.fail("memanto mcp needs an API key to activate the agent's session: set "
                    "MEMANTO_API_KEY (or save one in the CLI's config)")
    if args.hours is not None and not 0 < args.hours <= 24 * 30:
        output.fail("--hours must be more than 0 and at most 720")
    kept = KeptSession(Memanto(config.server_url, config.api_key, timeout=HTTP_TIMEOUT),
                       args.agent, args.hours)
    kept.start(config)  # a ClientError here is the command's one-line error
    anyio.run(serve, kept)
