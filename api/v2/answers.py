"""The MEMANTO v2 dialect's answer shapes, from the core's objects."""

from __future__ import annotations

import time
from typing import Any

from memanto_redis.shared.agents import Agent
from memanto_redis.shared.auth.sessions import Session
from memanto_redis.shared.auth.tokens import SessionClaims
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.bootstrap import Bootstrap
from memanto_redis.shared.memory.edits import History
from memanto_redis.shared.memory.record import Memory

RECALL_FIELDS = ("memory_id", "content", "title", "type", "confidence", "tags", "source",
                 "provenance", "created_at")


def memory(m: Memory) -> dict[str, Any]:
    """A stored memory, as GET, PATCH, expire and restore answer it."""
    shaped: dict[str, Any] = {
        "memory_id": m.memory_id,
        "agent_id": m.agent_id,
        "namespace": m.namespace,
        "session_id": m.session_id,
        "content": m.content,
        "title": m.title,
        "type": m.type,
        "confidence": float(m.confidence),
        "tags": m.tags,
        "source": m.source,
        "provenance": m.provenance,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at or m.created_at),
        "status": m.status,
        "lifecycle": m.lifecycle,
        "version": m.version,
    }
    if m.metadata:
        shaped["metadata"] = m.metadata
    for name in ("user_id", "team_id"):
        if getattr(m, name):
            shaped[name] = getattr(m, name)
    if m.error:
        shaped["error"] = m.error
    return shaped


def recalled(m: Memory, since: float | None = None) -> dict[str, Any]:
    """A found memory as MEMANTO's `MemoryItem` (id, score, text, status active/expired,
    its expiry stamp, and with `since` its change_type), keeping our names (memory_id,
    similarity) beside them."""
    full = memory(m)
    shaped = {key: full[key] for key in RECALL_FIELDS}
    shaped |= {
        "id": m.memory_id,
        "text": m.content,
        "agent_id": m.agent_id,
        "actor_id": m.agent_id,
        "status": m.lifecycle,
        "expired_at": iso(m.expired_at),
        "expired_by": m.expired_by,
        "updated_at": full["updated_at"],
        "version": m.version,
        "score": m.similarity,
        "change_type": None if since is None else
        "created" if m.created_at >= since else "updated",
    }
    if m.similarity is not None:
        shaped["similarity"] = m.similarity
    return shaped


def found(memories: list[Memory], claims: SessionClaims | None = None, *,
          changed_since: float | None = None, **head: Any) -> dict[str, Any]:
    """MEMANTO's RecallResponse / TemporalRecallResponse: who asked (when a session did),
    and what was found."""
    found_memories = [recalled(m, changed_since) for m in memories]
    asker = {} if claims is None else {"agent_id": claims.agent_id,
                                       "session_id": claims.session_id}
    return asker | head | {"memories": found_memories, "count": len(found_memories)}


def queued(m: Memory) -> dict[str, Any]:
    """What remember answers: the id, and that it is on its way."""
    return {
        "memory_id": m.memory_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "namespace": m.namespace,
        "status": "queued",
        "confidence": m.confidence,
        "provenance": m.provenance,
        # The type as stored: the caller's, or the one classify.py gave it.
        "type": m.type,
    }


def batch(outcomes: list[Memory | InvalidInput],
          claims: SessionClaims | None = None) -> dict[str, Any]:
    """MEMANTO's BatchRememberResponse: each item queued (its `id`, `type`) or refused
    with its problem; our `index`, `memory_id` and field `errors` beside."""
    successful = sum(isinstance(o, Memory) for o in outcomes)
    asker = {} if claims is None else {"agent_id": claims.agent_id,
                                       "session_id": claims.session_id,
                                       "namespace": claims.namespace}
    return asker | {
        "total_submitted": len(outcomes),
        "successful": successful,
        "failed": len(outcomes) - successful,
        "results": [{"index": i, "id": o.memory_id, "action": "created", "reason": None,
                     "error": None} | queued(o) if isinstance(o, Memory) else refused(i, o)
                    for i, o in enumerate(outcomes)],
    }


def refused(index: int, problem: InvalidInput) -> dict[str, Any]:
    """A batch item refused with its problem, in MEMANTO's result shape."""
    return {"index": index, "id": "", "status": "failed", "action": None,
            "reason": "invalid", "error": problem.message, "type": None,
            "errors": problem.errors}


def patched(m: Memory, claims: SessionClaims, fields: list[str]) -> dict[str, Any]:
    """PATCH's answer as MEMANTO's (`status: "updated"`, `action`, `updated_fields`), with
    the memory as it now reads under `memory`."""
    return {"agent_id": claims.agent_id, "session_id": claims.session_id,
            "namespace": claims.namespace, "memory_id": m.memory_id, "status": "updated",
            "action": "updated", "updated_fields": fields, "memory": memory(m)}


