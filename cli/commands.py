"""What each `memanto` verb does: call the client, show the answer."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from memanto_redis.cli import output
from memanto_redis.cli.config import CliConfig
from memanto_redis_client import AgentHandle, ApiError, Memanto


def _client(config: CliConfig) -> Memanto:
    return Memanto(config.server_url, config.api_key)


def _need_key(config: CliConfig) -> None:
    if not config.api_key:
        output.fail("no API key: set MEMANTO_API_KEY (the key `make run` printed)")


def _session(config: CliConfig) -> AgentHandle:
    """The saved session's agent; an expired session is renewed with the API key."""
    if not (config.agent_id and config.session_token):
        output.fail("no active session: run `memanto agent activate NAME` first")
    return _client(config).agent(config.agent_id, config.session_token,
                                 on_renew=lambda s: config.remember_session(config.agent_id, s))


def comma_list(raw: str | None) -> list[str] | None:
    """A comma-separated option as the user typed it ("a, b,,c" -> ["a", "b", "c"]); None
    when the option was not given. (Stored tags are split by shared.memory.rules.split_tags,
    which trims nothing.)"""
    return None if raw is None else [t.strip() for t in raw.split(",") if t.strip()]


def _tags(raw: str | None) -> list[str] | None:
    # An empty --tags is no tag filter and no change of tags, as if it were not given.
    return comma_list(raw or None)


# -- agent ---------------------------------------------------------------------------------

def agent_create(args: argparse.Namespace, config: CliConfig) -> None:
    _need_key(config)
    agent = _client(config).create_agent(args.name, args.description, args.pattern)
    output.emit(agent, args.json, f"Agent '{agent['agent_id']}' created successfully\n"
                f"Agent ID: {agent['agent_id']}\nNamespace: {agent['namespace']}")


def agent_list(args: argparse.Namespace, config: CliConfig) -> None:
    _need_key(config)
    agents = _client(config).list_agents()
    output.emit({"agents": agents, "count": len(agents)}, args.json, output.agent_list(agents))


def agent_activate(args: argparse.Namespace, config: CliConfig) -> None:
    _need_key(config)
    handle = _client(config).activate(args.name, args.hours)
    config.remember_session(args.name, handle.session)
    session = handle.session
    output.emit(session, args.json, "\n".join([
        f"Session activated for agent '{args.name}'",
        f"Session ID: {session['session_id']}",
        f"Session Token: {session['session_token'][:36]}...",
        f"Expires At: {output.when(session['expires_at'])}",
        f"The session token is saved to {config.path}",
    ]))


def agent_deactivate(args: argparse.Namespace, config: CliConfig) -> None:
    name = args.name or config.agent_id
    if not name:
        output.fail("no active session to deactivate")
    if args.name and args.name != config.agent_id:
        _need_key(config)
        summary = _client(config).deactivate(name)
    else:
        try:
            summary = _session(config).deactivate()
        except ApiError as exc:
            if exc.status != 401:
                raise
            # The saved session had already ended; forget it all the same.
            config.forget_session()
            output.emit({"agent_id": name, "status": "already ended"}, args.json,
                        f"Session for agent '{name}' had already ended")
            return
        config.forget_session()
    output.emit(summary, args.json, f"Session deactivated for agent '{name}'\n"
                f"Memories created in the session: {summary['memories_created']}")


def agent_bootstrap(args: argparse.Namespace, config: CliConfig) -> None:
    name = args.name or config.agent_id
    if not name:
        output.fail("name an agent: memanto agent bootstrap NAME")
    card = _client(config).bootstrap(name) if config.api_key else _session(config).bootstrap()
    output.emit(card, args.json, output.bootstrap_card(card))


