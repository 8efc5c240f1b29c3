"""How the command line shows things to a person (seed 000's formats)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any


def when(value: str | None) -> str:
    """ISO 8601 -> '2025-03-30 16:30:00 UTC'."""
    if not value:
        return "never"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60}m"


def size(count: int | None) -> str:
    if count is None:
        return "size unknown"
    if count < 1024:
        return f"{count} bytes"
    return f"{count / 1024:.1f} KB" if count < 1024 * 1024 else f"{count / 1024 ** 2:.2f} MB"


def emit(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2) if as_json else text)


def fail(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(1)


def agent_list(agents: list[dict]) -> str:
    if not agents:
        return "No agents yet. Create one with: memanto agent create NAME"
    lines = ["Available Agents:", ""]
    for i, agent in enumerate(agents, 1):
        lines += [f"{i}. {agent['agent_id']}",
                  f"   Created: {when(agent['created_at'])}",
                  f"   Memories: {agent['memory_count']}",
                  f"   Last Active: {when(agent['last_active'])}", ""]
    return "\n".join(lines).rstrip()


def bootstrap_card(card: dict) -> str:
    lines = [f"Agent Metadata: {card['agent_id']}", "",
             f"Created: {when(card['created_at'])}",
             f"Total Memories: {card['total_memories']}", "", "Memory Breakdown:"]
    breakdown = list(card["memory_breakdown"].items())
    for i, (kind, count) in enumerate(breakdown):
        branch = "└──" if i == len(breakdown) - 1 else "├──"
        lines.append(f"{branch} {kind}s: {count}")
    if not breakdown:
        lines.append("(none indexed yet)")
    last = card["last_memory"]
    lines += ["", f"Last Session: {when(card['last_session']['started_at'])}",
              f"Last Memory: {when(last['created_at'])} ({last['type']})" if last
              else "Last Memory: none", "", "Sample Memories:"]
    lines += [f"- {m['title']} ({m['type']})" for m in card["sample_memories"]] or ["(none)"]
    return "\n".join(lines)


def memories(found: list[dict], empty: str = "No memories found.") -> str:
    if not found:
        return empty
    lines = []
    for i, memory in enumerate(found, 1):
        score = f"[{memory['similarity']:.2f}] " if "similarity" in memory else ""
        state = "" if memory.get("status", "active") == "active" else f", {memory['status']}"
        lines.append(f"{i}. {score}{memory['content']} ({memory['type']}{state})")
        lines.append(f"   ID: {memory['memory_id']}  Created: {when(memory['created_at'])}")
    return "\n".join(lines)


def memory(item: dict) -> str:
    tags = ", ".join(item.get("tags") or []) or "-"
    return "\n".join([
        f"Memory {item['memory_id']} (version {item.get('version', 1)})",
        f"Content:    {item['content']}",
        f"Title:      {item['title']}",
        f"Type:       {item['type']}   Confidence: {item['confidence']}",
        f"Tags:       {tags}   Source: {item['source']}   Provenance: {item['provenance']}",
        f"Status:     {item['status']} / {item.get('lifecycle', 'active')}",
        f"Updated:    {when(item.get('updated_at'))}",
    ])


def history(record: dict) -> str:
    lines = [f"History of memory {record['memory_id']}:", ""]
    for version in record["versions"]:
        until = "now" if version["current"] else when(version["valid_to"])
        lines.append(f"v{version['version']} {version['event']:<9} {when(version['valid_from'])}"
                     f" -> {until}  [{version['lifecycle']}] {version['content']}")
    if record.get("deleted_at"):
        lines.append(f"deleted at {when(record['deleted_at'])}")
    if record.get("next_cursor"):
        lines += ["", "Later versions: memanto memory history "
                  f"{record['memory_id']} --cursor {record['next_cursor']}"]
    return "\n".join(lines)
