"""The memory: one typed record, and the one place that maps it to and from Redis.

A memory travels as JSON (its queued record and its stream entry), lives as a hash that the
index reads (the live document, and one archived document per earlier version), and comes
back as a hash or as an index hit. Only this module spells its fields; adding one to
memories is a change here (and in the dialects that choose to show it).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from redis.typing import EncodableT, FieldT

from memanto_redis.shared.infra import keys
from memanto_redis.shared.infra.replies import text_fields
from memanto_redis.shared.memory.rules import derive_title, namespace, split_tags

# A hash as HSET takes it.
HashFields = dict[FieldT, EncodableT]


@dataclass(slots=True)
class Draft:
    """What a caller says of a new memory; the store adds its owner, session and times.
    Imports and the /memories dialect may also give the id, the times, user and team."""

    content: str
    type: str = "fact"
    title: str | None = None
    confidence: float = 0.8
    tags: list[str] = field(default_factory=list)
    source: str = "agent"
    provenance: str = "explicit_statement"
    metadata: dict[str, Any] | None = None
    memory_id: str | None = None
    created_at: float | None = None
    updated_at: float | None = None
    user_id: str | None = None
    team_id: str | None = None
    # A memory may arrive already expired (MEMANTO's remember takes the audit trail).
    lifecycle: str = "active"
    expired_at: float | None = None
    expired_by: str | None = None


@dataclass(slots=True)
class Memory:
    """One state of a memory: what it says and how it is described."""

    memory_id: str
    agent_id: str
    content: str
    title: str
    type: str = "fact"
    tags: list[str] = field(default_factory=list)
    confidence: float = 0.8
    source: str = "agent"
    provenance: str = "explicit_statement"
    session_id: str = ""
    namespace: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    lifecycle: str = "active"  # active | expired
    version: int = 1
    event: str = "created"  # what made this version: created, updated, expired, restored
    # When and why it was expired (MEMANTO's audit trail); None while active.
    expired_at: float | None = None
    expired_by: str | None = None
    metadata: dict[str, Any] | None = None
    # The user and team of the /memories dialect.
    user_id: str | None = None
    team_id: str | None = None
    # Where it stands, not what it says; never part of its JSON.
    status: str = "queued"  # queued | indexed | failed
    error: str | None = None
    # An archived version's end (None for the current state), and a search's similarity.
    valid_to: float | None = None
    similarity: float | None = None
    by_words: bool = False  # a search found a word of its query in it

    @classmethod
    def create(cls, draft: Draft, agent_id: str, session_id: str | None,
               now: float) -> Memory:
        created = draft.created_at if draft.created_at is not None else now
        return cls(
            memory_id=draft.memory_id or str(uuid.uuid4()),
            agent_id=agent_id,
            namespace=namespace(agent_id),
            session_id=session_id or "",
            content=draft.content,
            title=draft.title or derive_title(draft.content),
            type=draft.type,
            tags=list(draft.tags),
            confidence=draft.confidence,
            source=draft.source,
            provenance=draft.provenance,
            created_at=created,
            updated_at=draft.updated_at if draft.updated_at is not None else created,
            metadata=draft.metadata or None,
            user_id=draft.user_id or None,
            team_id=draft.team_id or None,
            lifecycle=draft.lifecycle,
            expired_at=draft.expired_at,
            expired_by=draft.expired_by,
        )

    def evolve(self, **changes: Any) -> Memory:
        return replace(self, **changes)

    @property
    def valid_from(self) -> float:
        return self.updated_at

    @property
    def current(self) -> bool:
        return self.valid_to is None

    # -- JSON: the queued record and the stream entry -----------------------------------

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "memory_id": self.memory_id, "agent_id": self.agent_id,
            "namespace": self.namespace, "session_id": self.session_id,
            "content": self.content, "title": self.title, "type": self.type,
            "tags": self.tags, "confidence": self.confidence, "source": self.source,
            "provenance": self.provenance, "created_at": self.created_at,
            "updated_at": self.updated_at, "lifecycle": self.lifecycle,
            "version": self.version, "event": self.event,
        }
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value:
                record[name] = value
        return record

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str, status: str = "queued") -> Memory:
        """A queued record or stream entry; ValueError names what it lacks."""
        return cls.from_dict(json.loads(data), status)

    @classmethod
    def from_dict(cls, record: Any, status: str = "queued") -> Memory:
        if not isinstance(record, dict):
            raise ValueError("record is not a JSON object")
        missing = [name for name in REQUIRED if name not in record]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        created = _finite(record["created_at"], "created_at")
        tags = record.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("tags is not a list of strings")
        metadata = record.get("metadata") or None
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError("metadata is not an object")
        return cls(
            memory_id=_str(record, "memory_id"), agent_id=_str(record, "agent_id"),
            namespace=_str(record, "namespace", namespace(record["agent_id"])),
            session_id=_str(record, "session_id", ""),
            content=_str(record, "content"), title=_str(record, "title"),
            type=_str(record, "type"), tags=tags,
            confidence=_finite(record.get("confidence", 0.8), "confidence"),
            source=_str(record, "source", "agent"),
            provenance=_str(record, "provenance", "explicit_statement"),
            created_at=created,
            updated_at=_finite(record.get("updated_at") or created, "updated_at"),
            lifecycle=_str(record, "lifecycle", "active"),
            version=int(record.get("version", 1)), event=_str(record, "event", "created"),
            metadata=metadata, user_id=record.get("user_id") or None,
            team_id=record.get("team_id") or None, status=status,
            expired_at=_finite(record["expired_at"], "expired_at")
            if record.get("expired_at") is not None else None,
            expired_by=record.get("expired_by") or None,
        )

    @classmethod
    def from_queued(cls, agent_id: str, memory_id: str, queued: dict[bytes, bytes]) -> Memory:
        """A memory still in the pipeline, from its queued record (HGETALL)."""
        status = queued[b"status"].decode()
        error = queued[b"error"].decode() if b"error" in queued else None
        try:
            memory = cls.from_json(queued[b"data"], status)
        except (ValueError, KeyError, TypeError):
            # A record too broken to show whole (it was dead-lettered for that).
            memory = cls(memory_id=memory_id, agent_id=agent_id, content="", title="",
                         status=status)
        memory.error = error
        return memory

    # -- hashes: the live document and archived versions --------------------------------

    def to_hash(self, embedding: bytes | None = None, *, kind: str = "live",
                indexed_at: float | None = None) -> HashFields:
        """Field/value pairs of the memory's hash in the index: the live document
        (valid until further notice) or, with `valid_to` set, an archived version."""
        fields: HashFields = {
            "memory_id": self.memory_id, "agent_id": self.agent_id,
            "namespace": self.namespace or namespace(self.agent_id),
            "session_id": self.session_id, "content": self.content, "title": self.title,
            "type": self.type, "tags": ",".join(self.tags), "source": self.source,
            "provenance": self.provenance, "status": self.status, "kind": kind,
            "lifecycle": self.lifecycle, "event": self.event, "version": self.version,
            "created_at": repr(float(self.created_at)),
            "updated_at": repr(float(self.updated_at)),
            "valid_from": repr(float(self.updated_at)),
            "valid_to": repr(keys.FOREVER if self.valid_to is None else self.valid_to),
            "confidence": repr(float(self.confidence)),
        }
        # RediSearch answers a RETURN of a numeric attribute with fewer digits than the hash
        # holds, so times are indexed as `*_ts` twins and read back from the exact copies.
        for name in _TIMES:
            fields[name[: -len("_at")] + "_ts" if name.endswith("_at") else name + "_ts"] = \
                fields[name]
        if indexed_at is not None:
            fields["indexed_at"] = repr(indexed_at)
        if self.metadata:
            fields["metadata"] = json.dumps(self.metadata)
        for name in ("user_id", "team_id", "expired_by"):
            value = getattr(self, name)
            if value:
                fields[name] = value
        if self.expired_at is not None:
            fields["expired_at"] = repr(float(self.expired_at))
        if embedding is not None:
            fields["embedding"] = embedding
        return fields

    def to_document(self, embedding: bytes, now: float) -> HashFields:
        """The live, indexed document the worker writes."""
        return replace(self, status="indexed", valid_to=None).to_hash(embedding,
                                                                     indexed_at=now)

    def to_version(self, valid_to: float, embedding: bytes | None) -> HashFields:
        """The archived form of this state, which held until `valid_to`."""
        return replace(self, valid_to=valid_to).to_hash(embedding, kind="version")

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Memory:
        """A hash as HGETALL/HMGET gives it (bytes) or an index hit (text); fields a query
        did not return take their defaults."""
        text = text_fields({k: v for k, v in raw.items()
                            if v is not None and k not in _VECTOR})
        created = float(text.get("created_at") or 0.0)
        metadata = text.get("metadata")
        return cls(
            memory_id=text.get("memory_id") or "", agent_id=text.get("agent_id") or "",
            namespace=text.get("namespace") or "", session_id=text.get("session_id") or "",
            content=text.get("content") or "", title=text.get("title") or "",
            type=text.get("type") or "fact",
            tags=split_tags(text.get("tags")),
            confidence=float(text.get("confidence") or 0.8),
            source=text.get("source") or "agent",
            provenance=text.get("provenance") or "explicit_statement",
            created_at=created, updated_at=float(text.get("updated_at") or created),
            lifecycle=text.get("lifecycle") or "active",
            version=int(float(text.get("version") or 1)),
            event=text.get("event") or "created",
            metadata=json.loads(metadata) if metadata else None,
            user_id=text.get("user_id") or None, team_id=text.get("team_id") or None,
            expired_at=float(text["expired_at"]) if text.get("expired_at") else None,
            expired_by=text.get("expired_by") or None,
            status=text.get("status") or "indexed",
            valid_to=float(text["valid_to"]) if text.get("kind") == "version"
            and text.get("valid_to") else None,
        )


_VECTOR = ("embedding", b"embedding")


def _str(record: dict[str, Any], name: str, default: str | None = None) -> str:
    value = record.get(name) or default
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    return value


def _finite(value: Any, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} is not a finite number")
    return number
# Fields a record cannot do without (the rest have defaults).
REQUIRED = ("memory_id", "agent_id", "content", "title", "type", "created_at")
# Fields written only when set.
_OPTIONAL = ("metadata", "user_id", "team_id", "expired_at", "expired_by")
_TIMES = ("created_at", "updated_at", "valid_from", "valid_to")
# Hash fields a read asks the index for: everything but the vector.
HASH_FIELDS = [
    "memory_id", "agent_id", "namespace", "content", "title", "type", "tags", "source",
    "provenance", "status", "session_id", "created_at", "updated_at", "confidence",
    "metadata", "user_id", "team_id", "kind", "lifecycle", "version", "valid_from",
    "valid_to", "event", "expired_at", "expired_by",
]


