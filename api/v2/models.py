"""Request bodies of the MEMANTO v2 dialect."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memanto_redis.api.body import explain
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.infra.hybrid import SearchMode
from memanto_redis.shared.infra.times import parse_time
from memanto_redis.shared.memory.fields import Body, Content, MemoryFields, Tag
from memanto_redis.shared.memory.filters import Filters
from memanto_redis.shared.memory.record import Draft
from memanto_redis.shared.memory.rules import (
    AGENT_ID_RE,
    MAX_BATCH,
    MAX_CONTENT,
    MAX_RECALL_LIMIT,
    MAX_SOURCE,
    MAX_TAGS,
    MAX_TITLE,
    Lifecycle,
    MemoryType,
)


class AgentCreate(Body):
    agent_id: str = Field(pattern=AGENT_ID_RE.pattern)
    description: str | None = Field(default=None, max_length=1000)
    # The agent's memory pattern, as MEMANTO's own clients send it.
    pattern: Literal["support", "project", "tool"] = "support"


class ActivateBody(Body):
    duration_hours: float | None = Field(default=None, gt=0, le=24 * 30)


class MemoryIn(MemoryFields):
    """The remember body."""


class BatchIn(BaseModel):
    # Items are validated one by one so that one bad item does not sink the batch.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    memories: list[object] = Field(min_length=1, max_length=MAX_BATCH)


def batch_items(raws: list[object]) -> list[Draft | InvalidInput]:
    """A batch's items checked one by one, so that one bad item does not sink the batch:
    each a draft, or the problem that names its fields (`memories.3.content`)."""
    items: list[Draft | InvalidInput] = []
    for i, raw in enumerate(raws):
        try:
            items.append(MemoryIn.model_validate(raw).draft())
        except ValidationError as exc:
            items.append(explain(exc, prefix=f"memories.{i}."))
    return items


def _check_time(value: str | float) -> str | float:
    parse_time(value)
    return value


def _check_optional_time(value: str | float | None) -> str | float | None:
    return value if value is None else _check_time(value)


class _Filtered(Body):
    type: list[MemoryType] | None = Field(default=None, max_length=13)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    created_after: str | float | None = None
    created_before: str | float | None = None

    _times = field_validator("created_after", "created_before")(_check_optional_time)

    @field_validator("type", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # A single value is read as a list of one.
        return [value] if isinstance(value, str) else value

    def filters(self) -> Filters:
        after, before = self.created_after, self.created_before
        return Filters(
            types=list(self.type or []), tags=list(self.tags or []),
            created_after=parse_time(after) if after is not None else None,
            created_before=parse_time(before, end_of_day=True) if before is not None
            else None,
        )


class RecallIn(_Filtered):
    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    status: Lifecycle = "active"
    search_mode: SearchMode = "hybrid"


class MemoryPatch(Body):
    """Any of the editable fields, validated as remember validates them."""

    content: Content | None = None
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    type: MemoryType | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    source: str | None = Field(default=None, min_length=1, max_length=MAX_SOURCE)

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class _Temporal(_Filtered):
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)


class AsOfIn(_Temporal):
    query: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    as_of: str | float
    search_mode: SearchMode = "hybrid"

    _as_of = field_validator("as_of")(_check_time)


class ChangedSinceIn(_Temporal):
    query: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    since: str | float
    search_mode: SearchMode = "hybrid"
    status: Lifecycle = "all"

    _since = field_validator("since")(_check_time)


class RecentIn(_Temporal):
    status: Lifecycle = "active"


class AllIn(_Temporal):
    limit: int = Field(default=50, ge=1, le=MAX_RECALL_LIMIT)
    cursor: str | None = Field(default=None, max_length=4096)
    status: Lifecycle = "all"


class ApiKeyCreate(Body):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
