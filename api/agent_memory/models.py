"""Request bodies of the per-agent memory API, the swarm and scheduled prompts (seed 003)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, JsonValue, TypeAdapter, field_validator

from memanto_redis.shared.agent_memory.stm import Role, check_session_id
from memanto_redis.shared.infra.hybrid import SearchMode
from memanto_redis.shared.memory.fields import Body, Content, json_size
from memanto_redis.shared.memory.rules import (
    AGENT_ID_RE,
    MAX_BATCH,
    MAX_CONTENT,
    MAX_RECALL_LIMIT,
    MAX_SOURCE,
)
from memanto_redis.shared.schedule import cron
from memanto_redis.shared.schedule.store import MAX_PROMPT, MAX_URL, NAME_RE, check_webhook_url

MAX_METADATA_BYTES = 4096
MAX_METADATA_KEYS = 50


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
    def _bounded(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is None:
            return None
        if len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
        if json_size(value) > MAX_METADATA_BYTES:
            raise ValueError(f"at most {MAX_METADATA_BYTES} bytes as JSON")
        source = value.get("source")
        # metadata.source becomes the memory's source, which search answers with.
        if "source" in value and not (isinstance(source, str)
                                      and 1 <= len(source.strip()) <= MAX_SOURCE):
            raise ValueError(f"metadata.source must be a string of 1-{MAX_SOURCE} characters")
        return value


class SearchIn(Body):
    """A search of long-term memory or of the swarm: the same body."""

    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    search_mode: SearchMode = "hybrid"


class LtmSearchIn(SearchIn):
    pass


class SwarmFactIn(_Content):
    # Defaults to the caller: the session's agent, or the API key's name.
    source_agent: str | None = Field(default=None, pattern=AGENT_ID_RE.pattern)
    # Absent: the configured default; above the configured maximum: the maximum.
    ttl_seconds: int | None = Field(default=None, ge=1)


class SwarmSearchIn(SearchIn):
    pass


class ScheduleIn(Body):
    name: str = Field(pattern=NAME_RE.pattern)
    cron: str = Field(min_length=1, max_length=256)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    webhook_url: str | None = Field(default=None, max_length=MAX_URL)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return cron.check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return cron.check_timezone(value)

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return None if value is None else check_webhook_url(value)
