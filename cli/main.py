"""The `memanto` command line: the service's processes, and a client for its API."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from memanto_redis.cli import commands, schedules, tree, user_memories
from memanto_redis.cli.config import CliConfig
from memanto_redis_client import ClientError

TYPES = ["fact", "preference", "goal", "decision", "artifact", "learning", "event",
         "instruction", "relationship", "context", "observation", "commitment", "error"]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the raw JSON answer")
    parser = argparse.ArgumentParser(prog="memanto", description="MEMANTO memory service")
    verbs = parser.add_subparsers(dest="command", required=True)

    def verb(group, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, parents=[common], help=help_text)
        sub.set_defaults(handler=handler)
        return sub

    server = verbs.add_parser("redis-server", help="run the embedded Redis in the foreground")
    server.add_argument("--port", type=int, default=6379)
    server.add_argument("--data-dir", default=".data/redis")
    server.add_argument("--bind", default="127.0.0.1")
    embed = verbs.add_parser("embed-server", help="serve the local embedding model at "
                             "/v1/embeddings (OpenAI's dialect) for MEMANTO_EMBEDDINGS_URL")
    embed.add_argument("--host", default="127.0.0.1")
    embed.add_argument("--port", type=int, default=8100)
    embed.add_argument("--max-batch", type=int, default=64,
                       help="texts gathered into one model call")
    embed.add_argument("--max-wait-ms", type=float, default=5.0,
                       help="how long a request waits for others to share its model call")
    dev = verbs.add_parser("dev", help="run Redis and every Procfile process locally")
    dev.add_argument("--env-file", default=".env")
    redrive = verbs.add_parser("redrive", help="send dead-lettered ingest entries back to "
                               "the stream (talks to REDIS_URL directly)")
    redrive.add_argument("--limit", type=int, default=1000)

    agent = verbs.add_parser("agent", help="create, list, activate agents").add_subparsers(
        dest="action", required=True)
    sub = verb(agent, "create", commands.agent_create, "create an agent")
    sub.add_argument("name")
    sub.add_argument("--description")
    sub.add_argument("--pattern", choices=["support", "project", "tool"])
    verb(agent, "list", commands.agent_list, "list agents")
    sub = verb(agent, "activate", commands.agent_activate, "start a session, saved locally")
    sub.add_argument("name")
    sub.add_argument("--hours", type=float, help="session length (default 6)")
    sub = verb(agent, "deactivate", commands.agent_deactivate, "end the session")
    sub.add_argument("name", nargs="?")
    sub = verb(agent, "bootstrap", commands.agent_bootstrap, "show the agent's metadata")
    sub.add_argument("name", nargs="?")
    sub = verb(agent, "delete", commands.agent_delete,
               "delete an agent (its memories are kept unless --delete-memories)")
    sub.add_argument("name")
    sub.add_argument("-y", "--yes", "-f", "--force", dest="yes", action="store_true",
                     help="do not ask for confirmation")
    keep = sub.add_mutually_exclusive_group()
    keep.add_argument("--delete-memories", dest="delete_memories", action="store_const",
                      const=True, help="delete its memories too, for good")
    keep.add_argument("--keep-memories", dest="delete_memories", action="store_const",
                      const=False, help="keep them (the default): creating the agent "
                      "again brings them back")

    session = verbs.add_parser("session", help="the saved session").add_subparsers(
        dest="action", required=True)
    verb(session, "info", commands.session_info, "show the session")
    sub = verb(session, "extend", commands.session_extend, "push the expiry later")
    sub.add_argument("--hours", type=float, default=6.0)

    # Short flags as MEMANTO's CLI has them: -t type, -c confidence, -s source,
    # -p provenance, -n limit.
    sub = verb(verbs, "remember", commands.remember, "store a memory")
    sub.add_argument("text")
    sub.add_argument("-t", "--type", choices=TYPES, help="left out: the server classifies it")
    sub.add_argument("--tags", help="comma-separated")
    sub.add_argument("-c", "--confidence", type=float)
    sub.add_argument("--title")
    sub.add_argument("-s", "--source")
    sub.add_argument("-p", "--provenance")
    sub = verb(verbs, "upload", commands.upload, "a file's text as memories (.txt .md .csv "
               ".json .pdf .docx .xlsx)")
    sub.add_argument("file")

    sub = verb(verbs, "recall", commands.recall, "find memories by meaning (active and "
               "expired alike unless --active or --expired)")
    sub.add_argument("query", nargs="?", help="not needed with --recent, --as-of or "
                     "--changed-since")
    sub.add_argument("-t", "--type", action="append", choices=TYPES)
    sub.add_argument("--tags", help="comma-separated")
    sub.add_argument("-n", "--limit", type=int)
    sub.add_argument("--min-similarity", type=float, help="leave out weaker matches (0-1)")
    when = sub.add_mutually_exclusive_group()
    when.add_argument("--as-of", help="what the agent held then (ISO time or date)")
    when.add_argument("--changed-since", help="memories changed since (ISO time or date)")
    when.add_argument("--recent", action="store_true", help="the newest memories, no query")
    status = sub.add_mutually_exclusive_group()
    status.add_argument("--active", action="store_true", help="active memories only")
    status.add_argument("--expired", action="store_true", help="expired memories only")

    memory = verbs.add_parser("memory", help="one memory: edit, forget, ...").add_subparsers(
        dest="action", required=True)
    # edit and forget at the top level too, as MEMANTO has them.
    for group in (memory, verbs):
        sub = verb(group, "edit", commands.memory_edit, "change a memory")
        sub.add_argument("id")
        sub.add_argument("--content")
        sub.add_argument("--title")
        sub.add_argument("-t", "--type", choices=TYPES)
        sub.add_argument("-c", "--confidence", type=float)
        sub.add_argument("--tags", help="comma-separated")
        sub.add_argument("-s", "--source")
        sub = verb(group, "forget", commands.memory_forget, "delete a memory")
        sub.add_argument("id")
        sub.add_argument("-f", "--force", action="store_true",
                         help="for MEMANTO's scripts: forget never asks")
    sub = verb(memory, "expire", commands.memory_expire, "mark a memory expired")
    sub.add_argument("id")
    sub.add_argument("-r", "--reason", help="why, kept as its expired_by")
    for name, handler, text in [("show", commands.memory_show, "show a memory"),
                                ("restore", commands.memory_restore, "make it active again")]:
        verb(memory, name, handler, text).add_argument("id")
    sub = verb(memory, "history", commands.memory_history, "list its versions, a page at a time")
    sub.add_argument("id")
    sub.add_argument("-n", "--limit", type=int, help="versions per page (server default 100, "
                                                      "at most 1000)")
    sub.add_argument("--cursor", help="where the page before ended (as printed after it)")
    sub = verb(memory, "export", tree.export, "write an agent's memories as a Markdown tree")
    sub.add_argument("agent")
    sub.add_argument("dir")
    sub.add_argument("--force", action="store_true",
                     help="replace the Markdown files of a folder that is not empty")
    sub = verb(memory, "import", tree.import_tree, "read a Markdown tree into an agent")
    sub.add_argument("agent")
    sub.add_argument("dir")
    sub.add_argument("--wait", action="store_true", help="wait until all are indexed")
    sub.add_argument("--timeout", type=float, default=300.0, help="for --wait (seconds)")

    verb(verbs, "status", commands.status, "server, key and session at a glance")
    mcp = verbs.add_parser("mcp", help="serve the MCP tools over stdio as one agent (for a "
                           "coding agent), talking to the server over HTTP")
    mcp.add_argument("--agent", required=True, help="the agent whose memory the tools use")
    mcp.add_argument("--hours", type=float, help="session length, and what each renewal "
                     "adds (default: the server's, then 6)")
    mcp.set_defaults(handler=_serve_mcp)
    user_memories.add_parser(verbs, common)
    schedules.add_parser(verbs, common)

    apikey = verbs.add_parser("apikey", help="named API keys").add_subparsers(
        dest="action", required=True)
    create = verb(apikey, "create", commands.apikey_create, "create a key (shown once)")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="reaches everything, keys too")
    create.add_argument("--agents", default="",
                        help="comma-separated agent-id patterns, e.g. 'support-*'")
    create.add_argument("--users", default="",
                        help="comma-separated user ids (the /memories user spaces)")
    create.add_argument("--read-only", action="store_true", help="may only read")
    create.add_argument("--may-activate", action="store_true",
                        help="may activate and deactivate its agents (and take their tokens)")
    create.add_argument("--may-manage-agents", action="store_true",
                        help="may create and delete agents within its patterns")
    verb(apikey, "list", commands.apikey_list, "list keys and their scopes")
    verb(apikey, "revoke", commands.apikey_revoke, "revoke a key").add_argument("name")
    return parser


def _serve_mcp(args: argparse.Namespace, config: CliConfig) -> None:
    # Imported on use: the MCP SDK and the tool table take a second or two to load.
    from memanto_redis.cli.mcp import run

    run(args, config)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "redis-server":
        from memanto_redis.cli.redis_server import run

        run(args.port, args.data_dir, args.bind)
    elif args.command == "embed-server":
        from memanto_redis.cli.embed_server import run as run_embed

        run_embed(args.host, args.port, args.max_batch, args.max_wait_ms)
    elif args.command == "dev":
        from memanto_redis.cli.dev import run as run_dev

        run_dev(args.env_file)
    elif args.command == "redrive":
        from memanto_redis.cli.operator import redrive

        redrive(args.limit)
    else:
        try:
            args.handler(args, CliConfig.load())
        except ClientError as exc:
            commands.output.fail(str(exc))


if __name__ == "__main__":
    main()