def lifecycle(m: Memory, claims: SessionClaims) -> dict[str, Any]:
    """Expire's and restore's answer as MEMANTO's: `status` is the memory's lifecycle
    (active, expired) with its expiry stamp; the memory itself under `memory`."""
    return {"agent_id": claims.agent_id, "session_id": claims.session_id,
            "memory_id": m.memory_id, "status": m.lifecycle,
            "expired_at": iso(m.expired_at), "expired_by": m.expired_by,
            "memory": memory(m)}


def version(m: Memory) -> dict[str, Any]:
    """One entry of a memory's history."""
    return memory(m) | {"valid_from": iso(m.valid_from), "valid_to": iso(m.valid_to),
                        "event": m.event, "current": m.current}


def history(h: History) -> dict[str, Any]:
    versions = [version(m) for m in h.versions]
    return {"memory_id": h.memory_id, "agent_id": h.agent_id, "versions": versions,
            "count": len(versions), "deleted_at": iso(h.deleted_at),
            "next_cursor": h.next_cursor, "has_more": h.has_more}


def agent(a: Agent) -> dict[str, Any]:
    """MEMANTO's AgentInfo (its `status` is "ready" from creation on), with our
    `last_active` and `session_active` beside."""
    return {
        "agent_id": a.agent_id,
        "namespace": a.namespace,
        "description": a.description,
        "pattern": a.pattern,
        "created_at": iso(a.created_at),
        "last_session": iso(a.last_session_at),
        "memory_count": a.memory_count,
        "session_count": a.session_count,
        "last_active": iso(a.last_active),
        "status": "ready",
        "session_active": a.session_active,
    }


def bootstrap(b: Bootstrap) -> dict[str, Any]:
    a, last = b.agent, b.newest
    return {
        "agent_id": a.agent_id,
        "namespace": a.namespace,
        "description": a.description,
        "created_at": iso(a.created_at),
        "total_memories": a.memory_count,
        "memory_breakdown": b.counts_by_type,
        "last_session": {
            "session_id": a.last_session_id,
            "started_at": iso(a.last_session_at),
            "active": a.session_active,
        },
        "last_memory": {"created_at": iso(last.created_at), "type": last.type,
                        "memory_id": last.memory_id} if last else None,
        "sample_memories": [
            {"memory_id": m.memory_id, "title": m.title, "content": m.content, "type": m.type,
             "confidence": m.confidence, "created_at": iso(m.created_at)} for m in b.sample
        ],
    }


def activated(s: Session) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "session_token": s.token,
        "agent_id": s.agent_id,
        "namespace": s.namespace,
        "started_at": iso(s.started_at),
        "expires_at": iso(s.expires_at),
        "duration_hours": round((s.expires_at - s.started_at) / 3600, 9),
        "pattern": s.pattern,
        "status": "active",
        "metadata": None,
    }


def session_info(s: Session) -> dict[str, Any]:
    return {
        "agent_id": s.agent_id,
        "session_id": s.session_id,
        "namespace": s.namespace,
        "created_at": iso(s.started_at),
        "started_at": iso(s.started_at),
        "expires_at": iso(s.expires_at),
        "seconds_remaining": max(0, int(s.expires_at - time.time())),
        "memories_created": s.memories_created,
        "pattern": s.pattern,
        "status": "active",
    }


def status(s: Session) -> dict[str, Any]:
    """MEMANTO's SessionInfo (GET /api/v2/status)."""
    return {
        "session_id": s.session_id,
        "agent_id": s.agent_id,
        "namespace": s.namespace,
        "started_at": iso(s.started_at),
        "expires_at": iso(s.expires_at),
        "status": "active",
        "time_remaining_seconds": max(0, int(s.expires_at - time.time())),
        "pattern": s.pattern,
    }


def extended(previous: float, s: Session, hours: float) -> dict[str, Any]:
    return {
        "agent_id": s.agent_id,
        "session_id": s.session_id,
        "previous_expires_at": iso(previous),
        "expires_at": iso(s.expires_at),
        "extended_hours": hours,
        # The old token keeps working; this one carries the new expiry in its claims.
        "session_token": s.token,
        "status": "active",
    }


def deactivated(s: Session) -> dict[str, Any]:
    ended = s.ended_at or time.time()
    return {
        "agent_id": s.agent_id,
        "session_id": s.session_id,
        "started_at": iso(s.started_at),
        "ended_at": iso(ended),
        "duration_seconds": round(ended - s.started_at, 3),
        # MEMANTO's SessionSummary: hours, and the summary memory it does not write here.
        "duration_hours": round((ended - s.started_at) / 3600, 6),
        "summary_memory_id": None,
        "memories_created": s.memories_created,
        "status": "deactivated",
    }
