"""`memanto memories`: the seed-004 command-line client for the /memories API.

    memanto memories --user-id alice
    memanto memories --user-id alice --search "dark mode"
    memanto memories --user-id alice --create "User prefers dark mode" --topics preferences,ui
    memanto memories --memory-id ID --user-id alice [--update TEXT [--topics ...] | --delete]
    memanto memories --topics-list
"""

from __future__ import annotations

import argparse

from memanto_redis.cli import output
from memanto_redis.cli.commands import comma_list
from memanto_redis.cli.config import CliConfig
from memanto_redis_client import Memanto


def add_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = verbs.add_parser("memories", parents=[common],
                           help="user memories, as agno's manage_memories script does")
    sub.set_defaults(handler=run)
    sub.add_argument("--user-id", help="the user whose memories to list or write")
    sub.add_argument("--search", help="find memories by meaning and by words")
    sub.add_argument("--create", metavar="TEXT", help="store a new memory")
    sub.add_argument("--topics", help="comma-separated topics")
    sub.add_argument("--memory-id", help="show one memory (or --update / --delete it)")
    sub.add_argument("--update", metavar="TEXT", help="with --memory-id: new content")
    sub.add_argument("--delete", action="store_true", help="with --memory-id: delete it")
    sub.add_argument("--topics-list", action="store_true", help="list every topic")
    sub.add_argument("--limit", type=int, default=20)
    sub.add_argument("--page", type=int, default=1)
    sub.add_argument("--base-url", help="the server (default MEMANTO_URL or saved config)")


def _line(memory: dict) -> str:
    topics = ", ".join(memory.get("topics") or []) or "-"
    return (f"{memory['memory_id']}  {memory['memory']}\n"
            f"    topics: {topics}  user: {memory.get('user_id')}  "
            f"updated: {output.when(memory.get('updated_at'))}")


def run(args: argparse.Namespace, config: CliConfig) -> None:
    if not config.api_key:
        output.fail("no API key: set MEMANTO_API_KEY")
    client = Memanto(args.base_url or config.server_url, config.api_key)
    if args.topics_list:
        topics = client.request("GET", "/memory_topics", params=_params(user_id=args.user_id))
        output.emit(topics, args.json, "\n".join(topics) or "No topics.")
    elif args.create:
        if not args.user_id:
            output.fail("--create needs --user-id")
        body = {"memory": args.create, "user_id": args.user_id}
        if args.topics is not None:
            body["topics"] = comma_list(args.topics)
        memory = client.request("POST", "/memories", json=body)
        output.emit(memory, args.json, "Created memory\n" + _line(memory))
    elif args.memory_id:
        _one(client, args)
    else:
        page = client.request("GET", "/memories", params=_params(
            user_id=args.user_id, search_content=args.search, limit=args.limit,
            page=args.page, topics=args.topics))
        meta = page["meta"]
        text = "\n".join(_line(m) for m in page["data"]) or "No memories found."
        text += (f"\n\nPage {meta['page']} of {max(meta['total_pages'], 1)} "
                 f"({meta['total_count']} memories)")
        output.emit(page, args.json, text)


def _one(client: Memanto, args: argparse.Namespace) -> None:
    path = f"/memories/{args.memory_id}"
    if args.delete:
        client.request("DELETE", path, params=_params(user_id=args.user_id))
        output.emit({"memory_id": args.memory_id, "deleted": True}, args.json,
                    f"Deleted memory {args.memory_id}")
    elif args.update:
        body = {"memory": args.update, "user_id": args.user_id, "topics": comma_list(args.topics)}
        memory = client.request("PATCH", path, json={k: v for k, v in body.items()
                                                     if v is not None})
        output.emit(memory, args.json, "Updated memory\n" + _line(memory))
    else:
        memory = client.request("GET", path, params=_params(user_id=args.user_id))
        output.emit(memory, args.json, _line(memory))


def _params(**values: object) -> dict:
    return {k: v for k, v in values.items() if v is not None}
