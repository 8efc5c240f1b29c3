"""The MCP tools as a table: each tool's name, what it tells a model about when to use it, its
arguments (the dialects' request models, `args.py`), and the core call it maps to. The
names and argument names of MEMANTO's own MCP server (`memanto-mcp`) are kept, so an agent
set up for MEMANTO finds the same tools here; its `answer` is left out (no language model
here). Answers are the dialects' own shapes (`api/v2/answers.py`,
`api/agent_memory/answers.py`).

The core calls run in the web process (the Streamable HTTP transport); the stdio transport
(`cli/mcp.py`) serves the same table but makes each call over HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from memanto_redis.api.agent_memory import answers as seed003
from memanto_redis.api.auth import Caller
from memanto_redis.api.body import explain
from memanto_redis.api.mcp import args as a
from memanto_redis.api.services import Services
from memanto_redis.api.v2 import answers as v2
from memanto_redis.api.v2.models import batch_items
from memanto_redis.shared.auth import access
from memanto_redis.shared.auth.sessions import authorize
from memanto_redis.shared.errors import Forbidden, InvalidInput, NotFound
from memanto_redis.shared.infra.times import iso, parse_time
from memanto_redis.shared.memory import temporal
from memanto_redis.shared.memory.fields import Body

A = TypeVar("A", bound=Body)
Answer = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One tool call in the web process: the services, and who calls (checked already)."""

    services: Services
    caller: Caller
    # Whether the tool changes something (a read-only key may only read).
    write: bool = True

    async def agent(self, agent_id: str | None, *, exists: bool = True) -> str:
        """The agent the call is about: a session token's own (another's is refused), or
        the one an API key names, within the key's scope. `exists=False` leaves the agent
        check to the core call (remember's script makes it in the same round trip)."""
        claims = self.caller.claims
        if claims is not None:
            if agent_id is not None:
                authorize(claims, agent_id)
            return claims.agent_id
        if agent_id is None:
            raise InvalidInput("agent_id is required with an API key: name the agent whose "
                               "memory this is",
                               [{"field": "agent_id", "message": "required with an API key",
                                 "type": "missing"}])
        if exists:
            await access.agent(self.caller.principal, self.services.agents, agent_id,
                               write=self.write)
        else:
            self.caller.principal.check_agent(agent_id, write=self.write)
        return agent_id

    def key(self, tool: str) -> None:
        """Agents are managed with an API key, as in the v2 dialect."""
        if self.caller.claims is not None:
            raise Forbidden(f"{tool} takes an API key, not an agent's session token")


@dataclass(frozen=True)
class Tool(Generic[A]):
    name: str
    description: str
    args: type[A]
    core: Callable[[Call, A], Awaitable[Answer]]
    # Hints for the client (MCP tool annotations).
    read_only: bool = False
    destructive: bool = False

    def parse(self, arguments: dict[str, Any] | None) -> A:
        """The arguments, checked as the dialect checks its body (InvalidInput names each
        field at fault)."""
        try:
            return self.args.model_validate(arguments or {})
        except ValidationError as exc:
            raise explain(exc) from None

    async def run(self, call: Call, arguments: dict[str, Any] | None) -> Answer:
        return await self.core(replace(call, write=not self.read_only), self.parse(arguments))


# -- v2: memories ---------------------------------------------------------------------------

async def remember(call: Call, args: a.RememberArgs) -> Answer:
    agent_id = await call.agent(args.agent_id, exists=False)
    # The door's own path: one round trip queues it (and checks the session or the agent).
    (memory,) = await call.services.memories.remember(agent_id, [args.draft()],
                                                      call.caller.claims)
    return v2.queued(memory)


async def batch_remember(call: Call, args: a.BatchRememberArgs) -> Answer:
    # An extension of this tool: valid items are queued beside refused ones, where
    # /api/v2's batch-remember refuses the whole batch as MEMANTO does.
    agent_id = await call.agent(args.agent_id, exists=False)
    outcomes = await call.services.memories.remember_valid(
        agent_id, batch_items(list(args.memories)), call.caller.claims)
    return v2.batch(outcomes)


