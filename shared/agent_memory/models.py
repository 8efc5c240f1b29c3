"""Request bodies of the per-agent memory API and the swarm (seed 003)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import Field, JsonValue, TypeAdapter, field_validator

from memanto_redis.shared.memory.models import (
    AGENT_ID_RE,
    MAX_BATCH,
    MAX_CONTENT,
    MAX_RECALL_LIMIT,
    MAX_SOURCE,
    Body,
    Content,
)

# STM session ids: the v2 session ids (UUIDs) and names like "sess_abc123". No ':' so a
# session's keys never collide with another's; "current" is the alias of the current one.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
CURRENT = "current"
Role = Literal["user", "assistant", "system", "tool"]
MAX_METADATA_BYTES = 4096
MAX_METADATA_KEYS = 50


def check_session_id(value: str) -> str:
    if value == CURRENT or not SESSION_ID_RE.match(value):
        raise ValueError("session must be 1-128 letters, digits, '.', '_' or '-', and not "
                         f"{CURRENT!r} (which names the current session)")
    return value


class _Content(Body):
    content: Content


class StmEntryIn(_Content):
    role: Role
    session: str | None = None

    @field_validator("session")
    @classmethod
    def _session(cls, value: str | None) -> str | None:
        return value if value is None else check_session_id(value)


# POST .../memory/stm takes one entry or a list of them.
StmEntries = TypeAdapter(Annotated[list[StmEntryIn], Field(min_length=1, max_length=MAX_BATCH)])


class LtmAddIn(_Content):
    metadata: dict[str, JsonValue] | None = None

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict | None) -> dict | None:
        if value is None:
            return None
        if len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
            raise ValueError(f"at most {MAX_METADATA_BYTES} bytes as JSON")
        source = value.get("source")
        # metadata.source becomes the memory's source, which search answers with.
        if "source" in value and not (isinstance(source, str)
                                      and 1 <= len(source.strip()) <= MAX_SOURCE):
            raise ValueError(f"metadata.source must be a string of 1-{MAX_SOURCE} characters")
        return value


class LtmSearchIn(Body):
    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class SwarmFactIn(_Content):
    # Defaults to the caller: the session's agent, or the API key's name.
    source_agent: str | None = Field(default=None, pattern=AGENT_ID_RE.pattern)
    # Absent: the configured default; above the configured maximum: the maximum.
    ttl_seconds: int | None = Field(default=None, ge=1)


class SwarmSearchIn(Body):
    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