def _yes(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def agent_delete(args: argparse.Namespace, config: CliConfig) -> None:
    """As MEMANTO's: the agent's memories are kept (and come back with an agent created
    again under its id) unless --delete-memories, or a yes at the prompt."""
    _need_key(config)
    delete_memories = args.delete_memories
    if not args.yes:
        if not sys.stdin.isatty():
            output.fail("deleting an agent cannot be undone: add --yes (or --force) to "
                        "confirm")
        if not _yes(f"Delete agent '{args.name}'?"):
            output.fail("not deleted")
        if delete_memories is None:
            delete_memories = _yes("Delete its memories too? (kept, they come back when "
                                   "the agent is created again)")
    result = _client(config).delete_agent(args.name, delete_memories=bool(delete_memories))
    if config.agent_id == args.name:
        config.agent_id = None
        config.forget_session()
    kept = "its memories are kept: creating it again brings them back"
    output.emit(result, args.json, f"Agent '{args.name}' deleted (" + (
        f"{result.get('memories_deleted', 0)} memories removed" if delete_memories else kept)
        + ")")


# -- session -------------------------------------------------------------------------------

def session_info(args: argparse.Namespace, config: CliConfig) -> None:
    handle = _session(config)
    info = handle.session_info()
    output.emit(info, args.json, "\n".join([
        "Current Session Information:", "",
        f"Agent ID:        {info['agent_id']}",
        f"Session ID:      {info['session_id']}",
        f"Session Token:   {handle.session_token[:7]}... (truncated)",
        f"Created At:      {output.when(info['created_at'])}",
        f"Expires At:      {output.when(info['expires_at'])}",
        f"Time Until Expiry: {output.duration(info['seconds_remaining'])}",
    ]))


def session_extend(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).extend(args.hours)
    config.expires_at = result["expires_at"]
    config.save()
    output.emit(result, args.json, "Session extended successfully\n"
                f"New expiry time: {output.when(result['expires_at'])}")


# -- memories ------------------------------------------------------------------------------

def remember(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).remember(
        args.text, type=args.type, tags=_tags(args.tags), confidence=args.confidence,
        title=args.title, source=args.source, provenance=args.provenance)
    output.emit(result, args.json, f"Memory stored ({result['status']})\n"
                f"Memory ID: {result['memory_id']}")


def recall(args: argparse.Namespace, config: CliConfig) -> None:
    """By meaning; or, as MEMANTO's flags ask, the newest (--recent), what was held then
    (--as-of) or what changed since (--changed-since). Active and expired memories alike
    unless --active or --expired."""
    status = "active" if args.active else "expired" if args.expired else None
    if args.recent and args.query:
        output.fail("--recent lists the newest memories: leave out the query")
    if args.as_of and status:
        output.fail("--as-of gives what was active then: leave out --active/--expired")
    if not (args.query or args.recent or args.as_of or args.changed_since):
        output.fail("give a query, or one of --recent, --as-of, --changed-since")
    handle = _session(config)
    filters = {"type": args.type, "tags": _tags(args.tags), "limit": args.limit}
    if args.as_of:
        result = handle.as_of(args.as_of, args.query, **filters)
    elif args.changed_since:
        result = handle.changed_since(args.changed_since, args.query, status=status,
                                      **filters)
    elif args.recent:
        result = handle.recent(status=status, **filters)
    else:
        result = handle.recall(args.query, status=status,
                               min_similarity=args.min_similarity, **filters)
    output.emit(result, args.json, output.memories(result["memories"]))


def memory_edit(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).edit(
        args.id, content=args.content, title=args.title, type=args.type,
        confidence=args.confidence, tags=_tags(args.tags), source=args.source)
    # The memory as it is now (MEMANTO's answer puts it under "memory").
    output.emit(result, args.json, "Memory updated\n" + output.memory(result["memory"]))


def memory_forget(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).forget(args.id)
    output.emit(result, args.json, f"Memory {args.id} forgotten")


def memory_expire(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).expire(args.id, reason=args.reason)
    output.emit(result, args.json, f"Memory {args.id} expired")


def memory_restore(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).restore(args.id)
    output.emit(result, args.json, f"Memory {args.id} restored")


def upload(args: argparse.Namespace, config: CliConfig) -> None:
    """A file's text as memories, one per chunk (the server reads and cuts it)."""
    path = Path(args.file)
    if not path.is_file():
        output.fail(f"file not found: {args.file}")
    # The server's own list (imported here: that module pulls in redis, ~60 ms, which no
    # other command needs); the server refuses the rest all the same.
    from memanto_redis.shared.memory.files import SUPPORTED

    if path.suffix.lower() not in SUPPORTED:
        output.fail(f"file type '{path.suffix or path.name}' is not supported; allowed: "
                    + ", ".join(SUPPORTED))
    result = _session(config).upload_file(path)
    output.emit(result, args.json, "\n".join([
        f"File uploaded: {result['chunks']} chunk(s) queued as memories",
        f"File: {result['file_name']}  ({output.size(result['file_size'])})",
        f"Source: {result['source']}",
        f"Namespace: {result['namespace']}",
    ]))


def memory_history(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).history(args.id, args.cursor, args.limit)
    output.emit(result, args.json, output.history(result))


def memory_show(args: argparse.Namespace, config: CliConfig) -> None:
    result = _session(config).get(args.id)
    output.emit(result, args.json, output.memory(result))


# -- status and keys -----------------------------------------------------------------------

def status(args: argparse.Namespace, config: CliConfig) -> None:
    report: dict = {"server_url": config.server_url, "config": str(config.path),
                    "api_key": bool(config.api_key), "agent_id": config.agent_id}
    client = _client(config)
    if config.api_key:
        report["agents"] = len(client.list_agents())
    if config.session_token:
        info = _session(config).session_info()
        report["session"] = info
    lines = [f"Server:   {config.server_url} (reachable)",
             f"Config:   {config.path}",
             f"API key:  {'set' if config.api_key else 'not set (MEMANTO_API_KEY)'}"]
    if "agents" in report:
        lines.append(f"Agents:   {report['agents']}")
    if "session" in report:
        info = report["session"]
        lines.append(f"Session:  agent '{info['agent_id']}', expires "
                     f"{output.when(info['expires_at'])} "
                     f"(in {output.duration(info['seconds_remaining'])})")
    else:
        lines.append("Session:  none (memanto agent activate NAME)")
    if not config.api_key and not config.session_token:
        # No credentials to show anything with; a 401 still proves the server answers.
        with contextlib.suppress(ApiError):
            client.request("GET", "/api/v2/agents", use_key=False)
    lines += _readiness(client, report)
    output.emit(report, args.json, "\n".join(lines))


def _readiness(client: Memanto, report: dict) -> list[str]:
    """GET /ready: whether the server can serve everything, and the worker, scheduler and
    jobs processes whose heartbeat is alive."""
    try:
        ready = client.request("GET", "/ready", use_key=False)
    except ApiError as exc:
        report["ready"] = False
        report["processes"] = []
        return [f"Ready:    no ({exc.detail if exc.status == 503 else exc})"]
    report["ready"] = True
    report["processes"] = processes = ready.get("processes", [])
    lines = ["Ready:    yes (Redis, search index, embedding model)"]
    if not processes:
        return [*lines, "Processes: none with a live heartbeat (worker, scheduler, jobs)"]
    lines.append("Processes:")
    lines += [f"  {p['kind']:<10} {p['name']:<40} beat {p['seconds_since_beat']:.1f} s ago"
              for p in processes]
    return lines


def apikey_create(args: argparse.Namespace, config: CliConfig) -> None:
    _need_key(config)
    scope = {"admin": args.admin, "agents": comma_list(args.agents),
             "users": comma_list(args.users),
             "read_only": args.read_only, "may_activate": args.may_activate,
             "may_manage_agents": args.may_manage_agents}
    created = _client(config).create_api_key(args.name, **scope)
    output.emit(created, args.json, f"API key '{created['name']}' created:\n"
                f"{created['api_key']}\nStore it now: it is not shown again.")


def _scope(key: dict[str, Any]) -> str:
    """A key's scope in one line: admin, or its agents, users and flags."""
    if key.get("admin", True):
        return "admin"
    parts = [f"agents {','.join(key['agents'])}" if key["agents"] else "",
             f"users {','.join(key['users'])}" if key["users"] else "",
             *(flag.replace("_", "-") for flag in ("read_only", "may_activate",
                                                   "may_manage_agents") if key.get(flag))]
    return "  ".join(p for p in parts if p)


def apikey_list(args: argparse.Namespace, config: CliConfig) -> None:
    _need_key(config)
    keys = _client(config).list_api_keys()
    text = "\n".join(f"{k['name']:<24} {k['prefix']}...  created {output.when(k['created_at'])}"
                     f"  {_scope(k)}" for k in keys) or "No named API keys."
    output.emit({"api_keys": keys, "count": len(keys)}, args.json, text)


def apikey_revoke(args: argparse.Namespace, config: CliConfig) -> None:
    _need_key(config)
    result = _client(config).revoke_api_key(args.name)
    output.emit(result, args.json, f"API key '{args.name}' revoked")