async def recall(call: Call, args: a.RecallArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    svc = call.services
    vector = await svc.embed(args.query)
    found = await svc.memories.recall(agent_id, vector, args.limit, args.filters(),
                                      args.status, args.min_similarity, args.query,
                                      args.search_mode)
    return v2.found(found, query=args.query)


async def recall_recent(call: Call, args: a.RecentArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    found = await temporal.recent(call.services.memories, agent_id, args.filters(),
                                  args.limit, args.status)
    return v2.found(found, temporal_mode="recent")


async def recall_as_of(call: Call, args: a.AsOfArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    svc = call.services
    vector = await svc.embed(args.query) if args.query else None
    moment = parse_time(args.as_of, end_of_day=True)
    found = await temporal.as_of(svc.memories, agent_id, moment, args.filters(), args.limit,
                                 vector, args.query or "", args.search_mode)
    return v2.found(found, temporal_mode="as_of", as_of=iso(moment), query=args.query)


async def recall_changed_since(call: Call, args: a.ChangedSinceArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    svc = call.services
    vector = await svc.embed(args.query) if args.query else None
    since = parse_time(args.since)
    found = await temporal.changed_since(svc.memories, agent_id, since, args.filters(),
                                         args.limit, args.status, vector, args.query or "",
                                         args.search_mode)
    return v2.found(found, temporal_mode="changed_since", since=iso(since), query=args.query)


async def forget(call: Call, args: a.ForgetArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    if not await call.services.editor.delete(agent_id, args.memory_id):
        raise NotFound(f"memory {args.memory_id!r} not found")
    return {"memory_id": args.memory_id, "status": "deleted"}


def edits(args: a.EditArgs) -> dict[str, object]:
    """What edit_memory changes; nothing at all is refused (over stdio as well, before the
    server's PATCH, which answers MEMANTO's 400, is asked)."""
    changes = args.changes()
    changes.pop("memory_id", None)
    changes.pop("agent_id", None)
    if not changes:
        raise InvalidInput("nothing to change: give any of title, content, type, confidence, "
                           "tags, source")
    return changes


async def edit_memory(call: Call, args: a.EditArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    changes = edits(args)
    return v2.memory(await call.services.editor.patch(agent_id, args.memory_id, changes))


async def memory_history(call: Call, args: a.HistoryArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    return v2.history(await call.services.editor.history(agent_id, args.memory_id,
                                                         args.limit, args.cursor))


# -- v2: agents -----------------------------------------------------------------------------

async def create_agent(call: Call, args: a.CreateAgentArgs) -> Answer:
    call.key("create_agent")
    call.caller.principal.check_manage_agents(args.agent_id)
    agent = await call.services.agents.create(args.agent_id, args.description, args.pattern)
    return v2.agent(agent)


async def list_agents(call: Call, args: a.NoArgs) -> Answer:
    call.key("list_agents")
    agents = [v2.agent(agent) for agent in await call.services.agents.all(
        call.caller.principal)]
    return {"agents": agents, "count": len(agents)}


async def get_agent(call: Call, args: a.AgentArgs) -> Answer:
    # A session token may read its own agent; an API key any in its scope.
    await call.agent(args.agent_id, exists=False)
    return v2.agent(await call.services.agents.get(args.agent_id))


async def delete_agent(call: Call, args: a.AgentArgs) -> Answer:
    call.key("delete_agent")
    call.caller.principal.check_manage_agents(args.agent_id)
    removed = await call.services.agents.delete(args.agent_id)
    return {"agent_id": args.agent_id, "status": "deleted", "memories_deleted": removed}


# -- seed 003: short-term memory, the swarm, the inbox, schedules ----------------------------

async def stm_append(call: Call, args: a.StmAppendArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    written = await call.services.stm.append(agent_id, args.session,
                                             [(args.role, args.content)])
    return {"success": True} | seed003.stm_session(written)


async def stm_read(call: Call, args: a.StmReadArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    return seed003.stm_session(await call.services.stm.read(agent_id, args.session,
                                                            args.limit))


async def current_context(call: Call, args: a.StmReadArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    stm = await call.services.stm.read(agent_id, args.session, args.limit)
    return {"content": seed003.current_md(stm)}


async def swarm_post(call: Call, args: a.SwarmPostArgs) -> Answer:
    svc, caller = call.services, call.caller
    source = svc.swarm.source_for(args.source_agent, caller.principal)
    vector = await svc.embed(args.content)
    fact = await svc.swarm.add(args.content, source, args.ttl_seconds, vector,
                               caller.principal.name)  # its agent, or the key's name
    return {"success": True, "message": "Fact added"} | seed003.fact(fact)


async def swarm_search(call: Call, args: a.SwarmSearchArgs) -> Answer:
    svc = call.services
    vector = await svc.embed(args.query)
    found = await svc.swarm.search(vector, args.limit, args.threshold, args.query,
                                   args.search_mode, call.caller.principal.key_agent_filter())
    return seed003.facts(found, query=args.query)


async def inbox_read(call: Call, args: a.InboxArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    return seed003.inbox(await call.services.inbox.read(agent_id, args.after, args.wait,
                                                        args.limit))


async def schedule_create(call: Call, args: a.ScheduleCreateArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    schedule = await call.services.schedules.create(agent_id, args.name, args.cron,
                                                    args.prompt, args.timezone,
                                                    args.webhook_url,
                                                    by_session=call.caller.claims is not None)
    return seed003.schedule(schedule)


async def schedule_list(call: Call, args: a.ScheduleListArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    schedules = await call.services.schedules.all(agent_id)
    return {"schedules": [seed003.schedule(s) for s in schedules]}


async def schedule_delete(call: Call, args: a.ScheduleArgs) -> Answer:
    agent_id = await call.agent(args.agent_id)
    await call.services.schedules.delete(agent_id, args.name)
    return {"success": True, "name": args.name, "message": "Schedule deleted"}


# -- the table ------------------------------------------------------------------------------

TOOLS: tuple[Tool[Any], ...] = (
    Tool("remember", (
        "Save one durable piece of information to long-term memory, for this and later "
        "sessions. Use it on your own, without waiting to be asked, when the user states a "
        "rule, preference or decision, when a goal or commitment is agreed, when you learn a "
        "stable fact about the user or the project, or when a fix or a correction teaches "
        "something worth keeping. Write one short, general statement, not a transcript; "
        "recall first to avoid duplicates. Answers at once with status 'queued': the memory "
        "is readable by id at once and found by recall well under a second later."),
        a.RememberArgs, remember),
    Tool("batch_remember", (
        "Save many independent memories at once (1-100), e.g. facts extracted from a "
        "document. Each item takes remember's fields; valid items are queued even when "
        "others are refused (each result says which). For a single item use remember."),
        a.BatchRememberArgs, batch_remember),
    Tool("recall", (
        "Search long-term memory by meaning (and words). Use it on your own at the start of "
        "a task or topic to pick up the user's rules, preferences and earlier decisions; "
        "when the user refers to earlier work; before choosing a convention the user has not "
        "named; before asking something they may have told you already. Ask in natural "
        "language. Filters: type, tags, created_after/created_before, status."),
        a.RecallArgs, recall, read_only=True),
    Tool("recall_recent", (
        "The newest memories first, with no query. Use it to catch up at the start of a "
        "session or after a break, or to see what was saved last."),
        a.RecentArgs, recall_recent, read_only=True),
    Tool("recall_as_of", (
        "What the agent held at a past moment (each memory as it read then; memories "
        "created later, or deleted or expired by then, left out). Use it for questions like "
        "'what did we believe on March 1st?' or to see a decision before it changed; with a "
        "query, ranked by it, else newest first."),
        a.AsOfArgs, recall_as_of, read_only=True),
    Tool("recall_changed_since", (
        "Memories created or changed since a moment, most recent change first (or ranked by "
        "a query). Use it to see what is new since the last session or since a date."),
        a.ChangedSinceArgs, recall_changed_since, read_only=True),
    Tool("forget", (
        "Delete a memory that is wrong or no longer wanted (its history is kept for "
        "recall_as_of). Use it when the user asks you to forget something; to correct a "
        "memory, prefer edit_memory."),
        a.ForgetArgs, forget, destructive=True),
    Tool("edit_memory", (
        "Change a memory in place (any of content, title, type, confidence, tags, source); "
        "its earlier version is kept in its history. Use it when a memory was wrong or is "
        "out of date, instead of saving a contradicting one."),
        a.EditArgs, edit_memory),
    Tool("memory_history", (
        "Every version of one memory, oldest first, with when each was in force, a page at "
        "a time (next_cursor gives the next). Use it to see how and when a memory changed."),
        a.HistoryArgs, memory_history, read_only=True),
    Tool("stm_append", (
        "Add a message to the agent's short-term memory (the running conversation of the "
        "current session, kept for a day after its last message). Use it to keep notes of "
        "the conversation that need not be long-term memories."),
        a.StmAppendArgs, stm_append),
    Tool("stm_read", (
        "The newest messages of a short-term memory session, oldest first. Use it to pick "
        "up a conversation where it was left, e.g. after a restart."),
        a.StmReadArgs, stm_read, read_only=True),
    Tool("current_context", (
        "The current short-term memory session as a Markdown page (current.md): the recent "
        "messages, speaker by speaker, scheduled prompts included. Use it at the start of a "
        "turn to see the conversation so far in one read."),
        a.StmReadArgs, current_context, read_only=True),
    Tool("swarm_post", (
        "Share a short-lived fact with every other agent (the swarm), e.g. 'the staging "
        "deploy is broken until 15:00'. Use it for what other agents need to know soon; it "
        "expires after ttl_seconds. For your own lasting memory use remember."),
        a.SwarmPostArgs, swarm_post),
    Tool("swarm_search", (
        "Search the facts other agents shared in the swarm, by meaning. Use it before "
        "starting work that others may be doing or have news about."),
        a.SwarmSearchArgs, swarm_search, read_only=True),
    Tool("inbox_read", (
        "Prompts that schedules delivered to the agent's inbox. Use it to check for "
        "scheduled work; pass the last_id you got back as after to get only newer ones, and "
        "wait (seconds) to wait for one."),
        a.InboxArgs, inbox_read, read_only=True),
    Tool("schedule_create", (
        "Schedule a prompt to be delivered to the agent's inbox on a cron (and to a webhook, "
        "if given), e.g. a daily reminder. Use it when the user asks for something to happen "
        "later or regularly."),
        a.ScheduleCreateArgs, schedule_create),
    Tool("schedule_list", (
        "The agent's schedules, with their next and last runs. Use it before creating one, "
        "or to answer what is scheduled."),
        a.ScheduleListArgs, schedule_list, read_only=True),
    Tool("schedule_delete", (
        "Stop and remove a schedule by name (its past runs go with it), when the user no "
        "longer wants its prompts."),
        a.ScheduleArgs, schedule_delete, destructive=True),
    Tool("create_agent", (
        "Create an agent: a memory of its own (needs an API key). Use it once per project "
        "or assistant before remembering anything for it."),
        a.CreateAgentArgs, create_agent),
    Tool("list_agents", (
        "Every agent, with its memory count and last activity (needs an API key)."),
        a.NoArgs, list_agents, read_only=True),
    Tool("get_agent", (
        "One agent's details: description, memory count, last activity, whether a session "
        "is active."),
        a.AgentArgs, get_agent, read_only=True),
    Tool("delete_agent", (
        "Delete an agent with every memory it holds, for good (needs an API key). Only when "
        "the user asks for it."),
        a.AgentArgs, delete_agent, destructive=True),
)

BY_NAME: dict[str, Tool[Any]] = {tool.name: tool for tool in TOOLS}
