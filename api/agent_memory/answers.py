"""The seed-003 dialect's answer shapes, from the core's objects: short- and long-term
memory, swarm facts, schedules, their runs and the inbox."""

from __future__ import annotations

from typing import Any

from memanto_redis.shared.agent_memory.ltm import LtmStats
from memanto_redis.shared.agent_memory.stm import StmEntry, StmSession, StmSummary
from memanto_redis.shared.agent_memory.swarm import Fact
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.schedule.inbox import InboxRead
from memanto_redis.shared.schedule.store import Run, Schedule

# How current.md names each role's speaker (the seed shows User and Agent).
SPEAKERS = {"user": "User", "assistant": "Agent", "system": "System", "tool": "Tool"}


# -- short-term memory ---------------------------------------------------------------------

def stm_entry(e: StmEntry) -> dict[str, Any]:
    return {"id": e.id, "role": e.role, "content": e.content, "timestamp": iso(e.timestamp)}


def stm_session(s: StmSession) -> dict[str, Any]:
    return {"session_id": s.session_id, "entries": [stm_entry(e) for e in s.entries]}


def stm_summary(s: StmSummary) -> dict[str, Any]:
    return {"session_id": s.session_id, "entries_count": s.entries_count,
            "last_updated": iso(s.last_updated)}


def current_md(s: StmSession) -> str:
    """The human-readable context file (current.md) of a session's recent messages."""
    parts = ["# Agent Short-Term Memory Context", f"## Session: {s.session_id}",
             "### Recent Messages"]
    parts += [f"**{SPEAKERS.get(e.role, e.role.title())}:** {e.content}"
              for e in s.entries] or ["_No messages yet._"]
    return "\n\n".join(parts) + "\n"


# -- long-term memory ----------------------------------------------------------------------

def ltm_stats(s: LtmStats) -> dict[str, Any]:
    return {"entries_count": s.entries_count, "size_kb": s.size_kb}


def ltm_found(m: Memory) -> dict[str, Any]:
    return {"id": m.memory_id, "content": m.content, "similarity": m.similarity,
            "created_at": iso(m.created_at), "source": m.source}


def ltm_memory(m: Memory, dims: int) -> dict[str, Any]:
    return {
        "id": m.memory_id,
        "content": m.content,
        "embedding_dimensions": dims,
        "metadata": {"source": m.source} | (m.metadata or {}),
        "created_at": iso(m.created_at),
        "status": m.status,
    }


# -- the swarm -----------------------------------------------------------------------------

def fact(f: Fact) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "id": f.id,
        "source_agent": f.source_agent,
        "written_by": f.written_by,
        "content": f.content,
        "created_at": iso(f.created_at),
        "expires_at": iso(f.expires_at),
        "ttl_seconds": f.ttl_seconds,
    }
    if f.similarity is not None:
        shaped["similarity"] = f.similarity
    return shaped


def facts(found: list[Fact], **head: Any) -> dict[str, Any]:
    shaped = [fact(f) for f in found]
    return head | {"facts": shaped, "count": len(shaped)}


# -- schedules, runs and the inbox ---------------------------------------------------------

def schedule(s: Schedule) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "name": s.name,
        "cron": s.cron,
        "prompt": s.prompt,
        "timezone": s.timezone,
        "webhook_url": s.webhook_url,
        "next_run": iso(s.next_run),
        "last_run": iso(s.last_run),
        "run_count": s.run_count,
        "created_at": iso(s.created_at),
    }
    if s.webhook_secret:
        # Only on creation: receivers need it to verify signatures; no later answer holds it.
        shaped["webhook_secret"] = s.webhook_secret
    return shaped


def run(r: Run) -> dict[str, Any]:
    w = r.webhook
    return {
        "scheduled_for": iso(r.scheduled_for),
        "fired_at": iso(r.fired_at),
        "status": r.status,
        "delivered_at": iso(r.delivered_at),
        "inbox_id": r.inbox_id,
        "webhook": None if w is None else {
            "status": w.status,
            "attempts": w.attempts,
            "http_status": w.http_status,
            "error": w.error,
            "last_attempt_at": iso(w.last_attempt_at),
            "delivered_at": iso(w.delivered_at),
        },
    }


def inbox(r: InboxRead) -> dict[str, Any]:
    return {
        "messages": [{"id": m.id, "schedule": m.schedule, "prompt": m.prompt,
                      "scheduled_for": iso(m.scheduled_for), "fired_at": iso(m.fired_at)}
                     for m in r.messages],
        "last_id": r.last_id,
    }
