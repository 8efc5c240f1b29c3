"""`memanto schedule ...`: cron prompts for the saved session's agent (or `--agent` with an
API key)."""

from __future__ import annotations

import argparse
from typing import Any

from memanto_redis.cli import output
from memanto_redis.cli.config import CliConfig
from memanto_redis_client import Memanto


def add_parser(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = verbs.add_parser("schedule", help="cron prompts fired at an agent").add_subparsers(
        dest="action", required=True)

    def verb(name: str, handler: Any, text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, parents=[common], help=text)
        sub.set_defaults(handler=handler)
        sub.add_argument("--agent", help="the agent (default: the saved session's)")
        return sub

    add = verb("add", schedule_add, "add a schedule")
    add.add_argument("name")
    add.add_argument("--cron", required=True,
                     help="5 fields, or 6 with seconds (see the README)")
    add.add_argument("--prompt", required=True)
    add.add_argument("--timezone", help="IANA name, default UTC")
    add.add_argument("--webhook", help="http(s) URL to POST each fire to, signed")
    verb("list", schedule_list, "list schedules")
    verb("delete", schedule_delete, "delete a schedule").add_argument("name")
    verb("runs", schedule_runs, "past fires of a schedule").add_argument("name")


def _call(args: argparse.Namespace, config: CliConfig, method: str, tail: str,
          **kwargs: Any) -> Any:
    """With --agent (or no saved session), the API key; else the saved session's token."""
    client = Memanto(config.server_url, config.api_key)
    agent = args.agent or config.agent_id
    if not agent:
        output.fail("name the agent with --agent, or run `memanto agent activate NAME`")
    path = f"/api/agents/{agent}/schedules{tail}"
    if (args.agent and args.agent != config.agent_id) or not config.session_token:
        if not config.api_key:
            output.fail("no API key: set MEMANTO_API_KEY")
        return client.request(method, path, **kwargs)
    handle = client.agent(agent, config.session_token,
                          on_renew=lambda s: config.remember_session(agent, s))
    return handle.call(method, path, **kwargs)


def schedule_add(args: argparse.Namespace, config: CliConfig) -> None:
    body = {"name": args.name, "cron": args.cron, "prompt": args.prompt,
            "timezone": args.timezone, "webhook_url": args.webhook}
    created = _call(args, config, "POST", "", json={k: v for k, v in body.items() if v})
    lines = [f"Schedule '{created['name']}' added",
             f"Cron: {created['cron']} ({created['timezone']})",
             f"Next run: {output.when(created['next_run'])}"]
    if created.get("webhook_secret"):
        lines.append(f"Webhook secret: {created['webhook_secret']}  (shown once: keep it to "
                     "verify signatures)")
    output.emit(created, args.json, "\n".join(lines))


def schedule_list(args: argparse.Namespace, config: CliConfig) -> None:
    listing = _call(args, config, "GET", "")
    lines = [f"{s['name']:<20} {s['cron']:<16} next {output.when(s['next_run'])}  "
             f"last {output.when(s['last_run'])}  runs {s['run_count']}\n    {s['prompt']}"
             for s in listing["schedules"]]
    output.emit(listing, args.json, "\n".join(lines) or "No schedules.")


def schedule_delete(args: argparse.Namespace, config: CliConfig) -> None:
    result = _call(args, config, "DELETE", f"/{args.name}")
    output.emit(result, args.json, f"Schedule '{args.name}' deleted")


def schedule_runs(args: argparse.Namespace, config: CliConfig) -> None:
    result = _call(args, config, "GET", f"/{args.name}/runs")
    lines = []
    for run in result["runs"]:
        hook = run.get("webhook")
        hook_text = f"  webhook {hook['status']} ({hook['attempts']} attempts)" if hook else ""
        lines.append(f"{output.when(run['scheduled_for'])}  fired "
                     f"{output.when(run['fired_at'])}  {run['status']}{hook_text}")
    output.emit(result, args.json, "\n".join(lines) or "No runs yet.")
